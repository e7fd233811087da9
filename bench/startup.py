"""Start-up: the seconds each command spends importing, and its whole run.

Each command runs in a fresh interpreter under ``python -X importtime``; its import time
is the sum of every module's own time (what ``-X importtime`` reports, so the figure
does not depend on which module happened to import which). Wall time is that of the
whole command, start to exit, with importtime off, and CPU time its CPU seconds (user +
system: on a loaded machine it moves less than wall time, which includes waiting for a
core). Median of ``--repeat`` runs (the
machine is shared: one run in three is slowed by a neighbour). ``python -c pass`` is
the floor. Targets: ``clean page.txt`` and ``summarize --backend rules page.txt`` each
≤ 0.4 s importing. ``--root`` measures another checkout of the project with the same interpreter;
``--baseline`` another one in turn with it (the code before a change), run for run.

    .venv/bin/python bench/startup.py [--repeat 7] [--root PATH] [--baseline PATH]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, median, print_table, write_results

SEED = ROOT / "examples" / "leiomyosarcoma-cervical-spine.txt"
COMMANDS: dict[str, list[str]] = {
    "python -c pass": [],
    "clean page.txt": ["clean", str(SEED)],
    "summarize --backend rules page.txt": ["summarize", "--backend", "rules", str(SEED)],
    "schema": ["schema"],
    "export --help": ["export", "--help"],
    "eval --help": ["eval", "--help"],
    "batch prepare --help": ["batch", "prepare", "--help"],
}
TARGETS = {"clean page.txt": 0.4, "summarize --backend rules page.txt": 0.4}
_LINE = re.compile(r"import time:\s+(\d+) \|")


def _argv(args: list[str]) -> list[str]:
    return (
        [sys.executable, "-c", "pass"]
        if not args
        else [sys.executable, "-m", "summarizer.cli", *args]
    )


def run(args: list[str], root: Path, *, importtime: bool) -> tuple[float, float, float]:
    """(seconds importing, wall seconds, CPU seconds) of one run."""
    env = {**os.environ, "PYTHONPATH": str(root), "CASE_SUMMARIZER_HOME": "/tmp/bench-startup"}
    argv = _argv(args)
    if importtime:
        argv = [argv[0], "-X", "importtime", *argv[1:]]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=root, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()[-300:]}")
    imports = sum(int(match[1]) for match in _LINE.finditer(done.stderr)) / 1e6
    return imports, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--root", type=Path, default=ROOT, help="The checkout to measure.")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="Another checkout, measured in turn with --root (same sitting, same load).",
    )
    options = parser.parse_args()
    roots = {"now": options.root}
    if options.baseline is not None:
        roots = {"before": options.baseline, **roots}
    rows = []
    for name, args in COMMANDS.items():
        imports: dict[str, list[float]] = {label: [] for label in roots}
        walls: dict[str, list[float]] = {label: [] for label in roots}
        cpus: dict[str, list[float]] = {label: [] for label in roots}
        for _ in range(options.repeat):
            for label, root in roots.items():  # in turn: both see the same neighbours
                imports[label].append(run(args, root, importtime=True)[0])
                _, wall, cpu = run(args, root, importtime=False)
                walls[label].append(wall)
                cpus[label].append(cpu)
        row: dict[str, object] = {"command": name}
        for label in roots:
            row[f"importing_s {label}"] = round(median(imports[label]), 3)
            row[f"wall_s {label}"] = round(median(walls[label]), 3)
            row[f"cpu_s {label}"] = round(median(cpus[label]), 3)
        row["target_s"] = TARGETS.get(name, "")
        rows.append(row)
    where = ", ".join(f"{label}: {root}" for label, root in roots.items())
    print(f"{where}; load average {os.getloadavg()[0]:.1f}")
    print_table(f"Start-up, median of {options.repeat} runs", rows)
    write_results("startup", {"roots": {k: str(v) for k, v in roots.items()}, "rows": rows})


if __name__ == "__main__":
    main()
