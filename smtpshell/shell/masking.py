"""Hide a credential while it is typed: ``AUTH PLAIN <initial response>``, ``b64 TEXT``."""

from __future__ import annotations

import re

from prompt_toolkit.layout.processors import Processor, Transformation, TransformationInput
from prompt_toolkit.layout.utils import explode_text_fragments

_AUTH_WITH_RESPONSE = re.compile(r"\s*auth\s+\S+\s+", re.IGNORECASE)


def secret_start(text: str) -> int | None:
    """Index where the secret part of a line begins, or None: the initial response
    of an AUTH line, or the arguments of a local command such as ``b64``."""
    from smtpshell.shell.registry import REGISTRY

    match = _AUTH_WITH_RESPONSE.match(text)
    if match:
        return match.end()
    found = REGISTRY.match(text)
    if found is None or not found[0].secret_args or not found[1]:
        return None
    return len(text) - len(found[1])


class MaskAuthResponse(Processor):
    def apply_transformation(self, transformation_input: TransformationInput) -> Transformation:
        ti = transformation_input
        start = secret_start(ti.document.text) if ti.lineno == 0 else None
        if start is None:
            return Transformation(ti.fragments)
        fragments = explode_text_fragments(ti.fragments)
        for index in range(start, len(fragments)):
            style = fragments[index][0]
            fragments[index] = (style, "*")
        return Transformation(fragments)
