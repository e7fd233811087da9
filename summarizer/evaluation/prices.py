"""Token prices: what a run cost, at online or Batch API rates, and where each price came from.

The built-in table is ``prices.toml`` (next to this module); ``--prices FILE`` adds or
overrides entries in the same format (TOML, or JSON with the same keys). An entry gives
dollars per 1M prompt (``input``) and completion (``output``) tokens, the rate of prompt
tokens answered from the provider's prompt cache (``cached_input``), optionally the Batch
API rates (``batch_input``, ``batch_cached_input``, ``batch_output``), and where the
price was read (``source``, a URL; ``cached_source`` and ``batch_cached_source`` when a
cached rate came from another page) and when (``read``, a date). A billed price without a source is an
*estimate*, and every report that shows its cost says so. ``billed = false`` marks a
backend that runs locally and never bills per token (its cost is 0, not an estimate).
Cached tokens without a cached rate are priced at the full input rate.

``[prompt_cache]`` says which repeated prefixes a provider caches (OpenAI: from 1,024
tokens, in steps of 128), for the expected cost of a run with caching.

    table = PriceTable.load()
    table.price("openai", "gpt-4o-mini").cost(1_000, 200)              # online
    table.price("openai", "gpt-4o-mini").cost(1_000, 200, cached=768)  # 768 from the cache
    table.price("openai", "gpt-4o-mini", batch=True).cost(1_000, 200)  # Batch API
"""

from __future__ import annotations

import fnmatch
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["Price", "PriceEntry", "PriceTable", "PromptCacheRule", "price_note"]

BUILT_IN = "built-in"


@dataclass(frozen=True, slots=True, kw_only=True)
class Price:
    """Dollars per 1M tokens, and where that figure came from."""

    input: float
    """Dollars per 1M prompt tokens."""
    output: float
    """Dollars per 1M completion tokens."""
    source: str | None = None
    """Where the price was read (a URL); None: nobody said, so it is an estimate."""
    read: str | None = None
    """The date the source was read (ISO 8601)."""
    billed: bool = True
    """False for a backend that runs locally: nothing is billed, the cost is 0."""
    batch: bool = False
    """Whether these are Batch API rates."""
    cached_input: float | None = None
    """Dollars per 1M prompt tokens answered from the provider's prompt cache (None: not
    known, so they are priced at ``input``)."""
    cached_source: str | None = None
    """Where the cached rate was read, when not ``source``."""
    cached_read: str | None = None

    @property
    def estimate(self) -> bool:
        """A billed price nobody sourced: reports mark its costs as estimates."""
        return self.billed and not self.source

    @property
    def cached_rate(self) -> float:
        """Dollars per 1M cached prompt tokens (the input rate when no cached rate is known)."""
        return self.input if self.cached_input is None else self.cached_input

    def cost(self, prompt_tokens: int, completion_tokens: int, *, cached: int = 0) -> float:
        """Dollars for these tokens; ``cached`` of the prompt tokens at the cached rate."""
        cached = max(0, min(cached, prompt_tokens))
        return (
            (prompt_tokens - cached) * self.input
            + cached * self.cached_rate
            + completion_tokens * self.output
        ) / 1_000_000

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_per_1m": self.input,
            "cached_input_per_1m": self.cached_input,
            "output_per_1m": self.output,
            "batch": self.batch,
            "billed": self.billed,
            "url": self.source,
            "read": self.read,
            "cached_url": self.cached_source,
            "cached_read": self.cached_read,
            "estimate": self.estimate,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Price | None:
        """The price a run stored in its config (None when it had none)."""
        if data.get("input_per_1m") is None or data.get("output_per_1m") is None:
            return None
        rates = float(data["input_per_1m"]), float(data["output_per_1m"])
        # runs stored before prices had sources: a zero price was a local backend
        billed = bool(data.get("billed", rates != (0.0, 0.0)))
        cached = data.get("cached_input_per_1m")
        return cls(
            input=rates[0],
            output=rates[1],
            source=data.get("url"),
            read=data.get("read"),
            billed=billed,
            batch=bool(data.get("batch", False)),
            cached_input=None if cached is None else float(cached),
            cached_source=data.get("cached_url"),
            cached_read=data.get("cached_read"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptCacheRule:
    """Which repeated prompt prefix a provider answers from its cache: none under
    ``minimum`` tokens, then the longest multiple of ``step`` above it (OpenAI's rule)."""

    minimum: int = 1024
    step: int = 128
    source: str | None = None
    read: str | None = None

    def cached(self, prefix_tokens: int) -> int:
        """Tokens of a ``prefix_tokens``-long prefix seen before that the cache answers."""
        if prefix_tokens < self.minimum:
            return 0
        return self.minimum + (prefix_tokens - self.minimum) // self.step * self.step


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceEntry:
    """One row of the table: the online price and, when known, the Batch API price."""

    online: Price
    batch: Price | None = None

    def pick(self, *, batch: bool) -> Price | None:
        if not batch:
            return self.online
        if not self.online.billed:
            return replace(self.online, batch=True)  # local: nothing to bill either way
        return self.batch


@dataclass(frozen=True, slots=True)
class PriceTable:
    """$/1M tokens per model (names or glob patterns) and per backend."""

    models: dict[str, PriceEntry]
    backends: dict[str, PriceEntry]
    source: str = BUILT_IN
    """Which tables were read: ``built-in``, or ``built-in + FILE``."""
    prompt_cache: PromptCacheRule = PromptCacheRule()

    @classmethod
    def load(cls, path: Path | None = None) -> PriceTable:
        """The built-in table, with ``path``'s entries (same TOML or JSON format) on top."""
        text = (resources.files("summarizer.evaluation") / "prices.toml").read_text(
            encoding="utf-8"
        )
        table = cls.parse(tomllib.loads(text), BUILT_IN)
        if path is None:
            return table
        try:
            raw = path.read_text(encoding="utf-8")
            data = json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(raw)
        except (OSError, ValueError) as error:
            raise ConfigError(f"cannot read price table {path}: {error}") from error
        extra = cls.parse(data, str(path))
        return PriceTable(
            models={**table.models, **extra.models},
            backends={**table.backends, **extra.backends},
            source=f"{BUILT_IN} + {path}",
            prompt_cache=extra.prompt_cache if "prompt_cache" in data else table.prompt_cache,
        )

    @classmethod
    def parse(cls, data: Mapping[str, Any], source: str) -> PriceTable:
        """A table from parsed TOML/JSON; ``source`` names it in errors."""

        def entries(section: str) -> dict[str, PriceEntry]:
            rows = data.get(section, {})
            if not isinstance(rows, Mapping):
                raise ConfigError(f"{source}: [{section}] must be a table")
            return {
                str(name): _entry(value, f"{source}: {section}.{name}")
                for name, value in rows.items()
            }

        return cls(
            models=entries("models"),
            backends=entries("backends"),
            source=source,
            prompt_cache=_cache_rule(data.get("prompt_cache", {}), f"{source}: [prompt_cache]"),
        )

    def price(self, backend: str, model: str | None, *, batch: bool = False) -> Price | None:
        """The price of a model (exact name, else the longest matching pattern), else the
        backend's; ``batch=True`` gives the Batch API rates (None when unknown)."""
        entry = self._entry(backend, model)
        return None if entry is None else entry.pick(batch=batch)

    def _entry(self, backend: str, model: str | None) -> PriceEntry | None:
        if model:
            if model in self.models:
                return self.models[model]
            matches = [pattern for pattern in self.models if fnmatch.fnmatchcase(model, pattern)]
            if matches:
                return self.models[max(matches, key=len)]
        return self.backends.get(backend)

    def to_dict(self, backend: str, model: str | None, *, batch: bool = False) -> dict[str, Any]:
        """What a run stores in its config: the table read and the price used."""
        price = self.price(backend, model, batch=batch)
        stored: dict[str, Any] = {"table": self.source, "model": model}
        if price is None:
            return {**stored, "input_per_1m": None, "output_per_1m": None, "batch": batch}
        return {**stored, **price.to_dict()}


def _cache_rule(value: Any, where: str) -> PromptCacheRule:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table")
    try:
        minimum = int(value.get("minimum", 1024))
        step = int(value.get("step", 128))
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: 'minimum' and 'step' are numbers of tokens") from None
    if minimum < 0 or step < 1:
        raise ConfigError(f"{where}: 'minimum' must be 0 or more and 'step' 1 or more")
    source, read = value.get("source"), value.get("read")
    return PromptCacheRule(
        minimum=minimum,
        step=step,
        source=None if source is None else str(source),
        read=None if read is None else str(read),
    )


def _optional(value: Any, key: str) -> float | None:
    return None if value.get(key) is None else float(value[key])


def _entry(value: Any, where: str) -> PriceEntry:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table with 'input' and 'output' ($ per 1M tokens)")
    try:
        source = value.get("source")
        read = value.get("read")
        cached_source, cached_read = value.get("cached_source"), value.get("cached_read")
        common: dict[str, Any] = {
            "source": None if source is None else str(source),
            "read": None if read is None else str(read),
            "billed": bool(value.get("billed", True)),
            "cached_source": None if cached_source is None else str(cached_source),
            "cached_read": None if cached_read is None else str(cached_read),
        }
        online = Price(
            input=float(value["input"]),
            output=float(value["output"]),
            cached_input=_optional(value, "cached_input"),
            **common,
        )
        batch = None
        if "batch_input" in value or "batch_output" in value:
            batch_source = value.get("batch_cached_source", common["cached_source"])
            batch = Price(
                input=float(value["batch_input"]),
                output=float(value["batch_output"]),
                cached_input=_optional(value, "batch_cached_input"),
                batch=True,
                **{**common, "cached_source": None if batch_source is None else str(batch_source)},
            )
    except (KeyError, TypeError, ValueError):
        raise ConfigError(
            f"{where} needs numeric 'input' and 'output' ($ per 1M tokens), and both "
            "'batch_input' and 'batch_output' when either is given (cached rates, when "
            "given, numeric too)"
        ) from None
    return PriceEntry(online=online, batch=batch)


def price_note(stored: Mapping[str, Any]) -> str | None:
    """One line on where a run's cost comes from (its config's ``price``), or None when
    there is nothing to say (a local backend: no bill)."""
    model = stored.get("model") or "this backend"
    price = Price.from_dict(stored)
    if price is None:
        return f"cost unknown: no price for {model} (add one with --prices FILE)"
    if not price.billed:
        return None
    rates = f"${price.input:g} / ${price.output:g} per 1M prompt / completion tokens"
    kind = "Batch API" if price.batch else "list"
    if price.estimate:
        return f"cost is an estimate: the {kind} price of {model} ({rates}) has no source"
    read = f", read {price.read}" if price.read else ""
    note = f"cost at the {kind} price of {model}: {rates} ({price.source}{read})"
    if price.cached_input is None:
        return f"{note}; no cached rate known: cached prompt tokens at the full rate"
    where = ""
    when = f", read {price.cached_read}" if price.cached_read else ""
    if price.cached_source and price.cached_source != price.source:
        where = f" ({price.cached_source}{when})"
    elif price.cached_read and price.cached_read != price.read:
        where = f" (same page{when})"
    return f"{note}; cached prompt tokens ${price.cached_input:g} per 1M{where}"
