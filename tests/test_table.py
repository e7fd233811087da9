"""The CSV review table: pass-through of the export's reference, evidence columns, a list
encoding that survives a round trip (through the csv module and through a spreadsheet),
failed rows that keep their id and title, formula injection neutralised; typed rows
(``typed_row``) and ``to_dataframe``."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from summarizer.errors import ExtractionError
from summarizer.output import COLUMNS, Writer, decode_row, read_results, to_dataframe
from summarizer.output.table import COLUMN_KINDS, csv_row, list_items, typed_row
from summarizer.pipeline import Failure
from summarizer.sinks import csv_cell, csv_cell_text
from tests.conftest import needs, needs_module, seed_record
from tests.review_helpers import ROOT, run_cli
from tests.test_output import full_record, make_result

EXPORTS = ROOT / "tests" / "fixtures" / "exports"
TRICKY_ITEMS = [
    'pain; "burning", at night',
    "=1+1 in a cell",
    "-40 °C exposure",
    "line one\nline two",
    "'quoted' already",
    "[not, a, list]",
]


def tricky_result() -> Any:
    record = full_record()
    record["patient"]["descriptors"] = TRICKY_ITEMS
    record["summary"] = "@SUM(A1:A9) is not a formula here"
    record["title"] = "+ a title that starts with a plus"
    return make_result(record)


def write_csv(items: list[Any]) -> str:
    stream = io.StringIO()
    with Writer(stream, "csv") as writer:
        for item in items:
            writer.write(item)
    return stream.getvalue()


def read_dicts(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_rows_round_trip_through_csv_exactly() -> None:
    result = tricky_result()
    rows = read_dicts(write_csv([result]))
    assert decode_row(rows[0]) == typed_row(result)
    assert typed_row(result)["patient_descriptors"] == TRICKY_ITEMS


def test_lists_are_one_item_a_line_and_separators_inside_items_survive() -> None:
    row = read_dicts(write_csv([tricky_result()]))[0]
    cell = row["patient_descriptors"]
    assert cell.split("\n") == [
        'pain; "burning", at night',
        "=1+1 in a cell",
        "-40 °C exposure",
        "line one\\nline two",  # an item's own line break is escaped: one item, one line
        "'quoted' already",
        "[not, a, list]",
    ]
    assert list_items(cell) == TRICKY_ITEMS
    assert row["presentation_count"] == "1"
    assert len(list_items(row["presentation_evidence"])) == 1


def test_every_list_column_reads_the_same_way() -> None:
    """Items, quotes, statuses, descriptors, warnings and review columns: one encoding."""
    result = tricky_result()
    review = {"status": "done", "fields": {"summary": {"status": "rejected"}, "title": {}}}
    typed = typed_row(result, review=review)
    typed["warnings"] = ["a\\b", "", "two\r\nlines"]  # backslashes, an empty item, CRLF
    cells = csv_row(typed)
    for name, kind in COLUMN_KINDS.items():
        if kind == "list":
            assert list_items(csv_cell_text(cells[name])) == typed[name], name
    assert cells["review_rejected"] == "summary"
    assert decode_row(cells) == typed


@pytest.mark.parametrize(
    "items",
    [[], [""], ["", ""], ["a", ""], ["\\"], ["\\n"], ["=SUM(A1)", "b"], ["-1", "+2"], ["'x"]],
)
def test_list_cells_round_trip_exactly(items: list[str]) -> None:
    typed = dict.fromkeys(COLUMNS) | {"patient_descriptors": items}
    cell = csv_row(typed)["patient_descriptors"]
    assert not cell.startswith(("=", "+", "-", "@"))  # a formula guard on the whole cell
    assert decode_row({"patient_descriptors": cell})["patient_descriptors"] == items


def test_a_spreadsheets_crlf_line_breaks_read_as_items() -> None:
    assert list_items("fever\r\nrash\r\n") == ["fever", "rash", ""]


def test_not_reported_is_an_empty_cell_everywhere() -> None:
    record = seed_record()
    record["patient"] = {"sex": "not_reported"}
    record["diagnosis"] = None
    row = read_dicts(write_csv([make_result(record)]))[0]
    assert row["patient_sex"] == row["patient_age_years"] == row["diagnosis_final"] == ""
    assert row["diagnosis_differential"] == row["patient_descriptors"] == ""
    assert "not_reported" not in row.values()
    assert typed_row(make_result(record))["patient_sex"] is None


def test_reviewer_columns_come_first_and_machine_columns_last() -> None:
    def is_machine(name: str) -> bool:
        if name == "patient_count":  # a value of the record
            return False
        return name.endswith(("_evidence_status", "_count")) or name in (
            "evidence_pages", "grounding_rate", "source", "backend", "model", "prompt_version",
            "schema_version", "attempts", "tokens_total", "latency_s", "warnings", "error_type",
        )  # fmt: skip

    kinds = [is_machine(name) for name in COLUMNS]
    split = kinds.index(True)
    assert all(kinds[split:]) and not any(kinds[:split])
    reviewer = COLUMNS[:split]
    assert reviewer[:2] == ("id", "title")
    assert {"summary", "error", "review_status", "review_rejected"} <= set(reviewer)
    for name in ("patient", "presentation", "diagnosis", "conclusion"):  # a value, then its quote
        assert f"{name}_evidence" in reviewer


def test_formula_cells_are_neutralised_and_restored() -> None:
    row = read_dicts(write_csv([tricky_result()]))[0]
    assert row["title"] == "'+ a title that starts with a plus"
    assert row["summary"] == "'@SUM(A1:A9) is not a formula here"
    for text in ("=cmd", "+1", "-1", "@x", "\tx", "\rx", "'=already", "''+x", "plain", "'plain"):
        cell = csv_cell(text)  # the one guard every CSV of the tool goes through
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
        assert csv_cell_text(cell) == text


def test_numbers_are_not_text_and_keep_their_sign() -> None:
    typed = typed_row(tricky_result())
    assert isinstance(typed["patient_age_years"], float)
    assert isinstance(typed["patient_count"], int)
    cells = csv_row({**typed, "patient_age_years": 0.5})
    assert cells["patient_age_years"] == "0.5"


def test_failed_rows_keep_id_title_and_reference() -> None:
    failure = Failure(
        id="#101",
        error=ExtractionError("no valid record"),
        source="covidence.csv",
        title="=A title from the export",
        reference={"key": "#101", "doi": "10.9999/x", "year": "2024"},
    )
    row = read_dicts(write_csv([failure]))[0]
    assert row["id"] == "#101"
    assert row["title"] == "'=A title from the export"
    assert (row["key"], row["doi"], row["year"]) == ("#101", "10.9999/x", "2024")
    assert row["error_type"] == "ExtractionError"
    assert failure.to_dict()["title"] == "=A title from the export"
    typed = typed_row(failure)
    assert typed["title"] == "=A title from the export"
    assert typed["presentation"] is None  # nothing extracted, not "none reported"


def summarize_csv(tmp_path: Path, *inputs: Path) -> list[dict[str, str]]:
    out = tmp_path / "table.csv"
    run_cli("summarize", *inputs, "-f", "csv", "-o", out, ok=(0, 1))  # 1: a record failed
    return read_dicts(out.read_text(encoding="utf-8"))


def test_summarize_csv_passes_the_export_reference_through(tmp_path: Path) -> None:
    rows = summarize_csv(
        tmp_path, EXPORTS / "covidence.csv", EXPORTS / "rayyan.csv", EXPORTS / "records.ris"
    )
    by_id = {row["id"]: row for row in rows}
    covidence = by_id["#101"]
    assert covidence["key"] == "#101"
    assert covidence["authors"] == "Invented A; Invented B"
    assert covidence["year"] == "2024"
    assert covidence["journal"] == "Journal of Invented Case Reports"
    assert covidence["doi"] == "10.9999/jicr.2024.031"
    rayyan = by_id["rayyan-301"]
    assert (rayyan["key"], rayyan["authors"], rayyan["year"]) == (
        "rayyan-301",
        "Invented D",
        "2024",
    )
    ris = by_id["90000021"]
    assert (ris["key"], ris["year"]) == ("90000021", "2025")  # AN is the RIS accession key
    assert ris["doi"] == "10.9999/jicr.2025.021"
    failed = next(row for row in rows if row["error_type"])
    assert (failed["id"], failed["title"]) == ("3", "A record with no abstract")  # kept


def test_medline_and_pubmed_xml_carry_authors_and_year(tmp_path: Path) -> None:
    medline = tmp_path / "two.nbib"
    medline.write_text(
        "PMID- 91000001\nTI  - A case of something odd.\n"
        "AB  - A 40-year-old man had something odd. He recovered.\n"
        "FAU - Invented, Alpha\nAU  - Invented A\nAU  - Made-Up B\nDP  - 2023 Mar 4\n"
        "JT  - Journal of Invented Case Reports\nAID - 10.9999/odd [doi]\n",
        encoding="utf-8",
    )
    xml = tmp_path / "one.xml"
    xml.write_text(
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>91000002</PMID><Article>"
        "<Journal><JournalIssue><PubDate><Year>2022</Year></PubDate></JournalIssue>"
        "<Title>Journal of Invented Case Reports</Title></Journal>"
        "<ArticleTitle>An odd case.</ArticleTitle><Abstract><AbstractText>A 30-year-old woman "
        "had fever. She recovered.</AbstractText></Abstract><AuthorList><Author>"
        "<LastName>Invented</LastName><Initials>C</Initials></Author><Author>"
        "<CollectiveName>The Made-Up Group</CollectiveName></Author></AuthorList>"
        "</Article></MedlineCitation></PubmedArticle></PubmedArticleSet>",
        encoding="utf-8",
    )
    rows = {row["id"]: row for row in summarize_csv(tmp_path, medline, xml)}
    assert rows["91000001"]["authors"] == "Invented A; Made-Up B"
    assert rows["91000001"]["year"] == "2023"
    assert rows["91000001"]["doi"] == "10.9999/odd"
    assert rows["91000002"]["authors"] == "Invented C; The Made-Up Group"
    assert rows["91000002"]["year"] == "2022"
    assert rows["91000002"]["key"] == "91000002"


def test_pages_have_no_reference(tmp_path: Path) -> None:
    (row,) = summarize_csv(tmp_path, ROOT / "examples" / "leiomyosarcoma-cervical-spine.txt")
    assert all(row[name] == "" for name in ("key", "authors", "year", "journal", "doi"))


def test_jsonl_read_back_gives_the_same_table(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    run_cli("summarize", EXPORTS / "covidence.csv", "-o", records)
    direct = summarize_csv(tmp_path, EXPORTS / "covidence.csv")
    again = read_dicts(write_csv(list(read_results(records))))
    drop = {"latency_s", "source"}  # timings differ between runs; sources are the same file
    assert [{k: v for k, v in row.items() if k not in drop} for row in again] == [
        {k: v for k, v in row.items() if k not in drop} for row in direct
    ]


def test_to_dataframe_has_typed_columns() -> None:
    pandas = needs_module("pandas", hint="the dev extra: make setup")
    frame = to_dataframe([make_result(seed_record()), tricky_result()])
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns) == list(COLUMNS)
    assert frame["patient_age_years"].tolist() == [63.0, 63.0]
    assert frame["patient_descriptors"].iloc[1] == TRICKY_ITEMS


def test_dataframe_counts_stay_integers_beside_a_failure() -> None:
    pandas = needs_module("pandas", hint="the dev extra: make setup")
    failure = Failure(id="broken", error=ExtractionError("no valid record"), source="x.txt")
    frame = to_dataframe([make_result(seed_record()), failure])
    counts = [name for name, kind in COLUMN_KINDS.items() if kind == "int"]
    assert "patient_count" in counts and "presentation_count" in counts
    for name in counts:
        assert frame[name].dtype == pandas.Int64Dtype(), name
    assert frame["patient_count"].iloc[0] == 1
    assert frame["patient_count"].iloc[1] is pandas.NA
    assert frame["patient_age_years"].dtype == "float64"


def test_to_dataframe_without_pandas_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'case-summarizer\[dataframe\]'"):
        to_dataframe([make_result(seed_record())])


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def test_lists_survive_a_round_trip_through_a_spreadsheet(tmp_path: Path) -> None:
    """CSV → LibreOffice Calc (.ods) → CSV: every cell comes back, lists split back."""
    needs("LibreOffice", SOFFICE is not None, hint="make spreadsheet")
    source = tmp_path / "table.csv"
    source.write_text(write_csv([tricky_result()]), encoding="utf-8", newline="")
    profile = f"-env:UserInstallation=file://{tmp_path / 'profile'}"
    # 44,34,76: comma, double quote, UTF-8; every column imported as text (2) as a reviewer
    # importing a table would, so ids and codes keep their leading zeros.
    text_columns = "/".join(f"{n},2" for n in range(1, len(COLUMNS) + 1))
    convert = [SOFFICE, profile, "--headless", "--norestore"]
    subprocess.run(
        [
            *convert,
            "--infilter=CSV:44,34,76,1," + text_columns,
            "--convert-to",
            "ods",
            "--outdir",
            str(tmp_path / "ods"),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    subprocess.run(
        [
            *convert,
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,true,true",
            "--outdir",
            str(tmp_path / "back"),
            str(tmp_path / "ods" / "table.ods"),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    back = read_dicts((tmp_path / "back" / "table.csv").read_text(encoding="utf-8"))
    original = read_dicts(source.read_text(encoding="utf-8"))
    assert len(back) == 1
    for name, _kind in COLUMN_KINDS.items():
        assert back[0][name].replace("\r\n", "\n") == original[0][name], name
    assert decode_row(back[0])["patient_descriptors"] == TRICKY_ITEMS
