"""The PDF reader on the real article PDFs of ../shared/corpus/pdfs (read there, never copied;
skipped where ../shared is absent, unless CI=true): title and abstract as
``../shared/tools/score-real-pdfs`` measures them, and grounding back to the page."""

from __future__ import annotations

import json
import os
import re
from difflib import SequenceMatcher
from pathlib import Path

import pytest

from summarizer import Summarizer
from summarizer.clean import clean
from summarizer.document import Document
from summarizer.ingest import iter_documents

PDFS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "pdfs"
LIGATURES = re.compile("[\ufb00-\ufb06\u00ad\ufffe]")


def words(text: str | None) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", (text or "").lower()))


def labels() -> list[dict[str, str]]:
    path = PDFS / "labels.jsonl"
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail("../shared/corpus/pdfs is missing on CI")
        pytest.skip("../shared/corpus/pdfs is not here")
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def read(name: str) -> Document:
    [document] = list(iter_documents([str(PDFS / name)]))
    assert isinstance(document, Document), document
    return document


def test_real_pdfs_title_and_abstract_located() -> None:
    rows = labels()
    titles = located = 0
    for row in rows:
        abstract = clean(read(row["file"]))
        text = words(abstract.text)
        first, last = words(row["abstract_first_words"]), words(row["abstract_last_words"])
        titles += SequenceMatcher(None, words(abstract.title), words(row["title"])).ratio() >= 0.9
        located += first in text and last in text and len(text) <= text.find(first) + 4500
        assert not LIGATURES.search(abstract.text), row["file"]  # ligatures, hyphen marks spelled
    assert (titles, located) == (len(rows), len(rows))


def test_real_pdf_evidence_points_at_its_page_and_extracted_text() -> None:
    rows = {row["file"]: row for row in labels()}
    name = "23-trials-provisional-pge1.pdf"  # the abstract is on page 5
    if name not in rows:
        pytest.skip(f"{name} is not in the corpus")
    document = read(name)
    with Summarizer() as summarizer:
        result = summarizer.summarize(document)
    aligned = [span for span in result.evidence if span.status.value != "unaligned"]
    assert aligned
    for span in aligned:
        assert span.page in (5, 6)
        source = document.text[span.source_start : span.source_end]
        assert (
            words(source) == words(span.quote)
            or SequenceMatcher(None, words(source), words(span.quote)).ratio() > 0.9
        )
