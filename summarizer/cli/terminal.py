"""Standard output on a terminal: data shown, never run.

Every command writes its data (cleaned text, JSON, CSV, cards, logs) to stdout. When
stdout is a terminal, ``VisibleStdout`` stands in for it and shows each control character
and bidi control that data holds as ``[U+001B]`` (``sinks.visible_controls``), so a
title holding ``ESC]0;…BEL`` cannot set the window title, ``ESC[2J`` cannot clear the
screen and a lone carriage return cannot overwrite what was printed. To a pipe or a file
nothing is changed: the data stays byte-exact. Our own styled output (the evaluation's
tables) goes to ``styled_stdout()``, the terminal itself, with its data escaped where it
is built.
"""

from __future__ import annotations

import io
import sys
from typing import TextIO

from ..sinks import visible_controls

__all__ = ["VisibleStdout", "install", "styled_stdout"]


class VisibleStdout(io.TextIOBase):
    """A text stream that writes to ``terminal`` with every control character shown."""

    def __init__(self, terminal: TextIO) -> None:
        self.terminal = terminal
        self._pending_cr = False  # a "\r" ending one write may start "\r\n" with the next

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.terminal.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.terminal.errors

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.terminal.fileno()

    def write(self, text: str) -> int:
        written = len(text)
        if self._pending_cr:
            text = "\r" + text
            self._pending_cr = False
        if text.endswith("\r"):
            text, self._pending_cr = text[:-1], True
        self.terminal.write(visible_controls(text))
        return written

    def flush(self) -> None:
        if self._pending_cr:
            self.terminal.write(visible_controls("\r"))
            self._pending_cr = False
        self.terminal.flush()


def install() -> None:
    """Put ``VisibleStdout`` in place of stdout when stdout is a terminal."""
    stdout = sys.stdout
    if stdout is not None and not isinstance(stdout, VisibleStdout) and stdout.isatty():
        sys.stdout = VisibleStdout(stdout)


def styled_stdout() -> TextIO:
    """The terminal itself, for output whose escape sequences are our own styling."""
    stdout = sys.stdout
    return stdout.terminal if isinstance(stdout, VisibleStdout) else stdout
