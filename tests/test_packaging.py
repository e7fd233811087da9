"""The wheel carries prompts and templates, and works outside the repository."""

from __future__ import annotations

import os
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
    for name in ("report.html.j2", "chart.svg.j2"):
        assert f"summarizer/templates/report/{name}" in names, name  # the eval report too

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


# --- installs that reproduce (issue 25) -------------------------------------------------------

LOCKS = {"run": ROOT / "requirements" / "run.lock", "test": ROOT / "requirements" / "test.lock"}


def _pins(lock: Path) -> dict[str, list[str]]:
    """name → every version the lock pins (one per environment marker)."""
    from packaging.utils import canonicalize_name

    pins: dict[str, list[str]] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        if line[:1].isalnum() and "==" in line:
            name, version = line.split("==", 1)
            name = name.split("[", 1)[0]
            pins.setdefault(canonicalize_name(name), []).append(version.split()[0].rstrip(" \\;"))
    return pins


def _declared() -> dict[str, list[str]]:
    """Each lock's name → the requirements pyproject.toml gives it."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    return {
        "run": project["dependencies"],
        "test": project["dependencies"] + extras["dev"] + extras["server"],
    }


def test_the_locks_pin_every_declared_dependency_within_its_range() -> None:
    """A dependency added to pyproject.toml without `make lock` fails here, not on a fresh
    machine; every pin is hashed, so pip installs exactly what was tested."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    for lock_name, requirements in _declared().items():
        lock = LOCKS[lock_name]
        pins = _pins(lock)
        for text in requirements:
            requirement = Requirement(text)
            versions = pins.get(canonicalize_name(requirement.name))
            assert versions, f"{requirement.name} is not in {lock.name}: run `make lock`"
            assert any(requirement.specifier.contains(v) for v in versions), (text, versions)
        lines = lock.read_text(encoding="utf-8").splitlines()
        unhashed = [
            line.split("==")[0]
            for line, following in zip(lines, [*lines[1:], ""], strict=True)
            if line[:1].isalnum() and "==" in line and "--hash=sha256:" not in following
        ]
        assert not unhashed, f"pins without hashes in {lock.name}: {unhashed}"


def test_ci_fails_a_test_that_would_skip_for_a_missing_dependency(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "from tests.conftest import needs\n\n"
        "def test_it():\n    needs('a tool', False, hint='install it')\n"
    )
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe)]
    command += ["--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml")]
    outcomes = {}
    for ci in ("", "true"):
        env = {**os.environ, "CI": ci}
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
        outcomes[ci] = (done.returncode, done.stdout)
    assert outcomes[""][0] == 0 and "1 skipped" in outcomes[""][1], outcomes
    assert outcomes["true"][0] == 1 and "CI needs a tool" in outcomes["true"][1], outcomes
