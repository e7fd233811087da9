"""Run prompt × model variants over a gold set, store each run, and (re)score it.

A run is one variant (backend, model, prompt version) over the gold records, stored in
``<runs>/<run-id>/``:

- ``config.json``: what produced it: package, schema and scorer versions, prompt version
  and hash, backend, model, mode, request settings, the gold set's hash, the price used
  (never an API key; a base URL only without credentials or query);
- ``outputs.jsonl``: one line per gold record, the pipeline's result or its error;
- ``scores.json``: per-record field scores, per-field summaries and every metric with
  its bootstrap interval. ``rescore`` rewrites it from ``outputs.jsonl`` alone.

Model calls go through the response cache, so re-running an unchanged variant costs
nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import platform
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError

from ..config import Settings
from ..errors import ConfigError, InputError, SummarizerError
from ..pipeline import Cache, Summarizer
from ..render import load_prompt
from ..schema import SCHEMA_VERSION, CaseReport
from .compare import run_intervals
from .gold import LoadedGold
from .metrics import DEFAULT_RESAMPLES, DEFAULT_SEED, Price, PriceTable, RecordScore, field_summary
from .scorers import FIELDS, SCORER_VERSION, score_record

__all__ = [
    "StoredRun",
    "execute",
    "load_run",
    "plan_variants",
    "rescore_run",
    "score_outputs",
    "variant_label",
]

CONFIG_FILE = "config.json"
OUTPUTS_FILE = "outputs.jsonl"
SCORES_FILE = "scores.json"

Progress = Callable[[str], None]


def package_version() -> str:
    try:
        return metadata.version("case-summarizer")
    except metadata.PackageNotFoundError:
        return "unknown"


def variant_label(settings: Settings) -> str:
    """A short name: ``rules``, or ``<prompt> · <model>``."""
    backend = settings.resolved_backend
    if backend == "rules":
        return "rules"
    model = settings.model or (Path(settings.model_path).stem if settings.model_path else backend)
    return f"{settings.prompt} · {model}"


def plan_variants(base: Settings, prompts: Sequence[str], models: Sequence[str]) -> list[Settings]:
    """The rules baseline, then every prompt × model (when a model backend is configured)."""
    variants = [
        base.replace(backend="rules", model=None, prompt=prompts[0] if prompts else base.prompt)
    ]
    if base.resolved_backend == "rules":
        return variants
    chosen: list[str | None] = [*models] or [base.model]
    for model in chosen:
        for prompt in prompts or [base.prompt]:
            variant = base.replace(prompt=prompt, model=model)
            if variant_label(variant) not in {variant_label(v) for v in variants}:
                variants.append(variant)
    return variants


def _safe_url(url: str | None) -> str | None:
    """A base URL without user info, query or fragment (where credentials may hide)."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def gold_hash(gold: Sequence[LoadedGold]) -> str:
    """Hash of the gold records and their inputs: runs on different gold sets differ here."""
    digest = hashlib.sha256()
    for item in sorted(gold, key=lambda entry: entry.id):
        digest.update(item.path.read_bytes())
        digest.update(item.input_path.read_bytes())
    return digest.hexdigest()[:16]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()[:48] or "run"


def new_run_id(label: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{_slug(label)}-{secrets.token_hex(2)}"


# -- running ---------------------------------------------------------------------------


async def _summarize_all(
    summarizer: Summarizer, gold: Sequence[LoadedGold], concurrency: int, progress: Progress | None
) -> list[dict[str, Any]]:
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(item: LoadedGold) -> dict[str, Any]:
        async with gate:
            try:
                result = await summarizer.asummarize(item.input_path)
            except SummarizerError as error:
                line: dict[str, Any] = {
                    "id": item.id,
                    "ok": False,
                    "error": str(error),
                    "error_type": type(error).__name__,
                    "attempts": getattr(error, "attempts", None)
                    or len(getattr(error, "failed_attempts", []) or []),
                }
                usage = getattr(error, "usage", None)
                if usage is not None:
                    line["tokens"] = usage.to_dict()
            else:
                data = result.to_dict()
                line = {"id": item.id, "ok": True, "source_id": data.pop("id"), **data}
            if progress is not None:
                progress(item.id)
            return line

    return list(await asyncio.gather(*(one(item) for item in gold)))


def summarize_gold(
    settings: Settings,
    gold: Sequence[LoadedGold],
    *,
    cache: Cache | None,
    concurrency: int = 4,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """One output line per gold record, in gold order (errors become lines too)."""
    summarizer = Summarizer(settings, cache=cache)
    try:
        return asyncio.run(_summarize_all(summarizer, gold, concurrency, progress))
    finally:
        summarizer.close()


# -- scoring ---------------------------------------------------------------------------


def _record_score(
    gold: LoadedGold, line: dict[str, Any] | None, price: Price | None
) -> RecordScore:
    expected = gold.record.expected
    if line is None:
        return RecordScore(
            id=gold.id,
            ok=False,
            fields=score_record(expected, None, accept=gold.record.accept),
            error="no output stored",
        )
    if not line.get("ok"):
        tokens = line.get("tokens") or {}
        record = RecordScore(
            id=gold.id,
            ok=False,
            fields=score_record(expected, None, accept=gold.record.accept),
            error=f"{line.get('error_type', 'Error')}: {line.get('error', '')}",
            attempts=line.get("attempts"),
            prompt_tokens=int(tokens.get("prompt", 0)),
            completion_tokens=int(tokens.get("completion", 0)),
        )
    else:
        provenance = line.get("provenance") or {}
        tokens = provenance.get("tokens") or {}
        try:
            output: CaseReport | None = CaseReport.model_validate(line["record"])
            error = None
        except (ValidationError, KeyError) as problem:
            output, error = (
                None,
                f"stored output no longer validates: {str(problem).splitlines()[0]}",
            )
        evidence = line.get("evidence") or []
        record = RecordScore(
            id=gold.id,
            ok=output is not None,
            fields=score_record(expected, output, accept=gold.record.accept),
            error=error,
            evidence_total=len(evidence),
            evidence_aligned=sum(1 for span in evidence if span.get("status") != "unaligned"),
            attempts=provenance.get("attempts"),
            prompt_tokens=int(tokens.get("prompt", 0)),
            completion_tokens=int(tokens.get("completion", 0)),
            latency_s=provenance.get("latency_s"),
            cache_hit=bool(provenance.get("cache_hit", False)),
        )
    if price is not None:
        record.cost_usd = price.cost(record.prompt_tokens, record.completion_tokens)
    return record


def score_outputs(
    gold: Sequence[LoadedGold],
    outputs: Sequence[dict[str, Any]],
    *,
    price: Price | None,
) -> list[RecordScore]:
    """Score stored output lines against gold (a gold record without output scores 0).

    ``price`` turns tokens into dollars (None: cost unknown).
    """
    by_id = {str(line.get("id")): line for line in outputs}
    return [_record_score(item, by_id.get(item.id), price) for item in gold]


def scores_document(
    run_id: str, records: list[RecordScore], *, resamples: int, seed: int
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "scorer_version": SCORER_VERSION,
        "scored_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "bootstrap": {"resamples": resamples, "seed": seed, "confidence": 0.95},
        "metrics": run_intervals(records, resamples=resamples, seed=seed),
        "fields": {name: field_summary(records, name) for name in FIELDS},
        "records": [record.to_dict() for record in records],
    }


# -- storing ---------------------------------------------------------------------------


@dataclass(slots=True)
class StoredRun:
    """A run on disk: its config, per-record scores and metric summary."""

    path: Path
    config: dict[str, Any]
    scores: dict[str, Any]

    @property
    def run_id(self) -> str:
        return str(self.config.get("run_id", self.path.name))

    @property
    def label(self) -> str:
        return str(self.config.get("label", self.run_id))

    @property
    def records(self) -> list[RecordScore]:
        return [RecordScore.from_dict(item) for item in self.scores.get("records", [])]

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        value: dict[str, dict[str, Any]] = self.scores.get("metrics", {})
        return value

    def outputs(self) -> list[dict[str, Any]]:
        lines = []
        with (self.path / OUTPUTS_FILE).open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    lines.append(json.loads(line))
        return lines


def _write_json(path: Path, value: Any) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    temporary.replace(path)


def run_config(
    settings: Settings,
    gold: Sequence[LoadedGold],
    *,
    run_id: str,
    gold_dir: Path,
    prices: PriceTable,
    cached: bool,
) -> dict[str, Any]:
    backend = settings.resolved_backend
    prompt: dict[str, Any] | None = None
    if backend != "rules":
        version = load_prompt(settings.prompt)
        prompt = {
            "version": version.version,
            "hash": version.hash,
            "description": version.description,
        }
    return {
        "run_id": run_id,
        "label": variant_label(settings),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": {
            "package": package_version(),
            "schema": SCHEMA_VERSION,
            "scorer": SCORER_VERSION,
            "python": platform.python_version(),
        },
        "backend": backend,
        "model": settings.model if backend != "rules" else None,
        "prompt": prompt,
        "settings": {
            "mode": settings.mode,
            "base_url": _safe_url(settings.base_url) if backend == "openai" else None,
            "model_path": Path(settings.model_path).name if settings.model_path else None,
            "temperature": settings.temperature,
            "max_tokens": settings.max_tokens,
            "seed": settings.seed,
            "validation_attempts": settings.validation_attempts,
            "transport_attempts": settings.transport_attempts,
            "strict_grounding": settings.strict_grounding,
        },
        "gold": {
            "dir": str(gold_dir),
            "hash": gold_hash(gold),
            "records": [item.id for item in gold],
        },
        "price": prices.to_dict(backend, settings.model),
        "cache": cached,
    }


def execute(
    settings: Settings,
    gold: Sequence[LoadedGold],
    *,
    gold_dir: Path,
    runs_dir: Path,
    prices: PriceTable,
    cache: Cache | None,
    concurrency: int = 4,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
) -> StoredRun:
    """Run one variant over the gold set, score it, and store it under ``runs_dir``."""
    label = variant_label(settings)
    run_id = new_run_id(label)
    config = run_config(
        settings, gold, run_id=run_id, gold_dir=gold_dir, prices=prices, cached=cache is not None
    )
    outputs = summarize_gold(
        settings, gold, cache=cache, concurrency=concurrency, progress=progress
    )
    path = runs_dir / run_id
    try:
        path.mkdir(parents=True, exist_ok=False)
        with (path / OUTPUTS_FILE).open("w", encoding="utf-8") as handle:
            for line in outputs:
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        _write_json(path / CONFIG_FILE, config)
    except OSError as error:
        raise ConfigError(f"cannot store the run in {path}: {error}") from error
    records = score_outputs(gold, outputs, price=prices.price(config["backend"], config["model"]))
    scores = scores_document(run_id, records, resamples=resamples, seed=seed)
    _write_json(path / SCORES_FILE, scores)
    return StoredRun(path=path, config=config, scores=scores)


def resolve_run(reference: str, runs_dir: Path) -> Path:
    """A run folder from a path, a run id, a unique id prefix or suffix, or ``latest``."""
    candidate = Path(reference)
    if (candidate / CONFIG_FILE).is_file():
        return candidate
    if not runs_dir.is_dir():
        raise InputError("no stored runs", path=str(runs_dir))
    runs = sorted(path for path in runs_dir.iterdir() if (path / CONFIG_FILE).is_file())
    if reference == "latest" and runs:
        return runs[-1]
    exact = [path for path in runs if path.name == reference]
    if exact:
        return exact[0]
    matches = [
        path for path in runs if path.name.startswith(reference) or path.name.endswith(reference)
    ]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(path.name for path in matches[:5])
        raise InputError(f"ambiguous run {reference!r}: {names}")
    raise InputError(f"no run {reference!r} in {runs_dir} (see `case-summarizer eval list`)")


def load_run(reference: str | Path, runs_dir: Path = Path("evals/runs")) -> StoredRun:
    path = resolve_run(str(reference), runs_dir)
    try:
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
        scores_file = path / SCORES_FILE
        scores = (
            json.loads(scores_file.read_text(encoding="utf-8")) if scores_file.is_file() else {}
        )
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(f"cannot read run: {error}", path=str(path)) from error
    return StoredRun(path=path, config=config, scores=scores)


def list_runs(runs_dir: Path) -> list[StoredRun]:
    if not runs_dir.is_dir():
        return []
    return [
        load_run(path, runs_dir)
        for path in sorted(runs_dir.iterdir())
        if (path / CONFIG_FILE).is_file()
    ]


def rescore_run(
    run: StoredRun,
    gold: Sequence[LoadedGold],
    *,
    prices: PriceTable | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> StoredRun:
    """Score stored outputs again (after a scorer or gold change) without calling a model.

    Only the gold records the run covered are scored. Costs use ``prices`` when given,
    else the price stored with the run.
    """
    outputs = run.outputs()
    covered = {str(line.get("id")) for line in outputs}
    gold = [item for item in gold if item.id in covered]
    if not gold:
        raise InputError("none of the run's records are in the gold set", path=str(run.path))
    if prices is not None:
        price = prices.price(str(run.config.get("backend")), run.config.get("model"))
    else:
        stored = run.config.get("price") or {}
        known = stored.get("input_per_1m") is not None and stored.get("output_per_1m") is not None
        price = (
            Price(float(stored["input_per_1m"]), float(stored["output_per_1m"])) if known else None
        )
    records = score_outputs(gold, outputs, price=price)
    scores = scores_document(run.run_id, records, resamples=resamples, seed=seed)
    _write_json(run.path / SCORES_FILE, scores)
    return StoredRun(path=run.path, config=run.config, scores=scores)
