"""The ``rules`` backend: fills the case schema without a model.

Deterministic and offline: the default when no model is configured, and the baseline
every prompt must beat. Every fact it emits quotes a span of the abstract verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..document import Abstract
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
    Statement,
    Symptom,
)
from .base import Capabilities, Extraction
from .rules_patient import describes_patient, find_patient, patient_count

RULES_VERSION = "rules-3"
SUMMARY_WORDS = 60
NOT_A_CASE_SUMMARY = "Not a case report: the text describes no individual patient."

# A sentence ends at . ! or ? followed by whitespace; "i.e." and "4.5" stay inside.
_SENTENCE = re.compile(r"(?:[^.!?\n]|[.!?](?=\S))+[.!?]?")
_REVIEW = re.compile(
    r"\b(review of (?:the )?(?:literature|published cases)|literature review)\b", re.I
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
    """Fills the schema from the abstract itself: no prompt, no model, nothing to cache."""

    name = "rules"
    model = RULES_VERSION
    mode = "rules"
    capabilities = Capabilities(takes_prompt=False, cacheable=False, local=True)

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model, "schema_version": SCHEMA_VERSION}

    def fill(self, abstract: Abstract) -> Extraction:
        return Extraction(record=extract_rules(abstract), requests=0)

    async def aclose(self) -> None:
        return None


def _body_sentences(abstract: Abstract) -> list[tuple[int, int]]:
    if abstract.sections:
        spans: list[tuple[int, int]] = []
        for section in abstract.sections:
            spans.extend(_sentences(abstract.text, section.start, section.end))
        return spans
    return _sentences(abstract.text, abstract.body_start)


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
    title = _title_span(abstract)
    if not describes_patient(text, sentences, title=title):
        return _not_a_case(abstract)
    count = patient_count(text, sentences, title=title)
    facts = _case_facts(text, _case_sentences(abstract) or sentences)
    return CaseReport(
        title=abstract.title,
        article_type=_article_type(abstract, count),
        patient_count=count,
        # the title is the last place to look for the patient's age (after the whole body)
        patient=find_patient(text, [*sentences, title] if title else sentences),
        presentation=facts.presentation,
        history=facts.history,
        diagnostic_assessment=facts.tests,
        diagnosis=facts.diagnosis,
        interventions=facts.interventions[:6],
        outcomes=facts.outcomes[:4],
        why_reported=_why_reported(text, sentences),
        conclusion=_conclusion(abstract, sentences),
        summary=_summary(abstract, sentences),
    )


def _article_type(abstract: Abstract, count: int) -> ArticleType:
    if count >= 2:
        return ArticleType.case_series
    body = abstract.text[abstract.body_start :]
    if _REVIEW.search(f"{abstract.title or ''}\n{body}"):
        return ArticleType.review_with_case
    return ArticleType.case_report


@dataclass(slots=True)
class _CaseFacts:
    """What the case sentences say, field by field, in sentence order."""

    presentation: list[Symptom] = field(default_factory=list)
    history: list[HistoryItem] = field(default_factory=list)
    tests: list[DiagnosticTest] = field(default_factory=list)
    diagnosis: Diagnosis | None = None
    interventions: list[Intervention] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)


def _case_facts(text: str, spans: list[tuple[int, int]]) -> _CaseFacts:
    facts = _CaseFacts()
    for start, end in spans:
        sentence = text[start:end]
        if len(facts.presentation) < 3 and (symptom := _symptom(sentence)) is not None:
            facts.presentation.append(symptom)
        if len(facts.history) < 4:
            facts.history.extend(_history(sentence))
        facts.tests.extend(_tests(sentence, room=5 - len(facts.tests)))
        if facts.diagnosis is None:
            facts.diagnosis = _diagnosis(sentence)
        if (intervention := _intervention(sentence)) is not None:
            facts.interventions.append(intervention)
        seen = any(outcome.evidence == sentence for outcome in facts.outcomes)
        if not seen and (outcome := _outcome(sentence)) is not None:
            facts.outcomes.append(outcome)
    return facts


def _symptom(sentence: str) -> Symptom | None:
    found = _PRESENTED.search(sentence)
    if found is None:
        return None
    what = _CLAUSE_END.split(found["what"], maxsplit=1)[0]
    duration = _DURATION.search(what)
    return Symptom(
        description=_clause(_DURATION.sub("", what)),
        duration=duration["d"] if duration else None,
        evidence=found.group(0)[: len(found.group(0)) - len(found["what"]) + len(what)],
    )


def _history(sentence: str) -> list[HistoryItem]:
    found = _HISTORY.search(sentence)
    if found is None:
        return []
    what = _CLAUSE_END.split(found["what"], maxsplit=1)[0]
    items = []
    for part in _HISTORY_PARTS.split(what)[:3]:
        timing = _TIMING.search(part)
        items.append(
            HistoryItem(
                description=_clause(_TIMING.sub("", part)),
                timing=timing.group(0) if timing else None,
                evidence=part.strip() or found.group(0),
            )
        )
    return items


def _tests(sentence: str, *, room: int) -> list[DiagnosticTest]:
    tests: list[DiagnosticTest] = []
    for found in _TESTS.finditer(sentence):
        if len(tests) >= room:
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
    return tests


def _diagnosis(sentence: str) -> Diagnosis | None:
    found = _DIAGNOSIS.search(sentence)
    if found is None:
        return None
    final = _clause(found["what"], 120)
    return Diagnosis(final=final, evidence=found.group(0)) if len(final.split()) <= 12 else None


def _intervention(sentence: str) -> Intervention | None:
    found = _UNDERWENT.search(sentence)
    if found is None:
        return None
    what = found["what"]
    kind = next((k for k, p in _KIND_WORDS if p.search(what)), InterventionKind.other)
    return Intervention(kind=kind, detail=_clause(what), evidence=_clause(found.group(0), 200))


def _outcome(sentence: str) -> Outcome | None:
    for status, pattern in _OUTCOMES:
        if pattern.search(sentence):
            when = _TIMEPOINT.search(sentence)
            return Outcome(
                timepoint=when.group(0).strip() if when else None,
                description=_clause(sentence, 200),
                status=status,
                evidence=sentence,
            )
    return None


def _why_reported(text: str, sentences: list[tuple[int, int]]) -> Statement | None:
    for start, end in sentences:
        sentence = text[start:end]
        if _RARE.search(sentence):
            return Statement(text=sentence, evidence=sentence)
    return None


def _conclusion(abstract: Abstract, sentences: list[tuple[int, int]]) -> Statement | None:
    spans = _section_sentences(abstract, "conclusion") or sentences[-1:]
    if not spans:
        return None
    start, end = spans[0]
    return Statement(text=abstract.text[start:end], evidence=abstract.text[start:end])


_HISTORY_PARTS = re.compile(r"\s+and\s+(?=(?:a |an |the )?\w+ (?:of|for)\b|resection|surgery)")


def _title_span(abstract: Abstract) -> tuple[int, int] | None:
    title = abstract.title
    if title and abstract.text.startswith(title):
        return (0, len(title))
    return None


def _not_a_case(abstract: Abstract) -> CaseReport:
    """The record of a text that describes no patient: its title and, where the abstract
    labels one, its conclusion; no patient facts and no lists."""
    conclusion = None
    spans = _section_sentences(abstract, "conclusion")
    if spans:
        start, end = spans[0]
        quote = abstract.text[start:end]
        conclusion = Statement(text=quote, evidence=quote)
    return CaseReport(
        title=abstract.title,
        article_type=ArticleType.not_a_case_report,
        patient_count=None,
        patient=Patient(),
        conclusion=conclusion,
        summary=NOT_A_CASE_SUMMARY,
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
