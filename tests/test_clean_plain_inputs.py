"""The cleaner on inputs real users give that are plainer than a page: a title of two words,
a single sentence, and a whole page pasted into an export's abstract column. Every text here
is invented for these tests (the pages on the shapes of tests/fixtures/pages)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from summarizer import summarize
from summarizer.clean import EXPORT_FORMATS, clean
from summarizer.cli import cli
from summarizer.document import Document
from summarizer.errors import InputError

PAGES = Path(__file__).parent / "fixtures" / "pages"
BODY = (
    "A 44-year-old man presented with intensely itchy papules on both elbows and knees. "
    "Biopsy showed neutrophilic microabscesses, and direct immunofluorescence showed granular "
    "IgA deposits. He improved on a gluten-free diet and dapsone within two months."
)


def page(text: str) -> Document:
    return Document("p", text, "page.txt", "text")


# --- a plain title of two words -------------------------------------------------------------------

TWO_WORD_TITLES = [
    "Dermatitis herpetiformis",
    "Scrub typhus",
    "Kikuchi disease",
    "Quinidine hepatitis.",
]
LAYOUTS = {
    "plain text": "{title}\n\n{body}",
    "plain text, one newline": "{title}\n{body}",
    "plain text with a heading": "{title}\n\nAbstract\n{body}",
    "reading app": "Add like\nAdd dislike\nAdd to saved papers\n\n{title}\n\n{body}\n\nFull text links\n",
    "reading app, collapsed": "Add like  Add dislike  Add to saved papers  {title}  {body}  Full text links",
    "journal page": "Skip to main content\nJournal of Invented Dermatology\n{title}\nJan Novak, "
    "Eva Dvorak\nAbstract\n{body}\nReferences\n1. Novak J. An earlier report. 2001.",
    "journal page, collapsed": "Skip to main content  Journal of Invented Dermatology  {title}  Jan "
    "Novak, Eva Dvorak  Abstract  {body}  References  1. Novak J. An earlier report. 2001.",
}  # fmt: skip


TITLE_CASES = [
    pytest.param(title, layout, id=f"{title}-{name}")
    for title in TWO_WORD_TITLES
    for name, layout in LAYOUTS.items()
    # a line that ends in a stop right over the next line is a sentence, not a title
    if not (title.endswith(".") and name == "plain text, one newline")
]


@pytest.mark.parametrize(("title", "layout"), TITLE_CASES)
def test_a_plain_two_word_title_is_the_title(title: str, layout: str) -> None:
    abstract = clean(page(layout.format(title=title, body=BODY)))
    assert abstract.title == title
    assert abstract.body.startswith("A 44-year-old man")
    assert summarize(page(layout.format(title=title, body=BODY)), backend="rules").record.title


@pytest.mark.parametrize(
    "line",
    ["Jan Novak", "Original article", "Case Report", "Open access", "Brief report", "Research"],
)
def test_two_words_that_are_no_title_are_not_taken(line: str) -> None:
    abstract = clean(page(f"{line}\n\n{BODY}"))
    assert abstract.title is None


# --- one plain sentence ---------------------------------------------------------------------------

ONE_SENTENCE = [
    ("A middle-aged woman presented with acute forgetfulness.", None, "female"),
    ("An 80-year-old man fell at home and broke his hip.", 80.0, "male"),
    ("She was admitted with sepsis and recovered.", None, "female"),
    ("A boy swallowed a magnet and developed peritonitis.", None, "male"),
    ("The patient was a 34-year-old woman with a rash.", 34.0, "female"),
]


@pytest.mark.parametrize(("text", "age", "sex"), ONE_SENTENCE)
def test_one_plain_sentence_is_summarised(text: str, age: float | None, sex: str) -> None:
    result = summarize(text, backend="rules")
    assert result.abstract.body == text
    assert result.abstract.confidence == "low"  # short: the record says so
    assert result.record.patient.age_years == age
    assert result.record.patient.sex.value == sex


@pytest.mark.parametrize(
    "text",
    [
        "Acute forgetfulness in a middle-aged woman.",  # a title with a stop: no verb
        "Acute forgetfulness in a middle-aged woman",
        "Cholestasis induced by amoxicillin in a child.",
        "Pneumothorax.",
        "Case presentation. Discussion. Conclusions.",
    ],
)
def test_a_title_or_headings_alone_are_still_refused(text: str) -> None:
    with pytest.raises(InputError, match="no abstract found"):
        clean(page(text))


def test_one_sentence_through_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text("A middle-aged woman presented with acute forgetfulness.\n", "utf-8")
    result = CliRunner().invoke(cli, ["summarize", "--backend", "rules", "-q", str(path)])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)["record"]
    assert record["patient"]["sex"] == "female"


# --- a whole page in an export's abstract column ---------------------------------------------------

READING_APP = (PAGES / "readingapp-unstructured.txt").read_text("utf-8")
COLLAPSED_APP = " ".join(READING_APP.split())
HTML_PAGE = (PAGES / "readingapp-saved.html").read_text("utf-8")


@pytest.mark.parametrize("fmt", sorted(EXPORT_FORMATS))
@pytest.mark.parametrize("text", [READING_APP, COLLAPSED_APP], ids=["lines", "collapsed"])
def test_a_page_in_an_export_record_is_cleaned_as_the_page(fmt: str, text: str) -> None:
    as_page = clean(page(text))
    as_record = clean(Document("r1", text, f"export.{fmt}", fmt))
    assert as_record.text == as_page.text
    assert as_record.title == "Severe hyponatraemia after drinking four litres of herbal tea."
    assert "Add like" not in as_record.text and "Full text links" not in as_record.text
    # the offsets still point into the record's own text
    start = as_record.body_start
    assert text[as_record.offsets[start] : as_record.offsets[start] + 12] == "A 52-year-ol"


def test_saved_html_in_an_export_record_is_cleaned_as_the_page() -> None:
    as_page = clean(Document("p", HTML_PAGE, "page.html", "html"))
    as_record = clean(Document("r1", HTML_PAGE, "export.csv", "csv"))
    assert as_record.text == as_page.text


@pytest.mark.parametrize(
    "abstract",
    [
        BODY,
        f"BACKGROUND: Itch is common. CASE PRESENTATION: {BODY} CONCLUSIONS: Think of it.",
        f"{BODY} Copyright © 2021 The Authors. Published by Invented Press. Open access under "
        "a CC BY licence.",
        f"Open-label treatment helped. {BODY}",
    ],
    ids=["plain", "structured", "licence footer", "open-label"],
)
def test_an_abstract_in_an_export_record_is_kept_whole(abstract: str) -> None:
    record = clean(Document("r1", abstract, "export.csv", "csv", title="A title"))
    assert record.title == "A title"
    first_words = " ".join(abstract.split()[:4]).rstrip(":")
    assert record.body.startswith(first_words)
    assert "dapsone within two months." in record.body


def test_a_pasted_page_in_a_csv_summarises_through_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "screening.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "abstract"])
        writer.writerow(["pasted", "", READING_APP])
        writer.writerow(["plain", "A plain record", BODY])
        writer.writerow(["chrome only", "", "Add like\nAdd dislike\nAdd to saved papers\n"])
    result = CliRunner().invoke(cli, ["summarize", "--backend", "rules", "-q", str(path)])
    assert result.exit_code == 1  # the record with nothing to summarise
    rows = {row["id"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert rows["pasted"]["record"]["patient"]["age_years"] == 52
    assert rows["pasted"]["record"]["title"].startswith("Severe hyponatraemia")
    assert rows["plain"]["record"]["title"] == "A plain record"
    assert "no abstract found" in rows["chrome only"]["error"]
