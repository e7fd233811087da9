"""Shared benchmark helpers: a scripted server in its own process, synthetic inputs, tables.

Run from the repository root (``.venv/bin/python bench/local_batch.py``). The scripted server
(tests/openai_server.py) runs in a child process so that its work never competes with
the code being measured for the GIL; it answers every request with a valid, grounded
record for the synthetic case named in the prompt, after ``delay`` seconds.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.conftest import (  # noqa: E402
    BATCH_CASE_ID,
    batch_case_record,
    batch_case_text,
    write_batch_input,
)

__all__ = [
    "ROOT",
    "batch_case_text",
    "median",
    "print_table",
    "scripted_server",
    "timed",
    "write_batch_input",
    "write_results",
]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def timed(function: Callable[[], Any], *, repeat: int) -> list[float]:
    """Wall seconds of ``repeat`` runs of ``function``."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    cells = [[_format(row.get(column)) for column in columns] for row in rows]
    widths = [
        max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)
    ]
    print(f"\n{title}")
    print("  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True)))
    print("  ".join("-" * width for width in widths))
    for line in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = RESULTS / f"{name}-{stamp}.json"
    payload = {"benchmark": name, "time": stamp, "machine": machine(), **payload}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    (RESULTS / f"{name}-latest.json").write_text(json.dumps(payload, indent=2) + "\n")
    return path


# --- the scripted server in a child process ------------------------------------------------


def _serve(delay: float) -> None:
    from tests.openai_server import Reply, ScriptedServer, completion_body

    pattern = re.compile(BATCH_CASE_ID)

    def reply(request: dict[str, Any]) -> Reply:
        user = request["messages"][-1]["content"]
        found = pattern.search(user)
        number = int(found[1]) if found else 0
        content = json.dumps(batch_case_record(number))
        return Reply(body=lambda body: completion_body(body, content), delay=delay)

    with ScriptedServer() as server:
        server.fallback = reply
        print(server.url, flush=True)
        try:
            sys.stdin.read()  # until the parent closes our stdin
        finally:
            print(f"requests {len(server.requests)}", file=sys.stderr)


@contextmanager
def scripted_server(delay: float = 0.0) -> Iterator[str]:
    """The URL of a scripted server in a child process answering after ``delay`` seconds."""
    child = subprocess.Popen(
        [sys.executable, __file__, "serve", str(delay)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("the scripted server did not start")
        yield url
    finally:
        if child.stdin:
            child.stdin.close()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "serve":
    _serve(float(sys.argv[2]))
