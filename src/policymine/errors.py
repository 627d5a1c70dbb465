"""Errors a user can see. Each says what happened and what to do about it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """Text that prints on one line as it is: control characters (a newline in a file name,
    a terminal escape) shown as Python escapes, e.g. `\\n`."""
    return _CONTROL_RE.sub(lambda m: repr(m.group())[1:-1], text)


def one_line(message: str, limit: int = 300) -> str:
    """A message fit for a one-line report: whitespace (line breaks too) collapsed, other
    control characters escaped, length capped."""
    message = printable(" ".join(message.split()))
    return message if len(message) <= limit else message[: limit - 1] + "…"


class PolicymineError(Exception):
    """Base class: the CLI prints the message on one line and exits 1."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class Option(NamedTuple):
    """An option a message names: the CLI spells it `--mode dense`, the HTTP API `mode=dense`."""

    name: str
    value: str | None = None
    argument: str | None = None  # the CLI's words when it is a positional argument there


def flag(option: Option) -> str:
    """The CLI's spelling of an option: `--name value`, or the argument's words."""
    if option.argument:
        return option.argument
    return f"--{option.name.replace('_', '-')}" + (f" {option.value}" if option.value else "")


class OptionError(PolicymineError):
    """A bad option, or options that do not go together. The message is text and Options, so
    each interface names them its own way: str() with the CLI's flags, spelled(...) otherwise."""

    def __init__(self, *parts: str | Option) -> None:
        self.parts = parts
        super().__init__(self.spelled(flag))

    def spelled(self, spell: Callable[[Option], str]) -> str:
        """The message with each Option written by `spell`."""
        return "".join(part if isinstance(part, str) else spell(part) for part in self.parts)

    def __reduce__(self):
        return (type(self), self.parts)


class ConfigError(PolicymineError):
    """The configuration is invalid."""


class ExtractionError(PolicymineError):
    """A file could not be read as a policy document."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = one_line(reason)  # a parser's message may run over lines; the report may not
        super().__init__(f"{printable(self.path)}: {self.reason}")

    def __reduce__(self):  # errors travel back from extraction worker processes
        return (type(self), (self.path, self.reason))


class IndexNotFoundError(PolicymineError):
    """No index here yet: create one with `policymine ingest PATH`."""


class IndexMismatchError(PolicymineError):
    """The index was built with another embedding model or schema."""


class IndexLockedError(PolicymineError):
    """Another ingest is writing to this index; wait for it to finish."""


class IndexReadOnlyError(PolicymineError):
    """The index folder cannot be written to; search it, or ingest into a copy."""


class NotFoundError(PolicymineError):
    """The requested item is not in the index."""
