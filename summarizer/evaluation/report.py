"""Reports of runs and comparisons: terminal (rich), Markdown, JSON and self-contained HTML.

Every report reads top down as a reviewer asks: the verdict of the gates (when any were
asked for), then each comparison, then the metrics side by side, then per field and per
record. Fields carry their clinical label next to their path ("Patient age
(patient.age)"). A cost whose price has no source is marked as an estimate, and each
report says where each run's price came from.

The HTML report (``templates/report/``) has no external assets: styles inline, charts as
inline SVG (one small bar chart per metric, the runs side by side, each bar with its 95 %
interval), and every piece of text from runs, gold or models escaped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..errors import ConfigError
from ..ingest.detect import EVAL_REPORT_KIND, OWN_OUTPUT_MARKERS
from ..output.line_store import atomic_write
from ..output.ownership import check_overwrite
from ..sinks import terminal_text
from .compare import Comparison, MetricDiff
from .eval_runs import StoredRun
from .gate import Verdict
from .metrics import METRICS, Metric
from .prices import Price, price_note
from .scorers import FIELDS, field_label

__all__ = [
    "REPORT_SUFFIXES",
    "check_report_path",
    "html_report",
    "json_report",
    "markdown_report",
    "terminal_report",
    "write_report",
]

REPORT_SUFFIXES = (".html", ".htm", ".md", ".markdown", ".json")
CHANGES_SHOWN = 5


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "usd":
        return f"${value:.4f}" if value < 1 else f"${value:,.2f}"
    if unit == "count":
        return f"{value:,.0f}" if value >= 100 or value == int(value) else f"{value:.2f}"
    if unit == "seconds":
        return f"{value:.2f}s"
    return f"{value:.3f}"


def _signed(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    text = _format(abs(value), unit)
    return ("+" if value >= 0 else "−") + text


def _interval(entry: dict[str, Any], unit: str) -> str:
    low, high = entry.get("low"), entry.get("high")
    if low is None or high is None:
        return ""
    return f"[{_format(low, unit)}, {_format(high, unit)}]"


def _flag(row: MetricDiff) -> str:
    if not row.metric.judged and row.significant:
        return "more" if (row.difference.estimate or 0) > 0 else "fewer"
    return {"better": "▲ better", "worse": "▼ worse"}.get(row.verdict, "")


def _field_title(path: str) -> str:
    """A field's clinical label next to its path: "Patient age (patient.age)"."""
    label = field_label(path)
    return path if label == path else f"{label} ({path})"


def _metric_label(metric: Metric) -> str:
    arrow = "" if metric.higher_is_better or not metric.judged else " ↓"
    name = f"{metric.label} ({metric.name})" if metric.label else metric.name
    return name + arrow


def _n_records(run: StoredRun) -> int:
    return len(run.scores.get("records", []))


def _price(run: StoredRun) -> Price | None:
    return Price.from_dict(run.config.get("price") or {})


def _estimated(run: StoredRun) -> bool:
    price = _price(run)
    return price is not None and price.estimate


def _cell(run: StoredRun, metric: Metric, entry: dict[str, Any]) -> tuple[str, str]:
    """(value, interval) of a metric for a run; an unsourced cost says it is an estimate."""
    value = _format(entry.get("estimate"), metric.unit)
    if metric.unit == "usd" and entry.get("estimate") is not None and _estimated(run):
        value += " (estimate)"
    return value, _interval(entry, metric.unit)


def _comparison_label(metric: Metric, runs: Sequence[StoredRun]) -> str:
    label = _metric_label(metric)
    if metric.unit == "usd" and any(_estimated(run) for run in runs):
        label += " (estimate)"
    return label


def _price_notes(runs: Sequence[StoredRun]) -> list[str]:
    """Where each run's cost comes from (nothing for backends that bill nothing)."""
    notes = []
    for run in runs:
        note = price_note({"model": run.config.get("model"), **(run.config.get("price") or {})})
        if note:
            notes.append(f"{run.label}: {note}")
    return notes


def _verdict_lines(verdict: Verdict | None) -> list[str]:
    if verdict is None:
        return []
    return [verdict.headline, *(f"fail: {failure}" for failure in verdict.failures)]


_FIELD_COLUMNS = (
    "field",
    "score",
    "precision",
    "recall",
    "omitted",
    "hallucinated",
    "scored",
)
_FIELDS_NOTE = (
    "score: mean over the records where gold or the output has a value (scored); "
    "omitted: gold has a value, the output does not (of records where gold has one); "
    "hallucinated: the output has a value where gold says none (of records where gold says "
    "none; the rest left it empty too, which earns no field score)."
)


def _field_rows(run: StoredRun) -> list[tuple[str, ...]]:
    """Per-field summary of one run: score, P/R (lists), omissions and hallucinations."""
    rows: list[tuple[str, ...]] = []
    fields: dict[str, dict[str, Any]] = run.scores.get("fields", {})
    for name in FIELDS:
        entry = fields.get(name)
        if not entry or not (entry.get("n") or entry.get("gold_empty")):
            continue
        rows.append(
            (
                _field_title(name),
                _format(entry.get("score"), "score"),
                _format(entry.get("precision"), "score") if "precision" in entry else "",
                _format(entry.get("recall"), "score") if "recall" in entry else "",
                f"{entry.get('omitted', 0)}/{entry.get('gold_present', 0)}",
                f"{entry.get('hallucinated', 0)}/{entry.get('gold_empty', 0)}",
                str(entry.get("n", 0)),
            )
        )
    return rows


def check_report_path(path: Path) -> None:
    """Fail now, with one line, when a report cannot be written to ``path`` (an unknown
    suffix, a folder, a parent that is not a folder, no permission), so that a run does
    not end without its report."""
    if path.suffix.lower() not in REPORT_SUFFIXES:
        raise ConfigError(
            f"cannot write report {path}: unknown format {path.suffix or '(no suffix)'!r} "
            f"(use one of {', '.join(REPORT_SUFFIXES)})"
        )
    if path.is_dir():
        raise ConfigError(f"cannot write report {path}: it is a folder")
    check_overwrite(path, writes=frozenset({"page"}))  # an earlier report, never the user's file
    for ancestor in path.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise ConfigError(f"cannot write report {path}: {ancestor} is not a folder")
            break
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as error:
        raise ConfigError(f"cannot write report {path}: {error.strerror or error}") from None
    if not existed:
        path.unlink(missing_ok=True)


# -- terminal ----------------------------------------------------------------------------


def terminal_report(
    runs: Sequence[StoredRun],
    comparisons: Sequence[Comparison] = (),
    *,
    verdict: Verdict | None = None,
) -> RenderableType:
    """The verdict, each comparison, then the side-by-side table of runs."""
    parts: list[RenderableType] = []
    if verdict is not None:
        style = "bold green" if verdict.passed else "bold red"
        parts.append(Text(f"Verdict: {verdict.headline}", style=style if verdict.gated else ""))
        parts.extend(Text(f"  fail: {failure}", style="red") for failure in verdict.failures)
    for comparison in comparisons:
        parts.append(_terminal_comparison(comparison, runs))
    table = Table(
        title="Evaluation: mean [95% bootstrap CI]",
        caption="↓ lower is better; resampled over records",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("metric", style="bold")
    for run in runs:
        label, run_id = (escape(terminal_text(text)) for text in (run.label, run.run_id))
        table.add_column(f"{label}\n[dim]{run_id}[/dim]", justify="right")
    table.add_row("records", *(str(_n_records(run)) for run in runs), end_section=True)
    for metric in METRICS:
        cells = []
        for run in runs:
            value, interval = _cell(run, metric, run.metrics.get(metric.name) or {})
            cells.append(f"{value} [dim]{interval}[/dim]" if interval else value)
        last_field = (
            metric.name == FIELDS[-1] or metric.name == "overall" or metric.name == "validity_rate"
        )
        table.add_row(_metric_label(metric), *cells, end_section=last_field)
    parts.append(table)
    parts.extend(Text(note, style="dim") for note in _price_notes(runs))
    return Group(*parts)


def _terminal_comparison(comparison: Comparison, runs: Sequence[StoredRun]) -> RenderableType:
    table = Table(
        title=(
            f"{comparison.b} vs {comparison.a}: paired bootstrap over {comparison.records} records "
            f"({comparison.resamples} resamples, seed {comparison.seed})"
        ),
        title_justify="left",
    )
    for name, justify in (
        ("metric", "left"),
        ("A", "right"),
        ("B", "right"),
        ("B − A", "right"),
        ("95% CI", "right"),
        ("", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in comparison.rows:
        unit = row.metric.unit
        style = {"better": "green", "worse": "red"}.get(row.verdict, "")
        table.add_row(
            _comparison_label(row.metric, runs),
            _format(row.a, unit),
            _format(row.b, unit),
            _signed(row.difference.estimate, unit),
            _interval(row.difference.to_dict(), unit),
            Text(_flag(row), style=style),
            style=style or None,
        )
    lines: list[RenderableType] = [table]
    for title, changes in (("better", comparison.better), ("worse", comparison.worse)):
        for name, items in changes.items():
            shown = ", ".join(f"{c.id} ({c.a:.2f}→{c.b:.2f})" for c in items[:CHANGES_SHOWN])
            more = f" and {len(items) - CHANGES_SHOWN} more" if len(items) > CHANGES_SHOWN else ""
            colour = "green" if title == "better" else "red"
            lines.append(
                Text.from_markup(f"[{colour}]{title}[/{colour}] ")
                + Text(f"{_field_title(name)}: {shown}{more}")
            )
    if comparison.only_a or comparison.only_b:
        lines.append(
            Text(
                f"unpaired records: only in A {comparison.only_a}, only in B {comparison.only_b}",
                style="yellow",
            )
        )
    return Group(*lines)


# -- JSON ------------------------------------------------------------------------------


def json_report(
    runs: Sequence[StoredRun],
    comparisons: Sequence[Comparison] = (),
    *,
    verdict: Verdict | None = None,
) -> dict[str, Any]:
    return {
        "kind": EVAL_REPORT_KIND,
        "verdict": None if verdict is None else verdict.to_dict(),
        "comparisons": [comparison.to_dict() for comparison in comparisons],
        "price_notes": _price_notes(runs),
        "field_labels": {name: field_label(name) for name in FIELDS},
        "runs": [
            {
                "run_id": run.run_id,
                "label": run.label,
                "path": str(run.path),
                "config": run.config,
                "metrics": run.metrics,
                "fields": run.scores.get("fields", {}),
                "records": run.scores.get("records", []),
                "reused": run.reused,
            }
            for run in runs
        ],
    }


# -- Markdown ---------------------------------------------------------------------------


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


MARKDOWN_MARKER = OWN_OUTPUT_MARKERS[2].decode()


def markdown_report(
    runs: Sequence[StoredRun],
    comparisons: Sequence[Comparison] = (),
    *,
    verdict: Verdict | None = None,
) -> str:
    lines = [MARKDOWN_MARKER, "", "# Evaluation report", ""]
    lines += _md_verdict(verdict)
    for comparison in comparisons:
        lines += _md_comparison(comparison, runs)
    lines += _md_runs(runs) + _md_metrics(runs) + _md_fields(runs) + _md_records(runs)
    return "\n".join(lines) + "\n"


def _md_verdict(verdict: Verdict | None) -> list[str]:
    if verdict is None:
        return []
    headline, *failures = _verdict_lines(verdict)
    lines = ["## Verdict", "", f"**{_md(headline)}**", ""]
    lines += [f"- {_md(failure)}" for failure in failures]
    return [*lines, ""] if failures else lines


def _md_comparison(comparison: Comparison, runs: Sequence[StoredRun]) -> list[str]:
    lines = [
        f"## {_md(comparison.b)} vs {_md(comparison.a)}",
        "",
        f"Paired bootstrap over {comparison.records} records, {comparison.resamples} resamples, "
        f"seed {comparison.seed}. **Significant** = the 95% interval excludes 0.",
        "",
        "| metric | A | B | B − A | 95% CI | |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in comparison.rows:
        unit = row.metric.unit
        flag = f"**{_flag(row)}**" if row.verdict else _flag(row)
        lines.append(
            f"| {_md(_comparison_label(row.metric, runs))} | {_format(row.a, unit)} | "
            f"{_format(row.b, unit)} | {_signed(row.difference.estimate, unit)} | "
            f"{_interval(row.difference.to_dict(), unit)} | {flag} |"
        )
    for title, changes in (("Better", comparison.better), ("Worse", comparison.worse)):
        if not changes:
            continue
        lines += ["", f"### {title} records", ""]
        for name, items in changes.items():
            shown = ", ".join(f"`{_md(c.id)}` {c.a:.2f}→{c.b:.2f}" for c in items)
            lines.append(f"- **{_md(_field_title(name))}**: {shown}")
    return [*lines, ""]


def _md_runs(runs: Sequence[StoredRun]) -> list[str]:
    lines = ["## Runs", ""]
    lines += ["| run | label | backend | model | prompt | records |", "|---|---|---|---|---|---|"]
    for run in runs:
        prompt = run.config.get("prompt") or {}
        prompt_text = f"{prompt.get('version')} ({prompt.get('hash')})" if prompt else "–"
        reused = " (reused)" if run.reused else ""
        lines.append(
            f"| `{_md(run.run_id)}`{reused} | {_md(run.label)} | "
            f"{_md(str(run.config.get('backend')))} | {_md(str(run.config.get('model') or '–'))} | "
            f"{_md(prompt_text)} | {_n_records(run)} |"
        )
    return lines


def _md_metrics(runs: Sequence[StoredRun]) -> list[str]:
    lines = ["", "## Metrics (mean, 95% bootstrap interval; ↓ lower is better)", ""]
    lines.append("| metric | " + " | ".join(_md(run.label) for run in runs) + " |")
    lines.append("|---|" + "---:|" * len(runs))
    for metric in METRICS:
        cells = []
        for run in runs:
            value, interval = _cell(run, metric, run.metrics.get(metric.name) or {})
            cells.append(f"{value} {interval}".strip())
        lines.append(f"| {_md(_metric_label(metric))} | " + " | ".join(cells) + " |")
    notes = _price_notes(runs)
    if notes:
        lines.append("")
        lines += [f"- {_md(note)}" for note in notes]
    return lines


def _md_fields(runs: Sequence[StoredRun]) -> list[str]:
    lines = ["", "## Fields", "", _FIELDS_NOTE]
    for run in runs:
        lines += ["", f"### {_md(run.label)}", ""]
        lines.append("| " + " | ".join(_FIELD_COLUMNS) + " |")
        lines.append("|---|" + "---:|" * (len(_FIELD_COLUMNS) - 1))
        lines.extend(
            "| " + " | ".join(_md(cell) for cell in row) + " |" for row in _field_rows(run)
        )
    return lines


def _md_records(runs: Sequence[StoredRun]) -> list[str]:
    lines = ["", "## Records", ""]
    lines.append("| record | " + " | ".join(_md(run.label) for run in runs) + " |")
    lines.append("|---|" + "---:|" * len(runs))
    for ident, per_run in _records_by_id(runs):
        cells = []
        for record in per_run:
            if record is None:
                cells.append("–")
            elif not record.get("ok"):
                cells.append("failed")
            else:
                cells.append(_format(record.get("overall"), "score"))
        lines.append(f"| `{_md(ident)}` | " + " | ".join(cells) + " |")
    return lines


def _records_by_id(runs: Sequence[StoredRun]) -> list[tuple[str, list[dict[str, Any] | None]]]:
    order: list[str] = []
    tables = []
    for run in runs:
        table = {str(record["id"]): record for record in run.scores.get("records", [])}
        tables.append(table)
        order.extend(ident for ident in table if ident not in order)
    return [(ident, [table.get(ident) for table in tables]) for ident in order]


# -- HTML ------------------------------------------------------------------------------
# report/report.html.j2 lays the page out; what each part shows is made here.

_PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")
_BAR_HEIGHT, _BAR_GAP, _CHART_LEFT, _BAR_WIDTH = 18, 6, 130, 180


def html_report(
    runs: Sequence[StoredRun],
    comparisons: Sequence[Comparison] = (),
    *,
    verdict: Verdict | None = None,
    title: str = "Evaluation report",
) -> str:
    from ..output.templating import environment  # jinja2 loads with a report, not with eval

    return (
        environment()
        .get_template("report/report.html.j2")
        .render(
            title=title,
            verdict=_html_verdict(verdict),
            comparisons=[_html_comparison(comparison, runs) for comparison in comparisons],
            runs=[_html_run(position, run) for position, run in enumerate(runs)],
            metrics=[_html_metric(metric, runs) for metric in METRICS],
            price_notes=_price_notes(runs),
            fields_note=_FIELDS_NOTE,
            field_columns=_FIELD_COLUMNS,
            fields=[(run.label, _field_rows(run)) for run in runs],
            records=[_html_record(ident, per_run, runs) for ident, per_run in _records_by_id(runs)],
        )
    )


def _html_verdict(verdict: Verdict | None) -> dict[str, Any] | None:
    if verdict is None:
        return None
    css = "" if not verdict.gated else "better" if verdict.passed else "worse"
    return {"css": css, "headline": verdict.headline, "failures": verdict.failures}


def _html_comparison(comparison: Comparison, runs: Sequence[StoredRun]) -> dict[str, Any]:
    rows = [
        {
            "verdict": row.verdict,
            "label": _comparison_label(row.metric, runs),
            "a": _format(row.a, row.metric.unit),
            "b": _format(row.b, row.metric.unit),
            "difference": _signed(row.difference.estimate, row.metric.unit),
            "interval": _interval(row.difference.to_dict(), row.metric.unit),
            "flag": _flag(row),
        }
        for row in comparison.rows
    ]
    changes = [
        (heading, [(_field_title(name), items) for name, items in by_field.items()])
        for heading, by_field in (("better", comparison.better), ("worse", comparison.worse))
        if by_field
    ]
    return {
        "a": comparison.a,
        "b": comparison.b,
        "records": comparison.records,
        "resamples": comparison.resamples,
        "seed": comparison.seed,
        "rows": rows,
        "changes": changes,
    }


def _html_run(position: int, run: StoredRun) -> dict[str, Any]:
    config = run.config
    prompt = config.get("prompt") or {}
    versions = config.get("versions") or {}
    return {
        "colour": _PALETTE[position % len(_PALETTE)],
        "label": run.label,
        "run_id": run.run_id,
        "reused": run.reused,
        "backend": config.get("backend"),
        "model": config.get("model") or "–",
        "prompt": prompt.get("version", "–"),
        "prompt_hash": prompt.get("hash", ""),
        "versions": f"package {versions.get('package')}, schema {versions.get('schema')}, "
        f"scorer {versions.get('scorer')}",
        "gold": (config.get("gold") or {}).get("hash", ""),
        "records": _n_records(run),
    }


def _html_metric(metric: Metric, runs: Sequence[StoredRun]) -> dict[str, Any]:
    return {
        "label": _metric_label(metric),
        "description": metric.description,
        "cells": [_cell(run, metric, run.metrics.get(metric.name) or {}) for run in runs],
        "chart": _chart(metric, runs),
    }


def _chart(metric: Metric, runs: Sequence[StoredRun]) -> dict[str, Any]:
    """One bar a run, its length the estimate on the metric's scale (0 to 1 for scores and
    rates, else up to the largest value or interval), with the interval as a whisker."""
    entries = [run.metrics.get(metric.name) or {} for run in runs]
    values = [entry.get("estimate") for entry in entries]
    highs = [entry.get("high") for entry in entries]
    bounded = metric.unit in ("score", "rate")
    scale_max = (
        1.0 if bounded else max([v for v in [*values, *highs] if v is not None] or [1.0]) or 1.0
    )

    def x(value: float) -> float:
        return max(0.0, min(1.0, value / scale_max)) * _BAR_WIDTH

    bars = []
    for position, (run, entry) in enumerate(zip(runs, entries, strict=True)):
        y = _BAR_GAP + position * (_BAR_HEIGHT + _BAR_GAP)
        estimate, low, high = entry.get("estimate"), entry.get("low"), entry.get("high")
        whisker = None
        if low is not None and high is not None:
            x1, x2 = _CHART_LEFT + x(low), _CHART_LEFT + x(high)
            top, bottom = y + 4, y + _BAR_HEIGHT - 4
            whisker = (
                f"M{x1:.1f} {y + _BAR_HEIGHT / 2}H{x2:.1f}M{x1:.1f} {top}V{bottom}"
                f"M{x2:.1f} {top}V{bottom}"
            )
        bars.append(
            {
                "y": y,
                "text_y": y + _BAR_HEIGHT - 5,
                "colour": _PALETTE[position % len(_PALETTE)],
                "label": run.label if len(run.label) <= 20 else run.label[:19] + "…",
                "length": None if estimate is None else f"{x(estimate):.1f}",
                "title": f"{run.label}: {_format(estimate, metric.unit)} "
                f"{_interval(entry, metric.unit)}",
                "whisker": whisker,
                "value": _format(estimate, metric.unit),
            }
        )
    return {
        "name": metric.name,
        "width": _CHART_LEFT + _BAR_WIDTH + 80,
        "height": len(runs) * (_BAR_HEIGHT + _BAR_GAP) + _BAR_GAP,
        "left": _CHART_LEFT,
        "bar_width": _BAR_WIDTH,
        "bar_height": _BAR_HEIGHT,
        "bars": bars,
    }


def _score_colour(score: float | None) -> str:
    if score is None:
        return "#ffffff"
    # red (0) → yellow (0.5) → green (1), light tints
    if score < 0.5:
        return f"hsl({int(score * 2 * 50)}, 85%, 90%)"
    return f"hsl({50 + int((score - 0.5) * 2 * 70)}, 60%, 88%)"


def _html_record(
    ident: str, per_run: list[dict[str, Any] | None], runs: Sequence[StoredRun]
) -> dict[str, Any]:
    """One gold record: each run's overall score (or failure), its errors, and per field
    the expected value and each run's output, coloured by its score."""
    overall = " · ".join(
        f"{run.label} "
        + ("failed" if record is not None and not record.get("ok") else _overall(record))
        for run, record in zip(runs, per_run, strict=True)
    )
    names = [
        name for name in FIELDS if any(rec and name in (rec.get("fields") or {}) for rec in per_run)
    ]
    fields = []
    for name in names:
        scored = [(rec or {}).get("fields", {}).get(name) for rec in per_run]
        expected = next((field.get("expected", "") for field in scored if field is not None), "")
        cells = [
            None
            if field is None
            else {
                "colour": _score_colour(field.get("score")),
                "reason": field.get("reason", ""),
                "score": _format(field.get("score"), "score"),
                "got": field.get("got", ""),
            }
            for field in scored
        ]
        fields.append({"title": _field_title(name), "expected": expected, "cells": cells})
    return {
        "id": ident,
        "overall": overall,
        "errors": [record.get("error") for record in per_run if record and record.get("error")],
        "fields": fields,
    }


def _overall(record: dict[str, Any] | None) -> str:
    return _format(record.get("overall") if record else None, "score")


def write_report(
    path: Path,
    runs: Sequence[StoredRun],
    comparisons: Sequence[Comparison] = (),
    *,
    verdict: Verdict | None = None,
) -> None:
    """Write a report; the format follows the suffix (.html, .md, .json)."""
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        text = html_report(runs, comparisons, verdict=verdict)
    elif suffix in (".md", ".markdown"):
        text = markdown_report(runs, comparisons, verdict=verdict)
    elif suffix == ".json":
        report = json_report(runs, comparisons, verdict=verdict)
        text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    else:
        raise ConfigError(
            f"unknown report format {path.suffix!r}: use one of {', '.join(REPORT_SUFFIXES)}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda out: print(text, end="", file=out))
    except OSError as error:
        raise ConfigError(f"cannot write report {path}: {error}") from error
