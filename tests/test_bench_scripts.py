"""The benchmark scripts and the screenshot script import what they use: nothing runs
them in the suite, so a name moved in the package or the test helpers would otherwise
break them unseen (bench/review.py once lost CHROMIUM_ARGS that way)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPTS = sorted(path for path in (ROOT / "bench").glob("*.py") if path.name != "common.py")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_a_benchmark_answers_help(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")


def test_the_screenshot_script_imports() -> None:
    code = (
        "import runpy, sys; sys.path.insert(0, sys.argv[1]); "
        "runpy.run_path(sys.argv[2], run_name='screenshots')"
    )
    script = ROOT / "docs" / "images" / "review_screenshots.py"
    done = subprocess.run(
        [sys.executable, "-c", code, str(ROOT), str(script)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
