"""How a request of :mod:`zmqchat.client.core.requests` becomes a method of each
client face.

``BaseClient`` lists every request once (``join = RequestMethod(requests.join)``);
each face class then gets a plain function of that name made from it: one that
blocks on ``Client``, a coroutine function on ``AsyncClient``, with the request
function's parameters and docstring. The overloads of ``__get__`` tell type
checkers what that function takes and returns on each face.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import typing
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Self, TypeVar, overload

from zmqchat.client.core.requests import Call, More
from zmqchat.client.core.transfers import Transfer

if TYPE_CHECKING:
    from zmqchat.client.io.base import BaseClient

_P = ParamSpec("_P")
_T = TypeVar("_T")


class Blocking:
    """Marks the face whose request methods block until the reply (``Client``)."""


class Awaiting:
    """Marks the face whose request methods are coroutines (``AsyncClient``)."""


def _face_function(
    face: type[Any],
    name: str,
    build: Callable[..., Any],
    body: Callable[..., Any],
    doc: str,
    future: Any = None,
) -> Callable[..., Any]:
    """Dress ``body`` as the method ``name`` of ``face``: the parameters of ``build``
    after ``self``, returning the call's result (or a ``future`` of it), so
    ``help()`` and ``inspect`` show the real signature."""
    signature = inspect.signature(build, eval_str=True)
    this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    result = typing.get_args(signature.return_annotation)[1]  # Call[reply, result]
    body.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[this, *signature.parameters.values()],
        return_annotation=result if future is None else future[result],
    )
    body.__name__ = name
    body.__qualname__ = f"{face.__qualname__}.{name}"
    body.__module__ = face.__module__
    body.__doc__ = doc
    return body


class RequestMethod(Generic[_P, _T]):
    """A request of :mod:`zmqchat.client.core.requests` as a method of both faces,
    with that function's name, parameters and docstring: ``Client.join(...)`` returns
    the result, ``AsyncClient.join(...)`` is a coroutine of it.

    Each face class gets a plain function made from it (see
    :meth:`BaseClient.__init_subclass__`); the overloads tell type checkers what that
    function takes and returns on each face.
    """

    def __init__(self, build: Callable[_P, Call[Any, _T]]) -> None:
        self.build = build

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: BaseClient[Blocking], owner: type[Any]) -> Callable[_P, _T]: ...
    @overload
    def __get__(
        self, obj: BaseClient[Awaiting], owner: type[Any]
    ) -> Callable[_P, Coroutine[Any, Any, _T]]: ...
    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        return self  # only BaseClient itself, which has no way to wait, gets here

    def function(self, face: type[BaseClient[Any]], name: str) -> Callable[..., Any]:
        build = self.build
        complete = face._complete

        async def awaiting(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = await complete(self, build(*args, **kwargs))
            while isinstance(result, More):  # a page with more after it
                result = await complete(self, result.call)
            return result

        def blocking(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = complete(self, build(*args, **kwargs))
            while isinstance(result, More):
                result = complete(self, result.call)
            return result

        method: Callable[..., Any] = awaiting if inspect.iscoroutinefunction(complete) else blocking
        return _face_function(face, name, build, method, build.__doc__ or "")


class StartMethod(Generic[_P, _T]):
    """Like :class:`RequestMethod`, but the method returns at once with a future of
    the result (a ``concurrent.futures.Future`` on ``Client``, an ``asyncio.Future``
    on ``AsyncClient``), so many requests can be in flight."""

    def __init__(self, build: Callable[_P, Call[Any, _T]], doc: str) -> None:
        self.build = build
        self.doc = doc

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(
        self, obj: BaseClient[Blocking], owner: type[Any]
    ) -> Callable[_P, concurrent.futures.Future[_T]]: ...
    @overload
    def __get__(
        self, obj: BaseClient[Awaiting], owner: type[Any]
    ) -> Callable[_P, asyncio.Future[_T]]: ...
    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        return self

    def function(self, face: type[BaseClient[Any]], name: str) -> Callable[..., Any]:
        build, start = self.build, face._start
        future = typing.get_origin(inspect.signature(start, eval_str=True).return_annotation)

        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            return start(self, build(*args, **kwargs))

        return _face_function(face, name, build, method, self.doc, future)


class TransferMethod(Generic[_P, _T]):
    """A file transfer of :mod:`zmqchat.client.core.transfers` as a method of both
    faces: the machine is prepared on the caller's side (hashing the file), then
    run by a :class:`~zmqchat.client.core.pump.Pump` on the face's I/O side while
    the caller waits and hands progress to its callback (``_pump`` of each face)."""

    def __init__(self, build: Callable[_P, Transfer[_T]]) -> None:
        self.build = build

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: BaseClient[Blocking], owner: type[Any]) -> Callable[_P, _T]: ...
    @overload
    def __get__(
        self, obj: BaseClient[Awaiting], owner: type[Any]
    ) -> Callable[_P, Coroutine[Any, Any, _T]]: ...
    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        return self

    def function(self, face: type[BaseClient[Any]], name: str) -> Callable[..., Any]:
        build = self.build
        pump = face._pump  # runs the transfer on the face's I/O side, and closes it

        async def awaiting(self: Any, *args: Any, **kwargs: Any) -> Any:
            transfer = build(*args, **kwargs)
            try:
                await asyncio.to_thread(transfer.prepare)  # hashing a big file takes a while
            except BaseException:
                transfer.close()
                raise
            return await pump(self, transfer)

        def blocking(self: Any, *args: Any, **kwargs: Any) -> Any:
            transfer = build(*args, **kwargs)
            try:
                transfer.prepare()
            except BaseException:
                transfer.close()
                raise
            return pump(self, transfer)

        method: Callable[..., Any] = (
            awaiting if inspect.iscoroutinefunction(face._complete) else blocking
        )
        signature = inspect.signature(build, eval_str=True)
        this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        # Upload is a Transfer[FileDone]: the method returns a FileDone.
        result = typing.get_args(signature.return_annotation.__orig_bases__[0])[0]
        method.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[this, *signature.parameters.values()], return_annotation=result
        )
        method.__name__ = name
        method.__qualname__ = f"{face.__qualname__}.{name}"
        method.__module__ = face.__module__
        method.__doc__ = build.__doc__ or ""
        return method


def settle(future: Any, call: Call[Any, Any], reply: object) -> None:
    """Complete ``future`` (a ``concurrent.futures`` or an asyncio one) with what
    ``call`` makes of ``reply``, unless its caller gave up on it."""
    if future.done():  # cancelled, or timed out: the late reply is dropped
        return
    outcome = call.outcome(reply)
    # A concurrent future can be cancelled by another thread since done() above (an
    # asyncio one only on this thread, the loop's).
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
