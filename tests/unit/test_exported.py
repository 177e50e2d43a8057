"""The public surface: ``zmqchat.__all__`` and the exception tree."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import types
from pathlib import Path

import pytest

import zmqchat
import zmqchat.errors
from zmqchat.client.chat.failures import ScriptError
from zmqchat.errors import (
    BrokerError,
    ConfigError,
    ConnectionClosed,
    DecodeError,
    ProtocolError,
    Timeout,
    ZmqchatError,
)


def _names_imported_by_init() -> set[str]:
    """Every name ``zmqchat/__init__.py`` binds with an import (not ``__future__``)."""
    tree = ast.parse(Path(zmqchat.__file__).read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def test_all_names_exist() -> None:
    for name in zmqchat.__all__:
        assert hasattr(zmqchat, name), name


def test_all_is_sorted_and_unique() -> None:
    assert zmqchat.__all__ == sorted(zmqchat.__all__)
    assert len(set(zmqchat.__all__)) == len(zmqchat.__all__)


def test_every_public_import_is_exported() -> None:
    public = {name for name in _names_imported_by_init() if not name.startswith("_")}
    assert public  # the parse found the imports
    assert public - set(zmqchat.__all__) == set()


def test_lazy_names_are_exported_and_typed() -> None:
    tree = ast.parse(Path(zmqchat.__file__).read_text(encoding="utf-8"))
    typed = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):  # the `if TYPE_CHECKING:` block
            for inner in node.body:
                if isinstance(inner, ast.ImportFrom):
                    typed.update(alias.name for alias in inner.names)
    assert typed == set(zmqchat._LAZY)
    assert set(zmqchat._LAZY) <= set(zmqchat.__all__)


def test_all_imports_are_exported() -> None:
    # httpx's test_exported_members: the module namespace, minus submodules and the
    # `annotations` feature flag, is exactly __all__ (once the lazy names are loaded).
    for name in zmqchat.__all__:
        getattr(zmqchat, name)
    included_private = {"__version__"}
    namespace = sorted(
        name
        for name, value in vars(zmqchat).items()
        if (not name.startswith("_") or name in included_private)
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    )
    assert zmqchat.__all__ == namespace


def test_version() -> None:
    assert zmqchat.__version__ == "0.1.0"
    assert "__version__" in zmqchat.__all__


def test_exported_classes_come_from_their_modules() -> None:
    assert zmqchat.Client.__module__ == "zmqchat.client.io.sync"
    assert zmqchat.ChatEvent.__module__ == "zmqchat.common.messages"
    assert zmqchat.ProtocolError is ProtocolError
    assert zmqchat.ZmqchatError is ZmqchatError


# ---------------------------------------------------------------------- exceptions


def _error_classes() -> list[type[BaseException]]:
    return [
        obj
        for obj in vars(zmqchat.errors).values()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == "zmqchat.errors"
    ]


def test_errors_module_defines_the_documented_classes() -> None:
    assert {cls.__name__ for cls in _error_classes()} == {
        "BindError",
        "BrokerError",
        "Cancelled",
        "ConfigError",
        "ConnectionClosed",
        "DecodeError",
        "ProtocolError",
        "ServerKeyChanged",
        "StoreError",
        "Timeout",
        "UsageError",
        "ZmqchatError",
    }
    assert sorted(zmqchat.errors.__all__) == sorted(cls.__name__ for cls in _error_classes())


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_derives_from_zmqchat_error(cls: type[BaseException]) -> None:
    assert issubclass(cls, ZmqchatError)
    assert issubclass(cls, Exception)


def test_every_exported_exception_is_a_zmqchat_error() -> None:
    for name in zmqchat.__all__:
        obj = getattr(zmqchat, name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            assert issubclass(obj, ZmqchatError), name


def _exceptions_defined_in_zmqchat() -> list[type[BaseException]]:
    """Every exception class any module of the package defines (importing each)."""
    found = []
    for module_info in pkgutil.walk_packages(zmqchat.__path__, "zmqchat."):
        if module_info.name == "zmqchat.__main__":  # importing it runs the command
            continue
        module = importlib.import_module(module_info.name)
        found += [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, BaseException)
            and obj.__module__ == module.__name__
        ]
    return found


def _drawn_tree() -> dict[str, str | None]:
    """The tree in errors.py's docstring: each class drawn, and its parent."""
    parents: dict[str, str | None] = {}
    path: list[str] = []
    for line in (zmqchat.errors.__doc__ or "").splitlines():
        drawn = re.match(r"^( +)(ZmqchatError)$|^ +([│ ]*)[├└]── (\w+)", line)
        if drawn is None:
            continue
        depth = 0 if drawn[2] else len(drawn[3]) // 4 + 1
        name = drawn[2] or drawn[4]
        del path[depth:]
        parents[name] = path[-1] if path else None
        path.append(name)
    return parents


def test_every_exception_of_zmqchat_is_in_the_drawn_tree() -> None:
    tree = _drawn_tree()
    assert tree["ZmqchatError"] is None
    assert tree["DecodeError"] == "ProtocolError"  # the drawing was read
    classes = _exceptions_defined_in_zmqchat()
    assert ScriptError in classes  # the walk reached beyond errors.py
    errors = [cls for cls in classes if issubclass(cls, Exception)]
    for cls in errors:
        assert issubclass(cls, ZmqchatError), f"{cls.__module__}.{cls.__name__}"
        assert cls.__name__ in tree, f"{cls.__name__} is not drawn in errors.py"
        parent = cls.__bases__[0].__name__ if cls is not ZmqchatError else None
        assert tree[cls.__name__] == parent, cls.__name__
    assert sorted(tree) == sorted(cls.__name__ for cls in errors)  # nothing drawn twice
    # Signals unwind as Ctrl-C does: not errors, but said so beside the tree.
    for cls in classes:
        if not issubclass(cls, Exception):
            assert issubclass(cls, KeyboardInterrupt)
            assert f"``{cls.__name__}``" in (zmqchat.errors.__doc__ or "")


def test_exception_tree_shape() -> None:
    assert ZmqchatError.__bases__ == (Exception,)
    assert ProtocolError.__bases__ == (ZmqchatError,)
    assert DecodeError.__bases__ == (ProtocolError,)
    assert BrokerError.__bases__ == (ZmqchatError,)
    assert ConnectionClosed.__bases__ == (ZmqchatError,)
    usage = zmqchat.errors.UsageError
    assert usage.__bases__ == (ZmqchatError, ValueError)
    assert ConfigError.__bases__ == (usage,)
    assert zmqchat.errors.StoreError.__bases__ == (ZmqchatError,)
    assert zmqchat.errors.BindError.__bases__ == (ZmqchatError,)
    assert ScriptError.__bases__ == (ZmqchatError,)
    assert issubclass(Timeout, ZmqchatError)


def test_bad_user_input_is_also_a_value_error() -> None:
    # Client(endpoint=...) raised a bare ValueError before; its callers still work.
    with pytest.raises(ValueError, match="tcp://HOST:PORT"):
        zmqchat.Client("alice", "localhost:5555")
    with pytest.raises(zmqchat.errors.UsageError, match="no valid port"):
        zmqchat.Client("alice", "tcp://localhost:0")
    assert issubclass(ConfigError, ValueError)


def test_timeout_is_also_a_builtin_timeout_error() -> None:
    assert issubclass(Timeout, TimeoutError)
    assert issubclass(Timeout, OSError)  # TimeoutError is an OSError
    with pytest.raises(TimeoutError, match="no reply"):
        raise Timeout("no reply in 5 s")


def test_protocol_error_carries_code_and_message() -> None:
    err = ProtocolError("too_long", "text is 5000 bytes")
    assert err.code == "too_long"
    assert err.message == "text is 5000 bytes"
    assert str(err) == "too_long: text is 5000 bytes"


def test_decode_error_is_always_bad_request() -> None:
    err = DecodeError("frame is a msgpack list, not a map")
    assert isinstance(err, ProtocolError)
    assert err.code == "bad_request"
    assert str(err) == "bad_request: frame is a msgpack list, not a map"


def test_broker_error_carries_code_message_and_ref() -> None:
    err = BrokerError("not_in_room", "join 'dev' first", ref=7)
    assert (err.code, err.message, err.ref) == ("not_in_room", "join 'dev' first", 7)
    assert str(err) == "not_in_room: join 'dev' first"
    assert BrokerError("empty", "text is empty").ref is None


def test_connection_closed_carries_reason_and_error() -> None:
    refused = BrokerError("name_taken", "alice is taken")
    err = ConnectionClosed("refused", refused)
    assert err.reason == "refused"
    assert err.error is refused
    assert ConnectionClosed("closed").error is None
