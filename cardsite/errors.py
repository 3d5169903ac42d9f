"""The exception tree: user errors become a clean message, anything else is a bug."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Problem:
    """One mistake in a user's file, located by file, line and field."""

    file: str
    line: int
    field: str
    message: str

    def format(self, style: str = "text") -> str:
        """Render as `file:line: field: message` or as a GitHub annotation."""
        where = f"{self.field}: " if self.field else ""
        if style == "github":
            # GitHub annotation data must not contain raw newlines or '%'.
            text = (where + self.message).replace("%", "%25").replace("\n", "%0A")
            return f"::error file={self.file},line={self.line}::{text}"
        return f"{self.file}:{self.line}: {where}{self.message}"


class CardsiteError(Exception):
    """Base of every error the user can fix; the CLI prints it without a traceback."""

    exit_code = 1


class Abort(CardsiteError):
    """Stop a command with a message (bad option, missing bucket, ...)."""


class ValidationError(CardsiteError):
    """Carry every problem found in the contacts and settings."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(problems)
        super().__init__(f"{len(self.problems)} problem(s) found")

    def format(self, style: str = "text") -> str:
        """Render every problem, one per line."""
        return "\n".join(p.format(style) for p in self.problems)


def display_path(path: Path) -> str:
    """Return `path` relative to the working directory when it lies below it."""
    # Without resolve(): it stats every part of the path, and this runs once per card.
    absolute, cwd = os.path.abspath(path), os.path.join(os.getcwd(), "")
    if absolute.startswith(cwd):
        return Path(absolute[len(cwd) :]).as_posix()
    return path.as_posix()
