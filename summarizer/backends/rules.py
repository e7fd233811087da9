"""The ``rules`` backend: fills the case schema without a model.

Deterministic and offline: the default when no model is configured, and the baseline
every prompt must beat. Every fact it emits quotes a span of the abstract verbatim.
"""

from __future__ import annotations

import re
from typing import Any

from ..ages import (
    AGE_AT_PATTERN,
    AGE_PATTERN,
    DECADE_PATTERN,
    NEWBORN_PATTERN,
    number_value,
    parse_age,
)
from ..document import Abstract
from ..render import RenderedPrompt
from ..schema import (
    SCHEMA_VERSION,
    ArticleType,
    CaseReport,
    Diagnosis,
    DiagnosticTest,
    HistoryItem,
    Intervention,
    InterventionKind,
    Outcome,
    OutcomeStatus,
    Patient,
    Sex,
    Statement,
    Symptom,
    age_in_bounds,
)
from .base import Extraction

RULES_VERSION = "rules-1"
SUMMARY_WORDS = 60

# A sentence ends at . ! or ? followed by whitespace; "i.e." and "4.5" stay inside.
_SENTENCE = re.compile(r"(?:[^.!?\n]|[.!?](?=\S))+[.!?]?")
_FEMALE = re.compile(
    r"\b(female|woman|girl|lady|mother|she|her|pregnant|primigravida|multigravida)\b", re.I
)
_MALE = re.compile(r"\b(male|man|boy|gentleman|father|he|his|him)\b", re.I)
_NOT_CASE = re.compile(
    r"\b(randomi[sz]ed|controlled trial|cohort study|cross-sectional|meta-analysis|"
    r"systematic review|retrospective(?:ly)? (?:study|analysis|review) of \d+|we enrolled|participants)\b",
    re.I,
)
_REVIEW = re.compile(
    r"\b(review of (?:the )?(?:literature|published cases)|literature review)\b", re.I
)
_SERIES = re.compile(
    r"\b(?P<n>two|three|four|five|six|seven|eight|nine|ten|\d+)\s+(?:\w+\s+){0,2}?(?:patients|cases|siblings|children|infants|women|men)\b",
    re.I,
)
_RARE = re.compile(
    r"\b(rare|rarely|first|unusual|uncommon|unique|to (?:the best of )?our knowledge|novel)\b", re.I
)
_PRESENTED = re.compile(r"\bpresent(?:ed|s|ing)? (?:to [^,.]+? )?with (?P<what>[^.;]+)", re.I)
_DURATION = re.compile(
    r"\b(?:of|for) (?P<d>(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|several)[- ](?:hours?|days?|weeks?|months?|years?))(?: duration)?",
    re.I,
)
_CLAUSE_END = re.compile(r"\s+(?:that|which|who|and was|and had|but)\s+|\s*\(|,\s")
_UNDERWENT = re.compile(
    r"\b(?:underwent|received|was treated with|were treated with|treated with|was given|was started on|started on)\s+(?P<what>[^.;]+)",
    re.I,
)
_HISTORY = re.compile(
    r"\b(?:had (?:undergone|had)|(?:a |with a |with |has a )?(?:past |medical )?history of|previously (?:underwent|diagnosed with)|known)\s+(?P<what>[^.;]+)",
    re.I,
)
_TIMING = re.compile(
    r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|several)[- ](?:days?|weeks?|months?|years?) (?:ago|earlier|before|previously)\b",
    re.I,
)
_TESTS = re.compile(
    r"\b(?P<name>(?:[A-Z][\w-]*\s){0,3}?(?:magnetic resonance(?: imaging)?|MRI|CT|computed tomography|ultrasound|ultrasonography|echocardiograph\w*|radiograph\w*|X-ray|biopsy|histolog\w*|patholog\w*|endoscop\w*|colonoscop\w*|culture|serology|PCR|angiograph\w*|electrocardiogra\w*|ECG|EEG|scan|examination))"
    r"(?:\s+\w+){0,3}?\s+(?P<verb>showed|demonstrated|revealed|confirmed|found|was positive for|was negative for|disclosed)\s+(?P<result>[^.;]+)",
    re.I,
)
_DIAGNOSIS = re.compile(
    r"\b(?:diagnosed (?:with|as)|diagnosis of|proved to be|consistent with|confirmed (?:the diagnosis of )?)\s+(?:an?\s+)?(?P<what>[^.;,]+)",
    re.I,
)
_LEADING_FILLER = re.compile(r"^(?:(?:when|then|the|a|an|her|his|their|and|on|at)\s+)+", re.I)
_NEGATIVE_RESULT = re.compile(r"^\s*(?:no|normal|negative|unremarkable|without)\b", re.I)
_KIND_WORDS: list[tuple[InterventionKind, re.Pattern[str]]] = [
    (InterventionKind.chemotherapy, re.compile(r"chemotherap|chemoradi", re.I)),
    (InterventionKind.radiotherapy, re.compile(r"radiotherap|radiation|irradiat|radiosurg", re.I)),
    (
        InterventionKind.surgery,
        re.compile(
            r"resection|ectomy|otomy|surgery|surgical|excision|amputation|transplant|repair|fusion|laminectomy|craniotomy",
            re.I,
        ),
    ),
    (
        InterventionKind.rehabilitation,
        re.compile(r"physical therapy|physiotherap|rehabilitat", re.I),
    ),
    (
        InterventionKind.procedure,
        re.compile(
            r"biopsy|drainage|catheter|endoscop|stent|embolization|intubat|dialysis|transfusion|puncture",
            re.I,
        ),
    ),
    (
        InterventionKind.medication,
        re.compile(
            r"\bmg\b|therapy with|antibiotic|steroid|prednis|mab\b|nib\b|cillin|mycin|azole|vir\b|insulin|heparin|treated with",
            re.I,
        ),
    ),
]
_OUTCOMES: list[tuple[OutcomeStatus, re.Pattern[str]]] = [
    (
        OutcomeStatus.stable,
        re.compile(r"\bno (?:\w+ ){0,2}(?:recurrence|progression|relapse)\b", re.I),
    ),
    (OutcomeStatus.died, re.compile(r"\b(died|death|passed away|expired|fatal)\b", re.I)),
    (OutcomeStatus.recurred, re.compile(r"\b(recurred|recurrence|relapsed?)\b", re.I)),
    (
        OutcomeStatus.resolved,
        re.compile(
            r"\b(resolved|resolution|complete(?:ly)? (?:recover\w*|remission)|cured|disease-free)\b",
            re.I,
        ),
    ),
    (OutcomeStatus.improved, re.compile(r"\b(improved|improvement|recovered|discharged)\b", re.I)),
    (OutcomeStatus.worsened, re.compile(r"\b(worsened|deteriorat|progress(?:ed|ion))\b", re.I)),
]
_TIMEPOINT = re.compile(
    r"\b(?:(?:at|after|within|in|over)\s+(?:the\s+)?)?(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|eighteen|twenty-four)(?:[- ]and[- ]\w+)?[- ](?:postoperative\s+)?(?:days?|weeks?|months?|years?)(?:\s+(?:later|postoperatively|after[^,.;]*|of follow-up))?",
    re.I,
)


def _sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each sentence in text[start:end], stripped."""
    spans = []
    for match in _SENTENCE.finditer(text, start, len(text) if end is None else end):
        s, e = match.span()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e - s > 1:
            spans.append((s, e))
    return spans


def _clause(text: str, limit: int = 140) -> str:
    text = text.strip().rstrip(",;:")
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0]


class RulesBackend:
    name = "rules"
    model = RULES_VERSION
    mode = "rules"

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model, "schema_version": SCHEMA_VERSION}

    def extract(self, abstract: Abstract, prompt: RenderedPrompt | None = None) -> Extraction:
        return Extraction(record=extract_rules(abstract), attempts=1)

    async def aextract(
        self, abstract: Abstract, prompt: RenderedPrompt | None = None
    ) -> Extraction:
        return self.extract(abstract, prompt)

    def close(self) -> None:
        return None


def _body_sentences(abstract: Abstract) -> list[tuple[int, int]]:
    if abstract.sections:
        spans: list[tuple[int, int]] = []
        for section in abstract.sections:
            spans.extend(_sentences(abstract.text, section.start, section.end))
        return spans
    return _sentences(abstract.text, abstract.body_start)


def _patient(text: str, sentences: list[tuple[int, int]]) -> Patient:
    for start, end in sentences:
        sentence = text[start:end]
        for pattern in (AGE_PATTERN, AGE_AT_PATTERN, DECADE_PATTERN, NEWBORN_PATTERN):
            match = pattern.search(sentence)
            if not match or not age_in_bounds(parse_age(match.group(0))):
                continue
            if pattern is AGE_AT_PATTERN and number_value(match["num"]) is None:
                continue
            # Sex: the words right after the age phrase, else the sentence, else the text.
            after = sentence[match.end() : match.end() + 60]
            sex = _sex(after) or _sex(sentence) or _sex(text[end:]) or Sex.not_reported
            quote_end = min(
                len(sentence), match.end() + len(after.split(",")[0].split(" with ")[0])
            )
            quote = sentence[max(0, match.start() - 2) : quote_end].strip(" ,;")
            return Patient(age_text=match.group(0), sex=sex, evidence=quote or match.group(0))
    whole = " ".join(text[s:e] for s, e in sentences)
    sex = _sex(whole) or Sex.not_reported
    return Patient(sex=sex)


def _sex(text: str) -> Sex | None:
    female, male = _FEMALE.search(text), _MALE.search(text)
    if female and (not male or female.start() < male.start()):
        return Sex.female
    if male:
        return Sex.male
    return None


def _case_sentences(abstract: Abstract) -> list[tuple[int, int]]:
    """Sentences of the sections that describe the patient (case, results, other)."""
    spans: list[tuple[int, int]] = []
    for section in abstract.sections:
        if section.kind in {"case", "results", "other"}:
            spans.extend(_sentences(abstract.text, section.start, section.end))
    return spans


def _section_sentences(abstract: Abstract, kind: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for section in abstract.sections:
        if section.kind == kind:
            spans.extend(_sentences(abstract.text, section.start, section.end))
    return spans


def extract_rules(abstract: Abstract) -> CaseReport:
    """A schema-valid CaseReport from phrases and sections alone."""
    text = abstract.text
    sentences = _body_sentences(abstract)
    body = text[abstract.body_start :]
    searchable = f"{abstract.title or ''}\n{body}"

    series = _SERIES.search(body)
    series_count = number_value(series["n"]) if series else None
    if _NOT_CASE.search(searchable) and not re.search(r"\bcase report\b", searchable, re.I):
        article_type, count = ArticleType.not_a_case_report, None
    elif series_count and series_count >= 2:
        article_type, count = ArticleType.case_series, int(series_count)
    elif _REVIEW.search(searchable):
        article_type, count = ArticleType.review_with_case, 1
    else:
        article_type, count = ArticleType.case_report, 1

    patient = (
        _patient(text, sentences)
        if article_type is not ArticleType.not_a_case_report
        else Patient()
    )

    presentation: list[Symptom] = []
    history: list[HistoryItem] = []
    tests: list[DiagnosticTest] = []
    diagnosis: Diagnosis | None = None
    interventions: list[Intervention] = []
    outcomes: list[Outcome] = []
    why: Statement | None = None
    case_sentences = _case_sentences(abstract) or sentences
    for start, end in case_sentences:
        sentence = text[start:end]
        if (found := _PRESENTED.search(sentence)) and len(presentation) < 3:
            what = _CLAUSE_END.split(found["what"], maxsplit=1)[0]
            duration = _DURATION.search(what)
            presentation.append(
                Symptom(
                    description=_clause(_DURATION.sub("", what)),
                    duration=duration["d"] if duration else None,
                    evidence=found.group(0)[: len(found.group(0)) - len(found["what"]) + len(what)],
                )
            )
        if (found := _HISTORY.search(sentence)) and len(history) < 4:
            what = _CLAUSE_END.split(found["what"], maxsplit=1)[0]
            for part in re.split(
                r"\s+and\s+(?=(?:a |an |the )?\w+ (?:of|for)\b|resection|surgery)", what
            )[:3]:
                timing = _TIMING.search(part)
                history.append(
                    HistoryItem(
                        description=_clause(_TIMING.sub("", part)),
                        timing=timing.group(0) if timing else None,
                        evidence=part.strip() or found.group(0),
                    )
                )
        for found in _TESTS.finditer(sentence):
            if len(tests) >= 5:
                break
            result = _CLAUSE_END.split(found["result"], maxsplit=1)[0]
            name = _LEADING_FILLER.sub("", found["name"].strip())
            start_at = found.start("name") + found["name"].find(name)
            tests.append(
                DiagnosticTest(
                    name=name,
                    result=_clause(result),
                    negative=bool(_NEGATIVE_RESULT.match(result))
                    or "negative" in found["verb"].lower(),
                    evidence=sentence[start_at : found.start("result") + len(result)],
                )
            )
        if diagnosis is None and (found := _DIAGNOSIS.search(sentence)):
            final = _clause(found["what"], 120)
            if len(final.split()) <= 12:
                diagnosis = Diagnosis(final=final, evidence=found.group(0))
        if found := _UNDERWENT.search(sentence):
            what = found["what"]
            kind = next((k for k, p in _KIND_WORDS if p.search(what)), InterventionKind.other)
            interventions.append(
                Intervention(kind=kind, detail=_clause(what), evidence=_clause(found.group(0), 200))
            )
        for status, pattern in _OUTCOMES:
            if pattern.search(sentence) and not any(o.evidence == sentence for o in outcomes):
                when = _TIMEPOINT.search(sentence)
                outcomes.append(
                    Outcome(
                        timepoint=when.group(0).strip() if when else None,
                        description=_clause(sentence, 200),
                        status=status,
                        evidence=sentence,
                    )
                )
                break
    for start, end in sentences:
        sentence = text[start:end]
        if _RARE.search(sentence):
            why = Statement(text=sentence, evidence=sentence)
            break

    conclusion_spans = _section_sentences(abstract, "conclusion") or sentences[-1:]
    conclusion = None
    if conclusion_spans and article_type is not ArticleType.not_a_case_report:
        s, e = conclusion_spans[0]
        conclusion = Statement(text=text[s:e], evidence=text[s:e])

    return CaseReport(
        title=abstract.title,
        article_type=article_type,
        patient_count=count,
        patient=patient,
        presentation=presentation,
        history=history,
        diagnostic_assessment=tests,
        diagnosis=diagnosis,
        interventions=interventions[:6],
        outcomes=outcomes[:4],
        why_reported=why,
        conclusion=conclusion,
        summary=_summary(abstract, sentences),
    )


def _summary(abstract: Abstract, sentences: list[tuple[int, int]]) -> str:
    """Extractive: the first sentence describing the case, then the conclusion, ≤ 60 words."""
    text = abstract.text
    case = _section_sentences(abstract, "case") or sentences
    picks = case[:1] + (_section_sentences(abstract, "conclusion")[:1] or sentences[-1:])
    seen: list[tuple[int, int]] = []
    for span in picks:
        if span not in seen:
            seen.append(span)
    words = " ".join(text[s:e] for s, e in seen).split()
    if not words:
        words = (abstract.title or "No abstract text.").split()
    if len(words) > SUMMARY_WORDS:
        words = [*words[: SUMMARY_WORDS - 1], "…"]
    return " ".join(words)
