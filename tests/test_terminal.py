"""No byte from an input reaches a terminal as a control sequence, on any command; to a pipe
the data stays byte-exact (issue 21, item 3). The terminal is a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import tty
from pathlib import Path

import pytest

from summarizer.runlog import RunLog
from summarizer.sinks import visible_controls
from tests.conftest import env_without_keys

# A window title (OSC 0), a screen clear (CSI), a hyperlink (OSC 8), an 8-bit CSI, a bell,
# a carriage return that would overwrite the line, and a bidi override.
TITLE = "Title \x1b]0;pwned\x07 with escapes"
BODY = (
    "BACKGROUND: A 40-year-old woman presented with \x1b[2J chest pain \x9b2J and "
    "\x1b]8;;http://evil.invalid\x1b\\a link\x1b]8;;\x1b\\ here.\rOVERWRITTEN She improved "
    "after treatment and went home \u202eevif.\n\nCONCLUSION: Such cases are rare."
)
PAGE = f"{TITLE}\n\n{BODY}\n"
RAW_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]|\r(?!\n)")


def on_a_terminal(*args: str | Path, home: Path) -> bytes:
    """What ``case-summarizer ARGS`` prints to stdout when stdout is a terminal."""
    master, slave = pty.openpty()
    tty.setraw(slave)  # no output processing: the bytes the program wrote, as written
    process = subprocess.Popen(
        [sys.executable, "-m", "summarizer.cli", *map(str, args)],
        stdout=slave,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env={**env_without_keys(), "CASE_SUMMARIZER_HOME": str(home)},
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert process.wait(timeout=120) in (0, 1), args
    return b"".join(chunks)


def to_a_pipe(*args: str | Path, home: Path) -> bytes:
    done = subprocess.run(
        [sys.executable, "-m", "summarizer.cli", *map(str, args)],
        capture_output=True,
        env={**env_without_keys(), "CASE_SUMMARIZER_HOME": str(home)},
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    page = tmp_path / "hostile.txt"
    page.write_text(PAGE, encoding="utf-8")
    return page


@pytest.fixture
def records(hostile: Path, tmp_path: Path) -> Path:
    out = tmp_path / "records.jsonl"
    assert to_a_pipe("summarize", hostile, "-f", "jsonl", "-o", out, home=tmp_path) == b""
    return out


def commands(hostile: Path, records: Path) -> dict[str, list[str | Path]]:
    return {
        "clean": ["clean", hostile],
        "summarize json": ["summarize", hostile],
        "summarize csv": ["summarize", hostile, "-f", "csv"],
        "summarize md": ["summarize", hostile, "-f", "md"],
        "export csv": ["export", records, "-f", "csv"],
        "export jsonl": ["export", records, "-f", "jsonl"],
        "review export csv": ["review", "export", records, "-f", "csv"],
        "logs csv": ["logs", "--csv"],
        "logs json": ["logs", "--json"],
    }


NAMES = list(commands(Path(), Path()))


@pytest.mark.parametrize("name", NAMES)
def test_data_on_a_terminal_shows_its_controls_and_runs_none(
    name: str, hostile: Path, records: Path, tmp_path: Path
) -> None:
    from summarizer.review import ReviewSession

    ReviewSession(records).close()
    with RunLog(tmp_path / "logs.sqlite") as log:  # a model call whose record id is hostile
        log.record_call({"record_id": f"r{TITLE}", "error": f"boom{BODY}"})
    shown = on_a_terminal(*commands(hostile, records)[name], home=tmp_path)
    assert shown.strip(), name
    assert not RAW_CONTROL.search(shown), (name, shown[:400])
    assert "\u202e".encode() not in shown
    # JSON writes ESC as the inert text \u001b and Markdown cards drop escape sequences;
    # the text and CSV outputs show them
    if not name.endswith(("json", "jsonl", "md")):
        assert b"[U+001B]" in shown, (name, shown[:400])


@pytest.mark.parametrize("name", ["clean", "summarize csv", "export csv", "logs csv"])
def test_data_to_a_pipe_stays_byte_exact(
    name: str, hostile: Path, records: Path, tmp_path: Path
) -> None:
    with RunLog(tmp_path / "logs.sqlite") as log:
        log.record_call({"record_id": f"r{TITLE}", "error": "boom"})
    piped = to_a_pipe(*commands(hostile, records)[name], home=tmp_path)
    assert b"\x1b]0;pwned\x07" in piped, (name, piped[:300])
    assert b"[U+" not in piped


def test_visible_controls_keeps_line_breaks_and_tabs() -> None:
    assert visible_controls("a\tb\r\nc\nd") == "a\tb\r\nc\nd"
    assert visible_controls("x\ry\x1b[0m\x9b\u202e") == "x[U+000D]y[U+001B][0m[U+009B][U+202E]"
