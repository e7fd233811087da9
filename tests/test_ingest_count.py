"""The progress bar's pre-scan (``summarizer.ingest.count``): each format's records counted
without parsing, equal to what the readers yield on well-formed files; what cannot be
counted cheaply is None, never a guess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from summarizer import RunOptions, Text
from summarizer.ingest import count as counting
from summarizer.ingest import iter_records
from summarizer.ingest.count import count_records
from summarizer.local_batch import expected_records
from tests.conftest import SEED, batch_case_text, write_batch_input

EXPORTS = Path(__file__).parent / "fixtures" / "exports"


def read_count(*paths: Path) -> int:
    return sum(1 for item in iter_records(list(paths)) if type(item).__name__ != "OwnOutputSkipped")


@pytest.mark.parametrize("name", sorted(path.name for path in EXPORTS.iterdir()))
def test_each_export_fixture_counts_what_its_reader_yields(name: str) -> None:
    assert count_records([EXPORTS / name]) == read_count(EXPORTS / name)


def test_a_folder_of_pages_and_exports_and_unreadable_entries(tmp_path: Path) -> None:
    (tmp_path / "page.txt").write_text(SEED.read_text())
    (tmp_path / "empty.txt").write_text("")  # one error line
    write_batch_input(tmp_path / "cases.jsonl", 7)
    (tmp_path / "missing-link.txt").symlink_to(tmp_path / "nowhere")
    assert count_records([tmp_path]) == read_count(tmp_path) == 10


def test_a_mark_cut_across_chunks_is_counted_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counting, "_CHUNK", 64)  # every article tag crosses a chunk edge
    medline = tmp_path / "export.nbib"
    medline.write_text(
        "".join(f"PMID- {n}\nTI  - Case {n}\nAB  - {batch_case_text(n)}\n\n" for n in range(9))
    )
    xml = tmp_path / "export.xml"
    xml.write_text(
        "<PubmedArticleSet>"
        + "".join(
            f"<PubmedArticle><MedlineCitation><PMID>{n}</PMID></MedlineCitation></PubmedArticle>"
            for n in range(13)
        )
        + "</PubmedArticleSet>"
    )
    assert count_records([medline]) == 9
    assert count_records([xml]) == 13


def test_our_own_outputs_count_nothing(tmp_path: Path) -> None:
    results = tmp_path / "records.jsonl"
    results.write_text(json.dumps({"id": "a", "error": "x", "error_type": "InputError"}) + "\n")
    table = tmp_path / "table.csv"
    table.write_text("id,title,evidence_count,unaligned_count,grounding_rate,error_type,error\n")
    cards = tmp_path / "cards.md"
    cards.write_text("<!-- case-summarizer: case cards -->\n\n# A card\n")
    assert count_records([results, table, cards]) == 0


def test_what_cannot_be_counted_cheaply_is_none(tmp_path: Path) -> None:
    assert count_records(["-"]) is None  # stdin is read once, by the run
    array = tmp_path / "array.json"
    array.write_text(json.dumps([{"id": "a", "abstract": batch_case_text(1)}]))
    assert count_records([array]) is None
    big = tmp_path / "big.jsonl"
    write_batch_input(big, 50)
    assert count_records([big], budget=100) is None
    assert count_records([big], seconds=-1) is None
    utf16 = tmp_path / "utf16.ris"
    utf16.write_text("TY  - JOUR\nAB  - text\nER  - \n", encoding="utf-16")
    assert count_records([utf16]) is None


def test_a_forced_input_format_is_counted_as_read(tmp_path: Path) -> None:
    export = tmp_path / "export.txt"  # a MEDLINE export saved as .txt
    export.write_text("".join(f"PMID- {n}\nAB  - {batch_case_text(n)}\n\n" for n in range(4)))
    assert count_records([export]) == 4
    assert count_records([export], RunOptions(input_format="text")) == 1


def test_a_run_counts_texts_and_files_alike(tmp_path: Path) -> None:
    export = tmp_path / "cases.jsonl"
    write_batch_input(export, 3)
    sources = [export, str(export), Text(batch_case_text(1)), batch_case_text(2)]
    assert expected_records(sources, RunOptions()) == 8
    assert expected_records(["-", Text("x")], RunOptions()) is None
