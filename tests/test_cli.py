"""The command line end to end, as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FAKE_KEY, SEED, SEED_TITLE, env_without_keys, seed_record
from tests.openai_server import ScriptedServer, answer, error

CLI = [sys.executable, "-m", "summarizer.cli"]


def run(
    *args: str, stdin: str | bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        input=stdin.decode("latin-1") if isinstance(stdin, bytes) else stdin,
        capture_output=True,
        text=True,
        env=env or env_without_keys(),
        timeout=120,
    )


def test_seed_page_with_rules_backend() -> None:
    done = run("summarize", str(SEED))
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert set(payload) >= {"id", "record", "provenance"}
    record = payload["record"]
    assert record["title"] == SEED_TITLE
    assert record["patient"]["age_years"] == 63
    assert record["patient"]["sex"] == "female"
    assert record["article_type"] == "case_report"
    assert payload["provenance"]["backend"] == "rules"
    assert payload["provenance"]["schema_version"]
    # one line on stderr saying rules is used, and how to switch
    assert (
        done.stderr.count("\n") == 1
        and "rules backend" in done.stderr
        and "OPENAI_API_KEY" in done.stderr
    )


def test_stdin_dash(seed_text: str) -> None:
    done = run("summarize", "-", stdin=seed_text)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["record"]["patient"]["age_years"] == 63


def test_several_inputs_print_json_lines(tmp_path: Path, seed_text: str) -> None:
    (tmp_path / "a.txt").write_text(seed_text)
    (tmp_path / "b.txt").write_text(
        "A 2-year-old boy presented with fever for three days.\n\nHe recovered."
    )
    done = run("summarize", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["record"]["patient"]["sex"] for line in lines] == ["female", "male"]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b"   \n\t\n", "empty"),
        (b"%PDF-1.7\n\x00\x01\x02binary", "pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "image"),
        (b"abc\x00\x01\x02\x03def\x00", "binary"),
    ],
)
def test_bad_inputs_give_one_line_errors_and_exit_2(
    tmp_path: Path, content: bytes, fragment: str
) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    done = run("summarize", str(path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert (
        done.stderr.count("\n") == 1
        and fragment in done.stderr.lower()
        and "Traceback" not in done.stderr
    )


def test_missing_file_and_unknown_option() -> None:
    done = run("summarize", "/nonexistent/page.txt")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    done = run("summarize", str(SEED), "--bogus")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_debug_shows_traceback(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("")
    done = run("--debug", "summarize", str(path))
    assert done.returncode == 2 and "Traceback" in done.stderr


def test_batch_with_a_bad_record_exits_1_and_keeps_the_rest(tmp_path: Path, seed_text: str) -> None:
    (tmp_path / "good.txt").write_text(seed_text)
    (tmp_path / "empty.txt").write_text("")
    done = run("summarize", str(tmp_path))
    assert done.returncode == 1
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 2
    assert sum("error" in line for line in lines) == 1
    assert sum("record" in line for line in lines) == 1


def test_help_has_examples_on_every_command() -> None:
    top = run("--help")
    assert top.returncode == 0 and "Examples" in top.stdout
    commands = [
        line.split()[0] for line in top.stdout.split("Commands:")[1].splitlines() if line.strip()
    ]
    assert "summarize" in commands
    for name in commands:
        done = run(name, "--help")
        assert done.returncode == 0, name
        assert "Example" in done.stdout, f"{name} --help has no example"


def test_openai_backend_through_cli_never_shows_the_key(scripted_server: ScriptedServer) -> None:
    scripted_server.enqueue(answer(seed_record()))
    env = {**env_without_keys(), "OPENAI_API_KEY": FAKE_KEY, "OPENAI_BASE_URL": scripted_server.url}
    done = run("summarize", str(SEED), "--model", "m", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["provenance"]["backend"] == "openai"
    scripted_server.fallback = lambda request: error(500, message=FAKE_KEY)
    failed = run(
        "summarize", str(SEED), "--model", "m", "--transport-attempts", "2", "--no-cache", env=env
    )
    assert failed.returncode == 1 and "HTTP 500" in failed.stderr
    for text in (done.stdout, done.stderr, failed.stdout, failed.stderr):
        assert FAKE_KEY not in text


def test_schema_command_matches_the_file() -> None:
    done = run("schema")
    assert done.returncode == 0
    on_disk = (
        Path(__file__).resolve().parent.parent / "schemas" / "case_report.schema.json"
    ).read_text()
    assert done.stdout == on_disk


def test_installed_console_script() -> None:
    script = Path(sys.executable).parent / "case-summarizer"
    if not script.exists():
        pytest.skip("console script not installed in this environment")
    done = subprocess.run(
        [str(script), "summarize", str(SEED)],
        capture_output=True,
        text=True,
        env=env_without_keys(),
    )
    assert done.returncode == 0 and json.loads(done.stdout)["record"]["patient"]["age_years"] == 63


def test_summarize_reads_an_export_with_a_column_mapping(tmp_path: Path) -> None:
    export = tmp_path / "screening.csv"
    export.write_text(
        "Ref,Heading,Body Text\n"
        'r-1,Fever in a toddler,"A 2-year-old boy presented with fever for three days. He recovered."\n'
        'r-2,Rash after a drug,"A 45-year-old woman developed a rash after starting lamotrigine. It resolved."\n',
        encoding="utf-8",
    )
    done = run(
        "summarize",
        str(export),
        "--id-col",
        "Ref",
        "--title-col",
        "Heading",
        "--abstract-col",
        "Body Text",
    )
    assert done.returncode == 0, done.stderr
    lines = {line["id"]: line for line in map(json.loads, done.stdout.splitlines())}
    assert set(lines) == {"r-1", "r-2"}
    assert lines["r-2"]["record"]["title"] == "Rash after a drug"
    assert lines["r-2"]["record"]["patient"]["age_years"] == 45
