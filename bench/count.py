"""The progress bar's pre-scan (``summarizer.ingest.count``): what counting an input's
records ahead costs, against reading them (``iter_records``), per format.

    .venv/bin/python bench/count.py            # medians of 5 runs
    .venv/bin/python bench/count.py --quick    # fewer records and runs

Inputs: 20,000 synthetic cases (ours, tests.conftest.batch_case_text) written as JSON Lines,
PubMed XML, MEDLINE, RIS and CSV, and the 9,227 E3C case texts when ../shared/corpus is
there (read-only). The scan must be a small fraction of the read (the run reads the inputs
anyway) and count exactly what the readers yield on well-formed files.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import ROOT, batch_case_text, median, print_table, write_results

CORPUS = ROOT.parent / "shared" / "corpus" / "e3c-case-texts.jsonl"


def _abstract(number: int) -> str:
    return " ".join(batch_case_text(number).split("\n\n")[1:])


def write_inputs(folder: Path, count: int) -> dict[str, Path]:
    """One file per export format, each holding ``count`` synthetic cases."""
    numbers = range(count)
    paths = {name: folder / f"cases.{name}" for name in ("jsonl", "xml", "nbib", "ris", "csv")}
    with paths["jsonl"].open("w", encoding="utf-8") as out:
        for n in numbers:
            out.write(json.dumps({"id": f"r{n}", "abstract": _abstract(n)}) + "\n")
    with paths["xml"].open("w", encoding="utf-8") as out:
        out.write("<?xml version='1.0'?>\n<PubmedArticleSet>\n")
        for n in numbers:
            out.write(
                f"<PubmedArticle><MedlineCitation><PMID>{n + 1}</PMID><Article>"
                f"<ArticleTitle>Case {n}</ArticleTitle><Abstract><AbstractText>"
                f"{_abstract(n)}</AbstractText></Abstract></Article></MedlineCitation>"
                "</PubmedArticle>\n"
            )
        out.write("</PubmedArticleSet>\n")
    with paths["nbib"].open("w", encoding="utf-8") as out:
        for n in numbers:
            out.write(f"PMID- {n + 1}\nTI  - Case {n}\nAB  - {_abstract(n)}\n\n")
    with paths["ris"].open("w", encoding="utf-8") as out:
        for n in numbers:
            out.write(f"TY  - JOUR\nID  - r{n}\nTI  - Case {n}\nAB  - {_abstract(n)}\nER  - \n\n")
    with paths["csv"].open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "title", "abstract"])
        for n in numbers:
            writer.writerow([f"r{n}", f"Case {n}", _abstract(n)])
    return paths


def _seconds(function: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - started)
    return median(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer records and runs")
    options = parser.parse_args()
    from summarizer.ingest import iter_records
    from summarizer.ingest.count import count_records

    count, repeat = (2000, 2) if options.quick else (20000, 5)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        inputs = write_inputs(Path(folder), count)
        if CORPUS.is_file():
            inputs["e3c (real)"] = CORPUS
        for name, path in inputs.items():
            scan_s, counted = _seconds(lambda path=path: count_records([path]), repeat)
            read_s, read = _seconds(lambda path=path: sum(1 for _ in iter_records([path])), repeat)
            rows.append(
                {
                    "input": name,
                    "MB": path.stat().st_size / 1e6,
                    "records read": read,
                    "counted": counted,
                    "scan ms": scan_s * 1000,
                    "read ms": read_s * 1000,
                    "scan / read": scan_s / read_s,
                }
            )
    print_table(f"pre-scan against reading (median of {repeat})", rows)
    path = write_results("count", {"rows": rows, "repeat": repeat})
    print(f"\nresults: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
