"""The README's review-table example runs as written (from a copy of the examples folder)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.review_helpers import ROOT

MARKER = "In Python (checked by `tests/test_readme.py`):"


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    after = text[text.index(MARKER) :]
    match = re.search(r"```python\n(.*?)```", after, flags=re.S)
    assert match is not None
    return match.group(1)


def test_review_table_example_runs(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    script = tmp_path / "example.py"
    script.write_text(readme_example(), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("63.0 female ['surgery: posterior tumor resection")
    assert lines[1].startswith("leiomyosarcoma-cervical-spine ")  # the queue entry
    assert "presentation_evidence_status" in done.stdout  # the DataFrame printed
    assert (tmp_path / "records.jsonl").is_file()
