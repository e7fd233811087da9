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

Each is the sync twin of an async function (``asubmit_batch``…: one signature for both;
the sync one works inside a running event loop too). Pass a
``RunLog`` (``summarizer.runlog.RunLog()``: the CLI's) to record the batches and check
for a double submission there too; without one only the server's list is checked.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
        batch_status,
        cancel_batch,
        list_batches,
        submit_batch,
        wait_for_batch,
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
            "batch_status",
            "cancel_batch",
            "list_batches",
            "submit_batch",
            "wait_for_batch",
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
