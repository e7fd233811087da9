"""Benchmark reading PDFs: PDFs per second and peak memory, first page to cleaned abstract.

    .venv/bin/python bench/pdf.py [--runs 5] [--bomb]

Each real PDF of ../shared/corpus/pdfs is read as ``case-summarizer`` reads it: ingest (the
text layer of the pages needed, in a forked child capped at 200 MB) and ``clean`` (reading
order, PDF cues, title and abstract). Reported: the median over ``--runs`` of the seconds
for all the PDFs and PDFs a second, the slowest PDF, the pages read against the pages in
the files, and the peak resident memory of this process and of the children that read the
PDFs (``ru_maxrss``). ``--bomb`` adds an in-house 500-page PDF and a decompression bomb
(tests/pdf_fixtures.py) to show both stay within the bound. Figures only; no PDF text is
printed.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus" / "pdfs"

from summarizer.clean import clean  # noqa: E402
from summarizer.document import Document  # noqa: E402
from summarizer.errors import InputError  # noqa: E402
from summarizer.ingest import iter_documents  # noqa: E402


def read(path: Path) -> tuple[Document | InputError, float]:
    started = time.perf_counter()
    [item] = list(iter_documents([str(path)]))
    if isinstance(item, Document):
        clean(item)
    return item, time.perf_counter() - started


def peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bomb", action="store_true")
    arguments = parser.parse_args()
    files = sorted(CORPUS.glob("*.pdf"))
    if not files:
        print(f"skipped: no PDFs in {CORPUS}")
        return 0
    before = peak_mb(resource.RUSAGE_SELF)
    totals: list[float] = []
    slowest: dict[str, float] = {}
    pages_read = pages_in = 0
    for run in range(arguments.runs):
        total = 0.0
        for path in files:
            item, seconds = read(path)
            total += seconds
            slowest[path.name] = min(slowest.get(path.name, seconds), seconds)
            if run == 0 and isinstance(item, Document) and item.layout is not None:
                pages_read += len(item.layout.pages)
                pages_in += item.layout.page_count
        totals.append(total)
    median = statistics.median(totals)
    name, worst = max(slowest.items(), key=lambda pair: pair[1])
    print(
        f"{len(files)} real PDFs, first page to cleaned abstract, median of {arguments.runs} runs"
    )
    print(
        f"  {median:.3f} s for all: {len(files) / median:.1f} PDFs/s, {1000 * median / len(files):.0f} ms a PDF"
    )
    print(f"  slowest: {name} {1000 * worst:.0f} ms; pages read {pages_read} of {pages_in}")
    print(
        f"  peak memory: this process {peak_mb(resource.RUSAGE_SELF):.0f} MB "
        f"(before reading {before:.0f} MB), PDF readers {peak_mb(resource.RUSAGE_CHILDREN):.0f} MB"
    )
    if arguments.bomb:
        from tests import pdf_fixtures

        with tempfile.TemporaryDirectory() as folder:
            for label, data in (
                ("500-page PDF", pdf_fixtures.long_article(500)),
                ("decompression bomb (400 MB inflated)", pdf_fixtures.decompression_bomb(400)),
            ):
                path = Path(folder) / "file.pdf"
                path.write_bytes(data)
                item, seconds = read(path)
                outcome = "read" if isinstance(item, Document) else f"refused: {item}"[:90]
                print(f"  {label}: {1000 * seconds:.0f} ms, {outcome}")
        print(
            f"  peak memory after them: this process {peak_mb(resource.RUSAGE_SELF):.0f} MB, "
            f"PDF readers {peak_mb(resource.RUSAGE_CHILDREN):.0f} MB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
