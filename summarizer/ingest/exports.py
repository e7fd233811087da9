"""Streaming readers for review-tool exports: PubMed XML, MEDLINE, RIS, CSV/TSV, JSONL.

Every reader yields one ``Document`` per record, or an ``InputError`` for a record
that cannot be read, and never holds more than one record in memory. Line-based formats
read each line with a cap (``lines.read_lines``), so a record over the per-record limit
is reported and skipped whatever its size, with memory flat.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..document import Document
from ..errors import InputError, OwnOutputSkipped
from ..options import ColumnMapping
from .detect import OWN_TABLE_HINT, is_own_table_header, own_json_kind
from .lines import (
    MAX_RECORD_BYTES,
    LongLine,
    RecordBudget,
    describe_size,
    read_lines,
    text_bytes,
    too_large,
)
from .sources import FALLBACK_ERRORS, MAX_PAGE_BYTES

Item = Document | InputError

NUL_MESSAGE = "the record holds a NUL byte (damaged); the records around it are read"


ID_COLUMNS = (
    "pmid",
    "pubmedid",
    "covidence",
    "covidencenumber",
    "key",
    "id",
    "recordid",
    "refid",
    "accessionnumber",
    "studyid",
    "uid",
)
TITLE_COLUMNS = ("title", "articletitle", "ti", "primarytitle", "documenttitle")
ABSTRACT_COLUMNS = ("abstract", "ab", "abstracttext", "abstractnote", "text", "summary", "n2")

_KEY = re.compile(r"[^a-z0-9]+")


def _key(name: str) -> str:
    return _KEY.sub("", name.lower())


def resolve_columns(
    header: Sequence[str], mapping: ColumnMapping, *, name: str
) -> tuple[str | None, str | None, str]:
    """The (id, title, abstract) header names to use for this file."""
    by_key: dict[str, str] = {}
    for column in header:
        by_key.setdefault(_key(column), column)

    def pick(wanted: str | None, defaults: Sequence[str], what: str) -> str | None:
        if wanted is not None:
            if wanted in header:
                return wanted
            found = by_key.get(_key(wanted))
            if found is None:
                raise InputError(
                    f"no {what} column {wanted!r} (columns: {', '.join(header[:20])})", path=name
                )
            return found
        for default in defaults:
            if default in by_key:
                return by_key[default]
        return None

    id_column = pick(mapping.id, ID_COLUMNS, "id")
    title_column = pick(mapping.title, TITLE_COLUMNS, "title")
    abstract_column = pick(mapping.abstract, ABSTRACT_COLUMNS, "abstract")
    if abstract_column is None:
        hint = ""
        if "citation" in by_key and "pmid" in by_key:
            hint = (
                " (PubMed's CSV export has no abstracts: export in PubMed/MEDLINE format instead)"
            )
        raise InputError(
            f"no abstract column among {', '.join(header[:20])}; name it with --abstract-col{hint}",
            path=name,
        )
    return id_column, title_column, abstract_column


@contextmanager
def _text_stream(handle: BinaryIO, encoding: str) -> Iterator[io.TextIOWrapper]:
    """The handle read as text. The wrapper is detached when the reader ends, finished or
    closed early: the handle stays its opener's to close, and no wrapper is left to the
    garbage collector unclosed (a ResourceWarning)."""
    if encoding in ("utf-8", "cp1252"):  # UTF-8 where it is, Windows-1252 where it is not
        stream = io.TextIOWrapper(handle, encoding="utf-8", errors=FALLBACK_ERRORS, newline="")
    else:
        stream = io.TextIOWrapper(handle, encoding=encoding, errors="replace", newline="")
    try:
        yield stream
    finally:
        with suppress(ValueError):  # the handle was closed first: nothing left to release
            stream.detach()


def record_item(
    *,
    record_id: str,
    title: str | None,
    abstract: str,
    origin: str,
    fmt: str,
    metadata: Mapping[str, str] | None = None,
    limit: int | None = None,
) -> Item:
    if not abstract.strip():
        return InputError(
            "the record has no abstract",
            path=origin,
            record=record_id,
            title=(title.strip() or None) if title else None,
        )
    if limit is not None and len(abstract) * 4 > limit and text_bytes(abstract) > limit:
        return InputError(too_large(text_bytes(abstract), limit), path=origin, record=record_id)
    if "\x00" in abstract or (title and "\x00" in title):
        return InputError(NUL_MESSAGE, path=origin, record=record_id)
    if abstract.lstrip()[:5] == "%PDF-":
        return InputError(
            "the abstract field holds a PDF file, not text: give the PDF itself as an input "
            "(case-summarizer reads PDF files), or export the abstract's text",
            path=origin,
            record=record_id,
        )
    return Document(
        id=record_id,
        text=abstract,
        origin=origin,
        format=fmt,
        title=(title.strip() or None) if title else None,
        metadata=dict(metadata or {}),
    )


# --- CSV / TSV -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Row:
    """One CSV row's physical lines, as read."""

    lines: list[str | LongLine]
    line: int
    """The file's line number of the row's first line."""
    runaway: bool = False
    """A quote was still open where the input or the record limit ended."""


class _CsvLines:
    """The physical lines of a CSV file, gathered into rows.

    A row is its first line plus, while a quoted field is open (an odd count of ``"``),
    the lines after it, up to the record limit. Lines can be given back (``give_back``):
    when a row turns out to be a quote opened by mistake, the lines it took are read
    again as rows of their own, so a stray quote costs its own row, never the next ones.
    """

    def __init__(self, stream: io.TextIOWrapper, limit: int) -> None:
        self._lines = read_lines(stream, limit)
        self._given_back: list[tuple[int, str | LongLine]] = []
        self._number = 1  # the header was line 1
        self.limit = limit

    def _next(self) -> tuple[int, str | LongLine] | None:
        if self._given_back:
            return self._given_back.pop()
        line = next(self._lines, None)
        if line is None:
            return None
        self._number += 1
        return self._number, line

    def header(self) -> str | LongLine:
        """The first line (before any row)."""
        return next(self._lines, "")

    def give_back(self, lines: list[str | LongLine], first: int) -> None:
        for offset, line in reversed(list(enumerate(lines))):
            self._given_back.append((first + offset, line))

    def skip_quoted(self, quotes: int) -> int:
        """Read and drop lines until an open quoted field closes (``quotes`` odd so far);
        how many characters went."""
        dropped = 0
        while quotes % 2:
            following = self._next()
            if following is None:
                break
            dropped += (
                following[1].size if isinstance(following[1], LongLine) else len(following[1])
            )
            quotes += _quotes(following[1])
        return dropped

    def row(self) -> _Row | None:
        start = self._next()
        if start is None:
            return None
        number, line = start
        row = _Row([line], number)
        budget = RecordBudget(self.limit)
        budget.add(line)
        quotes = _quotes(line)
        while quotes % 2 and not isinstance(line, LongLine):
            following = self._next()
            if following is None or not budget.add(following[1]):
                if following is not None:
                    row.lines.append(following[1])  # read already: given back with the rest
                row.runaway = True
                break
            line = following[1]
            row.lines.append(line)
            quotes += _quotes(line)
        return row


def _quotes(line: str | LongLine) -> int:
    return line.quotes if isinstance(line, LongLine) else line.count('"')


def read_csv(
    handle: BinaryIO,
    *,
    name: str,
    encoding: str,
    mapping: ColumnMapping,
    delimiter: str | None,
    limit: int = MAX_RECORD_BYTES,
) -> Iterator[Item]:
    # csv's own field limit (128 KB) would refuse an abstract the record limit allows;
    # rows are already capped by _CsvFeed, so the field limit follows the record limit.
    csv.field_size_limit(max(csv.field_size_limit(), limit))
    with _text_stream(handle, encoding) as stream:
        yield from _csv_records(
            _CsvLines(stream, limit), name=name, mapping=mapping, delimiter=delimiter, limit=limit
        )


def _csv_records(
    feed: _CsvLines, *, name: str, mapping: ColumnMapping, delimiter: str | None, limit: int
) -> Iterator[Item]:
    first = feed.header()
    if isinstance(first, LongLine):
        yield InputError(f"the header line is over the {describe_size(limit)} limit", path=name)
        return
    if not first.strip():
        yield InputError("the file is empty", path=name)
        return
    if delimiter is None:
        delimiter = "\t" if first.count("\t") > first.count(",") else ","
    header = next(csv.reader([first], delimiter=delimiter))
    header = [column.strip().lstrip("\ufeff") for column in header]
    if mapping.abstract is None and is_own_table_header(header):
        yield OwnOutputSkipped(OWN_TABLE_HINT, path=name)
        return
    try:
        id_column, title_column, abstract_column = resolve_columns(header, mapping, name=name)
    except InputError as error:
        yield error
        return
    index = {column: position for position, column in enumerate(header)}
    row_number = 0
    while (row := feed.row()) is not None:
        row_number += 1
        parsed = _parse_row(row, feed, delimiter=delimiter, fields=len(header), limit=limit)
        if isinstance(parsed, str):
            yield InputError(f"{parsed} (line {row.line})", path=name, record=f"row {row_number}")
            continue
        if not parsed or not any(cell.strip() for cell in parsed):
            row_number -= 1
            continue

        def cell(column: str | None, row: list[str] = parsed) -> str:
            if column is None:
                return ""
            position = index[column]
            return row[position] if position < len(row) else ""

        record_id = cell(id_column).strip() or str(row_number)
        metadata = {
            column: parsed[position].strip()
            for column, position in index.items()
            if position < len(parsed)
            and column not in (abstract_column, title_column)
            and parsed[position].strip()
            and len(parsed[position]) < 500
        }
        yield record_item(
            record_id=record_id,
            title=cell(title_column),
            abstract=cell(abstract_column),
            origin=name,
            fmt="csv",
            metadata=metadata,
        )


def _parse_row(
    row: _Row, feed: _CsvLines, *, delimiter: str, fields: int, limit: int
) -> list[str] | str:
    """The row's cells, or why it is an error.

    A row that ran over several lines is either one with a long quoted field, or a quote
    opened by mistake that swallowed the rows after it. The lines it took tell which: when
    they read as rows of the header's width, they are given back and read again as rows;
    otherwise they are the field, and the row is too large or malformed as a whole.
    """
    lines = row.lines
    size = sum(line.size if isinstance(line, LongLine) else len(line) for line in lines)
    if isinstance(lines[0], LongLine):
        return too_large(size, limit)
    taken = [line for line in lines[1:] if isinstance(line, str)]
    if row.runaway or any(isinstance(line, LongLine) for line in lines):
        if _looks_like_rows(taken, delimiter=delimiter, fields=fields):
            feed.give_back(lines[1:], row.line + 1)
            return _stray_quote(len(lines) - 1)
        size += feed.skip_quoted(sum(_quotes(line) for line in lines))
        return too_large(size, limit)
    text_lines = [line for line in lines if isinstance(line, str)]
    reader = csv.reader(text_lines, delimiter=delimiter)
    try:
        cells = next(reader, [])
        consumed = max(reader.line_num, 1)
    except csv.Error as error:
        return f"malformed CSV row: {error}"
    if consumed < len(lines):  # the row ended before its quotes balanced: a literal quote
        feed.give_back(lines[consumed:], row.line + consumed)
    elif (
        consumed > 1
        and len(cells) != fields
        and _looks_like_rows(taken, delimiter=delimiter, fields=fields)
    ):
        feed.give_back(lines[1:], row.line + 1)
        return _stray_quote(consumed - 1)
    if len(cells) > fields:
        return f"malformed CSV row: {len(cells)} fields, the header has {fields}"
    if any("\x00" in cell for cell in cells):
        return "the row holds a NUL byte (a damaged row); the rows around it are read"
    return cells


def _stray_quote(lines: int) -> str:
    return (
        "malformed CSV row: a quote opened in this row is not closed where the row ends (it "
        f"took the next {lines} line(s), which are read again as rows)"
    )


def _looks_like_rows(lines: list[str], *, delimiter: str, fields: int) -> bool:
    """Whether lines a quoted field took are rows of their own: most of the first ones
    split into the header's number of fields."""
    sample = [line for line in lines[:20] if line.strip()]
    if not sample:
        return False
    try:
        widths = [len(next(csv.reader([line], delimiter=delimiter), [])) for line in sample]
    except csv.Error:
        return False
    return sum(width == fields for width in widths) * 2 >= len(sample) and fields > 1


# --- JSONL -----------------------------------------------------------------------------------


def read_jsonl(
    handle: io.BufferedReader,
    *,
    name: str,
    encoding: str,
    mapping: ColumnMapping,
    limit: int = MAX_RECORD_BYTES,
) -> Iterator[Item]:
    """JSON lines (one object a line); a file holding one JSON array of objects, or one
    pretty-printed object, is read whole."""
    start = handle.peek(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(b"[") or _PRETTY_OBJECT.match(start):
        yield from _json_document(
            handle, name=name, encoding=encoding, mapping=mapping, limit=limit
        )
        return
    with _text_stream(handle, encoding) as stream:
        yield from _json_lines(read_lines(stream, limit), name=name, mapping=mapping, limit=limit)


RESULTS_HINT = (
    "holds case-summarizer results, not abstracts (render them with "
    "`case-summarizer export FILE --format csv|md|html`)"
)
BATCH_FILE_HINT = "is a provider batch's {kind} file (made by `batch prepare`), not abstracts"


def is_result_line(value: dict[str, Any]) -> bool:
    """One of our own output lines (``summarizer.results``: a result or a failure)."""
    return own_json_kind(value) == "results"


def _own_json_file(value: dict[str, Any], *, name: str) -> OwnOutputSkipped | None:
    kind = own_json_kind(value)
    if kind is None:
        return None
    if kind == "results":
        return OwnOutputSkipped(RESULTS_HINT, path=name)
    return OwnOutputSkipped(BATCH_FILE_HINT.format(kind=kind), path=name)


def _json_lines(
    stream: Iterable[str | LongLine], *, name: str, mapping: ColumnMapping, limit: int
) -> Iterator[Item]:
    columns: tuple[str | None, str | None, str] | None = None
    line_number = 0
    for line in stream:
        line_number += 1
        if isinstance(line, LongLine):
            yield InputError(too_large(line.size, limit), path=name, record=f"line {line_number}")
            continue
        if not line.strip():
            continue
        try:
            value: Any = json.loads(line)
        except json.JSONDecodeError as error:
            yield InputError(
                f"malformed JSON: {error.msg}", path=name, record=f"line {line_number}"
            )
            continue
        except RecursionError:
            yield InputError(
                "malformed JSON: nested too deeply", path=name, record=f"line {line_number}"
            )
            continue
        if not isinstance(value, dict):
            yield InputError(
                "a JSON line must be an object", path=name, record=f"line {line_number}"
            )
            continue
        if columns is None:
            own = _own_json_file(value, name=name) if mapping.abstract is None else None
            if own is not None:
                yield own  # once, not once a line
                return
            try:
                columns = resolve_columns(list(value), mapping, name=name)
            except InputError as error:
                yield InputError(
                    error.message.split(": ", 1)[-1], path=name, record=f"line {line_number}"
                )
                continue
        id_column, title_column, abstract_column = columns
        raw_id = value.get(id_column) if id_column else None
        record_id = str(raw_id).strip() if raw_id not in (None, "") else str(line_number)
        title = value.get(title_column) if title_column else None
        abstract = value.get(abstract_column)
        if abstract is None and abstract_column not in value:
            # the first line named the columns; a later line may lack one
            yield InputError(f"no {abstract_column!r} key", path=name, record=record_id)
            continue
        metadata = {
            key: str(item)
            for key, item in value.items()
            if key not in (abstract_column, title_column)
            and isinstance(item, (str, int, float))
            and len(str(item)) < 500
        }
        yield record_item(
            record_id=record_id,
            title=title if isinstance(title, str) else None,
            abstract=abstract if isinstance(abstract, str) else "",
            origin=name,
            fmt="jsonl",
            metadata=metadata,
        )


_PRETTY_OBJECT = re.compile(rb"\{[ \t]*\r?\n")
"""A JSON object that opens on a line of its own: pretty-printed, not one object a line."""


def _json_document(
    handle: io.BufferedReader, *, name: str, encoding: str, mapping: ColumnMapping, limit: int
) -> Iterator[Item]:
    # One JSON document cannot be split into records before it is parsed: it is read
    # whole, up to a bound; bigger exports belong in JSON Lines, which stream.
    bound = max(MAX_PAGE_BYTES, limit)
    data = handle.read(bound + 1)
    if len(data) > bound:
        yield InputError(
            f"a JSON file that is not JSON Lines is read whole, up to {describe_size(bound)}; write a larger"
            " export as JSON Lines (one object a line), which is read record by record",
            path=name,
        )
        return
    try:
        values = json.loads(data.decode(encoding, errors="replace").lstrip("\ufeff"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        yield InputError(f"malformed JSON: {error}", path=name)
        return
    except RecursionError:
        yield InputError("malformed JSON: nested too deeply", path=name)
        return
    if isinstance(values, dict):
        values = [values]
    if not isinstance(values, list):
        yield InputError(
            "a JSON file must hold one array of objects, one object, or one object a line",
            path=name,
        )
        return
    lines = (_capped(json.dumps(value, ensure_ascii=False), limit) for value in values)
    yield from _json_lines(lines, name=name, mapping=mapping, limit=limit)


def _capped(text: str, limit: int) -> str | LongLine:
    return LongLine(len(text)) if text_bytes(text) > limit else text


# --- MEDLINE ---------------------------------------------------------------------------------

_MEDLINE_FIELD = re.compile(r"^([A-Z][A-Z0-9]{0,3})\s*-\s?(.*)$")


def read_medline(
    handle: BinaryIO, *, name: str, encoding: str, limit: int = MAX_RECORD_BYTES
) -> Iterator[Item]:
    """MEDLINE/.nbib: ``TAG - value`` lines, continuation lines indented, blank line between records."""
    with _text_stream(handle, encoding) as stream:
        yield from _medline_records(read_lines(stream, limit), name=name, limit=limit)


def _medline_records(lines: Iterable[str | LongLine], *, name: str, limit: int) -> Iterator[Item]:
    fields: list[tuple[str, list[str]]] = []
    budget = RecordBudget(limit)
    dropping: str | None = None  # the id of a record over the limit, read to its end
    count = 0
    seen_any = False
    line_number = 0
    start_line = 1
    for raw_line in lines:
        line_number += 1
        if isinstance(raw_line, str) and not raw_line.strip():
            if dropping is not None:
                count += 1
                yield InputError(budget.error(), path=name, record=dropping or str(count))
                dropping = None
            elif fields:
                count += 1
                yield _medline_record(fields, name=name, position=count, line=start_line)
                fields = []
            budget.reset()
            continue
        within = budget.add(raw_line)
        if dropping is not None:
            continue
        if not within or isinstance(raw_line, LongLine):
            dropping = next((parts[0] for tag, parts in fields if tag == "PMID"), "")
            seen_any = seen_any or bool(dropping)
            fields = []
            continue
        line = raw_line.rstrip("\r\n")
        if line.startswith("      ") and fields:
            fields[-1][1].append(line.strip())
            continue
        match = _MEDLINE_FIELD.match(line)
        if match is None:
            if not fields:
                start_line = line_number
            fields.append(("?", [line.strip()]))
            continue
        if not fields:
            start_line = line_number
        seen_any = True
        fields.append((match.group(1), [match.group(2).strip()]))
    if dropping is not None:
        count += 1
        yield InputError(budget.error(), path=name, record=dropping or str(count))
    elif fields:
        count += 1
        yield _medline_record(fields, name=name, position=count, line=start_line)
    if not seen_any:
        yield InputError("no MEDLINE records (no 'PMID- ' fields)", path=name)


def _medline_record(
    fields: list[tuple[str, list[str]]], *, name: str, position: int, line: int
) -> Item:
    values: dict[str, list[str]] = {}
    for tag, parts in fields:  # a field's continuation lines are joined once, here
        values.setdefault(tag, []).append(" ".join(part for part in parts if part))
    pmid = (values.get("PMID") or [""])[0]
    record_id = pmid or str(position)
    if "?" in values and len(values) == 1:
        return InputError(f"malformed MEDLINE record at line {line}", path=name, record=record_id)
    title = " ".join(values.get("TI") or values.get("BTI") or [])
    abstract = "\n\n".join(values.get("AB") or [])
    metadata = {"pmid": pmid} if pmid else {}
    if "JT" in values:
        metadata["journal"] = values["JT"][0]
    if "AU" in values:
        metadata["authors"] = "; ".join(values["AU"])
    if "DP" in values:
        metadata["year"] = values["DP"][0]
    for value in values.get("AID", []) + values.get("LID", []):
        if value.endswith("[doi]"):
            metadata["doi"] = value[: -len("[doi]")].strip()
            break
    return record_item(
        record_id=record_id,
        title=title,
        abstract=abstract,
        origin=name,
        fmt="medline",
        metadata=metadata,
    )


# --- RIS -------------------------------------------------------------------------------------

_RIS_TAG = re.compile(r"^([A-Z][A-Z0-9])  - ?(.*)$")


def read_ris(
    handle: BinaryIO, *, name: str, encoding: str, limit: int = MAX_RECORD_BYTES
) -> Iterator[Item]:
    """RIS, one record at a time: lines are gathered up to ``ER  -`` and parsed with rispy."""
    with _text_stream(handle, encoding) as stream:
        yield from _ris_records(read_lines(stream, limit), name=name, limit=limit)


def _ris_records(lines: Iterable[str | LongLine], *, name: str, limit: int) -> Iterator[Item]:
    import rispy

    record: list[str] = []
    budget = RecordBudget(limit)
    dropping = False  # a record over the limit, read to its ER line
    count = 0
    for raw_line in lines:
        line = raw_line.rstrip("\r\n").lstrip("\ufeff") if isinstance(raw_line, str) else ""
        ending = line.startswith("ER  -")
        if not dropping:
            if isinstance(raw_line, str) and not line.strip() and not record:
                continue
            if budget.add(raw_line) and isinstance(raw_line, str):
                record.append(line)
                if ending:
                    count += 1
                    yield _ris_record(record, rispy, name=name, position=count)
                    record = []
                    budget.reset()
                continue
            dropping, record = True, []
        else:
            budget.add(raw_line)
        if ending:
            count += 1
            yield InputError(budget.error(), path=name, record=str(count))
            dropping = False
            budget.reset()
    if dropping:
        count += 1
        yield InputError(budget.error(), path=name, record=str(count))
    elif any(line.strip() for line in record):
        count += 1
        yield InputError(
            "RIS record without its closing 'ER  -' line", path=name, record=str(count)
        )
    if count == 0:
        yield InputError("no RIS records", path=name)


def _ris_record(lines: list[str], rispy: Any, *, name: str, position: int) -> Item:
    if not lines[0].startswith("TY  -"):
        return InputError(
            "malformed RIS record: it must start with a TY (type) line",
            path=name,
            record=str(position),
        )
    try:
        entries = rispy.loads("\n".join(lines))
    except Exception as error:  # rispy raises plain IOError/ValueError on bad records
        return InputError(f"malformed RIS record: {error}", path=name, record=str(position))
    if not entries:
        return InputError("empty RIS record", path=name, record=str(position))
    entry: dict[str, Any] = entries[0]

    def first(*keys: str) -> str:
        for key in keys:
            value = entry.get(key)
            if isinstance(value, list):
                value = " ".join(str(item) for item in value)
            if value:
                return str(value).strip()
        return ""

    accession = first("accession_number")
    record_id = first("id") if not accession.isdigit() else accession
    if not record_id:
        record_id = accession or str(position)
    metadata = {
        key: first(key)
        for key in ("doi", "journal_name", "secondary_title", "year", "accession_number", "url")
        if first(key)
    }
    if first("id"):
        metadata["id"] = first("id")
    authors = entry.get("authors") or entry.get("first_authors") or []
    if authors:
        metadata["authors"] = "; ".join(str(author).strip() for author in authors)
    if "year" not in metadata and first("publication_year", "date"):
        metadata["year"] = first("publication_year", "date")
    return record_item(
        record_id=record_id,
        title=first("title", "primary_title", "translated_title"),
        abstract=first("abstract", "notes_abstract"),
        origin=name,
        fmt="ris",
        metadata=metadata,
    )
