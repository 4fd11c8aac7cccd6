"""Hide a credential while it is typed: ``AUTH PLAIN <initial response>``, ``b64 TEXT``."""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.layout.processors import Processor, Transformation, TransformationInput
from prompt_toolkit.layout.utils import explode_text_fragments

from smtpshell.shell.registry import Registry


class MaskSecrets(Processor):
    """Show ``*`` for each character of the line's secret part, by the registry's rule."""

    def __init__(
        self,
        registry: Registry,
        auth_pending: Callable[[], bool],
        in_data: Callable[[], bool] = lambda: False,
    ) -> None:
        self._registry = registry
        self._auth_pending = auth_pending
        self._in_data = in_data

    def apply_transformation(self, transformation_input: TransformationInput) -> Transformation:
        ti = transformation_input
        # In DATA every line is message text (RFC 5321 4.1.1.4), never a command.
        start = (
            None
            if self._in_data()
            else self._registry.secret_starts(ti.document.lines, self._auth_pending())[ti.lineno]
        )
        if start is None:
            return Transformation(ti.fragments)
        fragments = explode_text_fragments(ti.fragments)
        for index in range(start, len(fragments)):
            style = fragments[index][0]
            fragments[index] = (style, "*")
        return Transformation(fragments)
