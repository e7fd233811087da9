"""Prompt tokens llama.cpp evaluates per record when a batch has several records in flight.

A local model (SmolLM2-135M in process by default) reads prompt v2's five staged requests
per record; each stage after the first can reuse the system prompt and the abstract from
llama.cpp's KV cache, but only if no other record's request came in between. This runs
the same records through ``run_batch`` at ``-j 1`` and ``-j J``, with the backend's
record turns (a record's stages back to back: what the backend does) and without them
(the stages of different records interleaved: what it did before), and reports the
prompt tokens evaluated and reused per record, and the prefill seconds.

The backend's own defaults (grammar bounds, 1,280 tokens a request), one attempt per
request: a record whose stage fails stops there, so every stage must be able to finish.
Greedy with a fixed seed, so runs repeat.

    .venv/bin/python bench/local_prefill.py [--n 3] [--jobs 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import print_table, write_results  # noqa: E402
from bench.local import gold_inputs  # noqa: E402
from summarizer import RunOptions, Settings, run_batch  # noqa: E402
from summarizer.backends.llamacpp import LlamaCppBackend  # noqa: E402


def measure(settings: Settings, inputs: list[Path], jobs: int, *, turns: bool) -> dict[str, Any]:
    backend = LlamaCppBackend(settings)
    if not turns:  # the backend as it was: no record turn, requests interleave
        backend.record_turn = contextlib.nullcontext  # type: ignore[assignment, method-assign]
    backend.llama().reset()
    started = time.perf_counter()
    summary = run_batch(
        inputs, settings, RunOptions(output=io.StringIO(), concurrency=jobs), backend=backend
    )

    seconds = time.perf_counter() - started
    stats = backend.stats
    records = len(inputs)
    backend.close()
    return {
        "jobs": jobs,
        "record turns": "yes" if turns else "no",
        "requests": stats.calls,
        "prompt tokens/record": round(stats.prompt_tokens / records),
        "evaluated/record": round(stats.evaluated / records),
        "reused/record": round(stats.reused / records),
        "prefill s/record": round(stats.prefill_s / records, 2),
        "s/record": round(seconds / records, 1),
        "ok": summary.succeeded,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3, help="Gold inputs, the shortest first.")
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=None)
    parser.add_argument("--model-path", default=None)
    options = parser.parse_args()
    settings = Settings(
        backend="llamacpp",
        prompt="v2",
        model_path=options.model_path,
        max_tokens=options.max_tokens,
        validation_attempts=1,
        n_threads=options.threads,
    )
    inputs = gold_inputs(options.n)
    rows = [
        measure(settings, inputs, 1, turns=True),
        measure(settings, inputs, options.jobs, turns=False),
        measure(settings, inputs, options.jobs, turns=True),
    ]
    print(f"{len(inputs)} gold inputs, prompt v2, {options.threads} thread(s)")
    print_table("Prefill per record (llama.cpp in process)", rows)
    write_results("local_prefill", {"inputs": [p.name for p in inputs], "rows": rows})


if __name__ == "__main__":
    main()
