"""``case-summarizer review``: check records against their evidence on a local page, two
reviewers and their agreement, what the review says about the model, and exports."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .common import FORCE, chosen_format, format_option, handle_errors, note

REVIEW_EXPORT_FORMATS = ("jsonl", "csv")

RECORDS = click.argument("records", type=click.Path(dir_okay=False, path_type=Path))
STORE = click.option(
    "--store",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The review's SQLite file (default: the reviewer's, RECORDS.review-NAME.sqlite).",
)
REVIEWER = click.option(
    "--reviewer",
    metavar="NAME",
    help="Who reviews: stamped on every change, and picks their own store "
    "(default: your login name).",
)
PORT = click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1 (0: a free one).",
)
NO_BROWSER = click.option(
    "--no-browser", is_flag=True, help="Print the URL but do not open a browser."
)
REPORT_FORMATS = ("table", "json", "csv", "md")
FORMAT = format_option(default="table", choices=REPORT_FORMATS)
OUTPUT = click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout."
)
SIDES = [
    click.argument("first", metavar="A"),
    click.argument("second", metavar="B"),
    click.option(
        "--records",
        "records",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The records file both reviewed (needed when A and B are reviewer names).",
    ),
]


def _sides(function: Any) -> Any:
    for decorator in reversed(SIDES):
        function = decorator(function)
    return function


class _DefaultOpen(click.Group):
    """``review RECORDS`` means ``review open RECORDS``; ``review export …`` stays itself."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = next((arg for arg in args if not arg.startswith("-")), None)
        if first is not None and first not in self.commands and not {"-h", "--help"} & set(args):
            args = ["open", *args]
        return super().parse_args(ctx, args)


@click.group("review", cls=_DefaultOpen)
def command() -> None:
    """Review records on a local web page: check each one against the abstract, correct
    it, and export the result (reviewed records, or gold records for `eval`). Two
    reviewers review independently, `compare` gives their agreement and `adjudicate`
    settles their conflicts; `stats` says how good the model was on your abstracts.

    \b
    Examples:
      case-summarizer summarize exports/ -o records.jsonl
      case-summarizer review records.jsonl
      case-summarizer review records.jsonl --reviewer alice --port 8765 --no-browser
      case-summarizer review compare alice bob --records records.jsonl
      case-summarizer review adjudicate alice bob --records records.jsonl
      case-summarizer review stats records.jsonl
      case-summarizer review export records.jsonl -o reviewed.jsonl
      case-summarizer review export records.jsonl -f csv -o reviewed.csv
      case-summarizer gold export records.jsonl -o evals/gold-reviewed
    """


def _serve(session: Any, port: int, no_browser: bool, what: str) -> None:
    from ..review.server import serve

    def announce(url: str) -> None:
        click.echo(url)
        sys.stdout.flush()
        note(f"open that URL (it carries this run's token); Ctrl-C stops the server ({what})")

    try:
        serve(session, port=port, open_browser=not no_browser, announce=announce)
    except KeyboardInterrupt:
        pass
    finally:
        session.close()


@command.command("open")
@RECORDS
@PORT
@NO_BROWSER
@REVIEWER
@STORE
@handle_errors
def open_command(
    records: Path, port: int, no_browser: bool, reviewer: str | None, store: Path | None
) -> None:
    """Serve the review page of RECORDS (the JSON Lines `summarize -o` writes; for a
    CSV, Markdown or HTML output, the records kept beside it).

    The page opens on the first record to do; the queue puts first the records that most
    need a person (unaligned evidence, disagreement with the rules backend, re-asks,
    cleaner warnings, missing fields). Every field is edited with the schema's own
    checks, and every change is saved at once in the reviewer's store: stop the server
    any time and run the command again to resume. It listens on 127.0.0.1 only and needs
    the token in the printed URL.
    """
    from ..errors import InputError
    from ..review.reviewers import records_path
    from ..review.session import ReviewSession

    source = records_path(records)
    if store is not None and store.is_file() and _adjudicated_pair(store) is not None:
        raise InputError(
            f"{store.name} is an adjudication: run `case-summarizer review adjudicate A B "
            f"--records {source}` to open it",
            path=str(store),
        )
    session = ReviewSession(source, store=store, reviewer=reviewer)
    owner = session.store.owner
    if owner is not None and owner != session.reviewer:
        note(
            f"note: {session.store_path.name} is {owner}'s review; changes are stamped {session.reviewer}"
        )
    note(
        f"reviewing {len(session.results)} record(s) from {source} as {session.reviewer}"
        + (f" ({len(session.failures)} failed, not reviewable)" if session.failures else "")
        + f"; saved in {session.store_path}"
    )
    _serve(session, port, no_browser, "review")


@command.command("export")
@RECORDS
@format_option(default="jsonl", choices=REVIEW_EXPORT_FORMATS)
@OUTPUT
@click.option("--done-only", is_flag=True, help="Only records marked done.")
@REVIEWER
@STORE
@FORCE
@handle_errors
def export_command(
    records: Path,
    output_format: str | None,
    output: Path | None,
    done_only: bool,
    reviewer: str | None,
    store: Path | None,
    force: bool,
) -> None:
    """Write the reviewed records of RECORDS: each with the reviewer's edits, its evidence
    re-aligned, and a "review" block (the record's status, each field's status, who set
    it and when, notes, the include/exclude decision). -f csv writes the review table.

    Without --reviewer or --store, the adjudicated consensus when there is one (both
    reviewers' judgements kept in the block), else your own review.

    \b
    Examples:
      case-summarizer review export records.jsonl -o reviewed.jsonl
      case-summarizer review export records.jsonl -f csv --done-only -o reviewed.csv
      case-summarizer review export records.jsonl --reviewer bob -o bob.jsonl
    """
    from ..output.line_store import atomic_write
    from ..output.targets import check_output
    from ..review.export import export_reviewed

    output_format = chosen_format(
        output, output_format, default="jsonl", choices=REVIEW_EXPORT_FORMATS
    )
    session = _reading(records, store, reviewer)
    count = 0

    def write(stream: Any) -> None:
        nonlocal count
        count = export_reviewed(session, stream, format=output_format, done_only=done_only)

    try:
        if output:
            check_output(output, [records, *_read_files(session)], force=force)
            atomic_write(output, write)  # an existing export stays whole until this one is
        else:
            write(sys.stdout)
    finally:
        session.close()
    note(
        f"{count} record(s) exported from {session.store_path.name}"
        + (f" -> {output}" if output else "")
    )


@command.command("stats")
@click.argument("records", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@FORMAT
@OUTPUT
@REVIEWER
@STORE
@FORCE
@handle_errors
def stats_command(
    records: tuple[Path, ...],
    output_format: str | None,
    output: Path | None,
    reviewer: str | None,
    store: Path | None,
    force: bool,
) -> None:
    """What the review says about the model: for each field, the records reviewed,
    accepted, corrected and rejected, and the model's accuracy (accepted ÷ reviewed)
    with a Wilson 95% interval, by backend, model and prompt version; and each
    reviewer's records per hour. Several RECORDS files (two models or two prompts on the
    same abstracts, each reviewed) are counted side by side.

    \b
    Examples:
      case-summarizer review stats records.jsonl
      case-summarizer review stats model-a.jsonl model-b.jsonl -f md -o stats.md
    """
    from ..errors import InputError
    from ..review.reports import stats_report
    from ..review.stats import review_stats

    if store is not None and len(records) > 1:
        raise InputError("--store names the review of one records file; give one RECORDS")
    sessions = []
    try:
        for path in records:
            sessions.append(_reading(path, store, reviewer))
        read = [
            file for session in sessions for file in (session.records_path, *_read_files(session))
        ]
        _check_report(output, read, force)  # an input, or a file not ours: refused first
        chosen = chosen_format(output, output_format, default="table", choices=REPORT_FORMATS)
        text = stats_report(review_stats(sessions), chosen)
    finally:
        for session in sessions:
            session.close()
    _write(text, output)


@command.command("compare")
@_sides
@FORMAT
@OUTPUT
@FORCE
@handle_errors
def compare_command(
    first: str,
    second: str,
    records: Path | None,
    output_format: str | None,
    output: Path | None,
    force: bool,
) -> None:
    """Agreement of two reviews of the same records: per field, how many records both
    reviewed and the percent they agree on; Cohen's kappa for article type, sex,
    patient count and the include/exclude decision; then every conflict.

    A and B are review store files, or reviewer names with --records.

    \b
    Examples:
      case-summarizer review compare alice bob --records records.jsonl
      case-summarizer review compare records.jsonl.review-alice.sqlite records.jsonl.review-bob.sqlite
    """
    from ..review.consensus import compare
    from ..review.reports import agreement_report

    one, two = _two_reviews(first, second, records)
    try:
        read = [one.records_path, *_read_files(one), *_read_files(two)]
        _check_report(output, read, force)  # an input, or a file not ours: refused first
        chosen = chosen_format(output, output_format, default="table", choices=REPORT_FORMATS)
        text = agreement_report(compare(one, two), chosen)
    finally:
        one.close()
        two.close()
    _write(text, output)


@command.command("adjudicate")
@_sides
@PORT
@NO_BROWSER
@REVIEWER
@STORE
@handle_errors
def adjudicate_command(
    first: str,
    second: str,
    records: Path | None,
    port: int,
    no_browser: bool,
    reviewer: str | None,
    store: Path | None,
) -> None:
    """Serve the conflicts of two reviews, side by side, on the review page: take one
    reviewer's answer (1, 2), accept the model's value, or correct it. The consensus is
    saved in RECORDS.consensus.sqlite (or --store); `review export` and `gold export`
    then write it, both reviewers' judgements kept in the export.

    \b
    Examples:
      case-summarizer review adjudicate alice bob --records records.jsonl
    """
    from ..review.consensus import ConsensusSession

    one, two = _two_reviews(first, second, records)
    try:
        session = ConsensusSession(one.records_path, one, two, store=store, reviewer=reviewer)
    except BaseException:
        one.close()
        two.close()
        raise
    conflicts = len(session.queue())
    note(
        f"adjudicating {session.names[0]} and {session.names[1]} on {one.records_path}: "
        f"{conflicts} record(s) with conflicts; saved in {session.store_path}"
    )
    _serve(session, port, no_browser, "adjudication")  # closes both reviews too


def _read_files(session: Any) -> list[Path]:
    """The stores a review reads (an -o must never be one of them)."""
    return [store.path for store in session.review_stores()]


def _check_report(output: Path | None, read: list[Path], force: bool) -> None:
    """A report's -o: never a file it reads; an existing file only when it is empty or
    --force says so (a report is not one of the outputs recognised by their content)."""
    from ..output.targets import check_output

    if output is not None:
        check_output(output, read, writes=frozenset(), force=force)


def _write(text: str, output: Path | None) -> None:
    """A report to ``output`` (atomically) or stdout (on a terminal, the CLI shows any
    control character a record's text holds, ``cli.terminal``)."""
    from ..output.line_store import atomic_write

    if output is None:
        click.echo(text, nl=False)
        return

    def write(stream: Any) -> None:
        stream.write(text)

    atomic_write(output, write)
    note(f"written to {output}")


def _adjudicated_pair(store: Path) -> str | None:
    """The two reviews an adjudication's store settles (None: a reviewer's own store)."""
    from ..review.consensus import SIDES_STATE
    from ..review.review_store import ReviewStore

    probe = ReviewStore(store)
    try:
        return probe.get_state(SIDES_STATE)
    finally:
        probe.close()


def _open_store(records: Path, store: Path) -> Any:
    """The review held in ``store`` (an adjudication: with both reviews it settles)."""
    import json

    from ..errors import InputError
    from ..review.consensus import ConsensusSession
    from ..review.reviewers import login_name, store_owner
    from ..review.session import ReviewSession

    sides = _adjudicated_pair(store)
    if sides is None:
        return ReviewSession(records, store=store, reviewer=store_owner(store) or login_name())
    paths = [Path(path) for path in json.loads(sides)]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise InputError(
            f"the adjudication in {store.name} settles reviews that are gone: {', '.join(missing)}"
        )
    one, two = (_open_store(records, path) for path in paths)
    owner = store_owner(store) or login_name()
    return ConsensusSession(records, one, two, store=store, reviewer=owner)


def _reading(records: Path, store: Path | None, reviewer: str | None) -> Any:
    """The review an export or stats reads: --store, else --reviewer's, else the
    adjudicated consensus when there is one, else your own."""
    from ..errors import InputError
    from ..review.reviewers import (
        check_reviewer,
        consensus_path,
        login_name,
        records_path,
        reviews_of,
        store_for,
    )

    records = records_path(records)
    if not records.is_file():
        raise InputError("no such records file", path=str(records))
    if store is None and reviewer is None and consensus_path(records).is_file():
        store = consensus_path(records)
    if store is None:
        name = check_reviewer(reviewer) if reviewer is not None else login_name()
        store = store_for(records, name)
        if not store.is_file():
            others = ", ".join(f"{who} ({path.name})" for who, path in reviews_of(records))
            found = f"; reviews of it: {others}: pass --reviewer NAME" if others else ""
            raise InputError(
                f"no review by {name} yet ({store.name} does not exist): run "
                f"`case-summarizer review {records}` first{found}",
                path=str(records),
            )
    elif not store.is_file():
        raise InputError(f"no review store {store}", path=str(records))
    return _open_store(records, store)


def _two_reviews(first: str, second: str, records: Path | None) -> tuple[Any, Any]:
    """The two reviews ``compare`` and ``adjudicate`` read: store files, or reviewer
    names of RECORDS."""
    from ..errors import InputError
    from ..review.reviewers import check_reviewer, records_for_store, records_path, store_for

    found: list[tuple[Path, Path | None]] = []
    for given in (first, second):
        path = Path(given)
        if path.is_file():
            found.append((path, records_for_store(path)))
            continue
        if records is None:
            raise InputError(
                f"{given}: no such review store; to name a reviewer, give --records RECORDS"
            )
        store = store_for(records_path(records), check_reviewer(given))
        if not store.is_file():
            raise InputError(f"no review by {given} of {records} ({store.name} does not exist)")
        found.append((store, None))
    if records is None:
        derived = {path for _, path in found if path is not None}
        if len(derived) != 1:
            raise InputError(
                "cannot tell which records file the two reviews are of: give --records"
            )
        records = derived.pop()
    records = records_path(records)
    if not records.is_file():
        raise InputError("no such records file", path=str(records))
    one = _open_store(records, found[0][0])
    try:
        two = _open_store(records, found[1][0])
    except BaseException:
        one.close()
        raise
    return one, two


@click.command("export")
@RECORDS
@click.option(
    "-o",
    "--output",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the gold files (inputs go in its inputs/ folder).",
)
@click.option(
    "--all", "everything", is_flag=True, help="Every record with a reviewed field, done or not."
)
@click.option("--tag", "tags", multiple=True, help="A tag to add to every gold record.")
@REVIEWER
@STORE
@handle_errors
def gold_export_command(
    records: Path,
    directory: Path,
    everything: bool,
    tags: tuple[str, ...],
    reviewer: str | None,
    store: Path | None,
) -> None:
    """Write the records of RECORDS marked done in its review as gold files that
    `gold validate` accepts, each with its input text. Only the fields the reviewer
    accepted or corrected are expected; the others are left unscored. A corrected value
    its evidence does not support is flagged. Without --reviewer or --store: the
    adjudicated consensus when there is one, else your own review.

    \b
    Examples:
      case-summarizer gold export records.jsonl -o evals/gold-reviewed
      case-summarizer gold validate evals/gold-reviewed
      case-summarizer eval --gold evals/gold-reviewed
    """
    from ..review.export import export_gold

    session = _reading(records, store, reviewer)
    try:
        done = export_gold(session, directory, done_only=not everything, tags=tags)
    finally:
        session.close()
    for ident in done.skipped:
        note(f"skipped {ident}: no field accepted or corrected")
    for ident, finding in done.unsupported:
        note(f"warning: {ident}: the evidence does not support {finding}")
    note(
        f"{len(done.written)} gold record(s) written to {directory} from {session.store_path.name}"
    )
