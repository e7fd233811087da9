"""Two reviewers and what a review says: a store per reviewer (and the older single store
still opened), agreement and Cohen's kappa, the adjudicated consensus the exports write,
per-field accuracy with Wilson intervals, a rendered table reviewed through its records,
page offsets for a quote the reviewer chose, and corrected values their evidence does not
support. The CLI runs as a real process on real stores."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from summarizer.errors import InputError
from summarizer.evaluation.gold import validate_gold_dir
from summarizer.output.table import list_items
from summarizer.review import ReviewSession, export_gold, export_reviewed
from summarizer.review.consensus import ConsensusSession, cohen_kappa, compare
from summarizer.review.review_store import NothingToUndo, ReviewStore, default_store_path
from summarizer.review.reviewers import consensus_path, login_name, reviewer_store
from summarizer.review.stats import IDLE_SECONDS, Pace, pace_of, review_stats, wilson
from tests.review_helpers import (
    PAGES,
    as_model_line,
    make_records,
    read_lines,
    run_cli,
    write_lines,
)


@pytest.fixture(scope="module")
def rules_records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_records(tmp_path_factory.mktemp("records"))


@pytest.fixture
def records(rules_records: Path, tmp_path: Path) -> Path:
    lines = [as_model_line(line) for line in read_lines(rules_records)]
    return write_lines(tmp_path / "records.jsonl", lines)


def patient(session: ReviewSession, ident: str, **changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = session.state(ident).record.model_dump(mode="json")["patient"]
    return value | changes


def review_as(records: Path, name: str, plan: dict[str, list[tuple[str, ...]]]) -> Path:
    """``name``'s review of ``records``: for each record, (field, status[, value]) steps,
    ("decision", value) and ("done",)."""
    session = ReviewSession(records, reviewer=name)
    try:
        for ident, steps in plan.items():
            for step in steps:
                version = session.state(ident).review.version
                if step[0] == "done":
                    session.set_done(ident, True, version=version)
                elif step[0] == "decision":
                    session.decide(ident, step[1], None, version=version)
                elif step[1] == "corrected":
                    session.edit(ident, step[0], json.loads(step[2]), version=version)
                else:
                    session.mark(ident, step[0], step[1], version=version)
        return session.store_path
    finally:
        session.close()


ALICE = {
    "bmc-jmcr": [
        ("article_type", "accepted"),
        ("patient_count", "accepted"),
        ("patient", "accepted"),
        ("title", "accepted"),
        ("decision", "include"),
        ("done",),
    ],
    "pubmed-structured": [
        ("article_type", "accepted"),
        ("patient_count", "corrected", "2"),
        ("patient", "rejected"),
        ("decision", "include"),
        ("done",),
    ],
    "europepmc": [
        ("article_type", "corrected", '"case_series"'),
        ("patient_count", "accepted"),
        ("decision", "exclude"),
        ("done",),
    ],
}
BOB = {
    "bmc-jmcr": [
        ("article_type", "accepted"),
        ("patient_count", "accepted"),
        ("patient", "accepted"),
        ("title", "rejected"),
        ("decision", "include"),
        ("done",),
    ],
    "pubmed-structured": [
        ("article_type", "accepted"),
        ("patient_count", "accepted"),
        ("patient", "rejected"),
        ("decision", "exclude"),
        ("done",),
    ],
    "europepmc": [
        ("article_type", "accepted"),
        ("patient_count", "accepted"),
        ("decision", "exclude"),
        ("done",),
    ],
}


# --------------------------------------------------------------------------- stores


def test_each_reviewer_has_a_store_and_stamps_every_change(records: Path) -> None:
    alice = review_as(records, "alice", {"bmc-jmcr": [("title", "accepted")]})
    bob = review_as(records, "Bob Smith", {"bmc-jmcr": [("title", "rejected")]})
    assert alice == records.with_name("records.jsonl.review-alice.sqlite")
    assert bob == records.with_name("records.jsonl.review-Bob-Smith.sqlite")
    assert not default_store_path(records).exists()
    store = ReviewStore(bob)
    try:
        assert store.owner == "Bob Smith"
        (event,) = store.events()
        assert event["reviewer"] == "Bob Smith"
        assert store.get("bmc-jmcr").fields["title"].by == "Bob Smith"
    finally:
        store.close()
    for name in ("", "consensus", "a\x1b[2Jb", "x" * 65):
        with pytest.raises(InputError):
            ReviewSession(records, reviewer=name)


def _old_store(records: Path) -> Path:
    """A store as the version before reviewers wrote it (schema 1, no undo snapshots)."""
    path = default_store_path(records)
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE reviews (id TEXT PRIMARY KEY, version INTEGER NOT NULL, record TEXT,
                offsets TEXT NOT NULL DEFAULT '{}', fields TEXT NOT NULL DEFAULT '{}',
                done_at TEXT, updated_at TEXT NOT NULL, base_hash TEXT);
            CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
                id TEXT NOT NULL, version INTEGER NOT NULL, action TEXT NOT NULL,
                detail TEXT NOT NULL);
            CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            PRAGMA user_version = 1;
            """
        )
        fields = json.dumps(
            {"title": {"status": "rejected", "set_at": "2025-01-02T03:04:05+00:00"}}
        )
        db.execute(
            "INSERT INTO reviews VALUES ('bmc-jmcr', 1, NULL, '{}', ?, NULL, "
            "'2025-01-02T03:04:05+00:00', NULL)",
            (fields,),
        )
        db.execute(
            "INSERT INTO events (at, id, version, action, detail) VALUES "
            "('2025-01-02T03:04:05+00:00', 'bmc-jmcr', 1, 'status', "
            '\'{"field": "title", "status": "rejected"}\')'
        )
    return path


def test_the_older_single_store_keeps_being_opened_by_its_owner(records: Path) -> None:
    legacy = _old_store(records)
    session = ReviewSession(records)  # the login name owns the file it made
    try:
        assert session.store_path == legacy
        state = session.state("bmc-jmcr")
        assert state.field_status("title") == "rejected"
        with pytest.raises(NothingToUndo, match="made by a version without undo"):
            session.undo("bmc-jmcr", version=1)
        state = session.mark("bmc-jmcr", "summary", "accepted", version=1)
        state, undone = session.undo("bmc-jmcr", version=2)
        assert undone["action"] == "status" and state.field_status("summary") == "unreviewed"
    finally:
        session.close()
    assert os.stat(legacy).st_size > 0
    exported = run_cli("review", "export", records)
    line = next(json.loads(text) for text in exported.stdout.splitlines() if '"bmc-jmcr"' in text)
    assert line["review"]["fields"]["title"]["status"] == "rejected"
    # another reviewer gets a store of their own, never the older one
    other = run_cli("review", "export", records, "--reviewer", "bob", ok=(2,))
    assert "no review by bob yet" in other.stderr
    assert f"{login_name()} (records.jsonl.review.sqlite)" in other.stderr


# --------------------------------------------------------------------------- agreement


def test_cohen_kappa_by_hand() -> None:
    assert cohen_kappa([]) is None
    assert cohen_kappa([("a", "a"), ("a", "a")]) is None  # one category: chance is 1
    assert cohen_kappa([("a", "a"), ("b", "b")]) == 1.0
    pairs = [("i", "i"), ("i", "e"), ("e", "e")]  # po 2/3, pe 4/9
    assert cohen_kappa(pairs) == pytest.approx(0.4)
    # Cohen's own style of table: 20 yes-yes, 5 yes-no, 10 no-yes, 15 no-no
    table = [("y", "y")] * 20 + [("y", "n")] * 5 + [("n", "y")] * 10 + [("n", "n")] * 15
    assert cohen_kappa(table) == pytest.approx((35 / 50 - 0.5) / 0.5)


def test_compare_gives_agreement_kappa_and_conflicts(records: Path) -> None:
    first = review_as(records, "alice", ALICE)
    second = review_as(records, "bob", BOB)
    one, two = ReviewSession(records, store=first), ReviewSession(records, store=second)
    try:
        found = compare(one, two)
    finally:
        one.close()
        two.close()
    rows = {row.field: row for row in found.fields}
    assert found.reviewers == ("alice", "bob") and found.records == 3
    assert (rows["article_type"].compared, rows["article_type"].agreed) == (3, 2)
    assert rows["article_type"].kappa == pytest.approx(0.0)
    assert rows["decision"].kappa == pytest.approx(0.4)
    assert (rows["sex"].compared, rows["sex"].kappa) == (2, 1.0)
    assert (rows["title"].compared, rows["title"].agreed) == (1, 0)
    assert rows["summary"].compared == 0 and rows["summary"].percent is None
    conflicts = {(c.record_id, c.field) for c in found.conflicts}
    assert conflicts == {
        ("bmc-jmcr", "title"),
        ("pubmed-structured", "patient_count"),
        ("pubmed-structured", "decision"),
        ("europepmc", "article_type"),
    }

    as_json = json.loads(
        run_cli("review", "compare", "alice", "bob", "--records", records, "-f", "json").stdout
    )
    assert as_json["reviewers"] == ["alice", "bob"]
    kappa = {row["field"]: row["kappa"] for row in as_json["fields"]}
    assert kappa["decision"] == 0.4 and kappa["sex"] == 1.0
    by_files = run_cli("review", "compare", first, second).stdout  # records from the names
    assert "Cohen's kappa" in by_files and "Conflicts (4)" in by_files
    assert "corrected: case_series" in by_files
    table = list(
        csv.DictReader(io.StringIO(run_cli("review", "compare", first, second, "-f", "csv").stdout))
    )
    assert sum(row["kind"] == "conflict" for row in table) == 4
    markdown = run_cli("review", "compare", first, second, "-f", "md").stdout
    assert "| Field | Both reviewed | Agreed | Agreement | Cohen's kappa |" in markdown
    missing = run_cli("review", "compare", "alice", "carol", "--records", records, ok=(2,))
    assert "no review by carol" in missing.stderr and "Traceback" not in missing.stderr
    nameless = run_cli("review", "compare", "alice", "bob", ok=(2,))
    assert "--records" in nameless.stderr


def test_the_adjudicated_consensus_is_what_exports_write(records: Path, tmp_path: Path) -> None:
    first = review_as(records, "alice", ALICE)
    second = review_as(records, "bob", BOB)
    one, two = ReviewSession(records, store=first), ReviewSession(records, store=second)
    session = ConsensusSession(records, one, two, reviewer="carol")
    try:
        assert session.store_path == consensus_path(records)
        assert [entry.id for entry, _ in session.queue()] == [
            "pubmed-structured",
            "bmc-jmcr",
            "europepmc",
        ]  # the most conflicts left first
        assert session.conflict_fields("pubmed-structured") == ["patient_count"]
        state = session.state("europepmc")
        assert state.extra["sources"]["article_type"] == "conflict"
        assert state.extra["sources"]["patient_count"] == "agreed"
        assert not state.review.done  # a conflict left: not done
        session.adopt("europepmc", "article_type", 0, version=0)  # alice's
        session.adopt("bmc-jmcr", "title", 1, version=0)  # bob's: rejected
        session.mark("pubmed-structured", "patient_count", "accepted", version=0)  # the model's
        session.decide("pubmed-structured", "include", "one adult case", version=1)
        assert session.queue()[0][0].reasons == ()  # all settled
        out = io.StringIO()
        export_reviewed(session, out)
        lines = {line["id"]: line for line in map(json.loads, out.getvalue().splitlines())}
        gold = export_gold(session, tmp_path / "gold")
    finally:
        session.close()
    europe = lines["europepmc"]
    assert europe["record"]["article_type"] == "case_series"
    block = europe["review"]
    assert block["status"] == "done" and block["consensus_of"] == ["alice", "bob"]
    assert block["sources"]["article_type"] == "adjudicated"
    assert block["fields"]["article_type"] == {
        "status": "corrected",
        "set_at": block["fields"]["article_type"]["set_at"],
        "by": "carol",
        "note": None,
    }
    assert block["reviews"]["bob"]["fields"]["article_type"]["value"] == "case_report"
    assert "value" not in block["reviews"]["alice"]["fields"]["article_type"]
    assert lines["bmc-jmcr"]["review"]["fields"]["title"]["status"] == "rejected"
    pubmed = lines["pubmed-structured"]
    assert pubmed["record"]["patient_count"] == 1
    assert (pubmed["review"]["decision"], pubmed["review"]["decision_reason"]) == (
        "include",
        "one adult case",
    )
    assert pubmed["review"]["reviews"]["alice"]["decision"] == "include"
    assert pubmed["review"]["reviews"]["bob"]["decision"] == "exclude"
    assert len(gold.written) == 3 and validate_gold_dir(tmp_path / "gold") == []
    note = json.loads((tmp_path / "gold" / "europepmc.json").read_text(encoding="utf-8"))
    assert note["expected"]["article_type"] == "case_series"
    assert "adjudicated by carol from alice and bob" in note["notes"]
    # the CLI reads the consensus when there is one, a reviewer's review when named
    exported = run_cli("review", "export", records).stdout
    assert '"consensus_of": ["alice", "bob"]' in exported
    bob_only = run_cli("review", "export", records, "--reviewer", "bob").stdout
    assert '"consensus_of"' not in bob_only
    cli_gold = run_cli("gold", "export", records, "-o", tmp_path / "gold-cli")
    assert "3 gold record(s)" in cli_gold.stderr and "consensus" in cli_gold.stderr
    opened = run_cli("review", records, "--store", consensus_path(records), "--no-browser", ok=(2,))
    assert "is an adjudication: run `case-summarizer review adjudicate" in opened.stderr
    # the adjudication of another pair is not mixed into this one
    review_as(records, "carol", {"bmc-jmcr": [("title", "accepted")]})
    mixed = run_cli(
        "review", "adjudicate", "alice", "carol", "--records", records, "--no-browser", ok=(2,)
    )
    assert "adjudicates" in mixed.stderr and "--store" in mixed.stderr


# --------------------------------------------------------------------------- stats


def test_wilson_interval_by_hand() -> None:
    assert wilson(0, 0) is None
    low, high = wilson(8, 10)  # type: ignore[misc]
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == 1.0  # type: ignore[index]


def test_stats_per_field_by_model_and_prompt(rules_records: Path, tmp_path: Path) -> None:
    lines = read_lines(rules_records)
    model_a = write_lines(
        tmp_path / "a.jsonl", [as_model_line(line, model="model-a") for line in lines]
    )
    model_b = write_lines(
        tmp_path / "b.jsonl", [as_model_line(line, model="model-b", prompt="v2") for line in lines]
    )
    review_as(
        model_a,
        login_name(),
        {
            "bmc-jmcr": [("title", "accepted"), ("article_type", "accepted"), ("done",)],
            "pubmed-structured": [("title", "accepted"), ("article_type", "rejected"), ("done",)],
            "europepmc": [("title", "corrected", '"Another title"'), ("done",)],
        },
    )
    review_as(model_b, login_name(), {"bmc-jmcr": [("title", "rejected")]})
    sessions = [ReviewSession(model_a), ReviewSession(model_b)]
    try:
        stats = review_stats(sessions)
    finally:
        for session in sessions:
            session.close()
    first, second = stats.groups
    assert (first.model, first.prompt_version, first.records, first.done) == ("model-a", "v1", 3, 3)
    title = first.fields["title"]
    assert (title.reviewed, title.accepted, title.corrected, title.rejected) == (3, 2, 1, 0)
    assert title.accuracy == pytest.approx(2 / 3)
    assert title.interval == wilson(2, 3)
    assert first.fields["article_type"].accuracy == 0.5
    assert first.overall.reviewed == 5 and first.overall.accepted == 3
    assert (second.model, second.fields["title"].accuracy) == ("model-b", 0.0)

    as_json = json.loads(run_cli("review", "stats", model_a, model_b, "-f", "json").stdout)
    assert [group["model"] for group in as_json["groups"]] == ["model-a", "model-b"]
    row = next(r for r in as_json["groups"][0]["fields"] if r["field"] == "title")
    assert (row["accuracy"], row["ci_low"], row["ci_high"]) == (
        0.6667,
        round(wilson(2, 3)[0], 4),  # type: ignore[index]
        round(wilson(2, 3)[1], 4),  # type: ignore[index]
    )
    table = run_cli("review", "stats", model_a).stdout
    assert "openai model-a prompt v1: 3 records, 3 reviewed, 3 done" in table
    assert "Accuracy" in table and "all fields" in table and "Pace" in table
    rows = list(
        csv.DictReader(io.StringIO(run_cli("review", "stats", model_a, "-f", "csv").stdout))
    )
    assert {row["field"] for row in rows} >= {"title", "all fields"}
    markdown = run_cli("review", "stats", model_a, "-f", "md", "-o", tmp_path / "s.md")
    assert "written to" in markdown.stderr
    assert "### openai model-a prompt v1" in (tmp_path / "s.md").read_text(encoding="utf-8")
    none = run_cli("review", "stats", tmp_path / "nope.jsonl", ok=(2,))
    assert "no such records file" in none.stderr
    # -o never writes over what it reads, nor over a file that is not ours without --force
    before = model_a.read_bytes()
    onto = run_cli("review", "stats", model_a, "-o", model_a, ok=(2,))
    assert "input" in onto.stderr and model_a.read_bytes() == before
    notes = tmp_path / "notes.txt"
    notes.write_text("my own notes\n", encoding="utf-8")
    refused = run_cli("review", "stats", model_a, "-o", notes, ok=(2,))
    assert "not a case-summarizer output" in refused.stderr
    assert notes.read_text(encoding="utf-8") == "my own notes\n"
    run_cli("review", "stats", model_a, "-o", notes, "--force")
    assert "Accuracy" in notes.read_text(encoding="utf-8")


def test_pace_counts_active_time_only(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "s.sqlite", reviewer="alice")
    store.close()
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        times = [
            "2025-01-01T10:00:00+00:00",
            "2025-01-01T10:01:00+00:00",
            "2025-01-01T10:02:00+00:00",
        ]
        assert IDLE_SECONDS < 7000
        times.append("2025-01-01T12:00:00+00:00")  # after a break: not reviewing time
        times.append("2025-01-01T12:00:30+00:00")
        for number, at in enumerate(times):
            action = "done" if number in (2, 4) else "status"
            detail = json.dumps({"done": True} if action == "done" else {"field": "title"})
            db.execute(
                "INSERT INTO events (at, id, version, action, detail, reviewer) VALUES (?, ?, 1, ?, ?, 'alice')",
                (at, f"r{number}", action, detail),
            )
    store = ReviewStore(tmp_path / "s.sqlite")
    try:
        (pace,) = pace_of([store])
    finally:
        store.close()
    assert (pace.reviewer, pace.records, pace.active_seconds) == ("alice", 2, 150.0)
    assert pace.per_hour == pytest.approx(2 * 3600 / 150)
    assert Pace("bob", 3, 59.0).per_hour is None  # under a minute: too little to say


# --------------------------------------------------------------------------- small things


def test_review_on_a_table_opens_its_records_or_says_which_file(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    table = folder / "table.csv"
    run_cli("summarize", PAGES / "bmc-jmcr.txt", PAGES / "europepmc.txt", "-f", "csv", "-o", table)
    before = sorted(path.name for path in folder.iterdir())
    assert ".table.csv.results.jsonl" in before
    session = ReviewSession(Path(run_review_path(table)))
    try:
        assert sorted(session.results) == ["bmc-jmcr", "europepmc"] and not session.failures
        session.mark("bmc-jmcr", "title", "accepted", version=0)
    finally:
        session.close()
    after = [path.name for path in folder.iterdir() if path.name not in before]
    assert all(name.startswith(".table.csv.results.jsonl.review-") for name in after), after
    stats = run_cli("review", "stats", table, "-f", "json").stdout
    assert json.loads(stats)["groups"][0]["fields"][0]["accepted"] == 1
    # a table written to stdout has no records beside it: one line says what to open
    plain = tmp_path / "plain.csv"
    plain.write_text(
        run_cli("summarize", PAGES / "bmc-jmcr.txt", "-f", "csv").stdout, encoding="utf-8"
    )
    refused = run_cli("review", plain, "--no-browser", ok=(2,))
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert "rendered table, not records" in refused.stderr and "-o records.jsonl" in refused.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out", "plain.csv"]


def run_review_path(table: Path) -> str:
    from summarizer.review.reviewers import records_path

    return str(records_path(table))


def test_a_chosen_quote_gets_its_page_offsets(records: Path) -> None:
    page = (PAGES / "bmc-jmcr.txt").read_text(encoding="utf-8")
    session = ReviewSession(records, reviewer="alice")
    try:
        state = session.edit(
            "bmc-jmcr",
            "patient",
            patient(session, "bmc-jmcr", evidence="Ethiopian woman"),
            version=0,
        )
        span = next(span for span in state.evidence if span.field == "patient")
        assert span.source_start >= 0
        assert page[span.source_start : span.source_end] == "Ethiopian woman"
    finally:
        session.close()
    # a line written before the map was kept: a new quote has no page offsets (-1)
    lines = read_lines(records)
    for line in lines:
        del line["abstract"]["offsets"]
    old = write_lines(records.with_name("old.jsonl"), lines)
    session = ReviewSession(old, reviewer="alice")
    try:
        state = session.edit(
            "bmc-jmcr",
            "patient",
            patient(session, "bmc-jmcr", evidence="Ethiopian woman"),
            version=0,
        )
        span = next(span for span in state.evidence if span.field == "patient")
        assert (span.source_start, span.source_end) == (-1, -1)
    finally:
        session.close()


def test_a_corrected_value_its_evidence_does_not_support_is_flagged(
    records: Path, tmp_path: Path
) -> None:
    session = ReviewSession(records)
    try:
        state = session.edit(
            "bmc-jmcr", "patient", patient(session, "bmc-jmcr", age_text="68-year-old"), version=0
        )
        (finding,) = state.unsupported()["patient"]
        assert finding == (
            "patient: age 68 years: the evidence reads 'A 43-year-old Ethiopian woman' (43 years)"
        )
        assert state.review_block()["unsupported"] == {"patient": [finding]}
        # the same change with its quote: supported
        fixed = session.edit(
            "europepmc",
            "patient",
            patient(session, "europepmc", age_text="67-year-old", evidence="A 66-year-old woman"),
            version=0,
        )
        assert fixed.unsupported()["patient"][0].startswith("patient: age 67 years")
        sex = session.edit(
            "pubmed-structured",
            "patient",
            patient(session, "pubmed-structured", sex="female"),
            version=0,
        )
        assert (
            "sex female: the evidence reads 'A 61-year-old man'" in sex.unsupported()["patient"][0]
        )
        session.set_done("bmc-jmcr", True, version=1)
    finally:
        session.close()
    done = run_cli("gold", "export", records, "-o", tmp_path / "gold")
    assert "warning: bmc-jmcr: the evidence does not support patient: age 68 years" in done.stderr
    written = json.loads((tmp_path / "gold" / "bmc-jmcr.json").read_text(encoding="utf-8"))
    assert "Check: the evidence does not support patient: age 68 years" in written["notes"]
    table = run_cli("review", "export", records, "-f", "csv").stdout
    row = next(row for row in csv.DictReader(io.StringIO(table)) if row["id"] == "bmc-jmcr")
    assert list_items(row["review_unsupported"]) == [finding]


def test_cards_say_when_no_model_made_them(rules_records: Path, tmp_path: Path) -> None:
    for format in ("md", "html"):
        out = tmp_path / f"rules.{format}"
        run_cli("export", rules_records, "-f", format, "-o", out)
        text = out.read_text(encoding="utf-8")
        assert "No model made this record: the rules baseline read it" in text
        assert "quotes found in the abstract" in text and "Grounding" not in text
    model = write_lines(tmp_path / "model.jsonl", [as_model_line(read_lines(rules_records)[0])])
    run_cli("export", model, "-f", "md", "-o", tmp_path / "model.md")
    assert "No model made" not in (tmp_path / "model.md").read_text(encoding="utf-8")


def test_reviewer_store_names_are_safe(tmp_path: Path) -> None:
    records = tmp_path / "r.jsonl"
    assert reviewer_store(records, "Jane Doe/../x").name == "r.jsonl.review-Jane-Doe-..-x.sqlite"
