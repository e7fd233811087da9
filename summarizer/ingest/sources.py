"""Where records come from: files, folders, globs and stdin; reading bytes safely.

Everything here is about bytes and names, not formats: expanding sources into
paths, refusing binary and oversized files, and decoding text (UTF-8, UTF-16/32
with a BOM, Windows-1252/Latin-1 fallback).
"""

from __future__ import annotations

import codecs
import glob
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError

MAX_PAGE_BYTES = 20 * 1024 * 1024
"""An HTML page (markup, not text) or a JSON array file larger than this is refused (unless
the per-record limit is higher); exports stream record by record."""

SNIFF_BYTES = 8192

STDIN = "-"

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF file"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or DOCX/XLSX)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BM", ""),  # too short to trust alone; checked with NUL bytes below
    (b"\xd0\xcf\x11\xe0", "an old Office document"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"RIFF", "a RIFF (WebP/WAV) file"),
    (b"7z\xbc\xaf", "a 7z archive"),
    (b"\x7fELF", "an executable"),
)

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True, slots=True)
class Source:
    """One input file (or stdin): a display name, a path and how to open it."""

    name: str
    path: Path | None
    """None for stdin."""

    @property
    def stem(self) -> str:
        return self.path.stem if self.path is not None else "stdin"

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower() if self.path is not None else ""

    def open(self) -> BinaryIO:
        if self.path is None:
            return sys.stdin.buffer
        return self.path.open("rb")


def expand_sources(sources: Iterable[str | Path]) -> Iterator[Source | InputError]:
    """Files as given, folders recursively (sorted, hidden entries skipped), globs, ``-``."""
    for source in sources:
        text = str(source)
        if text == STDIN:
            yield Source("<stdin>", None)
            continue
        path = Path(text).expanduser()
        if path.is_dir():
            yield from _walk(path)
        elif path.is_file():
            yield Source(str(path), path)
        elif glob.has_magic(text):
            matches = sorted(glob.glob(os.path.expanduser(text), recursive=True))
            if not matches:
                yield InputError("no file matches this pattern", path=text)
            for match in matches:
                found = Path(match)
                if found.is_dir():
                    yield from _walk(found)
                elif found.is_file() and not _hidden(found.name):
                    yield Source(str(found), found)
        elif path.exists():
            yield InputError("not a regular file", path=text)
        else:
            yield InputError("no such file or folder", path=text)


def _hidden(name: str) -> bool:
    return name.startswith((".", "~$")) or name.endswith("~")


def _walk(folder: Path) -> Iterator[Source]:
    """Files under ``folder`` in sorted path order (entries sorted by name at every level)."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        if _hidden(entry.name):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path))
        elif entry.is_file():
            yield Source(entry.path, Path(entry.path))


def binary_kind(head: bytes) -> str | None:
    """A description of a binary file from its first bytes, or None when it looks like text."""
    if any(head.startswith(bom) for bom, _ in _BOMS):
        return None  # UTF-16/32 text has NUL bytes but is text
    for magic, what in _MAGIC:
        if what and head.startswith(magic):
            return what
    if b"\x00" in head[:SNIFF_BYTES]:
        if _looks_utf16(head):
            return None
        return "a binary file (it contains NUL bytes)"
    return None


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 without a BOM: NUL bytes in every other position of ASCII-range text."""
    sample = head[: SNIFF_BYTES - SNIFF_BYTES % 2]
    if len(sample) < 4:
        return False
    even, odd = sample[0::2], sample[1::2]
    return (even.count(0) > 0.4 * len(even) and odd.count(0) == 0) or (
        odd.count(0) > 0.4 * len(odd) and even.count(0) == 0
    )


def utf16_encoding(head: bytes) -> str:
    sample = head[: SNIFF_BYTES - SNIFF_BYTES % 2]
    return "utf-16-be" if sample[0::2].count(0) > sample[1::2].count(0) else "utf-16-le"


def detect_encoding(head: bytes) -> str:
    """The encoding of a text file from its first bytes (BOM, UTF-16 sniffing, UTF-8 check)."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    if b"\x00" in head and _looks_utf16(head):
        return utf16_encoding(head)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # a multi-byte sequence cut at the end of the sample is still UTF-8
        if error.start < len(head) - 3:
            return "cp1252"
    return "utf-8"


def decode(data: bytes, *, name: str) -> str:
    """Bytes of a whole page to text: BOMs honoured, else UTF-8 where the bytes are UTF-8
    and Windows-1252 (Latin-1 for its five undefined bytes) where they are not, so a
    Latin-1 file and a UTF-8 file with a few stray Latin-1 bytes both decode correctly."""
    encoding = detect_encoding(data[:SNIFF_BYTES])
    if encoding == "cp1252":
        encoding = "utf-8"
    try:
        return data.decode(encoding, errors=FALLBACK_ERRORS if encoding == "utf-8" else "strict")
    except UnicodeDecodeError:
        raise InputError(f"cannot decode the file as {encoding}", path=name) from None


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(_legacy_character(byte) for byte in bad), error.end


def _legacy_character(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return bytes([byte]).decode("latin-1")


FALLBACK_ERRORS = "summarizer-cp1252"
"""Codec error handler: bytes that are not UTF-8 are read as Windows-1252."""
codecs.register_error(FALLBACK_ERRORS, _cp1252_fallback)
