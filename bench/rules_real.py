"""Measure the rules backend on real case texts.

    .venv/bin/python bench/rules_real.py            # the figures
    .venv/bin/python bench/rules_real.py --show     # and every miss

Runs ``summarizer.Summarizer`` with the rules backend (the public library path) on:

- the PMC case notes (``pmc-patient-notes-dev.jsonl``), labelled by others with age and sex;
- the E3C case texts we labelled by hand (ids and labels in ``evals/labels/e3c-150.jsonl``;
  the texts themselves are read from ``../shared``);
- the real pages' hand-located abstracts (``real-pages-dev.jsonl``, title + the labelled
  abstract span), to measure the rules apart from the cleaner;
- BC5CDR (title + abstract), which has no age or sex labels: only the article type and the
  quotes are measured there (a few of its records are studies or reviews, not cases).

Each text goes through two paths: ``plain`` (the text as a string, as a user pastes it,
so it passes through the page cleaner) and ``export`` (a ``Document`` of format ``jsonl``, as
an export record, which the cleaner keeps whole). Printed per corpus and path:

- ``age`` and ``sex``: accuracy over the records that carry a label. Age is right within
  0.5 years for ages of 2 and over, else within max(10 %, 1 day): the tolerance of
  ``../shared/tools/score-real-pages``.
- ``patient count`` (E3C and the real pages, which carry it): how many patients.
- ``type wrong``: texts that describe a patient but came out ``not_a_case_report``, and (E3C,
  where a reader found no patient) the reverse. These are case texts: about 0.
- ``spurious`` (E3C): an age or sex given where the reader found none stated.
- ``cut quotes``: evidence quotes that start or end inside a word (target 0), of all quotes.

Skips, with a note and exit 0, when ../shared is absent. No corpus text is written anywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from summarizer import Document, Settings, Summarizer  # noqa: E402
from summarizer.errors import SummarizerError  # noqa: E402
from summarizer.pipeline import Result  # noqa: E402
from summarizer.schema import ArticleType  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
E3C_LABELS = ROOT / "evals" / "labels" / "e3c-150.jsonl"
_UNIT_YEARS = {"years": 1.0, "months": 1 / 12, "weeks": 7 / 365.25, "days": 1 / 365.25}


@dataclass(frozen=True, slots=True)
class Case:
    """One real text with what we know about its first patient (None: no label)."""

    id: str
    text: str
    title: str | None = None
    age_years: float | None = None
    sex: str | None = None
    patient_count: int | None = None
    labelled_none: bool = False
    """True when a reader found no age or sex stated (so a value from the backend is spurious)."""
    describes_patient: bool = True


@dataclass(slots=True)
class Tally:
    records: int = 0
    age_right: int = 0
    age_labelled: int = 0
    sex_right: int = 0
    sex_labelled: int = 0
    count_right: int = 0
    count_labelled: int = 0
    not_case: int = 0
    spurious: int = 0
    errors: int = 0
    quotes: int = 0
    cut_quotes: int = 0
    misses: list[str] = field(default_factory=list)


def age_matches(got: float | None, want: float) -> bool:
    if got is None:
        return False
    tolerance = 0.5 if want >= 2 else max(0.1 * want, 1 / 365)
    return abs(got - want) <= tolerance


def _rows(name: str) -> Iterator[dict[str, object]]:
    with (CORPUS / name).open(encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def pmc_cases() -> list[Case]:
    cases = []
    for row in _rows("pmc-patient-notes-dev.jsonl"):
        labels = row.get("labels") or {}
        assert isinstance(labels, dict)
        age = labels.get("age")
        years = float(age[0]) * _UNIT_YEARS[age[1]] if age else None
        sex = labels.get("sex")
        cases.append(
            Case(
                id=str(row["id"]),
                text=str(row["text"]),
                age_years=years,
                sex=sex.lower() if isinstance(sex, str) else None,
            )
        )
    return cases


def e3c_cases() -> list[Case]:
    if not E3C_LABELS.exists():
        return []
    labels = {}
    with E3C_LABELS.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                label = json.loads(line)
                labels[label["id"]] = label
    cases = []
    for row in _rows("e3c-case-texts.jsonl"):
        label = labels.get(str(row["id"]))
        if label is not None:
            cases.append(
                Case(
                    id=label["id"],
                    text=str(row["text"]),
                    age_years=label["age_years"],
                    sex=label["sex"],
                    patient_count=label["patient_count"] or None,
                    labelled_none=True,
                    describes_patient=label["patient_count"] != 0,
                )
            )
    return cases


def real_page_abstracts() -> list[Case]:
    """The hand-located abstract of each real page (the cleaner's job done right), so the
    rules backend is measured apart from the cleaner; the whole pages are
    ``../shared/tools/score-real-pages``'s to measure."""
    cases = []
    for row in _rows("real-pages-dev.jsonl"):
        span = row.get("abstract_span")
        if not isinstance(span, list):
            continue
        page = str(row["page"])
        age, sex = row.get("age_years"), row.get("sex")
        cases.append(
            Case(
                id=str(row["id"]),
                text=page[span[0] : span[1]],
                title=str(row["title"]),
                age_years=float(age) if isinstance(age, int | float) else None,
                sex=sex if isinstance(sex, str) else None,
                patient_count=count
                if isinstance((count := row.get("patient_count")), int)
                else None,
            )
        )
    return cases


def bc5cdr_cases() -> list[Case]:
    return [
        Case(id=str(row["id"]), text=str(row["abstract"]), title=str(row["title"]))
        for row in _rows("bc5cdr-case-like.jsonl")
    ]


def cut_quotes(result: Result) -> list[str]:
    """Evidence quotes that start or end inside a word of the cleaned text."""
    text = result.abstract.text
    cut = []
    for span in result.evidence:
        if span.end <= span.start:
            continue
        starts_inside = (
            span.start > 0 and text[span.start - 1].isalnum() and text[span.start].isalnum()
        )
        ends_inside = (
            span.end < len(text) and text[span.end - 1].isalnum() and text[span.end].isalnum()
        )
        if starts_inside or ends_inside:
            cut.append(f"{span.field}: {span.quote[:70]!r}")
    return cut


def source(case: Case, path: str) -> Document | str:
    if path == "export":
        return Document(
            id=case.id, text=case.text, origin="<bench>", format="jsonl", title=case.title
        )
    return f"{case.title}\n\n{case.text}" if case.title else case.text


def measure(summarizer: Summarizer, cases: list[Case], path: str) -> Tally:
    tally = Tally()
    for case in cases:
        tally.records += 1
        try:
            result = summarizer.summarize(source(case, path))
        except SummarizerError as error:
            tally.errors += 1
            tally.misses.append(f"{case.id}: error {error}")
            continue
        record = result.record
        patient = record.patient
        is_case = record.article_type is not ArticleType.not_a_case_report
        if is_case != case.describes_patient:
            tally.not_case += 1
            tally.misses.append(f"{case.id}: {record.article_type.value}")
        if case.age_years is not None:
            tally.age_labelled += 1
            if age_matches(patient.age_years, case.age_years):
                tally.age_right += 1
            else:
                tally.misses.append(
                    f"{case.id}: age {patient.age_years} ({patient.age_text!r}), want {case.age_years:g}"
                )
        if case.sex is not None:
            tally.sex_labelled += 1
            if patient.sex.value == case.sex:
                tally.sex_right += 1
            else:
                tally.misses.append(f"{case.id}: sex {patient.sex.value}, want {case.sex}")
        if case.patient_count is not None:
            tally.count_labelled += 1
            if record.patient_count == case.patient_count:
                tally.count_right += 1
            else:
                tally.misses.append(
                    f"{case.id}: patient_count {record.patient_count}, want {case.patient_count}"
                )
        if case.labelled_none and case.age_years is None and patient.age_years is not None:
            tally.spurious += 1
            tally.misses.append(
                f"{case.id}: age {patient.age_years} ({patient.age_text!r}), none stated"
            )
        if case.labelled_none and case.sex is None and patient.sex.value != "not_reported":
            tally.spurious += 1
            tally.misses.append(f"{case.id}: sex {patient.sex.value}, none stated")
        tally.quotes += len(result.evidence)
        cut = cut_quotes(result)
        tally.cut_quotes += len(cut)
        tally.misses.extend(f"{case.id}: quote cut mid-word, {quote}" for quote in cut)
    return tally


def _share(right: int, total: int) -> str:
    return f"{right}/{total} ({100 * right / total:.1f}%)" if total else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show", action="store_true", help="list every miss")
    parser.add_argument(
        "--path",
        choices=("plain", "export", "both"),
        default="both",
        help="plain: the text as a string (through the page cleaner); export: a jsonl Document",
    )
    args = parser.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"skipped: {CORPUS} is absent (the real corpora are not in the repository)")
        return 0
    corpora = {
        "pmc-notes": pmc_cases(),
        "e3c-150": e3c_cases(),
        "pages-abs": real_page_abstracts(),
        "bc5cdr": bc5cdr_cases(),
    }
    paths = ("plain", "export") if args.path == "both" else (args.path,)
    summarizer = Summarizer(Settings(backend="rules"))
    header = (
        f"{'corpus':<10} {'path':<7} {'age':>18} {'sex':>18} {'patient count':>18} {'type wrong':>10} "
        f"{'spurious':>8} {'cut quotes':>12} {'errors':>6}"
    )
    print(header)
    print("-" * len(header))
    shown = []
    for name, cases in corpora.items():
        if not cases:
            print(f"{name:<10} (no records)")
            continue
        for path in paths:
            tally = measure(summarizer, cases, path)
            print(
                f"{name:<10} {path:<7} {_share(tally.age_right, tally.age_labelled):>18} "
                f"{_share(tally.sex_right, tally.sex_labelled):>18} "
                f"{_share(tally.count_right, tally.count_labelled):>18} "
                f"{tally.not_case:>10} {tally.spurious:>8} "
                f"{f'{tally.cut_quotes}/{tally.quotes}':>12} {tally.errors:>6}"
            )
            shown.extend(f"[{name} {path}] {miss}" for miss in tally.misses)
    if args.show and shown:
        print()
        print("\n".join(shown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
