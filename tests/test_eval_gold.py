"""Gold records: the schema file, validation of the real set and of a broken copy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from summarizer.cli import cli
from summarizer.evaluation.gold import (
    GOLD_SCHEMA_FILE,
    gold_json_schema_text,
    load_gold,
    validate_gold_dir,
)

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "evals" / "gold"


def test_gold_schema_file_matches_the_model() -> None:
    assert GOLD_SCHEMA_FILE == ROOT / "evals" / "gold.schema.json"
    assert GOLD_SCHEMA_FILE.read_text(encoding="utf-8") == gold_json_schema_text(), (
        "evals/gold.schema.json is stale: run `case-summarizer gold schema --write`"
    )


def test_real_gold_set_is_valid() -> None:
    assert validate_gold_dir(GOLD) == []
    done = CliRunner().invoke(cli, ["gold", "validate", str(GOLD)])
    assert done.exit_code == 0, done.output
    assert len(load_gold(GOLD)) >= 1


def _broken_copy(tmp_path: Path) -> Path:
    gold = tmp_path / "evals" / "gold"
    shutil.copytree(GOLD, gold)
    shutil.copytree(GOLD.parent / "inputs", tmp_path / "evals" / "inputs")
    files = sorted(gold.glob("*.json"))
    assert len(files) >= 6

    def edit(path: Path, change: object) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        change(data)  # type: ignore[operator]
        path.write_text(json.dumps(data), encoding="utf-8")

    edit(files[0], lambda d: d["expected"].update(article_type="case_reprot"))
    edit(files[1], lambda d: d.update(input="../inputs/missing.txt"))
    taken = json.loads(files[3].read_text(encoding="utf-8"))["id"]
    edit(files[4], lambda d: d.update(id=taken))
    (gold / "age.json").write_text(
        json.dumps(
            {
                "id": "age-mismatch",
                "input": "../inputs/"
                + json.loads(files[5].read_text(encoding="utf-8"))["input"].split("/")[-1],
                "expected": {
                    "patient": {"age_text": "14-month-old", "age_years": 14, "sex": "female"}
                },
            }
        ),
        encoding="utf-8",
    )
    (gold / "typo.json").write_text(
        '{"id": "typo", "input": "x", "expected": {"titel": "x"}}', encoding="utf-8"
    )
    (gold / "bad.json").write_text("{not json", encoding="utf-8")
    return gold


def test_broken_gold_copy_reports_each_problem(tmp_path: Path) -> None:
    gold = _broken_copy(tmp_path)
    files = sorted(
        path.name
        for path in gold.glob("*.json")
        if path.name not in {"age.json", "typo.json", "bad.json"}
    )
    problems = validate_gold_dir(gold)
    text = "\n".join(problems)
    assert "expected.article_type: Input should be 'case_report'" in text
    assert "input: file not found: ../inputs/missing.txt" in text
    assert f"{files[4]}: id: " in text and f"already used by {files[3]}" in text
    assert "age.json: expected.patient.age_years: 14 disagrees with age_text '14-month-old'" in text
    assert "typo.json: expected.titel: Extra inputs are not permitted" in text
    assert "bad.json:1:2: invalid JSON" in text
    assert all("\n" not in problem for problem in problems)

    done = CliRunner().invoke(cli, ["gold", "validate", str(gold)])
    assert done.exit_code == 1
    assert len(done.stdout.splitlines()) == len(problems)


def test_gold_validate_on_missing_folder(tmp_path: Path) -> None:
    done = CliRunner().invoke(cli, ["gold", "validate", str(tmp_path / "nope")])
    assert done.exit_code == 2
