"""Hide a credential while it is typed: ``AUTH PLAIN <initial response>``, ``b64 TEXT``."""

from __future__ import annotations

from prompt_toolkit.layout.processors import Processor, Transformation, TransformationInput
from prompt_toolkit.layout.utils import explode_text_fragments

from smtpshell.shell.registry import secret_start


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
