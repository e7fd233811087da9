"""``review stats`` and ``review compare`` as text: an aligned table for a terminal,
JSON, CSV (one row per group and field, or per field and per conflict) or Markdown."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from ..errors import InputError
from ..sinks import csv_cell
from .consensus import Agreement
from .fields import field_label
from .stats import ALL_FIELDS, FieldStats, ReviewStats

__all__ = ["REPORT_FORMATS", "agreement_report", "stats_report"]

REPORT_FORMATS = ("table", "json", "csv", "md")


def _check(format: str) -> None:
    if format not in REPORT_FORMATS:
        raise InputError(f"unknown format {format!r}; choose {', '.join(REPORT_FORMATS)}")


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def _label(name: str) -> str:
    return name if name == ALL_FIELDS else field_label(name)


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]], *, numeric_from: int) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(cell).rjust(width) if index >= numeric_from else str(cell).ljust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]], *, numeric_from: int) -> str:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    align = ["---" if index < numeric_from else "---:" for index in range(len(header))]
    lines = ["| " + " | ".join(map(cell, header)) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return "\n".join(lines)


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            [csv_cell(str(value)) if isinstance(value, str) else value for value in row]
        )
    return out.getvalue()


_STATS_HEADER = ["Field", "Reviewed", "Accepted", "Corrected", "Rejected", "Accuracy", "95% CI"]


def _stats_row(row: FieldStats) -> list[str]:
    interval = row.interval
    ci = "–" if interval is None else f"{interval[0] * 100:.0f}–{interval[1] * 100:.0f}%"
    counts = [row.reviewed, row.accepted, row.corrected, row.rejected]
    return [_label(row.field), *map(str, counts), _percent(row.accuracy), ci]


def stats_report(stats: ReviewStats, format: str) -> str:
    """``review stats`` in ``format`` (see the module docstring)."""
    _check(format)
    if format == "json":
        return json.dumps(stats.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if format == "csv":
        header = ["backend", "model", "prompt_version", "field", "reviewed", "accepted"]
        header += ["corrected", "rejected", "accuracy", "ci_low", "ci_high"]
        rows = []
        for group in stats.groups:
            for row in group.rows():
                value = row.to_dict()
                key = [group.backend, group.model, group.prompt_version or ""]
                rows.append(key + [value[name] for name in header[3:]])
        return _csv(header, [["" if cell is None else cell for cell in row] for row in rows])
    markdown = format == "md"
    grid = _markdown if markdown else _grid
    parts = []
    for group in stats.groups:
        title = f"{group.label}: {group.records} records, {group.reviewed_records} reviewed, {group.done} done"
        table = grid(_STATS_HEADER, [_stats_row(row) for row in group.rows()], numeric_from=1)
        parts.append((f"### {title}" if markdown else title) + "\n\n" + table)
    if not stats.groups:
        parts.append("no record to count yet")
    pace = [
        [
            item.reviewer,
            str(item.records),
            f"{item.active_seconds / 3600:.2f}",
            "–" if item.per_hour is None else f"{item.per_hour:.1f}",
        ]
        for item in stats.pace
    ]
    if pace:
        header = ["Reviewer", "Records done", "Active hours", "Records per hour"]
        title = "Pace (active time: breaks over 10 minutes left out)"
        parts.append(
            (f"### {title}" if markdown else title) + "\n\n" + grid(header, pace, numeric_from=1)
        )
    return "\n\n".join(parts) + "\n"


def agreement_report(agreement: Agreement, format: str) -> str:
    """``review compare`` in ``format``: per-field agreement, then the conflicts."""
    _check(format)
    if format == "json":
        return json.dumps(agreement.to_dict(), indent=2, ensure_ascii=False) + "\n"
    first, second = agreement.reviewers
    if format == "csv":
        header = ["kind", "field", "compared", "agreed", "percent", "kappa", "id", "a", "b"]
        rows: list[list[object]] = []
        for row in agreement.fields:
            value = row.to_dict()
            rows.append(
                ["agreement", row.field, row.compared, row.agreed]
                + ["" if value[key] is None else value[key] for key in ("percent", "kappa")]
                + ["", "", ""]
            )
        for conflict in agreement.conflicts:
            line: list[object] = ["conflict", conflict.field, "", "", "", ""]
            rows.append([*line, conflict.record_id, conflict.first, conflict.second])
        return _csv(header, rows)
    markdown = format == "md"
    grid = _markdown if markdown else _grid
    rows_text = [
        [
            "Sex (patient)"
            if row.field == "sex"
            else "Decision"
            if row.field == "decision"
            else _label(row.field),
            str(row.compared),
            str(row.agreed),
            "–" if row.percent is None else f"{row.percent:.0f}%",
            ("–" if row.kappa is None else f"{row.kappa:.2f}") if row.categorical else "",
        ]
        for row in agreement.fields
    ]
    title = (
        f"{first} and {second}: {agreement.records} record(s) both reviewed "
        "(a field counts where both reviewed it)"
    )
    header = ["Field", "Both reviewed", "Agreed", "Agreement", "Cohen's kappa"]
    parts = [
        (f"### {title}" if markdown else title) + "\n\n" + grid(header, rows_text, numeric_from=1)
    ]
    if agreement.conflicts:
        conflicts = [
            [
                c.record_id,
                "decision" if c.field == "decision" else _label(c.field),
                c.first,
                c.second,
            ]
            for c in agreement.conflicts
        ]
        heading = f"Conflicts ({len(conflicts)}): `case-summarizer review adjudicate` settles them"
        parts.append(
            (f"### {heading}" if markdown else heading)
            + "\n\n"
            + grid(["Record", "Field", first, second], conflicts, numeric_from=4)
        )
    else:
        parts.append("No conflicts.")
    return "\n\n".join(parts) + "\n"
