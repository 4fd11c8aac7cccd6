"""The layers stay honest: each package imports only from the layers below it.

cli > shell > send | replay | check > render > core > protocol (see the style guide); the
server and the transcript format stand apart, on protocol only. Nothing below render may import rich
or prompt_toolkit, so the core stays usable without a terminal.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from source_ast import parse_source

PACKAGE = Path(__file__).resolve().parent.parent / "smtpshell"

# For each layer: the smtpshell layers and third-party packages it may import.
ALLOWED: dict[str, tuple[set[str], set[str]]] = {
    "protocol": ({"errors", "protocol"}, set()),
    "transcript": ({"errors", "protocol", "transcript"}, {"re2"}),
    "core": ({"errors", "protocol", "core"}, {"dns", "cryptography", "keyring"}),
    "server": ({"errors", "protocol", "server"}, {"aiosmtpd", "cryptography", "platformdirs"}),
    # Serving a transcript: the transcript format, and the embedded server's CA for TLS.
    "playback": ({"errors", "protocol", "transcript", "server", "playback"}, set()),
    "render": ({"errors", "protocol", "core", "render"}, {"rich"}),
    "replay": (
        {"errors", "protocol", "core", "render", "transcript", "replay"},
        {"rich"},
    ),
    "send": ({"errors", "protocol", "core", "render", "send"}, {"rich"}),
    "check": (
        {"errors", "protocol", "core", "render", "check"},
        {"rich", "dns", "cryptography"},
    ),
    "shell": (
        {"errors", "protocol", "core", "render", "transcript", "replay", "send", "check", "shell"},
        {"rich", "prompt_toolkit"},
    ),
}
THIRD_PARTY = {
    "rich", "prompt_toolkit", "dns", "cryptography", "aiosmtpd", "platformdirs", "re2",
    "keyring",
}  # fmt: skip


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(parse_source(path)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if len(parts) > 1 and parts[0] in ALLOWED:
            found.append((parts[0], path))
    return found


@pytest.mark.parametrize(
    ("layer", "path"), _modules(), ids=[str(p.relative_to(PACKAGE)) for _, p in _modules()]
)
def test_module_imports_only_from_lower_layers(layer: str, path: Path) -> None:
    own, third = ALLOWED[layer]
    for name in _imports(path):
        top, _, rest = name.partition(".")
        if top == "smtpshell":
            target = rest.split(".")[0]
            if target in ("", "__version__"):
                continue
            assert target in own, f"{path.name} ({layer}) imports smtpshell.{target}"
        elif top in THIRD_PARTY:
            assert top in third, f"{path.name} ({layer}) imports {top}"


def test_protocol_layer_is_stdlib_only() -> None:
    for path in (PACKAGE / "protocol").glob("*.py"):
        tops = {name.partition(".")[0] for name in _imports(path)}
        assert not tops & THIRD_PARTY, path.name
