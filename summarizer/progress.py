"""What a slow run is doing: progress events, and a printer that shows them on stderr.

A local model takes tens of seconds per record on a laptop CPU; these events say where
the time goes. The llamacpp backend reports loading its model and every request
(prefill and generation: tokens and seconds); the batch and evaluation loops report
each finished record, with the count that gives an ETA. Nothing is reported unless the
caller asks: pass a listener (any callable taking an event) as ``on_progress`` to
``Summarizer`` or ``run_batch``, or a ``ProgressPrinter`` for the command line's lines.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

__all__ = [
    "CallFinished",
    "CallStarted",
    "ModelLoaded",
    "ModelLoading",
    "ProgressEvent",
    "ProgressListener",
    "ProgressPrinter",
    "RecordFinished",
    "duration_text",
    "pace_text",
]


@dataclass(frozen=True, slots=True)
class ModelLoading:
    """A model file is about to be loaded (the first request waits for it)."""

    model_file: str
    size_bytes: int


@dataclass(frozen=True, slots=True)
class ModelLoaded:
    model_file: str
    seconds: float
    n_ctx: int
    n_threads: int


@dataclass(frozen=True, slots=True)
class CallStarted:
    """A request to the model begins: one per stage of a staged prompt, one per re-ask."""

    stage: str | None
    """The stage asked (None: the whole record in one request)."""


@dataclass(frozen=True, slots=True)
class CallFinished:
    """A request answered: prefill (prompt tokens evaluated) and generation, timed."""

    stage: str | None
    prompt_tokens: int
    evaluated: int
    """Prompt tokens evaluated; the others came from the KV cache (a shared prefix)."""
    prefill_s: float
    completion_tokens: int
    decode_s: float
    seconds: float

    @property
    def sampling_s(self) -> float:
        """The rest of the call: choosing each token (under the grammar, in Python for
        llama-cpp-python) and the work around the model."""
        return max(0.0, self.seconds - self.prefill_s - self.decode_s)


@dataclass(frozen=True, slots=True)
class RecordFinished:
    """A record of a batch is done (or failed)."""

    id: str
    ok: bool
    done: int
    """Records finished so far in this run."""
    total: int | None
    """Records this run will do, once known (inputs are read as they stream)."""
    elapsed_s: float
    """Seconds since the run started."""

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the run's pace so far; None while the total is unknown."""
        if self.total is None or self.done <= 0:
            return None
        return self.elapsed_s / self.done * max(self.total - self.done, 0)


ProgressEvent = ModelLoading | ModelLoaded | CallStarted | CallFinished | RecordFinished
ProgressListener = Callable[[ProgressEvent], None]


def duration_text(seconds: float) -> str:
    """``4.2 s``, ``3 min 05 s``, ``1 h 02 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def pace_text(done: int, seconds: float) -> str:
    """How fast records went: ``12.5/s``, or below one a second the time each took
    (``5.3 s per record``, ``5 min 16 s per record``) rather than ``0.0/s``."""
    if done <= 0 or seconds <= 0:
        return "0/s" if seconds > 0 else "-"
    if done >= seconds:
        return f"{done / seconds:.1f}/s"
    return f"{duration_text(seconds / done)} per record"


def _rate(tokens: int, seconds: float) -> str:
    return f"{tokens / seconds:.0f} tok/s" if seconds > 0 and tokens else "-"


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


class ProgressPrinter:
    """A ``ProgressListener`` that writes one line per step to a stream (stderr).

    A request's line is begun when it starts and finished when it is answered, so a
    terminal shows what is running. With no ``stream`` it writes to ``sys.stderr`` as it
    is at each write (a progress bar that redirects stderr still gets whole lines).
    """

    def __init__(self, stream: TextIO | None = None, *, prefix: str = "") -> None:
        self._stream = stream
        self._prefix = prefix
        self._open = False
        """A line was begun and not finished."""

    def __call__(self, event: ProgressEvent) -> None:
        if isinstance(event, ModelLoading):
            self._begin(f"loading {event.model_file} ({_megabytes(event.size_bytes)})... ")
        elif isinstance(event, ModelLoaded):
            self._end(
                f"ready in {duration_text(event.seconds)} "
                f"(context {event.n_ctx:,} tokens, {event.n_threads} thread(s))"
            )
        elif isinstance(event, CallStarted):
            self._begin(f"  {event.stage or 'record'}: ")
        elif isinstance(event, CallFinished):
            self._end(self.call_text(event))
        else:
            self._line(self.record_text(event))

    @staticmethod
    def call_text(event: CallFinished) -> str:
        reused = event.prompt_tokens - event.evaluated
        cached = f", {reused:,} reused" if reused > 0 else ""
        return (
            f"prefill {event.evaluated:,} tokens{cached} in {duration_text(event.prefill_s)} "
            f"({_rate(event.evaluated, event.prefill_s)}), "
            f"generated {event.completion_tokens:,} tokens in {duration_text(event.decode_s)} "
            f"({_rate(event.completion_tokens, event.decode_s)}), "
            f"sampling {duration_text(event.sampling_s)}; {duration_text(event.seconds)} in all"
        )

    @staticmethod
    def record_text(event: RecordFinished) -> str:
        state = "done" if event.ok else "failed"
        count = f"{event.done} of {event.total}" if event.total else f"{event.done} so far"
        eta = event.eta_s
        pace = f"; ETA {duration_text(eta)}" if eta else ""
        if eta is None and event.done:
            pace = f"; {duration_text(event.elapsed_s / event.done)} per record"
        return f"record {event.id} {state} ({count}, {duration_text(event.elapsed_s)}{pace})"

    # -- writing -------------------------------------------------------------
    def _write(self, text: str) -> None:
        stream = self._stream or sys.stderr
        stream.write(text)
        stream.flush()

    def _begin(self, text: str) -> None:
        if self._open:
            self._write("\n")
        self._write(self._prefix + text)
        self._open = True

    def _end(self, text: str) -> None:
        self._write(text + "\n" if self._open else self._prefix + text + "\n")
        self._open = False

    def _line(self, text: str) -> None:
        if self._open:
            self._write("\n")
            self._open = False
        self._write(self._prefix + text + "\n")
