"""The sync edge: run the async API from plain code, on one event loop kept open.

Everything that does I/O is async (``Summarizer.asummarize``, the runner, the backends'
``send``). The sync methods wrap it here, once, the way pydantic_evals'
``evaluate_sync`` wraps ``evaluate``: a ``Portal`` owns an event loop for the life of
its object (so an HTTP client and its connections are reused from call to call) and
runs each call on it to completion. Called where an event loop is already running in
the thread (a notebook), the call runs on the same kept loop in a helper thread.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")


class Portal:
    """Runs coroutines to completion from sync code, on one event loop per portal.

    Not for concurrent use from several threads: give each thread its own object.
    """

    def __init__(self) -> None:
        self._runner: asyncio.Runner | None = None

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._runner is None:
            self._runner = asyncio.Runner()
        runner = self._runner
        return _outside_a_running_loop(lambda: runner.run(coroutine))

    def iterate(self, items: AsyncGenerator[T, None]) -> Iterator[T]:
        """An async generator, stepped from sync code (closed if the caller stops early)."""

        async def step() -> tuple[T] | None:
            try:
                return (await anext(items),)
            except StopAsyncIteration:
                return None

        try:
            while (item := self.run(step())) is not None:
                yield item[0]
        finally:
            self.run(items.aclose())

    @property
    def started(self) -> bool:
        return self._runner is not None

    def close(self) -> None:
        if self._runner is not None:
            _outside_a_running_loop(self._runner.close)
            self._runner = None


def _outside_a_running_loop(function: Callable[[], T]) -> T:
    """``function()`` here, or in a helper thread when this thread runs an event loop
    (a loop cannot be driven from inside another one)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function()
    with ThreadPoolExecutor(1, thread_name_prefix="summarizer-sync") as helper:
        return helper.submit(function).result()


def blocking(function: Callable[P, Coroutine[Any, Any, T]], *, name: str) -> Callable[P, T]:
    """``name``, the sync twin of an async function: the same signature and docstring (one
    source for both), run on a portal of its own, so it works in plain code and inside a
    running event loop (a notebook) alike."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        portal = Portal()
        try:
            return portal.run(function(*args, **kwargs))
        finally:
            portal.close()

    run.__name__ = run.__qualname__ = name
    return run
