"""Output formats: the CSV header is pinned, Markdown cards read right, HTML escapes
everything and renders overlapping evidence as flat, well-formed highlights."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from summarizer.backends import Usage
from summarizer.clean import clean
from summarizer.document import Document
from summarizer.errors import ConfigError, ExtractionError, InputError
from summarizer.ground import ground
from summarizer.output import COLUMNS, FORMATS, Writer, render_html, render_markdown
from summarizer.output.highlight import Segment, segment
from summarizer.results import Failure, Provenance, Result
from summarizer.schema import SCHEMA_VERSION, CaseReport
from tests.conftest import SEED, seed_record

PLANTED = '<script>document.title="pwned"</script>'

# The CSV header, pinned: any change to the columns (a schema change included) is a
# visible diff here, and every file of every batch has exactly these.
EXPECTED_COLUMNS = [
    "id",
    "title",
    "key",
    "authors",
    "year",
    "journal",
    "doi",
    "article_type",
    "patient_count",
    "patient_age_years",
    "patient_age_text",
    "patient_sex",
    "patient_descriptors",
    "patient_evidence",
    "presentation",
    "presentation_evidence",
    "history",
    "history_evidence",
    "clinical_findings",
    "clinical_findings_evidence",
    "diagnostic_assessment",
    "diagnostic_assessment_evidence",
    "diagnosis_final",
    "diagnosis_differential",
    "diagnosis_evidence",
    "interventions",
    "interventions_evidence",
    "outcomes",
    "outcomes_evidence",
    "why_reported",
    "why_reported_evidence",
    "conclusion",
    "conclusion_evidence",
    "summary",
    "error",
    "review_status",
    "review_accepted",
    "review_corrected",
    "review_rejected",
    "review_reviewer",
    "review_decision",
    "review_decision_reason",
    "review_note",
    "review_field_notes",
    "review_unsupported",
    "patient_evidence_status",
    "presentation_count",
    "presentation_evidence_status",
    "history_count",
    "history_evidence_status",
    "clinical_findings_count",
    "clinical_findings_evidence_status",
    "diagnostic_assessment_count",
    "diagnostic_assessment_evidence_status",
    "diagnosis_evidence_status",
    "interventions_count",
    "interventions_evidence_status",
    "outcomes_count",
    "outcomes_evidence_status",
    "why_reported_evidence_status",
    "conclusion_evidence_status",
    "evidence_count",
    "unaligned_count",
    "evidence_pages",
    "grounding_rate",
    "source",
    "backend",
    "model",
    "prompt_version",
    "schema_version",
    "attempts",
    "tokens_total",
    "latency_s",
    "warnings",
    "error_type",
]


def make_result(record: dict[str, Any], text: str | None = None, *, id: str = "case-1") -> Result:
    """A Result as the pipeline builds it: cleaned abstract, grounded evidence, provenance."""
    source = text if text is not None else SEED.read_text(encoding="utf-8")
    abstract = clean(Document.from_text(source, id=id))
    report = CaseReport.model_validate(record)
    provenance = Provenance(
        backend="openai",
        model="test-model",
        mode="json_schema",
        prompt_version="v1",
        prompt_hash="0" * 64,
        schema_version=SCHEMA_VERSION,
        requests=2,
        tokens=Usage(prompt_tokens=1200, completion_tokens=300),
        latency_s=1.23456,
        source="page.txt",
        source_format="text",
        warnings=["1 evidence quote(s) not found in the abstract"],
    )
    return Result(
        id=id,
        record=report,
        evidence=ground(report, abstract),
        provenance=provenance,
        abstract=abstract,
    )


def full_record() -> dict[str, Any]:
    """The seed record with every field filled (negative findings and tests included)."""
    return seed_record(
        patient={
            "age_text": "63-year-old",
            "age_years": 63,
            "sex": "female",
            "descriptors": ["retroperitoneal LMS survivor"],
            "evidence": "A 63-year-old female",
        },
        clinical_findings=[
            {
                "description": "focal right-sided C5-level hemiparesis",
                "negative": False,
                "evidence": "a focal right-sided C5-level hemiparesis",
            },
            {
                "description": "no tumor recurrence on follow-up imaging",
                "negative": True,
                "evidence": "showed no tumor recurrence",
            },
        ],
        diagnostic_assessment=[
            {
                "name": "cervical MRI",
                "result": "right-sided C5 intralaminar mass",
                "evidence": "demonstrated a right-sided C5 intralaminar mass",
            }
        ],
        why_reported={
            "text": "Spinal LMS metastases are extremely rare.",
            "evidence": "metastases of LMS to the central nervous system/or spine are extremely rare",
        },
    )


def failure() -> Failure:
    return Failure(
        id="broken-1",
        error=ExtractionError("no valid record after 3 attempts"),
        source="broken.txt",
        title="A broken record",
    )


def write_all(format: str, items: list[Result | Failure], *, single: bool = False) -> str:
    stream = io.StringIO()
    with Writer(stream, format, single=single) as writer:
        for item in items:
            writer.write(item)
    return stream.getvalue()


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


# --------------------------------------------------------------------------- writer


def test_formats_and_unknown_format() -> None:
    assert FORMATS == ("json", "jsonl", "md", "csv", "html")
    with pytest.raises(ConfigError, match="unknown format"):
        Writer(io.StringIO(), "xml")


@pytest.mark.parametrize("format", FORMATS)
def test_single_writer_with_nothing_written_writes_nothing(format: str) -> None:
    # the CLI raises a single record's error instead of writing it: no half-made file
    assert write_all(format, [], single=True) == ""


def test_json_single_is_pretty_and_batch_is_lines() -> None:
    result = make_result(seed_record())
    single = write_all("json", [result], single=True)
    assert json.loads(single)["record"]["patient"]["age_years"] == 63
    assert single.count("\n") > 10
    lines = write_all("jsonl", [result, failure()]).splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["case-1", "broken-1"]
    assert json.loads(lines[1])["error_type"] == "ExtractionError"


# --------------------------------------------------------------------------- csv


def test_csv_header_is_pinned_and_stable() -> None:
    assert list(COLUMNS) == EXPECTED_COLUMNS
    empty = make_result({"article_type": "not_a_case_report", "summary": "A trial."})
    full = make_result(full_record())
    headers = [read_csv(write_all("csv", [item]))[0] for item in (empty, full, failure())]
    headers.append(read_csv(write_all("csv", []))[0])  # an empty batch still has one
    assert all(header == EXPECTED_COLUMNS for header in headers)
    rows = read_csv(write_all("csv", [empty, full, failure()]))
    assert rows[0] == EXPECTED_COLUMNS
    assert len(rows) == 4
    assert all(len(row) == len(EXPECTED_COLUMNS) for row in rows)


def test_csv_columns_cover_every_schema_field() -> None:
    for name in CaseReport.model_fields:
        assert any(column == name or column.startswith(f"{name}_") for column in COLUMNS), name


def test_csv_row_values() -> None:
    text = write_all("csv", [make_result(full_record()), failure()])
    ok, bad = (dict(zip(EXPECTED_COLUMNS, row, strict=True)) for row in read_csv(text)[1:])
    assert ok["patient_age_years"] == "63"
    assert ok["patient_sex"] == "female"
    assert ok["patient_evidence"] == "A 63-year-old female"
    assert ok["patient_evidence_status"] == "exact"
    assert ok["interventions"] == "surgery: posterior tumor resection"
    assert ok["interventions_evidence"] == "she underwent posterior tumor resection"
    assert ok["interventions_evidence_status"] == "exact"
    assert ok["interventions_count"] == "1"
    assert ok["clinical_findings"] == (  # one item a line
        "focal right-sided C5-level hemiparesis\n"
        "no tumor recurrence on follow-up imaging (negative)"
    )
    assert ok["diagnostic_assessment"] == "cervical MRI: right-sided C5 intralaminar mass"
    assert ok["outcomes"] == "one postoperative year: the lesion recurred (status recurred)"
    assert ok["history"] == "retroperitoneal leiomyosarcoma resection (timing 3 years ago)"
    assert ok["diagnosis_final"] == "leiomyosarcoma metastasis to C5"
    assert ok["diagnosis_differential"] == ""  # an empty list, like anything not reported
    assert ok["why_reported_evidence_status"] == "exact"
    assert ok["grounding_rate"] == "1"
    assert ok["tokens_total"] == "1500"
    assert ok["attempts"] == "2"
    assert ok["latency_s"] == "1.235"
    assert ok["schema_version"] == SCHEMA_VERSION
    assert ok["error"] == ok["review_status"] == ""
    assert bad["id"] == "broken-1"
    assert bad["title"] == "A broken record"  # a failed row keeps its title
    assert bad["error_type"] == "ExtractionError"
    assert bad["error"] == "no valid record after 3 attempts"
    assert bad["source"] == "broken.txt"
    kept = {"id", "title", "error_type", "error", "source"}
    assert all(bad[c] == "" for c in EXPECTED_COLUMNS if c not in kept)


def test_csv_round_trips_tricky_text() -> None:
    tricky = 'He said "no, thanks";\nthen left,\r\nfast — 5 µg/kg, 50% ✓'
    record = seed_record(summary=tricky, title='Commas, "quotes"\nand newlines')
    text = write_all("csv", [make_result(record)])
    # csv module conventions: CRLF row ends, embedded quotes doubled, fields quoted.
    assert text.startswith("id,title,")
    assert '"He said ""no, thanks"";' in text
    rows = read_csv(text)
    assert len(rows) == 2
    row = dict(zip(EXPECTED_COLUMNS, rows[1], strict=True))
    assert row["summary"] == tricky
    assert row["title"] == 'Commas, "quotes"\nand newlines'


def test_csv_neutralises_spreadsheet_formulas() -> None:
    record = seed_record(summary='=HYPERLINK("http://evil.invalid","click")')
    rows = read_csv(write_all("csv", [make_result(record)]))
    summary = dict(zip(EXPECTED_COLUMNS, rows[1], strict=True))["summary"]
    assert summary == '\'=HYPERLINK("http://evil.invalid","click")'


# --------------------------------------------------------------------------- markdown


def test_markdown_card_content() -> None:
    card = render_markdown(make_result(full_record()))
    assert card.startswith("# A rare presentation of leiomyosarcoma metastasis")
    assert "**Patient:** 63-year-old female; 1 patient; retroperitoneal LMS survivor[^1]" in card
    assert "**Article type:** Case report" in card
    assert "## Presentation\n\n- right-sided numbness and pain — duration: 2 months[^2]" in card
    assert "*(negative)* no tumor recurrence on follow-up imaging" in card
    assert "**cervical MRI:** right-sided C5 intralaminar mass" in card
    assert "**surgery:** posterior tumor resection" in card
    assert "**one postoperative year:** the lesion recurred — status: *recurred*" in card
    assert "## Why reported\n\nSpinal LMS metastases are extremely rare." in card
    assert "## Conclusion\n\nGross total surgical resection is the first line of treatment." in card
    assert "## Summary\n\nA 63-year-old woman" in card
    # every fact footnoted with its quote and alignment status
    assert "[^1]: `patient` “A 63-year-old female” — **exact**" in card
    footnotes = re.findall(r"^\[\^(\d+)\]: ", card, flags=re.M)
    assert footnotes == [str(n) for n in range(1, len(footnotes) + 1)]
    assert len(footnotes) == 11
    # provenance at the bottom
    assert card.index("## Provenance") > card.index("## Evidence")
    assert "- model: test-model" in card
    assert "- tokens: 1500 (1200 prompt + 300 completion)" in card


def test_markdown_marks_not_reported_and_unaligned() -> None:
    record = seed_record(
        diagnosis=None,
        conclusion={"text": "Invented.", "evidence": "a sentence the abstract never says"},
    )
    card = render_markdown(make_result(record))
    assert "## Diagnosis\n\n*Not reported.*" in card
    assert "## Clinical findings\n\n*Not reported.*" in card
    assert "**unaligned (not found in the abstract)**" in card
    assert "**Evidence:** 5 of 6 quotes found in the abstract (83%; the quotes, not" in card


def test_markdown_escapes_markup_in_text() -> None:
    record = seed_record(summary=f"A [link](http://x.invalid) and {PLANTED} *bold*")
    card = render_markdown(make_result(record))
    assert "<script>" not in card
    assert r"\<script\>" in card
    assert r"\[link\](http://x.invalid)" in card
    assert r"\*bold\*" in card


def test_markdown_batch_keeps_footnotes_unique_and_renders_failures() -> None:
    text = write_all("md", [make_result(seed_record()), failure(), make_result(seed_record())])
    labels = re.findall(r"^\[\^([^\]]+)\]: ", text, flags=re.M)
    assert len(labels) == len(set(labels)) == 14
    assert "# Failed: broken-1" in text
    assert "> **ExtractionError:** no valid record after 3 attempts" in text
    assert text.count("\n---\n") == 2


# --------------------------------------------------------------------------- html


class _Tags(HTMLParser):
    """Checks the markup is well nested and collects elements of interest."""

    VOID = frozenset({"meta", "br", "img", "hr", "link", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.marks: list[dict[str, str | None]] = []
        self.ids: list[str] = []
        self.scripts = 0
        self.external: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag not in self.VOID:
            self.stack.append(tag)
        if tag == "mark":
            self.marks.append(attributes)
        if tag == "script":
            self.scripts += 1
        if attributes.get("id"):
            self.ids.append(str(attributes["id"]))
        for name in ("src", "href"):
            value = attributes.get(name)
            if value and not value.startswith("#"):
                self.external.append(value)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    parser.close()
    assert parser.stack == []
    return parser


def test_html_page_is_self_contained_and_well_formed() -> None:
    page = render_html(make_result(full_record()))
    tags = parse(page)
    assert tags.scripts == 0
    assert tags.external == []
    assert "default-src 'none'" in page
    assert len(tags.ids) == len(set(tags.ids))
    assert len(tags.marks) >= 9
    assert {mark["class"] for mark in tags.marks} <= {"ev ev-exact", "ev ev-exact ev-overlap"}
    # each aligned quote: a <mark> (or anchor) with its id, linked to and from its field
    for number in range(1, 12):
        assert f'id="ev-{number}"' in page
        assert f'href="#ev-{number}"' in page
    assert 'id="f-presentation-0"' in page
    assert 'href="#f-presentation-0"' in page
    assert 'id="f-clinical_findings-1"' not in page  # ids are slugs
    assert 'id="f-clinical-findings-1"' in page


def test_html_escapes_abstract_and_record_text() -> None:
    text = (
        f"Case with {PLANTED} in its title\n\n"
        "CASE PRESENTATION: A 45-year-old man had <b>pain</b> & fever <script>alert(1)</script> "
        "after 3 days.\n\nCONCLUSION: Rare."
    )
    record = {
        "title": f"Case with {PLANTED} in its title",
        "article_type": "case_report",
        "patient": {"age_text": "45-year-old", "sex": "male", "evidence": "A 45-year-old man"},
        "presentation": [
            {
                "description": "pain <img src=x onerror=alert(1)>",
                "evidence": "had <b>pain</b> & fever <script>alert(1)</script>",
            }
        ],
        "summary": f'A man "with" pain {PLANTED}',
    }
    page = render_html(make_result(record, text))
    tags = parse(page)
    assert tags.scripts == 0
    assert "<script>" not in page
    assert "<b>pain" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert (
        "<title>Case with &lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt; in its"
        in page
    )
    # the planted markup reads back as the original text
    assert PLANTED in "".join(tags.text)
    assert "had <b>pain</b> & fever <script>alert(1)</script>" in "".join(tags.text)


def abstract_text(page: str) -> str:
    """The text of the highlighted abstract, markup stripped."""
    found = re.search(r'<div class="abstract">(.*?)</div>', page, flags=re.S)
    assert found is not None
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1)))


def test_html_abstract_text_survives_highlighting() -> None:
    result = make_result(full_record())
    assert abstract_text(render_html(result)) == result.abstract.text


def test_segments_split_overlapping_and_nested_spans() -> None:
    #            0         1         2         3
    #            0123456789012345678901234567890123
    spans = [(4, 20), (10, 30), (12, 16), None, (25, 25), (30, 99)]
    segments = segment(34, spans)
    assert [(s.start, s.end, s.spans) for s in segments] == [
        (0, 4, ()),
        (4, 10, (0,)),
        (10, 12, (0, 1)),
        (12, 16, (0, 1, 2)),
        (16, 20, (0, 1)),
        (20, 30, (1,)),
        (30, 34, (5,)),
    ]
    assert segments[3] == Segment(12, 16, (0, 1, 2), (2,), 2)  # innermost span is primary
    assert segments[4].primary == 0  # (4, 20) is shorter than (10, 30)
    starts = [index for s in segments for index in s.starts]
    assert starts == [0, 1, 2, 5]  # each span anchored once, at its first segment


def test_segments_share_a_start_and_carry_layers() -> None:
    segments = segment(20, [(0, 10), (0, 5)], layers=[(0, 3, "title")])
    assert [(s.start, s.end, s.spans, s.starts, s.layer) for s in segments] == [
        (0, 3, (0, 1), (0, 1), "title"),
        (3, 5, (0, 1), (), None),
        (5, 10, (0,), (), None),
        (10, 20, (), (), None),
    ]


def test_html_renders_overlapping_spans_as_flat_marks() -> None:
    record = full_record()
    # three quotes over one stretch of text: [2] presentation, [4] a finding, [6] a test
    record["presentation"] = [
        {
            "description": "numbness and pain with hemiparesis",
            "evidence": "numbness and pain of 2 months duration that correlated with a focal",
        }
    ]
    record["clinical_findings"][0]["evidence"] = "2 months duration that correlated"
    record["diagnostic_assessment"][0]["evidence"] = "pain of 2 months duration"
    result = make_result(record)
    page = render_html(result)
    tags = parse(page)
    overlapping = [mark for mark in tags.marks if "ev-overlap" in str(mark["class"])]
    assert len(overlapping) >= 2
    assert any(mark["data-evidence"] == "2 4 6" for mark in tags.marks)
    # the span ids are unique, one per aligned quote, however the spans overlap
    for number, _ in enumerate(result.evidence, 1):
        assert tags.ids.count(f"ev-{number}") == 1
    assert abstract_text(page) == result.abstract.text


def test_html_batch_page_has_every_record_and_error_cards() -> None:
    items: list[Result | Failure] = [
        make_result(seed_record(), id="a"),
        Failure(id="<bad>", error=InputError("empty text", path="x.txt")),
        make_result(full_record(), id="b"),
    ]
    page = write_all("html", items)
    tags = parse(page)
    assert page.count("<!DOCTYPE html>") == 1
    assert page.count('<article class="record"') == 2
    assert page.count('<article class="record failure"') == 1
    assert "Failed: &lt;bad&gt;" in page
    assert "x.txt: empty text" in page
    assert len(tags.ids) == len(set(tags.ids))  # ids prefixed per record
    assert 'id="r1-ev-1"' in page and 'id="r3-ev-1"' in page
    assert 'href="#r2-record"' in page  # the index links every record
    assert render_html(items) == page


def test_html_empty_batch_is_a_valid_page() -> None:
    page = write_all("html", [])
    parse(page)
    assert "No records." in page
    assert page.rstrip().endswith("</html>")


def test_templates_ship_inside_the_package() -> None:
    from importlib import resources

    folder = resources.files("summarizer").joinpath("templates")
    names = {"card.md.j2", "html/head.html.j2", "html/record.html.j2", "html/foot.html.j2"}
    for name in names:
        assert folder.joinpath(*name.split("/")).is_file(), name
    assert Path(str(folder)).resolve().parent == Path(str(resources.files("summarizer"))).resolve()
