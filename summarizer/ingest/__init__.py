"""Ingest: turn files, folders, globs, stdin and review-tool exports into ``Document`` records.

``iter_documents`` streams: one ``Document`` per record, and an ``InputError`` object
(yielded, not raised) for every file or record that cannot be read, so that a batch
goes on past a bad record. Exports (PubMed XML, MEDLINE, RIS, CSV/TSV, JSONL) are
streamed record by record whatever their size; a record larger than ``max_record_bytes``
(``MAX_RECORD_BYTES`` by default) is an ``InputError`` of its own, found without holding
more than that in memory. A text page is one record under the same limit; an HTML page
may hold up to ``MAX_PAGE_BYTES`` of markup (or the record limit, if higher).

Formats are detected from the extension and the first bytes unless ``format`` is given.
"""

from __future__ import annotations

import glob
import io
import os
import sys
from collections.abc import Generator, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from ..document import NOT_UTF8_NOTE, Abstract, Document, Text
from ..errors import InputError, OwnOutputSkipped
from ..options import ColumnMapping, RunOptions
from .detect import FORMATS, OWN_OUTPUT_HINT, detect_format, is_own_output
from .exports import (
    read_csv,
    read_jsonl,
    read_medline,
    read_ris,
)
from .lines import MAX_RECORD_BYTES, describe_size
from .pubmed_xml import read_pubmed_xml
from .sources import (
    MAX_PAGE_BYTES,
    MAX_PDF_BYTES,
    SNIFF_BYTES,
    STDIN,
    Source,
    binary_kind,
    blank,
    decode,
    detect_encoding,
    expand_sources,
    fallbacks,
    is_pdf,
)

__all__ = [
    "FORMATS",
    "MAX_PAGE_BYTES",
    "MAX_RECORD_BYTES",
    "ColumnMapping",
    "detect_format",
    "is_path_name",
    "iter_documents",
    "iter_records",
]


def is_path_name(value: str) -> bool:
    """Whether a plain string is read as a file name rather than as a text: ``-`` (stdin),
    a file or folder that exists, a glob that matches, or one word (a text to summarize
    has spaces; a name that does not exist is then reported as missing)."""
    if value == STDIN:
        return True
    if "\n" in value or len(value) > 4096 or not value.strip():
        return False
    try:
        if Path(value).expanduser().exists():
            return True
    except OSError:  # too long to be a name
        return False
    if glob.has_magic(value) and glob.glob(os.path.expanduser(value), recursive=True):
        return True
    return not any(character.isspace() for character in value)


def iter_records(
    sources: Iterable[str | Path | Text | Document | Abstract | InputError],
    options: RunOptions | None = None,
) -> Generator[Document | Abstract | InputError, None, None]:
    """Every record of mixed sources, in order: files, folders, globs and ``-`` read as
    they stream (an export gives every record), ``Text`` and plain texts as one record each
    (ids ``text-1``, ``text-2``… unless given), documents, abstracts and errors as they are.
    A ``str`` is a file name when ``is_path_name`` says so, else a text."""
    options = options or RunOptions()
    texts = 0
    for source in sources:
        if isinstance(source, str) and not is_path_name(source):
            source = Text(source)
        if isinstance(source, Text):
            texts += 1
            ident = source.id or f"text-{texts}"
            if not source.text.strip():
                yield InputError("empty text", record=ident)
            else:
                yield Document.from_text(source.text, id=ident)
        elif isinstance(source, str | Path):
            yield from iter_documents([source], options)
        else:
            yield source


def iter_documents(
    sources: Iterable[str | Path], options: RunOptions | None = None
) -> Iterator[Document | InputError]:
    """Every record of every source, in order, as a ``Document`` or an ``InputError``.

    A source is a file, a folder (read recursively in sorted order, hidden files
    skipped), a glob pattern, or ``"-"`` for stdin. ``options`` (``RunOptions``) say how
    to read them: ``input_format`` forces one reader for all sources (``text``, ``html``,
    ``pubmed-xml``, ``medline``, ``ris``, ``csv``, ``tsv``, ``jsonl``); ``columns`` names
    the id/title/abstract columns of CSV/TSV and JSONL exports (common header names are
    found without it); a record over ``max_record_bytes`` of text is reported as an
    ``InputError`` and skipped.
    """
    options = options or RunOptions()
    forced = options.input_format
    mapping = options.columns
    max_record_bytes = options.max_record_bytes
    for source in expand_sources(sources):
        if isinstance(source, InputError):
            yield source
            continue
        before = fallbacks()
        try:
            for item in _read_source(source, forced, mapping, max_record_bytes):
                if fallbacks() != before and isinstance(item, Document):
                    # decoded ahead in chunks: from here on, this file's records are marked
                    item = replace(item, metadata={**item.metadata, NOT_UTF8_NOTE: "1"})
                yield item
        except Exception as error:  # a reader's bug costs this source, never the batch
            yield InputError(
                f"cannot read: unexpected {type(error).__name__}: {error}", path=source.name
            )


def _read_source(
    source: Source, forced: str | None, mapping: ColumnMapping, limit: int
) -> Iterator[Document | InputError]:
    try:
        handle = _open(source)
    except OSError as error:
        yield InputError(f"cannot read: {error.strerror or error}", path=source.name)
        return
    try:
        head = handle.peek(SNIFF_BYTES)[:SNIFF_BYTES]
        if len(head) < SNIFF_BYTES and blank(head):
            yield InputError("the file is empty", path=source.name)
            return
        if is_pdf(head) or forced == "pdf" or (forced is None and source.suffix == ".pdf"):
            yield from _read_pdf(handle, source, limit)
            return
        what = binary_kind(head)
        if what:
            yield InputError(
                f"this is {what}, not text; save the page as text or HTML, or export as"
                " PubMed XML, MEDLINE, RIS, CSV or JSONL",
                path=source.name,
            )
            return
        encoding = detect_encoding(head)
        sniff = head if encoding in ("utf-8", "utf-8-sig", "cp1252") else _transcode(head, encoding)
        fmt = forced or detect_format(sniff, source.suffix)
        if fmt in ("text", "html") and is_own_output(sniff):
            yield OwnOutputSkipped(OWN_OUTPUT_HINT, path=source.name)
        elif fmt in ("text", "html"):
            yield from _read_page(handle, source, fmt, limit)
        elif fmt == "pubmed-xml":
            yield from read_pubmed_xml(handle, name=source.name, limit=limit)
        elif fmt == "medline":
            yield from read_medline(
                handle, name=source.name, encoding=_stream_encoding(encoding), limit=limit
            )
        elif fmt == "ris":
            yield from read_ris(
                handle, name=source.name, encoding=_stream_encoding(encoding), limit=limit
            )
        elif fmt in ("csv", "tsv"):
            yield from read_csv(
                handle,
                name=source.name,
                encoding=_stream_encoding(encoding),
                mapping=mapping,
                delimiter="\t" if fmt == "tsv" else None,
                limit=limit,
            )
        else:
            yield from read_jsonl(
                handle,
                name=source.name,
                encoding=_stream_encoding(encoding),
                mapping=mapping,
                limit=limit,
            )
    except OSError as error:
        yield InputError(f"cannot read: {error.strerror or error}", path=source.name)
    finally:
        if source.path is not None:
            handle.close()


def _read_page(
    handle: BinaryIO, source: Source, fmt: str, limit: int
) -> Iterator[Document | InputError]:
    # A text page is one record; an HTML page's markup is not text, so it gets more room.
    bound = max(MAX_PAGE_BYTES, limit) if fmt == "html" else limit
    data = handle.read(bound + 1)
    if len(data) > bound:
        hint = "" if fmt == "html" else "; --max-record-bytes raises it"
        yield InputError(
            f"the page is larger than the {describe_size(bound)} limit{hint} (exports such"
            " as PubMed XML, RIS, CSV or JSONL are read record by record)",
            path=source.name,
        )
        return
    try:
        text = decode(data, name=source.name)
    except InputError as error:
        yield error
        return
    if not text.strip():
        yield InputError("the file is empty", path=source.name)
        return
    if "\x00" in text:
        yield InputError("the page holds a NUL byte (a damaged file)", path=source.name)
        return
    yield Document(id=source.stem, text=text, origin=source.name, format=fmt)


def _read_pdf(handle: BinaryIO, source: Source, limit: int) -> Iterator[Document | InputError]:
    """A PDF: its text layer, one record (read from the file by PDFium; stdin is buffered)."""
    if source.path is not None:
        data: Path | bytes = source.path
    else:
        data = handle.read(MAX_PDF_BYTES + 1)
        if len(data) > MAX_PDF_BYTES:
            yield InputError(
                f"a PDF on stdin is limited to {describe_size(MAX_PDF_BYTES)}; give its path",
                path=source.name,
            )
            return
    from .pdf import read_pdf  # here, not at the top: only PDFs need it

    try:
        document = read_pdf(data, id=source.stem, origin=source.name)
    except InputError as error:
        yield error
        return
    size = len(document.text.encode("utf-8", "surrogatepass"))
    if size > limit:
        yield InputError(
            f"the text read from the PDF is larger than the {describe_size(limit)} limit",
            path=source.name,
        )
        return
    yield document


def _stream_encoding(encoding: str) -> str:
    # TextIOWrapper handles BOMs itself with these codecs
    if encoding in ("utf-16-le", "utf-16-be", "utf-16"):
        return "utf-16" if encoding == "utf-16" else encoding
    return encoding


def _transcode(head: bytes, encoding: str) -> bytes:
    usable = head[: len(head) - len(head) % 4]
    return usable.decode(encoding, errors="ignore").encode("utf-8", errors="replace")


class _Prefixed(io.RawIOBase):
    """A stream that replays already-read bytes before the rest of another stream (stdin)."""

    def __init__(self, prefix: bytes, rest: BinaryIO) -> None:
        self._prefix = prefix
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer)
        if self._prefix:
            count = min(len(view), len(self._prefix))
            view[:count] = self._prefix[:count]
            self._prefix = self._prefix[count:]
            return count
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


def _open(source: Source) -> io.BufferedReader:
    if source.path is None:
        stdin = sys.stdin.buffer
        prefix = stdin.read(SNIFF_BYTES)
        return io.BufferedReader(_Prefixed(prefix, stdin), buffer_size=SNIFF_BYTES * 2)
    return io.BufferedReader(io.FileIO(source.path, "r"), buffer_size=SNIFF_BYTES * 2)
