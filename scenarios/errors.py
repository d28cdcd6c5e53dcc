"""What a bad scenario file raises.

    ScenarioError          one or more problems; ``problems`` lists them, in file order
     └── ScenarioFileError the file cannot be read, or is not YAML (the CLI exits 2)

Every problem names the file, the line (when there is one) and the field path, and says
what was expected: ``scenarios/flash.yaml:14: buyers.arrivals.rate: expected a number >= 0,
got -3``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class ScenarioError(Exception):
    """A scenario file is invalid. ``file``, ``line`` and ``field`` are the first problem's."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("a ScenarioError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(
            sorted(problems, key=lambda p: (p.line or 0, p.field or ""))
        )
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def file(self) -> str:
        return self.problems[0].file

    @property
    def line(self) -> int | None:
        return self.problems[0].line

    @property
    def field(self) -> str | None:
        return self.problems[0].field

    @property
    def message(self) -> str:
        return self.problems[0].message


class ScenarioFileError(ScenarioError):
    """The file cannot be read, or is not a YAML mapping."""
