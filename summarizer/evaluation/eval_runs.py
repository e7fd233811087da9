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

import functools
import hashlib
import json
import platform
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError

from ..backends import capabilities_of
from ..clean import clean
from ..config import BASELINE_BACKEND, Settings
from ..document import Document
from ..errors import ConfigError, InputError, SummarizerError
from ..options import RunOptions
from ..paths import eval_runs_dir
from ..pipeline import Cache, Summarizer, read_one
from ..progress import ProgressListener, RecordFinished
from ..render import load_prompt, render
from ..results import Failure, Result
from ..runner import run_records
from ..schema import SCHEMA_VERSION, CaseReport, json_schema_text
from ..sync import blocking
from .compare import run_intervals
from .gold import LoadedGold
from .metrics import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    RecordScore,
    field_summary,
    request_counts,
)
from .prices import Price, PriceTable
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


@functools.cache
def source_hash() -> str:
    """Hash of the package's code and data files: a change to any of them (a backend, a
    scorer, a template) is a different package, whatever its version number says."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".toml", ".j2", ".html", ".css"):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def schema_hash() -> str:
    return hashlib.sha256(json_schema_text().encode()).hexdigest()[:16]


def variant_label(settings: Settings) -> str:
    """A short name: ``rules``, or ``<prompt> · <model>``."""
    backend = settings.resolved_backend
    if not capabilities_of(settings).takes_prompt:
        return backend
    model = settings.model or (Path(settings.model_path).stem if settings.model_path else backend)
    return f"{settings.resolved_prompt} · {model}"


def plan_variants(base: Settings, prompts: Sequence[str], models: Sequence[str]) -> list[Settings]:
    """The rules baseline, then every prompt × model (when a model backend is configured)."""
    variants = [
        base.replace(
            backend=BASELINE_BACKEND, model=None, prompt=prompts[0] if prompts else base.prompt
        )
    ]
    if not capabilities_of(base).takes_prompt:
        return variants
    chosen: list[str | None] = [*models] or [base.model]
    versions: list[str | None] = [*prompts] or [base.prompt]  # None: the backend's default
    for model in chosen:
        for prompt in versions:
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


def _gold_documents(gold: Sequence[LoadedGold]) -> Iterator[Document | InputError]:
    """Each gold input as one record under the gold id (read as the runner reaches it)."""
    for item in gold:
        try:
            document = read_one(item.input_path)
        except InputError as error:
            yield InputError(str(error), record=item.id)
        else:
            yield replace(document, id=item.id)


def _line(outcome: Result | Failure) -> dict[str, Any]:
    if isinstance(outcome, Failure):
        error = outcome.error
        return {
            "id": outcome.id,
            "ok": False,
            "error": str(error),
            "error_type": outcome.error_type,
            "attempts": error.attempts,
            "tokens": error.usage.to_dict(),
        }
    data = outcome.to_dict()
    return {"id": outcome.id, "ok": True, "source_id": data.pop("id"), **data}


async def _summarize_all(
    summarizer: Summarizer,
    gold: Sequence[LoadedGold],
    concurrency: int,
    progress: Progress | None,
    on_progress: ProgressListener | None,
) -> list[dict[str, Any]]:
    lines: dict[str, dict[str, Any]] = {}
    outcomes = run_records(
        summarizer.asummarize, _gold_documents(gold), concurrency=max(1, concurrency)
    )
    started = time.perf_counter()
    async with aclosing(outcomes):
        async for outcome in outcomes:
            lines[outcome.id] = _line(outcome)
            if progress is not None:
                progress(outcome.id)
            if on_progress is not None:
                on_progress(
                    RecordFinished(
                        id=outcome.id,
                        ok=isinstance(outcome, Result),
                        done=len(lines),
                        total=len(gold),
                        elapsed_s=time.perf_counter() - started,
                    )
                )
    return [lines[item.id] for item in gold]


async def asummarize_gold(
    settings: Settings,
    gold: Sequence[LoadedGold],
    *,
    cache: Cache | None,
    concurrency: int = 4,
    progress: Progress | None = None,
    on_progress: ProgressListener | None = None,
) -> list[dict[str, Any]]:
    """One output line per gold record, in gold order (errors become lines too).

    ``progress`` is called with each finished id; ``on_progress`` gets the
    ``summarizer.progress`` events (a local model's steps, each record with an ETA)."""
    options = RunOptions(concurrency=concurrency)
    async with Summarizer(settings, options, cache=cache, on_progress=on_progress) as summarizer:
        return await _summarize_all(summarizer, gold, concurrency, progress, on_progress)


summarize_gold = blocking(asummarize_gold, name="summarize_gold")


# -- scoring ---------------------------------------------------------------------------


def _record_score(
    gold: LoadedGold, line: dict[str, Any] | None, price: Price | None, cacheable: int | None
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
        requests, reasks = request_counts(line)
        record = RecordScore(
            id=gold.id,
            ok=False,
            fields=score_record(expected, None, accept=gold.record.accept),
            error=f"{line.get('error_type', 'Error')}: {line.get('error', '')}",
            requests=requests,
            reasks=reasks,
            prompt_tokens=int(tokens.get("prompt", 0)),
            completion_tokens=int(tokens.get("completion", 0)),
            cached_tokens=int(tokens.get("cached") or 0),
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
        requests, reasks = request_counts(provenance)
        record = RecordScore(
            id=gold.id,
            ok=output is not None,
            fields=score_record(expected, output, accept=gold.record.accept),
            error=error,
            evidence_total=len(evidence),
            evidence_aligned=sum(1 for span in evidence if span.get("status") != "unaligned"),
            requests=requests,
            reasks=reasks,
            prompt_tokens=int(tokens.get("prompt", 0)),
            completion_tokens=int(tokens.get("completion", 0)),
            cached_tokens=int(tokens.get("cached") or 0),
            # a cache hit reports the call that produced the answer, not the cache read
            latency_s=provenance.get("original_latency_s") or provenance.get("latency_s"),
            cache_hit=bool(provenance.get("cache_hit", False)),
        )
    record.expected_cached_tokens = cacheable
    if price is not None:
        prompt, completion = record.prompt_tokens, record.completion_tokens
        record.cost_usd = price.cost(prompt, completion, cached=record.cached_tokens)
        record.cost_uncached_usd = price.cost(prompt, completion)
        best = max(record.cached_tokens, cacheable or 0)
        record.cost_cached_usd = price.cost(prompt, completion, cached=best)
    return record


def score_outputs(
    gold: Sequence[LoadedGold],
    outputs: Sequence[dict[str, Any]],
    *,
    price: Price | None,
    expected_cached: Mapping[str, int] | None = None,
) -> list[RecordScore]:
    """Score stored output lines against gold (a gold record without output scores 0).

    ``price`` turns tokens into dollars (None: cost unknown); ``expected_cached`` is each
    record's prompt tokens a prompt cache would answer (``expected_cache``), for the cost
    with caching.
    """
    by_id = {str(line.get("id")): line for line in outputs}
    expected = expected_cached or {}
    return [_record_score(item, by_id.get(item.id), price, expected.get(item.id)) for item in gold]


def expected_cache(
    settings: Settings, gold: Sequence[LoadedGold], prices: PriceTable
) -> dict[str, int] | None:
    """Each gold record's prompt tokens that a provider's prompt cache answers when every
    request finds its repeated prefix cached: the requests the ``openai`` backend builds
    for the record (none sent), counted in order with the model's tokenizer (characters
    / 4 for a model it does not know), under the table's ``prompt_cache`` rule. None for a
    backend that is not billed per token."""
    capabilities = capabilities_of(settings)
    if not capabilities.takes_prompt or capabilities.local:
        return None  # nothing is billed per token
    from ..backends.openai_compat import OpenAISteps
    from ..batch_api.tokens import TokenCounter

    steps = OpenAISteps(settings)
    counter = TokenCounter(steps.spec.model, cache_rule=prices.prompt_cache.cached)
    expected: dict[str, int] = {}
    before = 0
    for item, document in zip(gold, _gold_documents(gold), strict=True):
        if isinstance(document, InputError):
            continue
        try:
            prompt = render(clean(document), settings.resolved_prompt)
        except SummarizerError:
            continue
        for request in steps.build(prompt):
            counter.add(request.body)
        total = counter.total().cacheable_tokens
        expected[item.id] = total - before
        before = total
    return expected


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
    reused: bool = False
    """True when ``execute`` returned this stored run instead of running again."""

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
    capabilities = capabilities_of(settings)
    takes_prompt = capabilities.takes_prompt
    prompt: dict[str, Any] | None = None
    if takes_prompt:
        version = load_prompt(settings.resolved_prompt)
        prompt = {
            "version": version.version,
            "hash": version.hash,
            "description": version.description,
        }
    return {
        "run_id": run_id,
        "label": variant_label(settings),
        "created": datetime.now(UTC).isoformat(timespec="microseconds"),
        "versions": {
            "package": package_version(),
            "source": source_hash(),
            "schema": SCHEMA_VERSION,
            "schema_hash": schema_hash(),
            "scorer": SCORER_VERSION,
            "python": platform.python_version(),
        },
        "backend": backend,
        "model": settings.model if takes_prompt else None,
        "prompt": prompt,
        "settings": {
            "mode": settings.mode,
            "base_url": None if capabilities.local else _safe_url(settings.base_url),
            "model_path": Path(settings.model_path).name if settings.model_path else None,
            "temperature": settings.temperature,
            "max_tokens": settings.resolved_max_tokens,
            "grammar": dict(
                zip(("max_items", "max_string"), settings.resolved_grammar, strict=True)
            ),
            "seed": settings.seed,
            "validation_attempts": settings.resolved_validation_attempts,
            "transport_attempts": settings.transport_attempts,
            "strict_grounding": settings.strict_grounding,
            "keep_ungrounded": settings.keep_ungrounded,
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
    reuse: bool = False,
    on_progress: ProgressListener | None = None,
) -> StoredRun:
    """Run one variant over the gold set, score it, and store it under ``runs_dir``.

    ``reuse=True`` (for a deterministic baseline) returns a stored run of the same variant
    instead when nothing that determines it changed: package code and version, schema,
    gold set, settings, price and bootstrap (``reuse_key``); the result says ``reused``.
    """
    label = variant_label(settings)
    run_id = new_run_id(label)
    config = run_config(
        settings, gold, run_id=run_id, gold_dir=gold_dir, prices=prices, cached=cache is not None
    )
    config["reuse_key"] = reuse_key(config, resamples=resamples, seed=seed)
    if reuse:
        stored = find_reusable(runs_dir, config["reuse_key"], records=len(gold))
        if stored is not None:
            return stored
    outputs = summarize_gold(
        settings,
        gold,
        cache=cache,
        concurrency=concurrency,
        progress=progress,
        on_progress=on_progress,
    )
    expected = expected_cache(settings, gold, prices)
    if expected is not None:
        config["expected_cached_tokens"] = expected
    path = runs_dir / run_id
    try:
        path.mkdir(parents=True, exist_ok=False)
        with (path / OUTPUTS_FILE).open("w", encoding="utf-8") as handle:
            for line in outputs:
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        _write_json(path / CONFIG_FILE, config)
    except OSError as error:
        raise ConfigError(f"cannot store the run in {path}: {error}") from error
    records = score_outputs(
        gold,
        outputs,
        price=prices.price(config["backend"], config["model"]),
        expected_cached=config.get("expected_cached_tokens"),
    )
    scores = scores_document(run_id, records, resamples=resamples, seed=seed)
    _write_json(path / SCORES_FILE, scores)
    return StoredRun(path=path, config=config, scores=scores)


def reuse_key(config: dict[str, Any], *, resamples: int, seed: int) -> str:
    """Hash of everything in a run's config that determines its outputs and scores (not
    its id, time, folder names or whether the cache was on)."""
    kept = {
        key: value
        for key, value in config.items()
        if key not in ("run_id", "label", "created", "cache", "gold", "reuse_key")
    }
    versions = dict(kept.get("versions") or {})
    versions.pop("python", None)
    kept["versions"] = versions
    kept["gold"] = {key: (config.get("gold") or {}).get(key) for key in ("hash", "records")}
    kept["bootstrap"] = {"resamples": resamples, "seed": seed}
    canonical = json.dumps(kept, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def find_reusable(runs_dir: Path, key: str, *, records: int) -> StoredRun | None:
    """The newest complete stored run with this ``reuse_key`` (None when there is none)."""
    for path in reversed(_ordered(runs_dir)):
        try:
            config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if config.get("reuse_key") != key or not (path / SCORES_FILE).is_file():
            continue
        try:
            run = load_run(path, runs_dir)
            complete = len(run.outputs()) == records == len(run.scores.get("records", []))
        except (InputError, OSError, json.JSONDecodeError):
            continue
        if complete:
            return StoredRun(path=run.path, config=run.config, scores=run.scores, reused=True)
    return None


def _created(path: Path) -> tuple[datetime, str]:
    """When a run was stored (from its config), then its name: the order of ``latest~N``."""
    try:
        created = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8")).get("created")
        when = datetime.fromisoformat(str(created))
    except (OSError, ValueError, TypeError):
        when = datetime.min.replace(tzinfo=UTC)
    return (when if when.tzinfo else when.replace(tzinfo=UTC)), path.name


def _ordered(runs_dir: Path) -> list[Path]:
    """Stored runs, oldest first."""
    if not runs_dir.is_dir():
        return []
    return sorted(
        (path for path in runs_dir.iterdir() if (path / CONFIG_FILE).is_file()), key=_created
    )


_LATEST = re.compile(r"latest(?:~(\d+))?")


def resolve_run(reference: str, runs_dir: Path) -> Path:
    """A run folder from a path, a run id, a unique id prefix or suffix, ``latest``, or
    ``latest~N`` (the run stored N runs before the latest)."""
    candidate = Path(reference)
    if (candidate / CONFIG_FILE).is_file():
        return candidate
    if not runs_dir.is_dir():
        raise InputError("no stored runs", path=str(runs_dir))
    runs = _ordered(runs_dir)
    latest = _LATEST.fullmatch(reference)
    if latest and runs:
        back = int(latest.group(1) or 0)
        if back >= len(runs):
            raise InputError(
                f"no run {reference!r}: {runs_dir} holds {len(runs)} run(s), "
                f"so the oldest is latest~{len(runs) - 1}"
            )
        return runs[-1 - back]
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


def load_run(reference: str | Path, runs_dir: Path | None = None) -> StoredRun:
    """A stored run by path, id or ``latest~N``, in ``runs_dir`` (default: the project's
    ``evals/runs``, else the home's: ``paths.eval_runs_dir``)."""
    path = resolve_run(str(reference), runs_dir or eval_runs_dir())
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
    """Stored runs, oldest first."""
    return [load_run(path, runs_dir) for path in _ordered(runs_dir)]


def rescore_run(
    run: StoredRun,
    gold: Sequence[LoadedGold],
    *,
    prices: PriceTable | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> StoredRun:
    """Score stored outputs again (after a scorer or gold change) without calling a model.

    Only the gold records the run covered are scored. Costs use ``prices`` when given
    (the run's config then records that price), else the price stored with the run. A
    rescored run is no longer reused as a baseline (its scores no longer match what its
    ``reuse_key`` described).
    """
    outputs = run.outputs()
    covered = {str(line.get("id")) for line in outputs}
    gold = [item for item in gold if item.id in covered]
    if not gold:
        raise InputError("none of the run's records are in the gold set", path=str(run.path))
    config = {key: value for key, value in run.config.items() if key != "reuse_key"}
    if prices is not None:
        backend, model = str(run.config.get("backend")), run.config.get("model")
        config["price"] = prices.to_dict(backend, model)
    price = Price.from_dict(config.get("price") or {})
    records = score_outputs(
        gold, outputs, price=price, expected_cached=config.get("expected_cached_tokens")
    )
    scores = scores_document(run.run_id, records, resamples=resamples, seed=seed)
    if config != run.config:
        _write_json(run.path / CONFIG_FILE, config)
    _write_json(run.path / SCORES_FILE, scores)
    return StoredRun(path=run.path, config=config, scores=scores)
