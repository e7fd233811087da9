"""clean() on in-house page fixtures: exact title and sections, layout, offset map, collapsed pages."""

from __future__ import annotations

import html
import json
import unicodedata
from pathlib import Path

import ftfy
import pytest

from summarizer.clean import clean
from summarizer.clean.text import PLAIN_CHARACTERS
from summarizer.document import Abstract, Document
from summarizer.errors import InputError

PAGES = Path(__file__).parent / "fixtures" / "pages"
SEED = Path(__file__).resolve().parents[1] / "examples" / "leiomyosarcoma-cervical-spine.txt"

FIXTURES = sorted(p for p in PAGES.iterdir() if p.suffix in (".txt", ".html"))


def _expected(path: Path) -> dict[str, object]:
    return json.loads(path.with_name(path.stem + ".expected.json").read_text(encoding="utf-8"))


GOOD = [p for p in FIXTURES if "error" not in _expected(p)]
BAD = [p for p in FIXTURES if "error" in _expected(p)]
TEXT_PAGES = [p for p in GOOD if p.suffix == ".txt"]


def _document(path: Path, text: str | None = None) -> Document:
    fmt = "html" if path.suffix == ".html" else "text"
    return Document(
        path.stem, path.read_text(encoding="utf-8") if text is None else text, str(path), fmt
    )


def _sections(abstract: Abstract) -> list[list[object]]:
    return [[s.kind, s.heading, abstract.section_text(s)] for s in abstract.sections]


def _render(expected: dict[str, object]) -> str:
    sections = expected["sections"]
    assert isinstance(sections, list)
    parts = [f"{heading}: {body}" if heading else body for _kind, heading, body in sections]
    return f"{expected['title']}\n\n" + "\n\n".join(parts)


_PLAIN = str.maketrans(PLAIN_CHARACTERS)


def _same(character: str, original: str, position: int) -> bool:
    """The cleaned character comes from the original at ``position``, modulo normalisation."""
    source = original[position]
    if character == source:
        return True
    for width in range(1, 9):
        piece = original[position : position + width]
        if source == "&" and ";" in piece:
            piece = html.unescape(piece)
        fixed = ftfy.fix_text(piece).translate(_PLAIN)
        fixed = unicodedata.normalize("NFKC", fixed).translate(_PLAIN)
        if character in fixed or (character == " " and (fixed.isspace() or not fixed)):
            return True
    return False


def assert_offsets(abstract: Abstract) -> None:
    """Every character that is not synthetic maps to the same character of the original."""
    text, original, offsets = abstract.text, abstract.document.text, abstract.offsets
    assert len(offsets) == len(text)
    synthetic = set()
    for section in abstract.sections:
        if section.heading:
            synthetic.update((section.start - 2, section.start - 1))
    from_field = abstract.title is not None and abstract.document.title is not None
    title_end = len(abstract.title) if from_field and abstract.title else 0
    for index, character in enumerate(text):
        if index < title_end or index in synthetic or character.isspace():
            continue
        position = offsets[index]
        assert 0 <= position < len(original)
        assert _same(character, original, position), (
            index,
            character,
            original[position : position + 8],
        )
    for section in abstract.sections:  # bodies run forward through the original
        body = [offsets[i] for i in range(section.start, section.end)]
        assert body == sorted(body)


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_fixture_title_and_sections(path: Path) -> None:
    expected = _expected(path)
    abstract = clean(_document(path))
    assert abstract.title == expected["title"]
    assert _sections(abstract) == expected["sections"]
    assert abstract.text == _render(expected)
    assert abstract.body_start == len(str(expected["title"])) + 2
    assert list(abstract.warnings) == expected.get("warnings", [])


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_fixture_offsets(path: Path) -> None:
    assert_offsets(clean(_document(path)))


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_fixture_with_newlines_collapsed(path: Path) -> None:
    """The same page copied into a one-line field: every run of whitespace became one space."""
    expected = _expected(path)
    collapsed = " ".join(path.read_text(encoding="utf-8").split())
    abstract = clean(_document(path, collapsed))
    assert abstract.title == expected["title"]
    assert _sections(abstract) == expected["sections"]
    assert_offsets(abstract)


@pytest.mark.parametrize("path", TEXT_PAGES, ids=lambda p: p.name)
def test_fixture_with_windows_newlines(path: Path) -> None:
    expected = _expected(path)
    text = path.read_text(encoding="utf-8").replace("\n", "\r\n")
    abstract = clean(_document(path, text))
    assert _sections(abstract) == expected["sections"]
    assert_offsets(abstract)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_page_without_abstract_is_an_input_error(path: Path) -> None:
    for text in (
        path.read_text(encoding="utf-8"),
        " ".join(path.read_text(encoding="utf-8").split()),
    ):
        with pytest.raises(InputError) as caught:
            clean(_document(path, text))
        assert str(path) in str(caught.value)
        assert "no abstract" in str(caught.value)
        assert "\n" not in str(caught.value)


def test_at_least_fifteen_fixtures_cover_every_site() -> None:
    names = {p.stem for p in GOOD}
    assert len(names) >= 15
    for site in ("readingapp", "pubmed", "pmc", "publisher", "bmc", "scielo", "europepmc"):
        assert any(name.startswith(site) for name in names), site
    assert sum(p.suffix == ".html" for p in GOOD) >= 4


def test_seed_page() -> None:
    document = Document("seed", SEED.read_text(encoding="utf-8"), str(SEED), "text")
    abstract = clean(document)
    assert abstract.title == (
        "A rare presentation of leiomyosarcoma metastasis to the cervical spine:"
        " A case report and a brief review."
    )
    assert [(s.kind, s.heading) for s in abstract.sections] == [
        ("background", "BACKGROUND"),
        ("case", "CASE DESCRIPTION"),
        ("conclusion", "CONCLUSION"),
    ]
    assert abstract.text.endswith("within one postoperative year.")
    for chrome in ("Full text links", "Add like", "mobile app", "Copyright", "CME"):
        assert chrome not in abstract.text
    assert abstract.text.startswith(abstract.title + "\n\nBACKGROUND: Leiomyosarcoma (LMS)")
    assert_offsets(abstract)
    collapsed = clean(Document("seed", " ".join(document.text.split()), "seed", "text"))
    assert collapsed.text == abstract.text


def test_section_spans_cover_bodies_not_headings() -> None:
    abstract = clean(_document(PAGES / "pubmed-structured.txt"))
    for section in abstract.sections:
        assert abstract.text[section.start - 2 : section.start] == ": "
        heading_start = section.start - 2 - len(section.heading or "")
        assert abstract.text[heading_start : section.start - 2] == section.heading
    first = abstract.sections[0]
    assert abstract.body_start == first.start - 2 - len(first.heading or "")


def test_to_original_maps_a_quote_back_to_the_page() -> None:
    document = _document(PAGES / "pmc-fulltext.txt")
    abstract = clean(document)
    quote = "Whole-lung lavage restored his saturation to 95%."
    start = abstract.text.index(quote)
    source_start, source_end = abstract.offsets.to_original(start, start + len(quote))
    assert document.text[source_start:source_end] == quote


def test_html_offsets_point_into_the_raw_html() -> None:
    document = _document(PAGES / "bmc-saved.html")
    abstract = clean(document)
    quote = "Emergency fasciotomy of the anterior and posterior compartments was performed"
    start = abstract.text.index(quote)
    source_start, source_end = abstract.offsets.to_original(start, start + len(quote))
    assert document.text[source_start:source_end] == quote
    assert "Body text" not in abstract.text and "Accesses" not in abstract.text


def test_unstructured_abstract_is_one_section_without_heading() -> None:
    abstract = clean(_document(PAGES / "pubmed-unstructured.txt"))
    assert len(abstract.sections) == 1
    assert abstract.sections[0].heading is None
    assert abstract.sections[0].kind == "other"
    assert abstract.body == abstract.section_text(abstract.sections[0])


def test_text_that_is_html_is_read_as_html() -> None:
    path = PAGES / "pubmed-saved.html"
    abstract = clean(Document("x", path.read_text(encoding="utf-8"), "paste", "text"))
    assert abstract.title == _expected(path)["title"]


def test_body_and_references_never_reach_the_abstract() -> None:
    for path in GOOD:
        abstract = clean(_document(path))
        for marker in (
            "must be dropped",
            "must never",
            "Body text",
            "Invented reference",
            "References",
        ):
            assert marker not in abstract.text, (path.name, marker)


def test_a_bare_pasted_abstract_is_accepted() -> None:
    text = "A 45-year-old man presented with chest pain. ECG showed ST elevation."
    abstract = clean(Document("x", text, "paste", "text"))
    assert abstract.title is None
    assert abstract.warnings == (
        "no title found",
        "short text (69 characters): check it is the abstract",
    )
    assert abstract.confidence == "low"
    assert abstract.text == text and abstract.body_start == 0
    titled = clean(Document("x", f"Chest pain in a young man\n\n{text}", "paste", "text"))
    assert titled.title == "Chest pain in a young man"
    assert titled.body == text


def test_labelled_abstract_without_title() -> None:
    text = (
        "Background: Rare. Case presentation: A 45-year-old man had chest pain. Conclusion: Rare."
    )
    abstract = clean(Document("x", text, "paste", "text"))
    assert [s.heading for s in abstract.sections] == [
        "Background",
        "Case presentation",
        "Conclusion",
    ]
    assert (
        abstract.text
        == "Background: Rare.\n\nCase presentation: A 45-year-old man had chest pain.\n\nConclusion: Rare."
    )


def test_html_without_title_markup_takes_the_line_above_the_abstract() -> None:
    path = PAGES / "bmc-saved.html"
    raw = path.read_text(encoding="utf-8")
    raw = raw.replace('<meta name="citation_title"', '<meta name="x"').replace("<h1", "<div")
    raw = raw.replace("</h1>", "</div>")
    abstract = clean(Document("x", raw, "saved", "html"))
    assert abstract.title == _expected(path)["title"]
    assert _sections(abstract) == _expected(path)["sections"]
