"""The HTML page in a real browser: headless Chromium renders it, the highlights are in
the DOM, and a script planted in an abstract stays text (never runs)."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import summarizer
from summarizer.output import render_html
from summarizer.pipeline import Result
from tests.conftest import SEED, needs

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium")
PLANTED = '<script>document.title="pwned"</script>'


def chromium(page: Path, profile: Path, *args: str) -> str:
    needs("chromium", CHROMIUM is not None, hint="make browser")
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def dump_dom(page: Path, tmp_path: Path) -> str:
    return chromium(page, tmp_path / "profile", "--dump-dom")


def test_seed_page_renders_with_highlights(tmp_path: Path) -> None:
    result = summarizer.summarize(SEED)
    assert result.provenance.backend == "rules"
    page = tmp_path / "card.html"
    page.write_text(render_html(result), encoding="utf-8")

    dom = dump_dom(page, tmp_path)
    assert f"<title>{html.escape(result.record.title or '', quote=False)}</title>" in dom
    marks = re.findall(r'<mark id="(ev-\d+)" class="ev ev-(\w+)[^"]*"', dom)
    aligned = [span for span in result.evidence if span.status.value != "unaligned"]
    assert aligned, "the rules backend grounds its quotes in the seed abstract"
    assert {f"ev-{n}" for n, _ in enumerate(result.evidence, 1)} >= {mark for mark, _ in marks}
    assert len(marks) + dom.count('<span id="ev-') == len(aligned)
    assert 'class="fields"' in dom and 'id="f-patient"' in dom

    shot = tmp_path / "card.png"
    chromium(page, tmp_path / "profile-shot", "--window-size=1280,1400", f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one


def test_planted_script_stays_text(tmp_path: Path) -> None:
    text = (
        f"Spinal metastasis {PLANTED} of leiomyosarcoma\n\n"
        f"CASE PRESENTATION: A 63-year-old female presented with neck pain {PLANTED} "
        "and underwent posterior tumor resection.\n\nCONCLUSION: Resection helps."
    )
    result = summarizer.summarize(text)
    assert PLANTED in result.abstract.text
    planted = Result(
        id=result.id,
        record=result.record.model_copy(
            update={"title": f"Planted {PLANTED} title", "summary": f"Summary {PLANTED}"}
        ),
        evidence=result.evidence,
        provenance=result.provenance,
        abstract=result.abstract,
    )
    page = tmp_path / "planted.html"
    page.write_text(render_html(planted), encoding="utf-8")

    dom = dump_dom(page, tmp_path)
    title = re.search(r"<title>(.*?)</title>", dom, flags=re.S)
    assert title is not None
    assert html.unescape(title.group(1)) == f"Planted {PLANTED} title"  # not "pwned"
    assert "<script" not in dom  # no script element made it into the DOM
    assert dom.count("&lt;script&gt;document.title=") >= 4  # title, heading, abstract, summary
