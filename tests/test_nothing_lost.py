"""Nothing lost, round two (issue 21, items 4 and 6-10): each test reproduces a probe that
failed and now passes."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from summarizer import InputError, RunOptions, Settings, Summarizer, run_batch
from summarizer.document import Document
from summarizer.ingest import iter_documents
from summarizer.output.line_store import atomic_write, sweep_temporaries, temporary_beside
from summarizer.output.targets import sidecar_path
from tests.conftest import (
    FAKE_KEY,
    SEED,
    closed_after_test,
    env_without_keys,
    seed_record,
    write_batch_input,
    write_rules_results,
)
from tests.openai_server import Reply, ScriptedServer, answer

ABSTRACT = "A 40-year-old woman presented with chest pain. She improved with rest."


def cli(*args: str | Path, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "summarizer.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**env_without_keys(), "CASE_SUMMARIZER_HOME": str(home), **env},
    )


def ids(found: list[Document | InputError]) -> list[str]:
    return [item.id if isinstance(item, Document) else f"ERROR {item.record}" for item in found]


# --- 4. CSV: a stray quote costs its own row; a NUL costs its own record ------------------------


def test_a_stray_quote_is_its_rows_error_and_the_next_row_is_read(tmp_path: Path) -> None:
    """The probe: 1,000 rows, a quote opened on u10 and closed on u11 made u11 vanish."""
    rows = [f'u{n},Title {n},"{ABSTRACT} Case {n}."' for n in range(1000)]
    rows[10] = 'u10,"Title 10 with a stray quote,A 50-year-old man had a cough.'
    path = tmp_path / "export.csv"
    path.write_text("id,title,abstract\n" + "\n".join(rows) + "\n")
    found = list(iter_documents([path]))
    assert ids(found)[:12] == [*(f"u{n}" for n in range(10)), "ERROR row 11", "u11"]
    assert len(found) == 1000
    error = found[10]
    assert isinstance(error, InputError) and "quote" in str(error) and "line 12" in str(error)
    assert found[11].text == f"{ABSTRACT} Case 11."  # type: ignore[union-attr]


def test_a_long_quoted_field_over_several_lines_is_one_record(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    body = "Line one of the abstract.\nLine two, with a comma.\nA 30-year-old man, line three."
    path.write_text(f'id,abstract\na,"{body}"\nb,{ABSTRACT}\n')
    found = list(iter_documents([path]))
    assert ids(found) == ["a", "b"] and found[0].text == body  # type: ignore[union-attr]


def test_a_nul_in_one_record_is_that_records_error(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(f"id,abstract\na,{ABSTRACT}\nb,damaged\x00record\nc,{ABSTRACT}\n")
    found = list(iter_documents([path]))
    assert ids(found) == ["a", "ERROR row 2", "c"]
    assert "NUL" in str(found[1])
    lines = tmp_path / "export.jsonl"
    lines.write_text(
        json.dumps({"id": "a", "abstract": ABSTRACT})
        + "\n"
        + json.dumps({"id": "b", "abstract": "bad\x00"})
        + "\n"
    )
    assert ids(list(iter_documents([lines]))) == ["a", "ERROR b"]


# --- 6. temporary files never outlive their run ------------------------------------------------


def test_a_killed_renders_temporaries_are_swept_and_a_live_ones_kept(tmp_path: Path) -> None:
    out = tmp_path / "cards.md"
    dead = tmp_path / ".cards.md.abc123.tmp"
    dead.write_text("an abstract a killed run left behind")
    live_descriptor, live = temporary_beside(out)  # a writer still holds this one
    try:
        atomic_write(out, lambda stream: stream.write("# cards\n"))
        assert out.read_text() == "# cards\n"
        assert not dead.exists() and Path(live).exists()
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert leftovers == [Path(live).name]
    finally:
        os.close(live_descriptor)
    assert sweep_temporaries(out) == 1 and not Path(live).exists()


def test_a_failed_write_leaves_no_temporary(tmp_path: Path) -> None:
    out = tmp_path / "t.csv"

    def fail(stream: object) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        atomic_write(out, fail)
    assert list(tmp_path.iterdir()) == []


def test_kill_9_during_renders_then_a_rerun_leaves_no_temporary(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 30)
    out = tmp_path / "t.html"
    left = tmp_path / ".t.html.killed.tmp"
    with left.open("w") as handle:  # what a kill -9 mid-render leaves: unlocked, abandoned
        handle.write("<html>abstracts</html>")
    done = cli("summarize", source, "-o", out, "-f", "html", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert not left.exists() and not list(tmp_path.glob(".t.html.*.tmp"))


# --- 7. gold export names files safely ---------------------------------------------------------


def test_gold_export_names_long_ids_with_a_hash_and_writes_every_record(tmp_path: Path) -> None:
    from summarizer.review import ReviewSession
    from summarizer.review.export import export_gold

    records = tmp_path / "records.jsonl"
    long_a, long_b = "x" * 300 + "a", "x" * 300 + "b"
    with Summarizer(Settings(backend="rules")) as summarizer:
        lines = [
            summarizer.summarize(Document.from_text(SEED.read_text(), id=ident)).to_json()
            for ident in (long_a, long_b, "short")
        ]
    records.write_text("\n".join(lines) + "\n")
    session = ReviewSession(records)
    try:
        for ident in (long_a, long_b, "short"):
            state = session.mark(
                ident, "title", "accepted", version=session.state(ident).review.version
            )
            session.set_done(ident, True, version=state.review.version)
        done = export_gold(session, tmp_path / "gold")
    finally:
        session.close()
    names = sorted(path.name for path in done.written)
    assert len(names) == 3 and "short.json" in names
    assert all(len(name) < 120 for name in names) and len(set(names)) == 3


# --- 8. stores are private ---------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_stores_are_created_0600_in_0700_folders(tmp_path: Path) -> None:
    home = tmp_path / "home" / "nested"
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 3)
    cli("summarize", source, "-o", tmp_path / "t.csv", "-f", "csv", home=home)
    from summarizer.cache import ResponseCache
    from summarizer.runlog import RunLog

    ResponseCache(home / "cache.sqlite").close()
    RunLog(home / "logs.sqlite").close()
    assert _mode(home) == 0o700 and _mode(home.parent) == 0o700
    for name in ("cache.sqlite", "logs.sqlite"):
        assert _mode(home / name) == 0o600, name
    assert _mode(sidecar_path(tmp_path / "t.csv")) == 0o600
    from summarizer.batch_api import prepare_batch
    from summarizer.review import ReviewSession

    prepared = tmp_path / "requests.jsonl"
    prepare_batch([source], Settings(model="gpt-4o-mini"), output=prepared, count_tokens=False)
    assert _mode(tmp_path / "requests.context.jsonl") == 0o600
    records = tmp_path / "records.jsonl"
    run_batch([source], Settings(backend="rules"), RunOptions(output=records))
    session = ReviewSession(records)
    store = session.store_path
    session.close()
    assert _mode(store) == 0o600
    for suffix in ("-wal", "-shm"):
        sibling = store.with_name(store.name + suffix)
        assert not sibling.exists() or _mode(sibling) == 0o600


def test_an_existing_exposed_store_is_kept_and_warned_about(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    cache = home / "cache.sqlite"
    from summarizer.cache import ResponseCache

    ResponseCache(cache).close()
    os.chmod(cache, 0o644)
    warnings: list[str] = []
    ResponseCache(cache, warn=warnings.append).close()
    assert _mode(cache) == 0o644  # left as it is
    assert any("readable by other users" in warning for warning in warnings), warnings


# --- 9. a planted symlink at a hidden store ----------------------------------------------------


def test_a_planted_symlink_at_the_hidden_store_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 3)
    out = tmp_path / "o.csv"
    target = tmp_path / "attacker.jsonl"
    sidecar_path(out).symlink_to(target)
    done = cli("summarize", source, "-o", out, "-f", "csv", home=tmp_path / "home")
    assert done.returncode == 2 and "symbolic link" in done.stderr, done.stderr
    assert not target.exists() and not out.exists()


# --- 10. the smaller ones -----------------------------------------------------------------------


def test_collect_exits_1_when_a_request_is_answered_twice(tmp_path: Path) -> None:
    from summarizer.batch_api import prepare_batch

    source = tmp_path / "in.jsonl"
    write_batch_input(source, 3)
    requests = tmp_path / "requests.jsonl"
    prepare_batch([source], Settings(model="gpt-4o-mini"), output=requests, count_tokens=False)
    results = tmp_path / "results.jsonl"
    write_rules_results(requests, results)
    first = results.read_text().splitlines()[0]
    with results.open("a") as handle:
        handle.write(first + "\n")  # the same answer again
    done = cli(
        "batch", "collect", results, "--requests", requests, "-o", tmp_path / "out.jsonl",
        home=tmp_path / "home",
    )  # fmt: skip
    assert done.returncode == 1 and "more than once" in done.stderr, done.stderr


@pytest.mark.parametrize("body", ['{"choices": [{"message": ', '{"foo": 1}', "[1, 2]", "null"])
def test_a_malformed_model_answer_is_asked_again(
    scripted_server: ScriptedServer, body: str
) -> None:
    scripted_server.replies.append(Reply(body=body))
    scripted_server.replies.append(answer(seed_record()))
    settings = Settings.from_env(
        env={"OPENAI_API_KEY": FAKE_KEY}, backend="openai", base_url=scripted_server.url, model="m"
    )
    with Summarizer(settings) as summarizer:
        result = summarizer.summarize(SEED)
    assert result.provenance.requests == 2 and result.record.patient.age_years == 63


def test_malformed_answers_to_the_last_attempt_fail_the_record_in_one_line(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    scripted_server.fallback = lambda request: Reply(body="<html>gateway</html>")
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 2)
    out = tmp_path / "o.jsonl"
    env = {"OPENAI_API_KEY": FAKE_KEY}
    done = cli(
        "summarize", source, "-o", out, "--base-url", scripted_server.url, "--model", "m",
        home=tmp_path / "home", **env,
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["error_type"] for line in lines] == ["ExtractionError", "ExtractionError"]
    assert "not JSON" in lines[0]["error"] and "unexpected" not in lines[0]["error"]


def test_bytes_that_are_not_utf8_are_read_with_a_warning(tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_bytes(
        b"A title\n\nCASE: A 40-year-old woman had fi\xe8vre and chest pain for two days. "
        b"She improved with rest and went home on the third day.\n"
    )
    rules = closed_after_test(Summarizer(Settings(backend="rules")))
    result = rules.summarize(page)
    assert "fièvre" in result.abstract.text
    assert any("not UTF-8" in warning for warning in result.provenance.warnings)
    clean = rules.summarize(SEED)
    assert not any("not UTF-8" in warning for warning in clean.provenance.warnings)


def test_a_full_disk_is_a_one_line_error_that_says_so(tmp_path: Path) -> None:
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot make a small file system here (unshare)")
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 40)
    disk = tmp_path / "disk"
    disk.mkdir()
    script = (
        f"mount -t tmpfs -o size=48k tmpfs {disk} && "
        f"{sys.executable} -m summarizer.cli summarize {source} -o {disk}/out.jsonl --backend rules"
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        env={**env_without_keys(), "CASE_SUMMARIZER_HOME": str(tmp_path / "home")},
    )
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "no space left" in last.lower() and "internal error" not in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_flock_is_what_marks_a_live_temporary(tmp_path: Path) -> None:
    descriptor, temp = temporary_beside(tmp_path / "x.csv")
    try:
        other = os.open(temp, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(other)
    finally:
        os.close(descriptor)
