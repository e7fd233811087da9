"""``case-summarizer eval`` against the scripted OpenAI-compatible server: scores, tokens
and cost per record, for prompts v1 and v2, before and after a change.

The server (tests/openai_server.py, in a child process) answers every request with what
the rules backend reads from the abstract in it (for a stage of v2, the stage's fields),
so the scores are those of the rules backend reached through the whole model path:
request building, tool-call parsing, re-asks, grounding, scoring. Its usage is that of a
provider with prompt caching (``PromptCache``): each request's prompt tokens counted with
o200k_base, and the prefix it repeats from an earlier request reported as cached (OpenAI's
rule). The server is on 127.0.0.1, so v2 gets the self-hosted layout (every stage offers
every stage's tool); OpenAI would get each stage's own tool. ``--root`` runs the eval of another checkout against the same server (the code
before a change); costs are at the checkout's own gpt-4o-mini price.

    .venv/bin/python bench/eval_scripted.py [--root PATH] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import ROOT, print_table, write_results

MODEL = "gpt-4o-mini"


def _serve() -> None:
    """The child: a scripted server answering with the rules backend's record."""
    sys.path.insert(0, str(ROOT))
    from summarizer.backends.rules import RulesBackend
    from summarizer.clean import clean
    from summarizer.document import Document
    from summarizer.render import load_prompt
    from tests.openai_server import PromptCache, Reply, ScriptedServer, completion_body

    stages = {
        "CaseReport" + "".join(part.capitalize() for part in stage["name"].split("_")): stage[
            "fields"
        ]
        for stage in load_prompt("v2").metadata["stages"]
    }
    rules = RulesBackend()
    fence = re.compile(r"<abstract>\n(.*)\n</abstract>", re.S)

    def reply(request: dict[str, Any]) -> Reply:
        text = "\n".join(str(m.get("content")) for m in request["messages"])
        found = fence.search(text)
        record = rules.fill(clean(Document.from_text(found[1] if found else text))).record
        answer = record.model_dump(mode="json")
        choice = request.get("tool_choice")
        name = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
        if name in stages:
            answer = {key: answer[key] for key in stages[name]}
        content = json.dumps(answer)
        return Reply(body=lambda body: completion_body(body, content, completion_tokens=400))

    with ScriptedServer() as server:
        server.fallback = reply
        server.prompt_cache = PromptCache(MODEL)
        print(server.url, flush=True)
        sys.stdin.read()


def evaluate(url: str, root: Path, runs: Path, concurrency: int) -> list[dict[str, Any]]:
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "CASE_SUMMARIZER_HOME": str(runs / "home"),
        "OPENAI_API_KEY": "bench-key",
    }
    command = [
        sys.executable, "-m", "summarizer.cli", "eval", "--prompt", "v1", "--prompt", "v2",
        "--backend", "openai", "--base-url", url, "--model", MODEL, "--no-cache",
        "--gold", str(ROOT / "evals" / "gold"), "--runs-dir", str(runs), "--no-progress",
        "--concurrency", str(concurrency),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=root)
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stderr[-2000:])
    rows = []
    for path in sorted(runs.iterdir()):
        scores = path / "scores.json"
        if not scores.is_file():
            continue
        config = json.loads((path / "config.json").read_text())
        metrics = json.loads(scores.read_text())["metrics"]

        def mean(name: str, metrics: dict[str, Any] = metrics) -> Any:
            value = metrics.get(name, {}).get("estimate")
            return None if value is None else round(float(value), 6)

        rows.append(
            {
                "run": config["label"],
                "overall": mean("overall"),
                "validity": mean("validity_rate"),
                "grounding": mean("grounding_rate"),
                "requests": mean("requests"),
                "tokens/record": mean("tokens"),
                "cached/record": mean("cached_tokens"),
                "$/1k records": per_thousand(mean("cost_usd")),
                "$/1k no cache": per_thousand(mean("cost_uncached_usd")),
                "$/1k all cached": per_thousand(mean("cost_cached_usd")),
            }
        )
    return rows


def per_thousand(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--concurrency", type=int, default=1)
    options = parser.parse_args()
    child = subprocess.Popen(
        [sys.executable, __file__, "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as folder:
            rows = evaluate(url, options.root, Path(folder), options.concurrency)
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(timeout=10)
    print(f"eval of {options.root} against the scripted server (rules answers, o200k usage)")
    print_table("Scores, tokens and cost per record (46 gold records)", rows)
    write_results("eval_scripted", {"root": str(options.root), "rows": rows})


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        _serve()
    else:
        main()
