"""The wheel carries prompts and templates, and works outside the repository."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_prompts_and_templates_and_runs_from_anywhere(tmp_path: Path) -> None:
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    wheel = next(tmp_path.glob("case_summarizer-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for version in ("v1", "v2"):
        assert f"summarizer/_prompts/{version}/prompt.toml" in names
        assert f"summarizer/_prompts/{version}/system.j2" in names
    assert "summarizer/py.typed" in names
    assert any(name.startswith("summarizer/templates/") for name in names)
    for name in ("templates/review/record.html.j2", "static/review.js", "static/review.css"):
        assert f"summarizer/{name}" in names, name  # the review page runs from the wheel

    target = tmp_path / "site"
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import summarizer, summarizer.render as r;"
        f"assert str(r.prompts_root()).startswith({str(target)!r}), r.prompts_root();"
        "print(sorted(r.available_versions()));"
        "res = summarizer.summarize('Odd fever\\n\\nA 30-year-old man had fever for 2 days. He recovered.');"
        "print(res.record.patient.age_years)"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code],
        cwd=elsewhere,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    assert "'v1'" in ran.stdout and "30.0" in ran.stdout
