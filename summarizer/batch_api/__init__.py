"""The provider batch path: many records through a batch engine instead of one request each.

For hosted models the OpenAI Batch API (Azure OpenAI uses the same files), for
self-hosted ones ``vllm run-batch`` (the same JSON Lines in and out):

- ``prepare_batch``: the request file(s), one line per request, each body exactly what
  the online path sends (the ``openai`` backend's ``build``), and the context file that
  ``collect`` grounds the answers with; prompt tokens and the cost at batch prices.
- ``submit_batch`` / ``batch_status`` / ``list_batches`` / ``wait_for_batch`` /
  ``cancel_batch``: the provider's files and batches endpoints, recorded in the run log
  (a file is never submitted twice).
- ``failed_ids``: the ids an earlier output failed (``prepare_batch(only=...)`` makes a
  new request file for them).
- ``collect_batch``: the answers (by batch id, or local result files) parsed, validated
  and grounded as the online path does it, into any output format, resumable.

Each has an async twin (``asubmit_batch``…) for code inside an event loop. Pass a
``RunLog`` (``summarizer.runlog.RunLog()``: the CLI's) to record the batches and check
for a double submission there too; without one only the server's list is checked.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings
from .context import context_path
from .prepare import (
    MAX_BYTES,
    MAX_REQUESTS,
    PrepareSummary,
    RequestFile,
    failed_ids,
    prepare_batch,
)
from .tokens import TokenCount

if TYPE_CHECKING:
    from ..runlog import RunLog
    from .answers import BatchAnswerError, MissingAnswerError
    from .collect import CollectSummary, acollect_batch, collect_batch
    from .remote import (
        TERMINAL,
        BatchInfo,
        BatchStateError,
        abatch_status,
        acancel_batch,
        alist_batches,
        asubmit_batch,
        await_batch,
    )

_LAZY = {
    **dict.fromkeys(("BatchAnswerError", "MissingAnswerError"), ".answers"),
    **dict.fromkeys(("CollectSummary", "acollect_batch", "collect_batch"), ".collect"),
    **dict.fromkeys(
        (
            "TERMINAL",
            "BatchInfo",
            "BatchStateError",
            "abatch_status",
            "acancel_batch",
            "alist_batches",
            "asubmit_batch",
            "await_batch",
        ),
        ".remote",
    ),
}
"""Names imported at first use: ``prepare`` needs none of collect's and the provider
API's modules (~2 MB of a process that also holds a tokenizer)."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "MAX_BYTES",
    "MAX_REQUESTS",
    "TERMINAL",
    "BatchAnswerError",
    "BatchInfo",
    "BatchStateError",
    "CollectSummary",
    "MissingAnswerError",
    "PrepareSummary",
    "RequestFile",
    "TokenCount",
    "abatch_status",
    "acancel_batch",
    "acollect_batch",
    "alist_batches",
    "asubmit_batch",
    "await_batch",
    "batch_status",
    "cancel_batch",
    "collect_batch",
    "context_path",
    "failed_ids",
    "list_batches",
    "prepare_batch",
    "submit_batch",
    "wait_for_batch",
]


def submit_batch(
    requests: str | Path,
    settings: Settings | None = None,
    *,
    run_log: RunLog | None = None,
    force: bool = False,
) -> BatchInfo:
    """Upload a request file and create its batch (24-hour window); recorded in the run
    log. ``BatchStateError`` when the file was already submitted (``force`` submits it
    again, and pays again)."""
    from .remote import asubmit_batch

    return asyncio.run(
        asubmit_batch(requests, settings or Settings.from_env(), run_log=run_log, force=force)
    )


def batch_status(
    batch_id: str, settings: Settings | None = None, *, run_log: RunLog | None = None
) -> BatchInfo:
    """One batch's state and request counts, from its server."""
    from .remote import abatch_status

    return asyncio.run(abatch_status(batch_id, settings or Settings.from_env(), run_log=run_log))


def list_batches(
    settings: Settings | None = None, *, run_log: RunLog | None = None
) -> list[BatchInfo]:
    """Every submitted batch in the run log (the unfinished ones refreshed)."""
    from .remote import alist_batches

    return asyncio.run(alist_batches(settings or Settings.from_env(), run_log=run_log))


def wait_for_batch(
    batch_id: str,
    settings: Settings | None = None,
    *,
    run_log: RunLog | None = None,
    poll_s: float = 5.0,
    max_poll_s: float = 300.0,
    timeout_s: float | None = None,
    on_poll: Callable[[BatchInfo], None] | None = None,
) -> BatchInfo:
    """Poll a batch, with backoff, until it ends (completed, failed, expired, cancelled)."""
    from .remote import await_batch

    return asyncio.run(
        await_batch(
            batch_id,
            settings or Settings.from_env(),
            run_log=run_log,
            poll_s=poll_s,
            max_poll_s=max_poll_s,
            timeout_s=timeout_s,
            on_poll=on_poll,
        )
    )


def cancel_batch(
    batch_id: str, settings: Settings | None = None, *, run_log: RunLog | None = None
) -> BatchInfo:
    """Cancel a batch (what it answered before stays collectable)."""
    from .remote import acancel_batch

    return asyncio.run(acancel_batch(batch_id, settings or Settings.from_env(), run_log=run_log))
