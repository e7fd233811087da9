"""PDF input: detection, reading order, the PDF cues of the cleaner, page numbers in the
evidence, and bad PDFs, on in-house PDFs laid out like real ones (tests/pdf_fixtures.py)."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from summarizer import Summarizer
from summarizer.clean import clean
from summarizer.clean.pdf import reading_text
from summarizer.document import Document
from summarizer.errors import InputError
from summarizer.ingest import iter_documents
from summarizer.ingest.pdf import MAX_PAGES, read_pdf
from summarizer.output.table import list_items
from tests import pdf_fixtures as fx
from tests.conftest import env_without_keys

CLI = [sys.executable, "-m", "summarizer.cli"]


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pdfs")
    makers = {
        "case": fx.two_column_case_report,
        "structured": fx.structured_abstract,
        "sidebar": fx.sidebar_article,
        "cover": fx.cover_sheet_manuscript,
        "scanned": fx.scanned,
        "encrypted": fx.encrypted,
        "truncated": fx.truncated,
        "malformed": fx.malformed,
    }
    return {name: fx.write(folder / f"{name}.pdf", make()) for name, make in makers.items()}


def one(path: Path | str) -> Document:
    [document] = list(iter_documents([str(path)]))
    assert isinstance(document, Document), document
    return document


def plain(text: str) -> str:
    return " ".join(text.split())


# --- detection -------------------------------------------------------------------------------


def test_a_pdf_is_read_by_its_content_whatever_its_name(
    pdfs: dict[str, Path], tmp_path: Path
) -> None:
    renamed = tmp_path / "saved-article.txt"
    renamed.write_bytes(pdfs["case"].read_bytes())
    document = one(renamed)
    assert document.format == "pdf"
    assert document.layout is not None and document.layout.page_count == 3
    assert clean(document).title == fx.CASE_TITLE


def test_folders_globs_and_stdin_read_pdfs(pdfs: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "page.txt").write_text("Plain text page.\n", encoding="utf-8")
    (tmp_path / "paper.pdf").write_bytes(pdfs["structured"].read_bytes())
    formats = {d.id: d.format for d in iter_documents([str(tmp_path)]) if isinstance(d, Document)}
    assert formats == {"page": "text", "paper": "pdf"}
    globbed = [d for d in iter_documents([str(tmp_path / "*.pdf")]) if isinstance(d, Document)]
    assert [d.id for d in globbed] == ["paper"]
    done = subprocess.run(
        [*CLI, "clean", "-"], input=pdfs["structured"].read_bytes(), capture_output=True,
        env=env_without_keys(), timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().startswith(fx.STRUCTURED_TITLE)


def test_a_pdf_in_an_export_abstract_column_is_refused(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "id,title,abstract\n1,Good,A 40-year-old man had fever and a rash for three days.\n"
        "2,Bad,%PDF-1.7 1 0 obj << /Type /Catalog >> endobj\n",
        encoding="utf-8",
    )
    items = list(iter_documents([str(export)]))
    assert isinstance(items[0], Document)
    assert isinstance(items[1], InputError)
    assert "holds a PDF file, not text" in str(items[1]) and "\n" not in str(items[1])


# --- reading order and the PDF cues ----------------------------------------------------------


def test_columns_written_across_the_page_are_read_one_after_the_other(
    pdfs: dict[str, Path],
) -> None:
    document = one(pdfs["case"])
    # the file interleaves the columns: in its own order the right column's first line
    # comes before the left column's second
    stream = plain(document.text)
    assert stream.find("His parents removed") < stream.find("Plant thorns carry")
    text = plain(reading_text(document).text)
    left = text.find("Plant thorns carry soil organisms into the tissues they pierce")
    right = text.find("His parents removed a thorn from the knee at home. Ten days later")
    assert 0 < left < text.find("when he fell into a rose bed") < right
    # every page's columns (page 1 under the abstract, pages 2 and 3 whole) read whole
    assert text.count("tissues they pierce, and a joint close to the skin") == 3
    assert text.count("culture grew an organism found in garden soil") == 3


def test_running_heads_page_numbers_and_watermarks_are_left_out(pdfs: dict[str, Path]) -> None:
    document = one(pdfs["case"])
    assert fx.RUNNING_HEAD in document.text and "For personal use only" in document.text
    text = reading_text(document).text
    assert "For personal use only" not in text
    assert "Article ID 4242" not in text
    assert fx.RUNNING_HEAD not in text
    assert not re.search(r"(?m)^\s*[23]\s*$", text)


def test_no_heading_abstract_with_label_title_marks_and_hyphenation(pdfs: dict[str, Path]) -> None:
    abstract = clean(one(pdfs["case"]))
    assert abstract.title == fx.CASE_TITLE  # not "Case Report", not the "*" after it
    assert abstract.body == fx.CASE_ABSTRACT_TEXT
    assert "Copyright" not in abstract.text and "Correspondence" not in abstract.text


def test_author_line_above_title_inline_labels_and_column_footnote(pdfs: dict[str, Path]) -> None:
    abstract = clean(one(pdfs["structured"]))
    assert abstract.title == fx.STRUCTURED_TITLE
    assert [s.heading for s in abstract.sections] == [
        "Background",
        "Case Description",
        "Conclusion",
    ]
    assert "Corresponding author" not in abstract.text
    assert abstract.body.endswith("report flank pain after them.")
    assert "Keywords" not in abstract.text


def test_sidebar_is_not_mixed_into_the_abstract_and_ligatures_are_spelled(
    pdfs: dict[str, Path],
) -> None:
    abstract = clean(one(pdfs["sidebar"]))
    assert abstract.title == fx.SIDEBAR_TITLE
    assert [s.kind for s in abstract.sections] == ["background", "methods", "results", "conclusion"]
    assert "Citation" not in abstract.text and "Received" not in abstract.text
    assert "simple aid for first-line clinicians" in abstract.text  # "\ufb01" spelled out


def test_cover_sheet_and_an_abstract_on_page_five(pdfs: dict[str, Path]) -> None:
    document = one(pdfs["cover"])
    abstract = clean(document)
    assert abstract.title == fx.COVER_TITLE
    assert [s.heading for s in abstract.sections] == [
        "Background",
        "Methods",
        "Results",
        "Conclusions",
    ]
    assert abstract.body.endswith("planned for the next breeding season.")
    assert {abstract.page_at(s.start) for s in abstract.sections} == {5}
    assert abstract.page_at(0) == 1  # the title, from the cover sheet


def test_only_the_pages_needed_are_read_of_a_500_page_pdf(tmp_path: Path) -> None:
    path = fx.write(tmp_path / "long.pdf", fx.long_article(500))
    document = one(path)
    assert document.layout is not None
    assert document.layout.page_count == 500
    assert len(document.layout.pages) <= 4
    assert clean(document).body.startswith("Thorn injuries are a rare source")


# --- grounding: offsets, extracted text and page ------------------------------------------------


def test_evidence_maps_to_the_extracted_text_and_its_page(pdfs: dict[str, Path]) -> None:
    document = one(pdfs["cover"])
    with Summarizer() as summarizer:
        result = summarizer.summarize(document)
    assert result.evidence
    for span in result.evidence:
        if span.status.value == "unaligned":
            continue
        assert result.abstract.text[span.start : span.end] == span.quote
        assert span.page == 5
        source = document.text[span.source_start : span.source_end]
        assert plain(source.replace("-\n", "")) == plain(span.quote)
        assert document.layout is not None
        assert document.layout.page_at(span.source_start) == 5
    line = json.loads(result.to_json())
    assert {span["page"] for span in line["evidence"]} == {5}


def test_pages_in_json_csv_html_and_markdown(pdfs: dict[str, Path], tmp_path: Path) -> None:
    env = env_without_keys()
    for fmt in ("json", "csv", "html", "md"):
        out = tmp_path / f"records.{fmt}"
        done = subprocess.run(
            [*CLI, "summarize", str(pdfs["case"]), "-o", str(out), "-f", fmt],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        written = out.read_text(encoding="utf-8")
        if fmt == "json":
            pages = [span["page"] for span in json.loads(written)["evidence"]]
            assert pages and set(pages) == {1}
        elif fmt == "csv":
            row = next(csv.DictReader(io.StringIO(written)))
            assert list_items(row["evidence_pages"])[0].endswith(": p. 1")
        else:
            assert "p. 1" in written


def test_clean_json_says_the_page_of_each_section(pdfs: dict[str, Path]) -> None:
    done = subprocess.run(
        [*CLI, "clean", "--json", "--no-offsets", str(pdfs["cover"])],
        capture_output=True, text=True, env=env_without_keys(), timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    value = json.loads(done.stdout)
    assert [section["page"] for section in value["sections"]] == [5, 5, 5, 5]
    assert value["title_page"] == 1


# --- bad PDFs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("scanned", "no text layer"),
        ("encrypted", "encrypted"),
        ("truncated", "cannot be read"),
        ("malformed", "cannot be read"),
    ],
)
def test_bad_pdfs_are_one_line_errors(pdfs: dict[str, Path], name: str, says: str) -> None:
    [item] = list(iter_documents([str(pdfs[name])]))
    assert isinstance(item, InputError)
    assert says in str(item) and "\n" not in str(item)
    if name == "scanned":
        assert "ocrmypdf" in str(item)


def test_a_decompression_bomb_is_refused_within_the_memory_bound(tmp_path: Path) -> None:
    bomb = fx.write(tmp_path / "bomb.pdf", fx.decompression_bomb(400))
    with pytest.raises(InputError, match="more than 200 MB"):
        read_pdf(bomb, id="bomb", origin=str(bomb))


def test_a_folder_batch_goes_on_past_bad_pdfs(pdfs: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("case", "encrypted", "scanned", "structured"):
        (folder / f"{name}.pdf").write_bytes(pdfs[name].read_bytes())
    out = tmp_path / "records.jsonl"
    done = subprocess.run(
        [*CLI, "summarize", str(folder), "-o", str(out)],
        capture_output=True, text=True, env=env_without_keys(), timeout=180,
    )  # fmt: skip
    assert done.returncode == 1
    lines = {Path(line["id"]).stem: line for line in map(json.loads, out.read_text().splitlines())}
    assert set(lines) == {"case", "encrypted", "scanned", "structured"}
    assert "record" in lines["case"] and "record" in lines["structured"]
    assert "encrypted" in lines["encrypted"]["error"] and "OCR" in lines["scanned"]["error"]
    assert "Traceback" not in done.stderr


def test_reading_stops_at_max_pages_without_an_abstract_cue(tmp_path: Path) -> None:
    path = fx.write(tmp_path / "no-cue.pdf", fx.scanned_then_text(30))
    document = one(path)
    assert document.layout is not None and len(document.layout.pages) == MAX_PAGES


def test_the_review_page_shows_the_page_beside_each_quote(
    pdfs: dict[str, Path], tmp_path: Path
) -> None:
    from summarizer.review.session import ReviewSession
    from tests.test_review_http import Served

    records = tmp_path / "records.jsonl"
    done = subprocess.run(
        [*CLI, "summarize", str(pdfs["cover"]), "-o", str(records)],
        capture_output=True, text=True, env=env_without_keys(), timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    session = ReviewSession(records)
    server = Served(session)
    try:
        with server.client() as client:
            page = client.get("/records/cover").text
        shown = re.findall(r'class="ev-status ev-(\w+)"', page)
        aligned = [status for status in shown if status != "unaligned"]
        assert aligned and page.count('<span class="ev-page">p. 5</span>') == len(aligned)
    finally:
        server.stop()
        session.close()


def test_a_provider_batch_keeps_the_pages(pdfs: dict[str, Path], tmp_path: Path) -> None:
    from summarizer import RunOptions, Settings
    from summarizer.batch_api import collect_batch, prepare_batch
    from tests.conftest import write_rules_results

    requests = tmp_path / "requests.jsonl"
    prepared = prepare_batch([pdfs["cover"], pdfs["scanned"]], Settings(), output=requests)
    assert (prepared.records, prepared.failed) == (1, 1)
    results = tmp_path / "results.jsonl"
    assert write_rules_results(requests, results) == 1
    collect_batch(results, requests=requests, options=RunOptions(output=tmp_path / "records.jsonl"))
    lines = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    [record] = [line for line in lines if "record" in line]
    assert {span["page"] for span in record["evidence"]} == {5}
    [failed] = [line for line in lines if "error" in line]
    assert "no text layer" in failed["error"]
