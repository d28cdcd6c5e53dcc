"""Errors raised while reading a sequence diagram.

ValueError
 └── DiagramParseError     a notation's text does not parse; names the line
"""

from __future__ import annotations


class DiagramParseError(ValueError):
    """The diagram text is not valid in its notation.

    ``line`` is 1-based and counts every line of the file, Markdown preamble included,
    so that it points where an editor would.
    """

    def __init__(self, line: int, reason: str, path: str | None = None) -> None:
        self.line = line
        self.reason = reason
        self.path = path
        where = f"{path}: line {line}" if path else f"line {line}"
        super().__init__(f"{where}: {reason}")

    def with_path(self, path: str) -> DiagramParseError:
        return DiagramParseError(self.line, self.reason, path)
