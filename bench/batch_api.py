"""The provider batch path on the 9,227 E3C case texts: prepare, then collect.

``prepare`` reads the texts, cleans and renders each, builds its request and writes the
request and context files, prompt tokens counted with the o200k_base tokenizer
(``prepare-estimate``: estimated, no tokenizer loaded).
``collect`` reads a results file in the OpenAI batch output format and parses, validates
and grounds every answer into a JSON Lines output. The results file is synthetic, made
once before timing: for each request, a valid tool-call answer holding the record the
rules backend fills from that abstract (so every evidence quote is in the abstract).

Each run is a fresh process (so peak RSS is that of one command, imports included);
records/s is records over the seconds inside ``prepare_batch`` / ``collect_batch``, in
wall time and in CPU time (the machine is shared). Median of ``--repeat`` runs (5: on two
shared cores one run in three is often slowed by a neighbour, and a median of 3 moves
with it). Targets: ≥ 2,000 records/s each, peak RSS ≤ 150 MB. Skipped when
../shared/corpus is absent.

    .venv/bin/python bench/batch_api.py [--repeat 5] [--limit N]
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import ROOT, median, print_table, write_results

from tests.conftest import write_rules_results

CORPUS = ROOT.parent / "shared" / "corpus" / "e3c-case-texts.jsonl"
TARGETS = {"records_per_s": 2000.0, "peak_rss_mb": 150.0}

_PHASE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from summarizer import Settings
phase, source, requests, target = sys.argv[1:5]
if phase.startswith("prepare"):  # each phase imports what its command imports, no more
    from summarizer.batch_api import prepare_batch
else:
    from summarizer.batch_api import collect_batch
    from summarizer.options import RunOptions
wall, cpu = time.perf_counter(), time.process_time()
if phase.startswith("prepare"):
    summary = prepare_batch([source], Settings(model="gpt-4o-mini"), output=requests,
                            count_tokens=phase == "prepare")
    records, failed, extra = summary.records, summary.failed, summary.tokens.to_dict()
else:
    summary = collect_batch(Path(source), requests=requests, options=RunOptions(output=target))
    records, failed = summary.run.succeeded + summary.run.failed, summary.run.failed
    extra = {{"unknown": summary.unknown_count}}
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"records": records, "failed": failed, "wall_s": wall, "cpu_s": cpu,
                  "peak_rss_mb": peak, **extra}}))
"""


def run_phase(phase: str, source: Path, requests: Path, target: Path) -> dict[str, Any]:
    script = _PHASE.format(root=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", script, phase, str(source), str(requests), str(target)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{phase} failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--limit", type=int, default=0, help="Only the first N texts.")
    args = parser.parse_args()
    if not CORPUS.exists():
        print(f"skipped: {CORPUS} not found")
        return
    rows: list[dict[str, Any]] = []
    runs: dict[str, list[dict[str, Any]]] = {"prepare": [], "prepare-estimate": [], "collect": []}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        source = CORPUS
        if args.limit:
            source = tmp / "subset.jsonl"
            with CORPUS.open("rb") as corpus:
                source.write_bytes(b"".join(itertools.islice(corpus, args.limit)))
        requests = tmp / "requests.jsonl"
        for attempt in range(args.repeat):
            for phase in ("prepare", "prepare-estimate"):
                runs[phase].append(run_phase(phase, source, requests, tmp / "unused"))
                print(f"{phase} run {attempt + 1}: {runs[phase][-1]}", file=sys.stderr)
        results = tmp / "results.jsonl"
        answered = write_rules_results(requests, results)
        print(f"synthetic results: {answered} answers", file=sys.stderr)
        for attempt in range(args.repeat):
            out = tmp / f"records-{attempt}.jsonl"
            runs["collect"].append(run_phase("collect", results, requests, out))
            print(f"collect run {attempt + 1}: {runs['collect'][-1]}", file=sys.stderr)
    for phase, measured in runs.items():
        records = measured[0]["records"]
        wall = median([run["wall_s"] for run in measured])
        cpu = median([run["cpu_s"] for run in measured])
        rows.append(
            {
                "phase": phase,
                "records": records,
                "failed": measured[0]["failed"],
                "wall_s": wall,
                "records_per_s": records / wall,
                "records_per_cpu_s": records / cpu,
                "peak_rss_mb": median([run["peak_rss_mb"] for run in measured]),
            }
        )
    print_table(
        f"provider batch on {rows[0]['records']:,} E3C texts (median of {args.repeat})", rows
    )
    tokens = runs["prepare"][0]
    print(
        f"\nprompt tokens ({tokens.get('encoding') or 'estimate'}): {tokens['prompt_tokens']:,}"
        f" ({tokens['prompt_tokens'] / max(rows[0]['records'], 1):,.0f} a request)"
    )
    path = write_results("provider_batch", {"rows": rows, "runs": runs, "targets": TARGETS})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
