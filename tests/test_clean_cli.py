"""``case-summarizer clean``: text and JSON output, exit codes, help."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from summarizer.cli.clean import command

PAGES = Path(__file__).parent / "fixtures" / "pages"
EXPORTS = Path(__file__).parent / "fixtures" / "exports"


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(command, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_prints_the_cleaned_text() -> None:
    code, out, _ = run(str(PAGES / "pubmed-structured.txt"))
    assert code == 0
    assert out.startswith("Recurrent syncope caused by a glossopharyngeal")
    assert "Case presentation: A 61-year-old man" in out
    assert "Similar articles" not in out


def test_json_has_sections_and_offsets() -> None:
    code, out, _ = run(str(PAGES / "bmc-saved.html"), "--json")
    assert code == 0
    value = json.loads(out)
    assert value["id"] == "bmc-saved"
    assert [s["kind"] for s in value["sections"]] == ["background", "case", "conclusion"]
    assert len(value["offsets"]) == len(value["text"])
    section = value["sections"][1]
    assert value["text"][section["start"] : section["end"]].startswith("A 27-year-old Ghanaian man")


def test_stdin() -> None:
    code, out, _ = run("-", stdin=(PAGES / "readingapp-structured.txt").read_text())
    assert code == 0 and out.startswith("Bilateral optic neuritis")


def test_bad_single_input_exits_2_with_one_line(tmp_path: Path) -> None:
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.5\n...")
    code, out, err = run(str(pdf))
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "PDF" in err and "paper.pdf" in err
    code, _, err = run(str(PAGES / "journal-home.txt"))
    assert code == 2 and "no abstract found" in err


def test_batch_with_failed_records_exits_1() -> None:
    code, out, err = run(str(EXPORTS / "pubmed-3.xml"), "--json", "--no-offsets")
    assert code == 1
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["id"] for line in lines] == ["90000001", "90000002"]
    assert "offsets" not in lines[0]
    assert "90000003" in err and "1 of 3 record(s) failed" in err


def test_column_options() -> None:
    code, out, _ = run(
        str(EXPORTS / "covidence.csv"), "--id-col", "Covidence #", "--json", "--no-offsets"
    )
    assert code == 0
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["#101", "#102"]


def test_help_has_examples() -> None:
    code, out, _ = run("--help")
    assert code == 0
    assert "Examples:" in out and "--abstract-col" in out and "--input-format" in out
