"""Reports of runs and comparisons: terminal (rich), Markdown, JSON and self-contained HTML.

Every report reads top down as a reviewer asks: the verdict of the gates (when any were
asked for), then each comparison, then the metrics side by side, then per field and per
record. Fields carry their clinical label next to their path ("Patient age
(patient.age)"). A cost whose price has no source is marked as an estimate, and each
report says where each run's price came from.

The HTML report has no external assets: styles inline, charts as inline SVG (one small
bar chart per metric, the runs side by side, each bar with its 95 % interval), and every
piece of text from runs, gold or models escaped.
"""

from __future__ import annotations

import html
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
    if verdict is not None:
        headline, *failures = _verdict_lines(verdict)
        lines += ["## Verdict", "", f"**{_md(headline)}**", ""]
        lines += [f"- {_md(failure)}" for failure in failures]
        if failures:
            lines.append("")
    for comparison in comparisons:
        lines += [
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
        lines.append("")
    lines += ["## Runs", ""]
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
    lines += ["", "## Metrics (mean, 95% bootstrap interval; ↓ lower is better)", ""]
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
    lines += ["", "## Fields", "", _FIELDS_NOTE]
    for run in runs:
        lines += ["", f"### {_md(run.label)}", ""]
        lines.append("| " + " | ".join(_FIELD_COLUMNS) + " |")
        lines.append("|---|" + "---:|" * (len(_FIELD_COLUMNS) - 1))
        lines.extend(
            "| " + " | ".join(_md(cell) for cell in row) + " |" for row in _field_rows(run)
        )
    lines += ["", "## Records", ""]
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
    return "\n".join(lines) + "\n"


def _records_by_id(runs: Sequence[StoredRun]) -> list[tuple[str, list[dict[str, Any] | None]]]:
    order: list[str] = []
    tables = []
    for run in runs:
        table = {str(record["id"]): record for record in run.scores.get("records", [])}
        tables.append(table)
        order.extend(ident for ident in table if ident not in order)
    return [(ident, [table.get(ident) for table in tables]) for ident in order]


# -- HTML ------------------------------------------------------------------------------

_PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")
_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2328;max-width:1400px}
h1,h2,h3{line-height:1.2}table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;vertical-align:top}th{background:#f6f8fa;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.better{background:#dafbe1}.worse{background:#ffebe9}.dim{color:#656d76;font-size:12px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:1rem}
.fields{display:flex;flex-wrap:wrap;gap:1.5rem}
.chart{border:1px solid #d0d7de;border-radius:6px;padding:.5rem}.chart h3{margin:.2rem 0;font-size:14px}
.legend span{display:inline-block;margin-right:1rem}.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.3em}
details{margin:.3rem 0}summary{cursor:pointer}td.cell{max-width:420px}code{font-size:12px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _score_colour(score: float | None) -> str:
    if score is None:
        return "#ffffff"
    # red (0) → yellow (0.5) → green (1), light tints
    if score < 0.5:
        return f"hsl({int(score * 2 * 50)}, 85%, 90%)"
    return f"hsl({50 + int((score - 0.5) * 2 * 70)}, 60%, 88%)"


def _chart(metric: Metric, runs: Sequence[StoredRun]) -> str:
    entries = [run.metrics.get(metric.name) or {} for run in runs]
    values = [entry.get("estimate") for entry in entries]
    highs = [entry.get("high") for entry in entries]
    bounded = metric.unit in ("score", "rate")
    scale_max = (
        1.0 if bounded else max([v for v in [*values, *highs] if v is not None] or [1.0]) or 1.0
    )
    bar_height, gap, left, width = 18, 6, 130, 180
    height = len(runs) * (bar_height + gap) + gap
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 80}" height="{height}" '
        f'role="img" aria-label="{_e(metric.name)}">'
    ]
    for position, (run, entry) in enumerate(zip(runs, entries, strict=True)):
        y = gap + position * (bar_height + gap)
        colour = _PALETTE[position % len(_PALETTE)]
        label = run.label if len(run.label) <= 20 else run.label[:19] + "…"
        parts.append(
            f'<text x="{left - 6}" y="{y + bar_height - 5}" font-size="11" text-anchor="end">{_e(label)}</text>'
        )
        parts.append(
            f'<rect x="{left}" y="{y}" width="{width}" height="{bar_height}" fill="#f6f8fa" stroke="#d0d7de"/>'
        )
        estimate = entry.get("estimate")
        if estimate is None:
            parts.append(f'<text x="{left + 4}" y="{y + bar_height - 5}" font-size="11">n/a</text>')
            continue
        length = max(0.0, min(1.0, estimate / scale_max)) * width
        parts.append(
            f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar_height}" fill="{colour}" opacity="0.85">'
            f"<title>{_e(run.label)}: {_e(_format(estimate, metric.unit))} {_e(_interval(entry, metric.unit))}</title></rect>"
        )
        low, high = entry.get("low"), entry.get("high")
        if low is not None and high is not None:
            x1 = left + max(0.0, min(1.0, low / scale_max)) * width
            x2 = left + max(0.0, min(1.0, high / scale_max)) * width
            middle = y + bar_height / 2
            parts.append(
                f'<path d="M{x1:.1f} {middle}H{x2:.1f}M{x1:.1f} {y + 4}V{y + bar_height - 4}'
                f'M{x2:.1f} {y + 4}V{y + bar_height - 4}" stroke="#1f2328" stroke-width="1.5" fill="none"/>'
            )
        parts.append(
            f'<text x="{left + width + 6}" y="{y + bar_height - 5}" font-size="11">'
            f"{_e(_format(estimate, metric.unit))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _html_verdict(verdict: Verdict | None) -> list[str]:
    if verdict is None:
        return []
    css = "" if not verdict.gated else "better" if verdict.passed else "worse"
    out = [f"<h2>Verdict</h2><p class='{css}'><b>{_e(verdict.headline)}</b></p>"]
    if verdict.failures:
        out.append("<ul>" + "".join(f"<li>{_e(f)}</li>" for f in verdict.failures) + "</ul>")
    return out


def _html_comparison(comparison: Comparison, runs: Sequence[StoredRun]) -> list[str]:
    out = [
        f"<h2>{_e(comparison.b)} vs {_e(comparison.a)}</h2><p class=dim>Paired bootstrap over "
        f"{comparison.records} records, {comparison.resamples} resamples, seed {comparison.seed}; "
        "highlighted rows are significant (the interval excludes 0).</p>",
        "<table><tr><th>metric</th><th>A</th><th>B</th><th>B − A</th><th>95% CI</th><th></th></tr>",
    ]
    for row in comparison.rows:
        unit = row.metric.unit
        out.append(
            f"<tr class='{_e(row.verdict)}'><th>{_e(_comparison_label(row.metric, runs))}</th>"
            f"<td class=num>{_e(_format(row.a, unit))}</td><td class=num>{_e(_format(row.b, unit))}</td>"
            f"<td class=num>{_e(_signed(row.difference.estimate, unit))}</td>"
            f"<td class=num>{_e(_interval(row.difference.to_dict(), unit))}</td><td>{_e(_flag(row))}</td></tr>"
        )
    out.append("</table>")
    for heading, changes in (("better", comparison.better), ("worse", comparison.worse)):
        if not changes:
            continue
        out.append(
            f"<h3>Records that got {heading}</h3><table><tr><th>field</th><th>records</th></tr>"
        )
        for name, items in changes.items():
            listed = ", ".join(
                f"<span title='{_e(c.reason_a)} → {_e(c.reason_b)}'>{_e(c.id)} {c.a:.2f}→{c.b:.2f}</span>"
                for c in items
            )
            out.append(
                f"<tr class={heading}><th>{_e(_field_title(name))}</th><td>{listed}</td></tr>"
            )
        out.append("</table>")
    return out


def html_report(
    runs: Sequence[StoredRun],
    comparisons: Sequence[Comparison] = (),
    *,
    verdict: Verdict | None = None,
    title: str = "Evaluation report",
) -> str:
    out: list[str] = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        '<meta name="generator" content="case-summarizer">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        *_html_verdict(verdict),
    ]
    for comparison in comparisons:
        out.extend(_html_comparison(comparison, runs))
    out.append(
        "<h2>Runs</h2><table><tr><th>label</th><th>run</th><th>backend</th><th>model</th><th>prompt</th>"
        "<th>versions</th><th>gold</th><th>records</th></tr>"
    )
    for position, run in enumerate(runs):
        config = run.config
        prompt = config.get("prompt") or {}
        versions = config.get("versions") or {}
        gold = config.get("gold") or {}
        swatch = (
            f'<span class="swatch" style="background:{_PALETTE[position % len(_PALETTE)]}"></span>'
        )
        reused = " <span class=dim>(reused)</span>" if run.reused else ""
        out.append(
            f"<tr><td>{swatch}{_e(run.label)}</td><td><code>{_e(run.run_id)}</code>{reused}</td>"
            f"<td>{_e(config.get('backend'))}</td><td>{_e(config.get('model') or '–')}</td>"
            f"<td>{_e(prompt.get('version', '–'))} <span class=dim>{_e(prompt.get('hash', ''))}</span></td>"
            f"<td class=dim>package {_e(versions.get('package'))}, schema {_e(versions.get('schema'))}, "
            f"scorer {_e(versions.get('scorer'))}</td>"
            f"<td class=dim>{_e(gold.get('hash', ''))}</td><td class=num>{_n_records(run)}</td></tr>"
        )
    out.append("</table>")

    out.append(
        "<h2>Metrics</h2><p class=dim>Mean with 95% bootstrap interval over records; ↓ lower is better.</p>"
    )
    out.append(
        "<table><tr><th>metric</th>"
        + "".join(f"<th>{_e(run.label)}</th>" for run in runs)
        + "</tr>"
    )
    for metric in METRICS:
        out.append(f"<tr><th title='{_e(metric.description)}'>{_e(_metric_label(metric))}</th>")
        for run in runs:
            value, interval = _cell(run, metric, run.metrics.get(metric.name) or {})
            out.append(f"<td class=num>{_e(value)} <span class=dim>{_e(interval)}</span></td>")
        out.append("</tr>")
    out.append("</table>")
    notes = _price_notes(runs)
    if notes:
        out.append("<ul class=dim>" + "".join(f"<li>{_e(note)}</li>" for note in notes) + "</ul>")

    out.append("<h2>Charts</h2><div class=charts>")
    for metric in METRICS:
        out.append(
            f"<div class=chart><h3>{_e(_metric_label(metric))}</h3>"
            f"<div class=dim>{_e(metric.description)}</div>{_chart(metric, runs)}</div>"
        )
    out.append("</div>")

    out.append(f"<h2>Fields</h2><p class=dim>{_e(_FIELDS_NOTE)}</p><div class=fields>")
    for run in runs:
        out.append(f"<div><h3>{_e(run.label)}</h3><table><tr>")
        out.append("".join(f"<th>{_e(column)}</th>" for column in _FIELD_COLUMNS) + "</tr>")
        for field_row in _field_rows(run):
            cells = "".join(f"<td class=num>{_e(cell)}</td>" for cell in field_row[1:])
            out.append(f"<tr><th>{_e(field_row[0])}</th>{cells}</tr>")
        out.append("</table></div>")
    out.append("</div>")
    out.append(
        "<h2>Records</h2><p class=dim>Expected (gold) and each run's output per field; hover a cell for its reason.</p>"
    )
    for ident, per_run in _records_by_id(runs):
        overall = " · ".join(
            f"{_e(run.label)} {'failed' if rec is not None and not rec.get('ok') else _e(_format(rec.get('overall') if rec else None, 'score'))}"
            for run, rec in zip(runs, per_run, strict=True)
        )
        out.append(f"<details><summary><code>{_e(ident)}</code> — {overall}</summary>")
        errors = [rec.get("error") for rec in per_run if rec and rec.get("error")]
        for message in errors:
            out.append(f"<p class=worse>{_e(message)}</p>")
        out.append(
            "<table><tr><th>field</th><th>expected</th>"
            + "".join(f"<th>{_e(run.label)}</th>" for run in runs)
            + "</tr>"
        )
        names = [
            name
            for name in FIELDS
            if any(rec and name in (rec.get("fields") or {}) for rec in per_run)
        ]
        for name in names:
            expected = next(
                (
                    rec["fields"][name].get("expected", "")
                    for rec in per_run
                    if rec and name in rec.get("fields", {})
                ),
                "",
            )
            out.append(f"<tr><th>{_e(_field_title(name))}</th><td class=cell>{_e(expected)}</td>")
            for rec in per_run:
                field = (rec or {}).get("fields", {}).get(name)
                if field is None:
                    out.append("<td></td>")
                    continue
                score = field.get("score")
                out.append(
                    f"<td class=cell style='background:{_score_colour(score)}' title='{_e(field.get('reason', ''))}'>"
                    f"<b>{_e(_format(score, 'score'))}</b> {_e(field.get('got', ''))}</td>"
                )
            out.append("</tr>")
        out.append("</table></details>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


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
