"""One root exception with context-carrying subclasses.

Users of the CLI see ``str(error)`` as a single line; ``exit_code`` says how the
process ends (2 for usage and input problems, 1 for records that failed).
"""

from __future__ import annotations

from typing import Any


class SummarizerError(Exception):
    """Root of every error this package raises on purpose."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))  # always one line

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(SummarizerError):
    """A bad option, a missing model file or extra, an unknown prompt version."""

    exit_code = 2


class InputError(SummarizerError):
    """An input that cannot be read as an abstract: empty, binary, malformed, no abstract."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        record: str | None = None,
        title: str | None = None,
    ) -> None:
        self.path = path
        self.record = record
        self.title = title  # the record's title, when the export gave one (failed rows keep it)
        where = path or ""
        if record is not None:
            where = f"{where} record {record}" if where else f"record {record}"
        super().__init__(f"{where}: {message}" if where else message)


class ModelCallError(SummarizerError):
    """The model could not be reached or kept failing at the transport level."""

    def __init__(self, message: str, *, provider: str, attempts: int) -> None:
        self.provider = provider
        self.attempts = attempts
        super().__init__(f"{provider}: {message} (after {attempts} attempt(s))")


class ExtractionError(SummarizerError):
    """The model answered, but never with a valid case record."""

    def __init__(self, message: str, *, failed_attempts: list[Any] | None = None) -> None:
        self.failed_attempts = list(failed_attempts or [])
        super().__init__(message)


class GroundingError(ExtractionError):
    """Evidence quotes could not be found in the source (with strict grounding)."""


class StoreError(SummarizerError):
    """The response cache or the run log cannot be read or changed (``cache``, ``logs``).

    ``corrupt`` is True when the file itself is unreadable (recreating it is the fix), False
    when it is fine but cannot be written here.
    """

    def __init__(self, message: str, *, path: str, corrupt: bool = True) -> None:
        self.path = path
        self.corrupt = corrupt
        super().__init__(message)
