"""The tree is the architecture: each folder is one part, and imports only flow down.

::

    common  <-  broker
    common  <-  client/core  <-  client/io  <-  client/chat  <-  client/console, client/gui
                                 client/io  <-  bot, testing   <-  cli (everything)

Every ``import`` in ``src/zmqchat`` (at module level, inside functions, and under
``TYPE_CHECKING``) is checked against the table below, so a shortcut that breaks the
direction fails here, naming the file and the line.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

# The bottom: no zmqchat imports but each other.
BASE = {"zmqchat._version", "zmqchat.errors", "zmqchat.logs"}

# part -> the parts it may import (besides itself and BASE).
ALLOWED: dict[str, set[str]] = {
    "zmqchat._version": set(),
    "zmqchat.errors": set(),
    "zmqchat.logs": set(),
    "zmqchat.common": set(),
    "zmqchat.broker": {"zmqchat.common"},
    "zmqchat.client.core": {"zmqchat.common"},
    "zmqchat.client.io": {"zmqchat.common", "zmqchat.client.core"},
    "zmqchat.client.chat": {"zmqchat.common", "zmqchat.client.core", "zmqchat.client.io"},
    "zmqchat.client.console": {
        "zmqchat.common",
        "zmqchat.client.core",
        "zmqchat.client.io",
        "zmqchat.client.chat",
    },
    "zmqchat.client.gui": {
        "zmqchat.common",
        "zmqchat.client.core",
        "zmqchat.client.io",
        "zmqchat.client.chat",
    },
    "zmqchat.aio": {"zmqchat.client.io"},
    "zmqchat.bot": {
        "zmqchat.common",
        "zmqchat.client.core",
        "zmqchat.client.io",
        "zmqchat.client.chat",
        "zmqchat.aio",
    },
    "zmqchat.testing": {
        "zmqchat.common",
        "zmqchat.client.core",
        "zmqchat.client.io",
        "zmqchat.aio",
    },
    "zmqchat.pytest_plugin": {
        "zmqchat.common",
        "zmqchat.client.core",
        "zmqchat.client.io",
        "zmqchat.aio",
        "zmqchat.testing",
    },
    # The package face loads its names lazily from the library's layers.
    "zmqchat": {"zmqchat.common", "zmqchat.client.core", "zmqchat.client.io"},
    "zmqchat.__main__": {"zmqchat.cli"},
    # The command line sits on top and may use every part.
    "zmqchat.cli": {
        "zmqchat.common",
        "zmqchat.broker",
        "zmqchat.client.core",
        "zmqchat.client.io",
        "zmqchat.client.chat",
        "zmqchat.client.console",
        "zmqchat.client.gui",
        "zmqchat.aio",
        "zmqchat.bot",
    },
}


def part_of(module: str) -> str:
    """The longest entry of ALLOWED that ``module`` is or lies under."""
    best = ""
    for part in ALLOWED:
        if (module == part or module.startswith(part + ".")) and len(part) > len(best):
            best = part
    if not best:
        raise AssertionError(f"{module} belongs to no part: add it to ALLOWED")
    return best


def module_name(path: Path, root: Path = SRC) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, root: Path = SRC) -> list[tuple[int, str]]:
    """Every zmqchat module ``path`` imports, with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module_name(path, root)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # `from zmqchat import errors`: the names may be modules themselves.
            found.extend((node.lineno, f"{target}.{a.name}") for a in node.names)
    known = {module_name(p, root) for p in root.rglob("*.py")}
    return [(line, name) for line, name in found if name in known]


def violations(root: Path) -> list[str]:
    broken = []
    for path in sorted(root.rglob("*.py")):
        source = part_of(module_name(path, root))
        for line, target in imports(path, root):
            dest = part_of(target)
            if dest not in (source, *BASE) and dest not in ALLOWED[source]:
                broken.append(f"{path.relative_to(root)}:{line}: {source} imports {target}")
    return broken


def test_every_import_flows_down() -> None:
    broken = violations(SRC)
    assert not broken, "imports against the architecture:\n" + "\n".join(broken)


def test_nothing_imports_the_package_face() -> None:
    # `from zmqchat import X` runs zmqchat/__init__.py's __getattr__ and, for most X,
    # the client library; modules import the defining module instead.
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "zmqchat" and not node.level:
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not offenders


def test_the_check_catches_upward_and_sideways_imports(tmp_path: Path) -> None:
    files = {
        "zmqchat/__init__.py": "",
        "zmqchat/common/__init__.py": "",
        "zmqchat/common/protocol.py": "import zmqchat.errors\n",
        "zmqchat/errors.py": "",
        "zmqchat/client/__init__.py": "",
        "zmqchat/client/core/__init__.py": "",
        "zmqchat/client/core/connection.py": "def late():\n    from ..io import sync\n",
        "zmqchat/client/io/__init__.py": "",
        "zmqchat/client/io/sync.py": "from zmqchat.common import protocol\n",
        "zmqchat/client/console/__init__.py": "",
        "zmqchat/client/gui/__init__.py": "",
        "zmqchat/client/gui/app.py": "from zmqchat.client.console import interactive\n",
        "zmqchat/client/console/interactive.py": "",
        "zmqchat/broker/__init__.py": "",
        "zmqchat/broker/server.py": "import zmqchat.client.io.sync\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert violations(tmp_path) == [
        "zmqchat/broker/server.py:1: zmqchat.broker imports zmqchat.client.io.sync",
        "zmqchat/client/core/connection.py:2: zmqchat.client.core imports zmqchat.client.io",
        "zmqchat/client/core/connection.py:2: zmqchat.client.core imports zmqchat.client.io.sync",
        "zmqchat/client/gui/app.py:1: zmqchat.client.gui imports zmqchat.client.console",
        "zmqchat/client/gui/app.py:1: "
        "zmqchat.client.gui imports zmqchat.client.console.interactive",
    ]


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("zmqchat.common.protocol", ["zmq", "zmqchat.client.io.sync"]),
        ("zmqchat.common.messages", ["zmq", "zmqchat.client.io.sync"]),
        ("zmqchat.client.core.connection", ["zmq"]),
        ("zmqchat.broker.handlers", ["zmq", "zmqchat.client.core.connection"]),
        ("zmqchat.errors", ["zmq", "zmqchat.common.messages"]),
    ],
)
def test_lower_parts_load_without_the_upper_ones(module: str, absent: list[str]) -> None:
    code = f"import sys, {module}; print(' '.join(m for m in {absent!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
