"""A fast start: each command imports only what it uses.

Each check runs the command in a fresh interpreter and reads ``sys.modules`` after it:
cleaning a page loads no pipeline, schema, evaluation or model client; summarizing with
the rules backend loads no model SDK, prompt renderer or evaluation; the model SDKs come
only with a model. (How long the imports take is measured in bench/startup.py.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEED, write_batch_input

PROBE = """
import contextlib, io, json, sys
sys.argv = ["case-summarizer", *json.loads(sys.argv[1])]
from summarizer.cli import main
out = io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        main()
except SystemExit as error:
    if error.code:
        raise
assert out.getvalue(), "the command printed nothing"
print(json.dumps(sorted(sys.modules)))
"""

MODEL_CLIENTS = {"openai", "instructor", "httpx", "aiohttp", "tenacity", "llama_cpp", "toktok"}
HEAVY = {"scipy", "numpy", "starlette", "uvicorn", "rich", "pandas", "rapidfuzz"}
TEMPLATES = {"jinja2"}
ORCHESTRATION = {
    "summarizer.evaluation",
    "summarizer.review",
    "summarizer.batch_api",
    "summarizer.cli.evaluate",
    "summarizer.cli.review",
    "summarizer.cli.batch_api",
}


def loaded(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(args))],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    names: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return set(names)


def _tops(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_cleaning_a_page_loads_no_pipeline_schema_or_model_client() -> None:
    modules = loaded("clean", str(SEED))
    assert not _tops(modules) & (MODEL_CLIENTS | HEAVY | TEMPLATES | {"pydantic"})
    assert not modules & ORCHESTRATION
    for name in ("summarizer.pipeline", "summarizer.schema", "summarizer.backends"):
        assert name not in modules, name
    assert "summarizer.clean" in modules  # the probe ran the command


def test_summarizing_with_the_rules_loads_no_model_client_renderer_or_evaluation() -> None:
    modules = loaded("summarize", "--backend", "rules", str(SEED))
    assert not _tops(modules) & (MODEL_CLIENTS | TEMPLATES | HEAVY - {"rapidfuzz"})
    assert not modules & ORCHESTRATION
    assert "summarizer.render" not in modules
    assert "summarizer.backends.rules" in modules


def test_the_model_sdks_come_with_a_model_and_only_then(tmp_path: Path) -> None:
    """Building the requests for a model (``batch prepare``, which sends nothing) needs
    instructor and the OpenAI SDK; printing the schema needs neither."""
    modules = loaded("schema")
    assert not _tops(modules) & (MODEL_CLIENTS | HEAVY | TEMPLATES)
    assert not modules & ORCHESTRATION
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 1)
    out = tmp_path / "requests.jsonl"
    prepared = loaded(
        "batch", "prepare", str(source), "-o", str(out), "--model", "m", "--estimate-tokens"
    )
    assert {"openai", "instructor"} <= _tops(prepared)
    assert "toktok" not in _tops(prepared)  # an estimate loads no tokenizer


@pytest.mark.parametrize("name", ["summarize", "clean", "eval", "batch", "review", "logs"])
def test_every_command_is_still_listed_and_runs_its_help(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "summarizer.cli", name, "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: case-summarizer" in done.stdout
    listing = subprocess.run(
        [sys.executable, "-m", "summarizer.cli", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert f"\n  {name} " in listing.stdout
