"""Memory stays flat on huge records: peak RSS growth while reading one oversized record.

    .venv/bin/python bench/ingest_memory.py                 # 16, 64 and 256 MB records
    .venv/bin/python bench/ingest_memory.py --sizes 16 1024

For each format and size, a file holding one record of that size is generated in a
temporary folder (never kept): a JSONL line and a CSV quoted field with no end, a RIS
abstract on one line, a MEDLINE abstract continued over 80-character lines. A child
process reads it with ``iter_documents`` (default 2 MB record limit) and reports how
much its peak RSS grew beyond what the imports took, and the wall time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import print_table, write_results

MEASURE = r"""
import json, resource, sys, time
from summarizer.ingest import iter_documents
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
kinds = [type(item).__name__ for item in iter_documents([sys.argv[1]])]
seconds = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grew_mb": (after - before) / 1024, "seconds": seconds, "items": kinds}))
"""

MB = 1024 * 1024
CHUNK = "y" * MB

FORMATS = {
    # name: (file name, head, tail, continuation between 80-character lines)
    "jsonl": ("h.jsonl", '{"id": "a", "abstract": "', "", ""),
    "csv": ("h.csv", 'id,abstract\na,"', "", ""),
    "ris": ("h.ris", "TY  - JOUR\nAB  - ", "\nER  - \n", ""),
    "medline": ("h.nbib", "PMID- 1\nAB  - ", "\n", "\n      "),
}


def generate(path: Path, size_mb: int, head: str, tail: str, continuation: str) -> None:
    with path.open("w") as handle:
        handle.write(head)
        for _ in range(size_mb):
            if continuation:
                pieces = (CHUNK[i : i + 80] for i in range(0, MB, 80))
                handle.write(continuation.join(pieces) + continuation)
            else:
                handle.write(CHUNK)
        handle.write(tail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 256])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, (file_name, head, tail, continuation) in FORMATS.items():
            for size in args.sizes:
                path = Path(folder) / file_name
                generate(path, size, head, tail, continuation)
                done = subprocess.run(
                    [sys.executable, "-c", MEASURE, str(path)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                path.unlink()
                measured = json.loads(done.stdout)
                rows.append(
                    {
                        "format": name,
                        "record_mb": size,
                        "peak_rss_growth_mb": round(measured["grew_mb"], 1),
                        "seconds": round(measured["seconds"], 2),
                        "items": ",".join(measured["items"]),
                    }
                )
    print_table("Reading one huge record (2 MB record limit)", rows)
    print(f"\nresults: {write_results('ingest_memory', {'rows': rows})}")


if __name__ == "__main__":
    main()
