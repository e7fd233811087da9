"""Where records come from: files, folders, globs and stdin; reading bytes safely.

Everything here is about bytes and names, not formats: expanding sources into
paths, refusing binary and oversized files, and decoding text (UTF-8, UTF-16/32
with a BOM, Windows-1252/Latin-1 fallback).
"""

from __future__ import annotations

import codecs
import errno
import glob
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError

MAX_PAGE_BYTES = 20 * 1024 * 1024
"""An HTML page (markup, not text) or a JSON array file larger than this is refused (unless
the per-record limit is higher); exports stream record by record."""

MAX_PDF_BYTES = 256 * 1024 * 1024
"""A PDF given on stdin is buffered up to this size (a PDF file is read from its path, by
the PDF library, as far as the pages it needs)."""

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
    """Files as given, folders recursively (sorted, hidden entries skipped), globs, ``-``.

    Every entry that cannot be read (a symlink loop, a folder that cannot be listed, a
    FIFO, a socket, a device) is an ``InputError`` of its own; the others go on.
    """
    for source in sources:
        text = str(source)
        if text == STDIN:
            yield Source("<stdin>", None)
            continue
        path = Path(text).expanduser()
        try:
            info = path.stat()
        except FileNotFoundError:
            if glob.has_magic(text):
                yield from _glob(text)
            else:
                yield InputError("no such file or folder", path=text)
            continue
        except OSError as error:  # a symlink loop, a path through a file…
            yield _unreadable(error, text)
            continue
        if stat.S_ISDIR(info.st_mode):
            yield from _walk(path)
        else:
            yield _file(path, info)


def _unreadable(error: OSError, text: str) -> InputError:
    if error.errno == errno.ENAMETOOLONG:  # most likely a text given where a path goes
        return InputError(
            f"a name of {len(text):,} characters cannot be a file; give a text on stdin "
            "(-) or, in the library, as Document.from_text(...)",
            path=" ".join(text[:60].split()) + "…",
        )
    return InputError(f"cannot read: {error.strerror or error}", path=text)


def _glob(pattern: str) -> Iterator[Source | InputError]:
    matches = sorted(glob.glob(os.path.expanduser(pattern), recursive=True))
    if not matches:
        yield InputError("no file matches this pattern", path=pattern)
    for match in matches:
        found = Path(match)
        if _hidden(found.name):
            continue
        try:
            info = found.stat()
        except OSError as error:
            yield InputError(f"cannot read: {error.strerror or error}", path=match)
            continue
        yield from _walk(found) if stat.S_ISDIR(info.st_mode) else [_file(found, info)]


def _file(path: Path, info: os.stat_result) -> Source | InputError:
    """A regular file as a Source; anything else (never opened: a FIFO would block) an error."""
    if stat.S_ISREG(info.st_mode):
        return Source(str(path), path)
    return InputError(f"not a regular file: {_special_kind(info.st_mode)}", path=str(path))


def _special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file or a folder"


def _hidden(name: str) -> bool:
    return name.startswith((".", "~$")) or name.endswith("~")


def _walk(top: Path) -> Iterator[Source | InputError]:
    """Files under ``top`` in sorted path order (entries sorted by name at every level).

    Symlinked folders are followed, each folder read once; one that contains itself is a
    symlink loop, reported. Iterative, so a very deep tree cannot exhaust the stack.
    """
    visited: set[tuple[int, int]] = set()
    open_folders: list[tuple[Iterator[os.DirEntry[str]], tuple[int, int]]] = []
    inside: set[tuple[int, int]] = set()

    def enter(folder: Path) -> InputError | None:
        try:
            info = folder.stat()
            key = (info.st_dev, info.st_ino)
            if key in inside:
                return InputError("a symlink loop: this folder contains itself", path=str(folder))
            if key in visited:
                return None  # reached again through a symlink: already read
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as error:
            return InputError(
                f"cannot read the folder: {error.strerror or error}", path=str(folder)
            )
        visited.add(key)
        inside.add(key)
        open_folders.append((iter(entries), key))
        return None

    problem = enter(top)
    if problem is not None:
        yield problem
    while open_folders:
        entries, key = open_folders[-1]
        entry = next(entries, None)
        if entry is None:
            open_folders.pop()
            inside.discard(key)
            continue
        if _hidden(entry.name):
            continue
        try:
            info = entry.stat()  # follows symlinks
        except OSError as error:  # a symlink loop or a dangling link
            yield InputError(f"cannot read: {error.strerror or error}", path=entry.path)
            continue
        if stat.S_ISDIR(info.st_mode):
            problem = enter(Path(entry.path))
            if problem is not None:
                yield problem
        else:
            yield _file(Path(entry.path), info)


PDF_HEAD = b"%PDF-"


def is_pdf(head: bytes) -> bool:
    """Whether a file's first bytes are a PDF's header (after blank space: a text that
    mentions "%PDF-" further in, a CSV cell, is not a PDF)."""
    return head.lstrip(b" \t\r\n\x00\xef\xbb\xbf").startswith(PDF_HEAD)


def blank(head: bytes) -> bool:
    """Whether bytes hold no text: whitespace only, after a BOM. NUL bytes count as blank
    only in UTF-16/32 text; a file of NUL bytes is binary, not empty."""
    body = head
    for bom, _ in _BOMS:
        if body.startswith(bom):
            return not body[len(bom) :].strip(b" \t\r\n\x00")
    if b"\x00" in body and _looks_utf16(body):
        return not body.strip(b" \t\r\n\x00")
    return not body.strip(b" \t\r\n")


def binary_kind(head: bytes) -> str | None:
    """A description of a binary file from its first bytes, or None when it looks like text."""
    if any(head.startswith(bom) for bom, _ in _BOMS):
        return None  # UTF-16/32 text has NUL bytes but is text
    for magic, what in _MAGIC:
        if what and head.startswith(magic):
            return what
    sample = head[:SNIFF_BYTES]
    nuls = sample.count(0)
    if nuls:
        if _looks_utf16(head):
            return None
        # A stray NUL or two in text is a damaged record (its reader reports it), not a
        # binary file: binary formats are full of them.
        if nuls > max(1, len(sample) // 1000):
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


class _Fallbacks:
    """How many undecodable bytes the fallback has read as Windows-1252 (this process)."""

    count = 0


def fallbacks() -> int:
    return _Fallbacks.count


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    _Fallbacks.count += len(bad)
    return "".join(_legacy_character(byte) for byte in bad), error.end


def _legacy_character(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return bytes([byte]).decode("latin-1")


FALLBACK_ERRORS = "summarizer-cp1252"
"""Codec error handler: bytes that are not UTF-8 are read as Windows-1252."""
codecs.register_error(FALLBACK_ERRORS, _cp1252_fallback)
