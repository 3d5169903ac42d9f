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
        """Render as `file:line: field: message` or as a GitHub annotation, with user text made harmless."""
        field, message = shown(self.field), shown(self.message)
        where = f"{field}: " if field else ""
        if style == "github":
            return f"::error file={github_property(shown(self.file))},line={self.line}::{github_data(where + message)}"
        return f"{shown(self.file)}:{self.line}: {where}{message}"


def shown(text: str) -> str:
    """Return `text` with each character a terminal, log or editor would act on written as an escape.

    File names, keys and values come from the user: an ESC, a bidi override or a line break printed raw
    can recolour a terminal, reorder a line or fake another message. They appear as Python writes them in a
    string literal (\\x1b, \\u202e, \\n); everything printable, non-ASCII letters included, stays as it is.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def github_data(text: str) -> str:
    """Escape the message of a GitHub workflow command (`::error ...::MESSAGE`)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text: str) -> str:
    """Escape a property value of a workflow command (`file=...`): its data rules plus ':' and ','."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


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
    # Without resolve(), which stats every part of the path, nor new Path objects: this runs once per card.
    text = os.fspath(path)
    if not os.path.isabs(text):
        below = os.path.normpath(text)  # what abspath() would put after the working directory
        if below not in (os.curdir, os.pardir) and not below.startswith(os.pardir + os.sep):
            return below.replace(os.sep, "/")
    absolute, cwd = os.path.abspath(text), os.path.join(os.getcwd(), "")
    if absolute.startswith(cwd):
        return absolute[len(cwd) :].replace(os.sep, "/") or "."
    return path.as_posix()
