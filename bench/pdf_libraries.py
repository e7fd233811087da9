"""Compare PDF text-extraction libraries on the shared real PDFs (how the library was chosen).

    .venv/bin/python bench/pdf_libraries.py [--runs 5]

For each library installed among pypdf (BSD), pdfminer.six (MIT) and pypdfium2 (Apache-2.0 /
BSD-3), each PDF of ../shared/corpus/pdfs is read from its first page to the page that holds
the end of its labelled abstract, with the library's plain text extraction, in a child
process of its own (so that peak memory is the library's alone). Reported per library:

- reading order: PDFs whose extracted text holds the labelled title, and the abstract's
  first and last words in order, at most 4,500 characters apart (the scorer's test), after
  lower-casing and keeping letters and digits only (no spaces, so that a word
  hyphenated across lines still counts) and ligatures spelled out;
- speed: the median over ``--runs`` of the seconds to read all the PDFs, and PDFs a second;
- peak memory: the child's peak resident set (``ru_maxrss``), less that of a child that
  imports the library and reads nothing.

PyMuPDF is not measured: it is AGPL, which a library that others embed cannot take.
- interleaved columns: whether an in-house two-column page whose file writes the columns
  line by line across the page (tests/pdf_fixtures.py) comes out one column after the
  other; ``pypdfium2+ours`` is pypdfium2 with this project's reading order
  (summarizer/clean/pdf.py).

No PDF text is written anywhere; only the figures are printed.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus" / "pdfs"
LIBRARIES = ("pypdf", "pypdf-layout", "pdfminer.six", "pypdfium2", "pypdfium2+ours")


def _norm(text: str) -> str:
    """Letters and digits only, no spaces: a word hyphenated across a line break ("dis-",
    "play") still matches, so the test is of reading order, not of hyphenation."""
    return "".join(re.findall(r"[a-z0-9]+", unicodedata.normalize("NFKC", text).lower()))


def _extract(library: str, path: Path, pages: int) -> list[str]:
    """The text of the first ``pages`` pages of ``path``, one string a page."""
    if library in ("pypdf", "pypdf-layout"):
        import pypdf

        reader = pypdf.PdfReader(path)
        mode = "layout" if library == "pypdf-layout" else "plain"
        return [
            reader.pages[n].extract_text(extraction_mode=mode)
            for n in range(min(pages, len(reader.pages)))
        ]
    if library == "pdfminer.six":
        from pdfminer.high_level import extract_text

        return extract_text(path, page_numbers=range(pages)).split("\f")
    if library == "pypdfium2+ours":
        from summarizer.clean.pdf import reading_text
        from summarizer.ingest.pdf import read_pdf_here

        return [reading_text(read_pdf_here(path, id="x", origin=str(path))).text]
    import pypdfium2

    document = pypdfium2.PdfDocument(path)
    try:
        found = []
        for n in range(min(pages, len(document))):
            page = document[n]
            found.append(page.get_textpage().get_text_range())
        return found
    finally:
        document.close()


def _import(library: str) -> None:
    if library in ("pypdf", "pypdf-layout"):
        import pypdf  # noqa: F401
    elif library == "pdfminer.six":
        import pdfminer.high_level  # noqa: F401
    else:
        import pypdfium2  # noqa: F401

        if library == "pypdfium2+ours":
            import summarizer.clean.pdf
            import summarizer.ingest.pdf  # noqa: F401


def child(library: str, runs: int, idle: bool) -> None:
    """Run in a child process: measure one library, print one JSON line."""
    _import(library)
    if idle:
        print(json.dumps({"rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
        return
    labels = [json.loads(line) for line in (CORPUS / "labels.jsonl").open()]
    # the page holding the end of the abstract, found once with pypdfium2 (the fastest)
    pages = {label["file"]: _pages_to_abstract(label) for label in labels}
    times = []
    in_order = titles = 0
    for run in range(runs):
        started = time.perf_counter()
        for label in labels:
            text = "\n".join(_extract(library, CORPUS / label["file"], pages[label["file"]]))
            if run == 0:
                plain = _norm(text)
                first = plain.find(_norm(label["abstract_first_words"]))
                last = plain.find(_norm(label["abstract_last_words"]), max(first, 0))
                in_order += 0 <= first <= last <= first + 4500
                titles += _norm(label["title"]) in plain
        times.append(time.perf_counter() - started)
    print(
        json.dumps(
            {
                "seconds": statistics.median(times),
                "in_order": in_order,
                "titles": titles,
                "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "interleaved": _interleaved(library),
            }
        )
    )


def _interleaved(library: str) -> bool:
    """Whether the library reads the in-house two-column page whose file writes the columns
    line by line across the page (tests/pdf_fixtures.py) one column after the other."""
    import tempfile

    from tests.pdf_fixtures import two_column_case_report

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "two-column.pdf"
        path.write_bytes(two_column_case_report())
        text = _norm("\n".join(_extract(library, path, 1)))
    return _norm("into the tissues they pierce, and a joint close to the skin") in text and (
        _norm("culture grew an organism found in garden soil") in text
    )


def _pages_to_abstract(label: dict[str, str]) -> int:
    import pypdfium2

    document = pypdfium2.PdfDocument(CORPUS / label["file"])
    try:
        last = _norm(label["abstract_last_words"])
        seen = ""
        for n in range(len(document)):
            seen += " " + _norm(document[n].get_textpage().get_text_range())
            if last in seen:
                return n + 1
        return len(document)
    finally:
        document.close()


def _run_child(library: str, runs: int, *, idle: bool = False) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", library, "--runs", str(runs)]
    if idle:
        command.append("--idle")
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child")
    parser.add_argument("--idle", action="store_true")
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments.child, arguments.runs, arguments.idle)
        return 0
    if not (CORPUS / "labels.jsonl").is_file():
        print(f"skipped: {CORPUS} is not here")
        return 0
    count = sum(1 for _ in (CORPUS / "labels.jsonl").open())
    print(f"{count} real PDFs, first page to the end of the abstract, {arguments.runs} runs")
    print(
        f"{'library':<14} {'in order':>9} {'titles':>7} {'s (median)':>11} {'PDFs/s':>7} {'peak MB':>8}"
    )
    for library in LIBRARIES:
        try:
            idle = _run_child(library, 1, idle=True)
            found = _run_child(library, arguments.runs)
        except subprocess.CalledProcessError as error:
            print(f"{library:<14} not measured: {error.stderr.strip().splitlines()[-1:]}")
            continue
        peak = (found["rss_kb"] - idle["rss_kb"]) / 1024
        print(
            f"{library:<15} {int(found['in_order']):>5}/{count:<3} {int(found['titles']):>3}/{count:<3}"
            f" {found['seconds']:>11.3f} {count / found['seconds']:>7.1f} {peak:>8.1f}"
            f"  {'read in order' if found['interleaved'] else 'mixed'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
