"""Parsing the package's own source for the structure tests (layers, import graph)."""

from __future__ import annotations

import ast
from pathlib import Path


def parse_source(path: Path) -> ast.Module:
    """``ast.parse`` of a file, tried again if CPython 3.11 before 3.11.8 raises
    "AST constructor recursion depth mismatch": its AST state is shared between
    threads (CPython gh-106905), and other tests leave server threads running."""
    text = path.read_text(encoding="utf-8")
    for _attempt in range(3):
        try:
            return ast.parse(text, str(path))
        except SystemError:
            continue
    return ast.parse(text, str(path))
