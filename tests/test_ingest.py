"""iter_documents: sources (files, folders, globs, stdin), formats, bad input, streaming."""

from __future__ import annotations

import codecs
import io
import json
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from summarizer.clean import clean
from summarizer.document import Document
from summarizer.errors import ConfigError, InputError
from summarizer.ingest import ColumnMapping, detect_format, iter_documents
from summarizer.options import RunOptions

FIXTURES = Path(__file__).parent / "fixtures"
EXPORTS = FIXTURES / "exports"
PAGES = FIXTURES / "pages"

PAGE_TEXT = (PAGES / "readingapp-structured.txt").read_text(encoding="utf-8")


def items(*sources: str | Path, **options: Any) -> list[Document | InputError]:
    if "format" in options:
        options["input_format"] = options.pop("format")
    return list(iter_documents(list(sources), RunOptions(**options)))


def documents(*sources: str | Path, **options: object) -> list[Document]:
    found = items(*sources, **options)
    assert all(isinstance(item, Document) for item in found), found
    return found  # type: ignore[return-value]


def errors(*sources: str | Path, **options: object) -> list[InputError]:
    return [item for item in items(*sources, **options) if isinstance(item, InputError)]


# --- sources -------------------------------------------------------------------------------------


def test_single_text_page(tmp_path: Path) -> None:
    page = tmp_path / "case-one.txt"
    page.write_text(PAGE_TEXT, encoding="utf-8")
    (document,) = documents(page)
    assert document.id == "case-one"
    assert document.format == "text"
    assert document.origin == str(page)
    assert document.text == PAGE_TEXT


def test_folder_is_read_recursively_sorted_without_hidden_files(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "b" / "z.txt").write_text(PAGE_TEXT)
    (tmp_path / "b" / "a.txt").write_text(PAGE_TEXT)
    (tmp_path / "c.txt").write_text(PAGE_TEXT)
    (tmp_path / ".hidden.txt").write_text(PAGE_TEXT)
    (tmp_path / ".git" / "config.txt").write_text(PAGE_TEXT)
    (tmp_path / "notes.txt~").write_text(PAGE_TEXT)
    assert [d.id for d in documents(tmp_path)] == ["a", "z", "c"]


def test_glob(tmp_path: Path) -> None:
    for name in ("one.txt", "two.txt", "three.html"):
        (tmp_path / name).write_text(PAGE_TEXT)
    assert [d.id for d in documents(str(tmp_path / "*.txt"))] == ["one", "two"]
    assert "no file matches" in str(errors(str(tmp_path / "*.pdf"))[0])


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.TextIOWrapper(io.BytesIO(PAGE_TEXT.encode("utf-8")), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stream)
    (document,) = documents("-")
    assert document.id == "stdin"
    assert document.origin == "<stdin>"
    assert document.text == PAGE_TEXT


def test_stdin_export_is_streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    data = (EXPORTS / "pubmed-3.xml").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    found = items("-")
    assert [getattr(item, "id", None) for item in found[:2]] == ["90000001", "90000002"]


def test_missing_path_is_an_error_and_the_batch_goes_on(tmp_path: Path) -> None:
    page = tmp_path / "ok.txt"
    page.write_text(PAGE_TEXT)
    found = items(tmp_path / "missing.txt", page)
    assert isinstance(found[0], InputError)
    assert "missing.txt" in str(found[0]) and "no such file" in str(found[0])
    assert isinstance(found[1], Document)


def test_a_text_passed_where_a_path_goes_is_named_briefly_and_the_batch_goes_on(
    tmp_path: Path,
) -> None:
    page = tmp_path / "ok.txt"
    page.write_text(PAGE_TEXT)
    found = items(PAGE_TEXT * 3, page)  # far past the system's limit on a file name
    assert isinstance(found[0], InputError) and isinstance(found[1], Document)
    message = str(found[0])
    assert "cannot be a file" in message and "stdin" in message
    assert len(message) < 250 and "\n" not in message


# --- formats -------------------------------------------------------------------------------------


def test_pubmed_xml_three_articles() -> None:
    found = items(EXPORTS / "pubmed-3.xml")
    first, second, third = found
    assert isinstance(first, Document) and isinstance(second, Document)
    assert (first.id, first.format) == ("90000001", "pubmed-xml")
    assert first.title == "Spontaneous splenic rupture in a marathon runner: a case report."
    assert first.text.startswith("BACKGROUND: Atraumatic splenic rupture")
    assert "CASE PRESENTATION: A 41-year-old man" in first.text
    assert first.metadata["doi"] == "10.9999/jicr.2025.001"
    assert second.title == "Late-onset Listeria meningitis after infliximab."
    assert isinstance(third, InputError)
    assert third.record == "90000003" and "no abstract" in str(third)


def test_medline() -> None:
    first, second = documents(EXPORTS / "medline.nbib")
    assert (first.id, first.format) == ("90000011", "medline")
    assert (
        first.title
        == "Isolated hypoglossal nerve palsy revealing a clival chordoma: a case report."
    )
    assert "tongue deviation to the right. MRI showed" in first.text
    assert first.metadata["doi"] == "10.9999/jicr.2025.011"
    assert second.id == "90000012"


def test_ris() -> None:
    found = items(EXPORTS / "records.ris")
    first, second, third = found
    assert isinstance(first, Document) and isinstance(second, Document)
    assert (first.id, first.format) == ("90000021", "ris")
    assert first.title == "Pneumomediastinum after vigorous singing: a case report"
    assert second.id == "2"
    assert isinstance(third, InputError) and third.record == "3"


def test_covidence_csv() -> None:
    first, second = documents(EXPORTS / "covidence.csv")
    assert (first.id, first.format) == ("#101", "csv")
    assert first.title == "Hiccups as the presenting sign of lateral medullary infarction"
    assert first.text.startswith("A 62-year-old man")
    assert first.metadata["DOI"] == "10.9999/jicr.2024.031"
    assert "µg/dL" in second.text


def test_rayyan_csv() -> None:
    first, second = documents(EXPORTS / "rayyan.csv")
    assert first.id == "rayyan-301"
    assert first.title == "Cholesterol embolism after coronary angiography"
    assert second.text.startswith("A 45-year-old man eating only white rice")


def test_jsonl() -> None:
    first, _second = documents(EXPORTS / "records.jsonl")
    assert (first.id, first.format) == ("90000051", "jsonl")
    assert first.title == "Carbon monoxide poisoning from a charcoal grill in a tent"


def test_tsv_and_explicit_columns(tmp_path: Path) -> None:
    export = tmp_path / "screening.tsv"
    export.write_text(
        "Ref\tHeadline\tSummary text\n"
        "r1\tA title\tA 30-year-old woman had a rash. It resolved.\n"
        "r2\tAnother\tA 40-year-old man had a cough. It resolved.\n"
    )
    columns = ColumnMapping(id="Ref", title="Headline", abstract="Summary text")
    found = documents(export, columns=columns)
    assert [(d.id, d.title) for d in found] == [("r1", "A title"), ("r2", "Another")]
    wrong = errors(export, columns=ColumnMapping(abstract="Abstract"))
    assert "no abstract column 'Abstract'" in str(wrong[0])


def test_csv_row_number_is_the_id_without_an_id_column(tmp_path: Path) -> None:
    export = tmp_path / "plain.csv"
    export.write_text("title,abstract\nT1,A 30-year-old woman had a rash.\nT2,A man had a cough.\n")
    assert [d.id for d in documents(export)] == ["1", "2"]


def test_pubmed_csv_without_abstracts_explains(tmp_path: Path) -> None:
    export = tmp_path / "csv-searchresults.csv"
    export.write_text(
        'PMID,Title,Authors,Citation,First Author,Journal/Book\n1,"T","A","C","A","J"\n'
    )
    (error,) = errors(export)
    assert "PubMed/MEDLINE format" in str(error)


def test_format_can_be_forced(tmp_path: Path) -> None:
    export = tmp_path / "export.txt"
    export.write_bytes((EXPORTS / "records.ris").read_bytes())
    assert [getattr(i, "format", None) for i in items(export)][:2] == ["ris", "ris"]  # sniffed
    html = tmp_path / "page.dat"
    html.write_text((PAGES / "pubmed-saved.html").read_text())
    (document,) = documents(html, format="html")
    assert document.format == "html"
    with pytest.raises(ConfigError, match="unknown input format"):
        items(html, format="docx")


@pytest.mark.parametrize(
    ("head", "suffix", "expected"),
    [
        (b'<?xml version="1.0"?>\n<PubmedArticleSet>', "", "pubmed-xml"),
        (b"<!DOCTYPE html><html><head>", ".xml", "html"),
        (b"<!DOCTYPE html><html>", "", "html"),
        (b"PMID- 1\nOWN - NLM\n", ".txt", "medline"),
        (b"TY  - JOUR\nTI  - x\n", "", "ris"),
        (b'{"pmid": "1", "abstract": "x"}\n', "", "jsonl"),
        (b"Title,Authors,Abstract\n", "", "csv"),
        (b"title\tabstract\n", "", "tsv"),
        (b"Add like\nAdd dislike\n", "", "text"),
        (b"anything", ".nbib", "medline"),
    ],
)
def test_detect_format(head: bytes, suffix: str, expected: str) -> None:
    assert detect_format(head, suffix) == expected


def test_every_export_cleans() -> None:
    for item in iter_documents([EXPORTS]):
        if isinstance(item, Document):
            abstract = clean(item)
            assert abstract.title == item.title
            assert abstract.text.startswith(f"{item.title}\n\n")
    medline = documents(EXPORTS / "medline.nbib")[0]
    assert [s.kind for s in clean(medline).sections] == ["background", "case", "conclusion"]


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"   \n\t\n  ", "\ufeff\n".encode()])
def test_empty_files(tmp_path: Path, content: bytes) -> None:
    page = tmp_path / "empty.txt"
    page.write_bytes(content)
    (error,) = errors(page)
    assert "empty" in str(error) and str(page) in str(error)


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
        (b"PK\x03\x04\x14\x00\x06\x00", "ZIP"),
        (b"some text\x00\x00\x01\x02 binary \x00 data", "NUL"),
    ],
)
def test_binary_files_are_refused(tmp_path: Path, content: bytes, what: str) -> None:
    page = tmp_path / "scan.txt"
    page.write_bytes(content)
    (error,) = errors(page)
    assert what in str(error) and str(page) in str(error)
    assert "\n" not in str(error)


def test_latin1_page_is_decoded(tmp_path: Path) -> None:
    page = tmp_path / "latin.txt"
    text = PAGE_TEXT.replace("Lyme", "Lymé").replace("µL", "µL")
    page.write_bytes(text.encode("latin-1", errors="replace"))
    (document,) = documents(page)
    assert "Lymé" in document.text and "µL" in document.text


def test_cp1252_page_is_decoded(tmp_path: Path) -> None:
    page = tmp_path / "windows.txt"
    page.write_bytes(PAGE_TEXT.replace("worker", "worker’s").encode("cp1252"))
    (document,) = documents(page)
    assert "worker’s" in document.text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_utf16_and_bom_pages_are_decoded(tmp_path: Path, encoding: str) -> None:
    page = tmp_path / "wide.txt"
    data = PAGE_TEXT.encode(encoding)
    if encoding == "utf-16-le":
        data = codecs.BOM_UTF16_LE + data
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    page.write_bytes(data)
    (document,) = documents(page)
    assert document.text.lstrip("\ufeff") == PAGE_TEXT
    assert clean(document).title is not None


def test_utf16_csv_export_is_streamed(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_bytes((EXPORTS / "covidence.csv").read_text().encode("utf-16"))
    assert [d.id for d in documents(export)] == ["#101", "#102"]


def test_oversized_page_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "huge.txt"
    with page.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB of NUL would be "binary"; use text
    with page.open("r+b") as handle:
        handle.write(b"A" * 1024)
        handle.seek(0)
        chunk = b"Lorem ipsum dolor sit amet. " * 4096
        for _ in range(50 * 1024 * 1024 // len(chunk)):
            handle.write(chunk)
    (error,) = errors(page)
    assert "larger than the 2 MB limit" in str(error) and str(page) in str(error)


def test_malformed_xml_keeps_earlier_records(tmp_path: Path) -> None:
    text = (EXPORTS / "pubmed-3.xml").read_text()
    cut = text.index('<PMID Version="1">90000003')
    broken = tmp_path / "broken.xml"
    broken.write_text(text[:cut] + "<Unclosed></PubmedArticle>")
    found = items(broken)
    assert [getattr(i, "id", None) for i in found[:2]] == ["90000001", "90000002"]
    assert isinstance(found[-1], InputError)
    assert "malformed XML" in str(found[-1]) and "90000002" in str(found[-1])


def record_name(item: Document | InputError) -> str:
    return item.id if isinstance(item, Document) else f"error {item.record}"


def test_a_malformed_xml_article_is_its_own_error_and_the_next_ones_are_read(
    tmp_path: Path,
) -> None:
    text = (EXPORTS / "pubmed-3.xml").read_text()
    second = text.index('<PMID Version="1">90000002')
    broken = tmp_path / "broken.xml"
    broken.write_text(text[:second] + "<Unclosed>" + text[second:])
    found = items(broken)
    assert [record_name(i) for i in found] == ["90000001", "error 90000002", "error 90000003"]
    assert "malformed XML after record 90000001" in str(found[1])
    assert "has no abstract" in str(found[2])  # read past the damage: this one has none


def test_an_xml_file_cut_inside_an_article_keeps_the_articles_before(tmp_path: Path) -> None:
    text = (EXPORTS / "pubmed-3.xml").read_text()
    cut = tmp_path / "cut.xml"
    cut.write_text(text[: text.index("</PubmedArticle>", text.index("90000003"))])
    found = items(cut)
    assert [getattr(i, "id", None) for i in found] == ["90000001", "90000002", None]
    assert "ends inside this record" in str(found[-1]) and found[-1].record == "90000003"


def test_an_xml_entity_bomb_is_never_expanded(tmp_path: Path) -> None:
    laughs = "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(2, 10))
    path = tmp_path / "bomb.xml"
    path.write_text(
        f'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet [<!ENTITY lol1 "lol">{laughs}]>'
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>7</PMID><Article>"
        "<ArticleTitle>A &amp; B</ArticleTitle><Abstract><AbstractText>A 40-year-old woman"
        " &lol9; had pain &#233;.</AbstractText></Abstract></Article></MedlineCitation>"
        "</PubmedArticle></PubmedArticleSet>"
    )
    (document,) = items(path)
    assert isinstance(document, Document) and document.title == "A & B"
    assert document.text == "A 40-year-old woman &lol9; had pain \u00e9."


def test_utf16_pubmed_xml_is_read(tmp_path: Path) -> None:
    path = tmp_path / "utf16.xml"
    text = (EXPORTS / "pubmed-3.xml").read_text().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    path.write_bytes(text.encode("utf-16"))
    assert [record_name(i) for i in items(path)] == ["90000001", "90000002", "error 90000003"]


def test_malformed_ris_record_is_skipped(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ris"
    good = (EXPORTS / "records.ris").read_text()
    broken.write_text("TI  - no type line\nAB  - text\nER  - \n\n" + good)
    found = items(broken)
    assert isinstance(found[0], InputError) and "TY (type)" in str(found[0])
    assert isinstance(found[1], Document) and found[1].id == "90000021"


def test_malformed_csv_row_is_skipped(tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text(
        "title,abstract\nT1,A 30-year-old woman had a rash.\nT2,x,extra,fields\nT3,A man.\n"
    )
    found = items(broken)
    assert isinstance(found[1], InputError) and found[1].record == "row 2"
    assert [getattr(i, "id", None) for i in found] == ["1", None, "3"]


def test_a_pretty_printed_json_object_is_one_record(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(
        json.dumps({"id": "p1", "abstract": "A 50-year-old man had a cough."}, indent=2)
    )
    (document,) = items(path)
    assert isinstance(document, Document) and document.id == "p1"
    assert document.text == "A 50-year-old man had a cough."


def test_malformed_json_line_is_skipped(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text(
        '{"pmid": "1", "abstract": "A man."}\n{"pmid": "2", \n{"pmid": "3", "abstract": "B."}\n'
    )
    found = items(broken)
    assert isinstance(found[1], InputError) and found[1].record == "line 2"
    assert [getattr(i, "id", None) for i in found] == ["1", None, "3"]


# --- streaming -----------------------------------------------------------------------------------


def test_100k_row_csv_streams_with_bounded_memory(tmp_path: Path) -> None:
    export = tmp_path / "big.csv"
    row = (
        '{n},"Case {n}: a title about a rare presentation","A {age}-year-old patient presented with'
        " fever and a rash for {n} days. Laboratory tests were normal and the rash resolved with"
        ' supportive care over the following weeks."\n'
    )
    with export.open("w", encoding="utf-8") as handle:
        handle.write("PMID,Title,Abstract\n")
        for n in range(100_000):
            handle.write(row.format(n=n, age=20 + n % 60))
    size = export.stat().st_size
    tracemalloc.start()
    count = 0
    last = ""
    for item in iter_documents([export]):
        assert isinstance(item, Document)
        count += 1
        last = item.id
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 100_000 and last == "99999"
    assert peak < 2 * 1024 * 1024, peak  # one record at a time, not the file
    assert size > 15 * 1024 * 1024  # speed is bench/ingest_memory.py's, not a test's


def test_json_array_file(tmp_path: Path) -> None:
    export = tmp_path / "records.json"
    export.write_text(
        '[{"id": "a1", "title": "T1", "abstract": "A 30-year-old woman had a rash."},\n'
        ' {"id": "a2", "title": "T2", "abstract": "A 40-year-old man had a cough."}]'
    )
    assert [(d.id, d.title) for d in documents(export)] == [("a1", "T1"), ("a2", "T2")]


def test_mixed_utf8_with_stray_latin1_bytes(tmp_path: Path) -> None:
    page = tmp_path / "mixed.txt"
    page.write_bytes(PAGE_TEXT.encode("utf-8") + "\nCafé au lait spots.\n".encode("latin-1"))
    (document,) = documents(page)
    assert "µL" in document.text and "Café au lait" in document.text


def test_latin1_bytes_late_in_a_csv_export(tmp_path: Path) -> None:
    export = tmp_path / "late.csv"
    rows = "".join(f"{n},Title {n},A plain abstract number {n}.\n" for n in range(400))
    export.write_bytes(
        b"id,title,abstract\n"
        + rows.encode()
        + "999,Ménétrier,Ménétrier disease.\n".encode("latin-1")
    )
    found = documents(export)
    assert found[-1].text == "Ménétrier disease."
