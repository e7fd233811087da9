"""A run's cost budget (``--max-cost``, ``RunOptions.max_cost``).

Each record asks the budget before its first request (``admit``). It is admitted while
what the run has spent, plus what the records in flight are expected to cost, plus this
one, stays within the limit; a record's expected cost is the mean of the records finished
so far, and until the first has finished only one is in flight, so the limit is kept from
the first record on. Once a record is refused no other starts: those in flight finish, the
refused ones are not written (a rerun does them), and the run ends ``stopped_by_budget``.

Cost is priced from the tokens each answer's usage reports (a cache hit costs nothing), at
the model's online price (the prompt tokens the server answered from its cache at its
cached rate); a backend that runs locally never bills and is never stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .document import Abstract, Document
from .errors import ConfigError, SummarizerError
from .results import Result
from .runner import Item, Process
from .usage import Usage

if TYPE_CHECKING:
    from .evaluation.prices import Price, PriceTable
    from .pipeline import Summarizer

__all__ = ["Budget", "BudgetExhausted"]


class BudgetExhausted(SummarizerError):
    """A record not started: the run's cost would pass its budget. Never written."""


@dataclass(slots=True)
class Budget:
    limit: float
    """US dollars."""
    price: Price | None
    """None: the backend does not bill (local, rules)."""
    spent: float = 0.0
    started: int = 0
    finished: int = 0
    stopped: bool = False
    _changed: asyncio.Condition | None = field(default=None, repr=False)

    @classmethod
    def of(
        cls, max_cost: float | None, summarizer: Summarizer, prices: PriceTable | None = None
    ) -> Budget | None:
        """The budget of a run with ``summarizer``, or None without ``max_cost``. A billed
        backend whose model has no known price is a ConfigError: the limit could not be
        kept."""
        if max_cost is None:
            return None
        from .evaluation.prices import PriceTable

        backend = summarizer.backend
        capabilities = backend.capabilities
        if not capabilities.takes_prompt or capabilities.local:
            return cls(limit=max_cost, price=None)
        price = (prices or PriceTable.load()).price(backend.name, backend.model)
        if price is None:
            raise ConfigError(
                f"--max-cost needs the price of {backend.name} model {backend.model!r}, and "
                "none is known: give one with --prices FILE (see summarizer/evaluation/prices.toml)"
            )
        return cls(limit=max_cost, price=price)

    def expected(self) -> float:
        """What the next record is expected to cost: the mean so far."""
        return self.spent / self.finished if self.finished else 0.0

    async def admit(self) -> bool:
        """Whether one more record may start (False from the first refusal on)."""
        if self.price is None:
            return True
        if self._changed is None:
            self._changed = asyncio.Condition()
        async with self._changed:
            # until a record's cost is known, one at a time
            await self._changed.wait_for(
                lambda: self.stopped or self.finished > 0 or self.started == 0
            )
            in_flight = self.started - self.finished
            if (
                self.stopped
                or self.limit <= 0
                or (self.spent + self.expected() * (in_flight + 1) > self.limit)
            ):
                self.stopped = True
                self._changed.notify_all()
                return False
            self.started += 1
            return True

    async def finish(self, usage: Usage) -> None:
        """A record admitted has finished, having cost ``usage`` to this run."""
        if self.price is None:
            return
        # as billed: the prompt tokens the server answered from its cache at the cached rate
        self.spent += self.price.cost(
            usage.prompt_tokens, usage.completion_tokens, cached=usage.cached_tokens
        )
        self.finished += 1
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()

    def guard(self, process: Process) -> Process:
        """``process`` (one record), admitted by the budget and charged to it."""

        async def guarded(source: Document | Abstract) -> Result:
            if not await self.admit():
                raise BudgetExhausted("not started: the run's cost would pass --max-cost")
            try:
                result = await process(source)
            except SummarizerError as error:
                await self.finish(error.usage)
                raise
            except BaseException:
                await self.finish(Usage())
                raise
            provenance = result.provenance
            await self.finish(Usage() if provenance.cache_hit else provenance.tokens)
            return result

        return guarded

    def feed(self, items: Iterator[Item]) -> Iterator[Item]:
        """``items``, until a record has been refused."""
        for item in items:
            if self.stopped:
                return
            yield item
