"""One root exception with context-carrying subclasses.

Users of the CLI see ``str(error)`` as a single line; ``exit_code`` says how the
process ends (2 for usage and input problems, 1 for records that failed).

Every error carries what the record cost before it failed: ``usage`` (tokens over
every answered request, re-asks and stages included) and ``attempts`` (requests made
for the record: the answered ones, plus every try of a request that failed in
transport). Both are zero for errors raised before any request (bad input, options).
"""

from __future__ import annotations

from typing import Any

from .usage import Usage


class SummarizerError(Exception):
    """Root of every error this package raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, usage: Usage | None = None, attempts: int = 0) -> None:
        super().__init__(" ".join(message.split()))  # always one line
        self.usage: Usage = usage if usage is not None else Usage()
        self.attempts: int = attempts

    @property
    def message(self) -> str:
        return str(self)

    def spent(self, usage: Usage, attempts: int) -> None:
        """Record what the record cost up to this error (the extraction loop calls this)."""
        self.usage = usage.copy()
        self.attempts = attempts


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


class OwnOutputSkipped(InputError):
    """An input that is one of our own outputs (results, a table, a card page, a batch's
    request or context file): left out of a batch with a note, never read as abstracts
    and never counted as a failed record."""


class OutputError(SummarizerError):
    """The output cannot be written where asked: unwritable, locked, or one of the inputs."""

    exit_code = 2

    def __init__(self, message: str, *, path: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class ModelCallError(SummarizerError):
    """The model could not be reached or kept failing at the transport level.

    ``tries``: how many times the transport layer sent the failing request.
    """

    def __init__(self, message: str, *, provider: str, tries: int) -> None:
        self.provider = provider
        self.tries = tries
        super().__init__(f"{provider}: {message} (after {tries} attempt(s))", attempts=tries)


class MalformedAnswerError(SummarizerError):
    """The server answered 200 with something that is not a chat completion (not JSON, or
    JSON of another shape): asked again like an answer that does not validate."""


class ExtractionError(SummarizerError):
    """The model answered, but never with a valid case record.

    ``failed_attempts``: the answers that did not validate, with their errors.
    """

    def __init__(
        self,
        message: str,
        *,
        failed_attempts: list[Any] | None = None,
        usage: Usage | None = None,
        attempts: int = 0,
    ) -> None:
        self.failed_attempts = list(failed_attempts or [])
        super().__init__(message, usage=usage, attempts=attempts)


class GroundingError(ExtractionError):
    """Evidence quotes could not be found in the source (every remaining error was one)."""


class StoreError(SummarizerError):
    """The response cache or the run log cannot be read or changed (``cache``, ``logs``).

    ``corrupt`` is True when the file itself is unreadable (recreating it is the fix), False
    when it is fine but cannot be written here.
    """

    def __init__(self, message: str, *, path: str, corrupt: bool = True) -> None:
        self.path = path
        self.corrupt = corrupt
        super().__init__(message)
