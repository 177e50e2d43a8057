"""Client and AsyncClient are one API under two faces: the same public names, and
methods with the same parameters (names, kinds, defaults); only whether a method
is a coroutine may differ."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from zmqchat import Client
from zmqchat.aio import AsyncClient
from zmqchat.client.core import requests

Parameters = tuple[tuple[str, Any, Any], ...]


def parameters(function: Any) -> Parameters:
    """Name, kind and default of each parameter; annotations and coroutine-ness aside."""
    return tuple(
        (p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()
    )


def public_api(face: type) -> dict[str, str | Parameters]:
    """Each public name of ``face`` (the constructor as ``__init__``): the parameters
    of a method, else what the name is."""
    api: dict[str, str | Parameters] = {"__init__": parameters(face)}
    for name in dir(face):
        if name.startswith("_"):
            continue
        member = inspect.getattr_static(face, name)
        if isinstance(member, property):
            api[name] = "property"
        elif callable(member):
            api[name] = parameters(getattr(face, name))
        else:
            api[name] = type(member).__name__
    return api


def instance_attributes(client: Any) -> set[str]:
    return {name for name in vars(client) if not name.startswith("_")}


def drift(one: type, other: type) -> dict[str, tuple[object, object]]:
    """The names whose description differs between the two faces."""
    a, b = public_api(one), public_api(other)
    return {
        name: (a.get(name), b.get(name))
        for name in a.keys() | b.keys()
        if a.get(name) != b.get(name)
    }


def test_both_faces_have_the_same_public_methods_and_options() -> None:
    assert drift(Client, AsyncClient) == {}
    assert "send_async" in public_api(AsyncClient)
    assert "on_event" in dict(inspect.signature(AsyncClient).parameters)


def test_both_faces_set_the_same_public_attributes() -> None:
    blocking = Client("alice")
    awaiting = AsyncClient("alice")
    try:
        assert instance_attributes(blocking) == instance_attributes(awaiting)
        assert instance_attributes(blocking) >= {"request_timeout", "connect_timeout"}
        # The node a client is on changes as it fails over: a property of both.
        assert blocking.endpoint == awaiting.endpoint == "tcp://127.0.0.1:5555"
        assert blocking.endpoints == awaiting.endpoints == ("tcp://127.0.0.1:5555",)
    finally:
        blocking.close()
        asyncio.run(awaiting.close())


def test_the_comparison_sees_drift() -> None:
    class One:
        def send(self, room: str, text: str, *, timeout: float | None = None) -> None: ...

        def send_async(self, room: str, text: str) -> None: ...

    class Other:
        async def send(self, room: str, text: str, *, timeout: float = 1.0) -> None: ...

    assert drift(One, Other).keys() == {"send", "send_async"}


def test_every_request_is_a_method_of_both_faces_with_its_signature_and_doc() -> None:
    built = [
        name
        for name, function in vars(requests).items()
        if inspect.isfunction(function)
        and function.__module__ == requests.__name__
        and not name.startswith("_")
        and name != "any_reply"
    ]
    assert set(built) >= {"join", "leave", "send", "pm", "who", "list_rooms", "history", "ping"}
    for name in built:
        build = getattr(requests, name)
        for face in (Client, AsyncClient):
            method = getattr(face, name)
            assert parameters(method) == (
                ("self", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty),
                *parameters(build),
            )
            assert method.__doc__ == build.__doc__
            assert method.__qualname__ == f"{face.__name__}.{name}"
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name))
        assert not inspect.iscoroutinefunction(getattr(Client, name))
    # send_async returns a future on both faces, so it is a plain method on both.
    assert not inspect.iscoroutinefunction(AsyncClient.send_async)
    assert inspect.signature(Client.who).return_annotation == list[str]
