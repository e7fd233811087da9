"""`case-summarizer eval` end to end against the scripted OpenAI-compatible server.

A tiny gold set (two records written here) and two prompt versions (v1, and a v2 that
differs by a marker in its system prompt): the server answers by prompt version and
record, with outputs whose scores are known in advance.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from summarizer import render
from summarizer.cli import cli
from summarizer.evaluation.eval_runs import load_run
from summarizer.evaluation.gate import Threshold, judge
from summarizer.evaluation.report import html_report
from tests.conftest import FAKE_KEY
from tests.openai_server import Reply, ScriptedServer, answer

V2_MARKER = "PROMPT-V2-MARKER"

ALPHA_TEXT = """Appendicitis in the third trimester: a case report

Abstract
Background: Acute appendicitis in late pregnancy is uncommon and easily missed.
Case presentation: A 32-year-old woman presented with right lower quadrant pain for 2 days. Ultrasound showed an inflamed appendix. She underwent laparoscopic appendectomy. At 2 weeks, she had recovered fully.
Conclusion: Early surgery in pregnancy is safe.
"""

BETA_TEXT = """Ileocolic intussusception in an infant: a case report

Abstract
Background: Intussusception is a common cause of obstruction in infants.
Case presentation: A 6-month-old boy presented with vomiting and red currant jelly stools. Ultrasound showed a target sign. He underwent air enema reduction. At 1 month, he was well.
Conclusion: Ultrasound confirms the diagnosis quickly.
"""

GOLD: dict[str, dict[str, Any]] = {
    "alpha": {
        "input": ALPHA_TEXT,
        "expected": {
            "article_type": "case_report",
            "patient_count": 1,
            "patient": {"age_text": "32-year-old", "age_years": 32.0, "sex": "female"},
            "diagnosis": {"final": "acute appendicitis"},
            "outcomes": [
                {"timepoint": "2 weeks", "description": "recovered fully", "status": "resolved"}
            ],
        },
    },
    "beta": {
        "input": BETA_TEXT,
        "expected": {
            "article_type": "case_report",
            "patient_count": 1,
            "patient": {"age_text": "6-month-old", "age_years": 0.5, "sex": "male"},
            "diagnosis": {"final": "ileocolic intussusception"},
            "outcomes": [
                {"timepoint": "1 month", "description": "he was well", "status": "resolved"}
            ],
        },
    },
}


def model_output(name: str, *, sex: str | None = None) -> dict[str, Any]:
    """A perfect answer for a gold record (optionally with the wrong sex)."""
    expected = GOLD[name]["expected"]
    text = GOLD[name]["input"]
    age_text = expected["patient"]["age_text"]
    outcome = expected["outcomes"][0]
    return {
        "title": text.splitlines()[0],
        "article_type": "case_report",
        "patient_count": 1,
        "patient": {
            "age_text": age_text,
            "age_years": expected["patient"]["age_years"],
            "sex": sex or expected["patient"]["sex"],
            "evidence": f"A {age_text}",
        },
        "diagnosis": {
            "final": expected["diagnosis"]["final"],
            "differential": [],
            "evidence": "Ultrasound showed",
        },
        "outcomes": [{**outcome, "evidence": outcome["description"]}],
        "summary": "A short summary of the case.",
    }


def route(body: dict[str, Any]) -> Reply:
    messages = body["messages"]
    system = " ".join(m["content"] for m in messages if m["role"] == "system")
    user = " ".join(m["content"] for m in messages if m["role"] == "user")
    name = "alpha" if "appendicitis" in user.lower() else "beta"
    if V2_MARKER in system:  # v2 gets the sex wrong on every record
        return answer(model_output(name, sex="female" if name == "beta" else "male"))
    return answer(model_output(name))


@pytest.fixture
def gold_dir(tmp_path: Path) -> Path:
    gold = tmp_path / "gold"
    inputs = tmp_path / "inputs"
    gold.mkdir()
    inputs.mkdir()
    for name, item in GOLD.items():
        (inputs / f"{name}.txt").write_text(str(item["input"]), encoding="utf-8")
        record = {
            "$schema": "../gold.schema.json",
            "id": name,
            "input": f"../inputs/{name}.txt",
            "tags": ["test"],
            "expected": item["expected"],
        }
        (gold / f"{name}.json").write_text(json.dumps(record), encoding="utf-8")
    return gold


@pytest.fixture
def two_prompts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """prompts/ with v1 and a v2 that differs only by a marker in its system prompt."""
    root = tmp_path / "prompts"
    shutil.copytree(render.prompts_root() / "v1", root / "v1")
    shutil.copytree(root / "v1", root / "v2")
    system = root / "v2" / "system.j2"
    system.write_text(system.read_text(encoding="utf-8") + f"\n{V2_MARKER}\n", encoding="utf-8")
    meta = root / "v2" / "prompt.toml"
    meta.write_text(
        meta.read_text(encoding="utf-8").replace('version = "v1"', 'version = "v2"'),
        encoding="utf-8",
    )
    monkeypatch.setattr(render, "prompts_root", lambda: root)
    render.load_prompt.cache_clear()
    yield root
    render.load_prompt.cache_clear()


@pytest.fixture
def prices(tmp_path: Path) -> Path:
    path = tmp_path / "prices.toml"
    path.write_text("[models]\nscripted-model = { input = 1.0, output = 2.0 }\n", encoding="utf-8")
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def stored_runs(runs: Path) -> dict[str, Path]:
    return {
        json.loads((path / "config.json").read_text())["label"]: path
        for path in sorted(runs.iterdir())
    }


def test_eval_two_prompts_end_to_end(
    scripted_server: ScriptedServer, gold_dir: Path, two_prompts: Path, prices: Path, tmp_path: Path
) -> None:
    scripted_server.fallback = route
    runs = tmp_path / "runs"
    report = tmp_path / "report.html"
    common = [
        "--backend", "openai", "--base-url", scripted_server.url, "--api-key", FAKE_KEY,
        "--model", "scripted-model", "--gold", str(gold_dir), "--runs-dir", str(runs),
        "--prices", str(prices),
    ]  # fmt: skip
    done = invoke("eval", "--prompt", "v1", "--prompt", "v2", *common, "--report", str(report))
    assert done.exit_code == 0, done.output
    assert len(scripted_server.requests) == 4  # 2 prompts × 2 records, no re-asks

    by_label = stored_runs(runs)
    assert set(by_label) == {"rules", "v1 · scripted-model", "v2 · scripted-model"}
    v1, v2 = load_run(by_label["v1 · scripted-model"]), load_run(by_label["v2 · scripted-model"])
    # v1 answers perfectly: 6 scored fields per record, all 1.0
    assert v1.metrics["overall"]["estimate"] == pytest.approx(1.0)
    assert v1.metrics["patient.sex"]["estimate"] == pytest.approx(1.0)
    # v2 gets patient.sex wrong on both records: 5 of 6 fields right
    assert v2.metrics["overall"]["estimate"] == pytest.approx(5 / 6, abs=1e-5)
    assert v2.metrics["patient.sex"]["estimate"] == 0.0
    assert v2.metrics["outcomes"]["estimate"] == pytest.approx(1.0)
    assert v2.metrics["validity_rate"]["estimate"] == 1.0
    assert v2.metrics["grounding_rate"]["estimate"] == 1.0
    # tokens: 100 prompt + 50 completion per record; $1 and $2 per 1M tokens
    assert v2.metrics["tokens"]["estimate"] == 150
    assert v2.metrics["cost_usd"]["estimate"] == pytest.approx(0.0002)
    assert v2.metrics["hallucination_rate"]["estimate"] is None  # gold never says "none"
    assert v2.metrics["omission_rate"]["estimate"] == 0.0

    # the table shows the runs side by side
    for label in ("rules", "v1 · scripted-model", "v2 · scripted-model"):
        assert label in done.stdout
    assert re.search(r"Patient sex \(patient\.sex\)\s+│.*1\.000.*│.*0\.000", done.stdout)
    # the test price has no source: every cost shown says it is an estimate
    assert "(estimate)" in done.stdout
    assert "cost is an estimate: the list price of scripted-model" in done.stdout

    # config: versions and hashes, never the key
    config = json.loads((by_label["v2 · scripted-model"] / "config.json").read_text())
    assert config["prompt"]["version"] == "v2" and len(config["prompt"]["hash"]) == 16
    assert config["versions"]["schema"] and config["versions"]["package"]
    assert config["backend"] == "openai" and config["model"] == "scripted-model"
    for path in runs.rglob("*"):
        if path.is_file():
            assert FAKE_KEY not in path.read_text(encoding="utf-8")
    html = report.read_text(encoding="utf-8")
    assert "<svg" in html and "<script" not in html
    assert "v2 · scripted-model" in html
    assert "Patient sex (patient.sex)" in html and "(estimate)" in html

    # a second run is answered from the cache: no new requests; the rules baseline is
    # reused, not stored again
    again = invoke("eval", "--prompt", "v1", *common)
    assert again.exit_code == 0, again.output
    assert len(scripted_server.requests) == 4
    assert f"reused {by_label['rules']}" in again.output
    assert sum(1 for _ in runs.iterdir()) == 4  # rules, v1, v2, and the new v1

    # compare: v2 is significantly worse than v1 on patient.sex (−1 on every record)
    compared = invoke(
        "eval",
        "compare",
        str(v1.path),
        str(v2.path),
        "--runs-dir",
        str(runs),
        "--fail-on-regression",
    )
    assert compared.exit_code == 1
    assert "▼ worse" in compared.stdout
    assert "worse Patient sex (patient.sex): alpha (1.00→0.00), beta (1.00→0.00)" in compared.stdout
    assert "patient.sex significantly worse" in compared.output
    # the verdict comes first, then the comparison, then the metrics table
    verdict = compared.stdout.index("Verdict: FAIL")
    assert verdict < compared.stdout.index(" vs ") < compared.stdout.index("Evaluation: mean")

    # gates: --baseline with --fail-on-regression, and --fail-under
    gated = invoke(
        "eval", "--prompt", "v2", *common, "--baseline", str(v1.path), "--fail-on-regression"
    )
    assert gated.exit_code == 1 and "significantly worse" in gated.output
    fine = invoke(
        "eval", "--prompt", "v1", *common, "--baseline", str(v1.path), "--fail-on-regression"
    )
    assert fine.exit_code == 0, fine.output
    under = invoke("eval", "--prompt", "v2", *common, "--fail-under", "overall=0.9")
    assert under.exit_code == 1 and "overall = 0.8333 is below 0.9" in under.output
    passes = invoke("eval", "--prompt", "v2", *common, "--fail-under", "outcomes=0.9")
    assert passes.exit_code == 0, passes.output
    assert "Verdict: PASS" in passes.stdout
    assert len(scripted_server.requests) == 4  # all of that from the cache
    # every rules baseline above was the first one, reused
    assert [path.name for path in runs.iterdir()].count(by_label["rules"].name) == 1
    assert sum("rules" in path.name for path in runs.iterdir()) == 1


def test_rescore_reproduces_the_scores(
    scripted_server: ScriptedServer, gold_dir: Path, two_prompts: Path, prices: Path, tmp_path: Path
) -> None:
    scripted_server.fallback = route
    runs = tmp_path / "runs"
    done = invoke(
        "eval", "--prompt", "v2", "--backend", "openai", "--base-url", scripted_server.url,
        "--api-key", FAKE_KEY, "--model", "scripted-model", "--gold", str(gold_dir),
        "--runs-dir", str(runs), "--prices", str(prices),
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    before = {
        label: json.loads((path / "scores.json").read_text())
        for label, path in stored_runs(runs).items()
    }
    requests = len(scripted_server.requests)
    scripted_server.stop()  # rescoring must not call a model
    for path in stored_runs(runs).values():
        rescored = invoke("eval", "rescore", str(path), "--runs-dir", str(runs))
        assert rescored.exit_code == 0, rescored.output
    after = {
        label: json.loads((path / "scores.json").read_text())
        for label, path in stored_runs(runs).items()
    }
    assert len(scripted_server.requests) == requests
    for label in before:
        for key in ("metrics", "fields", "records", "scorer_version", "bootstrap"):
            assert after[label][key] == before[label][key], (label, key)


def test_eval_rules_only_and_usage_errors(gold_dir: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    done = invoke(
        "eval", "--gold", str(gold_dir), "--runs-dir", str(runs), "--report", str(tmp_path / "r.md")
    )
    assert done.exit_code == 0, done.output
    assert list(stored_runs(runs)) == ["rules"]
    assert "| metric | rules |" in (tmp_path / "r.md").read_text()
    listed = invoke("eval", "list", "--runs-dir", str(runs))
    assert "rules" in listed.stdout
    bad = invoke(
        "eval", "--gold", str(gold_dir), "--runs-dir", str(runs), "--fail-under", "nonsense=1"
    )
    assert bad.exit_code == 2
    missing = invoke("eval", "compare", "nope", "latest", "--runs-dir", str(runs))
    assert missing.exit_code == 2 and "no run 'nope'" in missing.output


def test_compare_latest_runs_as_the_readme_says(
    scripted_server: ScriptedServer, gold_dir: Path, two_prompts: Path, tmp_path: Path
) -> None:
    """`eval --prompt v1 --prompt v2`, then `eval compare latest~1 latest`: v2 against v1."""
    scripted_server.fallback = route
    runs = tmp_path / "runs"
    done = invoke(
        "eval", "--prompt", "v1", "--prompt", "v2", "--backend", "openai",
        "--base-url", scripted_server.url, "--api-key", FAKE_KEY, "--model", "scripted-model",
        "--gold", str(gold_dir), "--runs-dir", str(runs),
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    compared = invoke("eval", "compare", "latest~1", "latest", "--runs-dir", str(runs))
    assert compared.exit_code == 0, compared.output
    title = " ".join(compared.stdout.split())
    assert re.match(r"v2 · scripted-model \(\S+\) vs v1 · scripted-model \(", title)
    oldest = invoke("eval", "compare", "latest~2", "latest~1", "--runs-dir", str(runs))
    assert oldest.exit_code == 0
    assert re.match(r"v1 · scripted-model \(\S+\) vs rules \(", " ".join(oldest.stdout.split()))
    beyond = invoke("eval", "compare", "latest~3", "latest", "--runs-dir", str(runs))
    assert beyond.exit_code == 2 and "the oldest is latest~2" in beyond.output


@pytest.mark.parametrize("name", ["report.txt", "file.md/report.md", "folder"])
def test_unwritable_report_fails_before_any_model_call(
    scripted_server: ScriptedServer, gold_dir: Path, tmp_path: Path, name: str
) -> None:
    scripted_server.fallback = route
    (tmp_path / "file.md").write_text("a file, not a folder")
    (tmp_path / "folder").mkdir()
    report = tmp_path / name
    done = invoke(
        "eval", "--backend", "openai", "--base-url", scripted_server.url, "--api-key", FAKE_KEY,
        "--model", "scripted-model", "--gold", str(gold_dir), "--runs-dir",
        str(tmp_path / "runs"), "--report", str(report),
    )  # fmt: skip
    assert done.exit_code == 2
    lines = done.output.strip().splitlines()
    if name == "folder":  # click's own check (a usage error)
        assert "is a directory" in lines[-1]
    else:
        assert len(lines) == 1 and lines[0].startswith(f"error: cannot write report {report}")
    assert scripted_server.requests == [] and not (tmp_path / "runs").exists()


def test_rules_baseline_is_stored_again_when_something_changed(
    gold_dir: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    first = invoke("eval", "--gold", str(gold_dir), "--runs-dir", str(runs))
    assert first.exit_code == 0 and "stored " in first.output
    same = invoke("eval", "--gold", str(gold_dir), "--runs-dir", str(runs))
    assert "reused " in same.output and len(list(runs.iterdir())) == 1
    # a changed gold record is a different gold set: a new baseline
    path = gold_dir / "alpha.json"
    record = json.loads(path.read_text())
    record["expected"]["patient_count"] = 2
    path.write_text(json.dumps(record))
    changed = invoke("eval", "--gold", str(gold_dir), "--runs-dir", str(runs))
    assert "stored " in changed.output and len(list(runs.iterdir())) == 2
    # other bootstrap settings, or --refresh, store a new one too
    invoke("eval", "--gold", str(gold_dir), "--runs-dir", str(runs), "--seed", "7")
    invoke("eval", "--gold", str(gold_dir), "--runs-dir", str(runs), "--refresh")
    assert len(list(runs.iterdir())) == 4
    # a rescored run is not reused (its scores no longer match its key): the newest
    # baseline is the --refresh one; once rescored, the one before it is reused
    refreshed, before = load_run("latest", runs).path, load_run("latest~2", runs).path
    invoke("eval", "rescore", "latest", "--runs-dir", str(runs))
    again = invoke("eval", "--gold", str(gold_dir), "--runs-dir", str(runs))
    assert f"reused {before}" in again.output and str(refreshed) not in again.output


def test_every_eval_help_has_an_example() -> None:
    for args in (["eval"], ["eval", "compare"], ["eval", "rescore"], ["eval", "report"], ["eval", "list"],
                 ["gold"], ["gold", "validate"], ["gold", "schema"]):  # fmt: skip
        done = invoke(*args, "--help")
        assert done.exit_code == 0
        assert "Example" in done.output, args


def test_html_report_escapes_everything(gold_dir: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert invoke("eval", "--gold", str(gold_dir), "--runs-dir", str(runs)).exit_code == 0
    run = load_run("latest", runs)
    run.config["label"] = "<script>alert(1)</script>"
    run.scores["records"][0]["fields"]["patient.sex"]["got"] = "<img src=x onerror=alert(1)>"
    html = html_report([run], verdict=judge([run], thresholds=[Threshold.parse("overall=2")]))
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;: overall" in html  # the verdict, escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(
        r"<(script|link|img|iframe|object)\b|\bsrc=\"|href=|url\(", html
    )  # self-contained
