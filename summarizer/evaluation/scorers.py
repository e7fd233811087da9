"""Field-typed scorers: a gold record against an output record.

Every scorer returns a ``FieldScore`` whose ``score`` is in [0, 1], or ``None`` when the
field is not applicable (the gold record does not give it), with a short reason:

- enums (article_type, sex): exact;
- age: within ±0.5 years, or ±10 % when the gold age is under 2 years (at least one day);
- patient_count: exact;
- short text (title, diagnosis, why_reported, conclusion): the mean of token F1 and
  rapidfuzz's token-set similarity;
- lists: one-to-one Hungarian matching (``scipy.optimize.linear_sum_assignment``) on an
  item similarity with a threshold, then soft precision / recall / F1 (each matched pair
  counts its item score, so near misses earn partial credit; order does not matter).

Each field also says whether the gold record and the output have a value, which gives
omissions (gold has it, output does not) and hallucinations (output has it, gold says
null or empty).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from rapidfuzz import fuzz

from ..ages import parse_age
from ..schema import ArticleType, CaseReport, Patient, Sex
from .gold import GoldAlternatives, GoldExpected

__all__ = [
    "FIELDS",
    "MATCH_THRESHOLD",
    "SCORER_VERSION",
    "FieldScore",
    "ListMatch",
    "age_tolerance",
    "match_lists",
    "score_age",
    "score_enum",
    "score_record",
    "text_similarity",
    "token_f1",
]

SCORER_VERSION = "1"
"""Bump when a scorer changes: stored runs say which version scored them."""

MATCH_THRESHOLD = 0.5
"""Minimum text similarity for two list items to count as the same item."""

FIELDS = (
    "title",
    "article_type",
    "patient_count",
    "patient.age",
    "patient.sex",
    "presentation",
    "history",
    "clinical_findings",
    "diagnostic_assessment",
    "diagnosis.final",
    "diagnosis.differential",
    "interventions",
    "outcomes",
    "why_reported",
    "conclusion",
)
"""Scored fields, in report order."""

_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "with",
        "and",
        "or",
        "by",
        "from",
        "as",
        "is",
        "was",
        "were",
        "be",
        "been",
        "this",
        "that",
        "which",
        "who",
        "its",
        "his",
        "her",
        "their",
        "there",
    ]
)
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_SHOWN = 240


@dataclass(slots=True)
class FieldScore:
    """The score of one field of one record."""

    field: str
    score: float | None
    reason: str
    gold_present: bool | None = None
    """Whether gold has a value (None: presence not meaningful, e.g. article_type)."""
    output_present: bool | None = None
    precision: float | None = None
    """Lists: soft precision (None when the output has no items)."""
    recall: float | None = None
    """Lists: soft recall (None when gold has no items)."""
    expected: str = ""
    got: str = ""

    @property
    def omitted(self) -> bool:
        return self.score is not None and self.gold_present is True and self.output_present is False

    @property
    def hallucinated(self) -> bool:
        return self.score is not None and self.gold_present is False and self.output_present is True

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "score": None if self.score is None else round(self.score, 4),
            "reason": self.reason,
            "gold_present": self.gold_present,
            "output_present": self.output_present,
        }
        if self.precision is not None or self.recall is not None:
            data["precision"] = None if self.precision is None else round(self.precision, 4)
            data["recall"] = None if self.recall is None else round(self.recall, 4)
        data["expected"] = self.expected
        data["got"] = self.got
        return data

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> FieldScore:
        return cls(
            field=name,
            score=data.get("score"),
            reason=str(data.get("reason", "")),
            gold_present=data.get("gold_present"),
            output_present=data.get("output_present"),
            precision=data.get("precision"),
            recall=data.get("recall"),
            expected=str(data.get("expected", "")),
            got=str(data.get("got", "")),
        )


# -- text ------------------------------------------------------------------------


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def tokens(text: str) -> list[str]:
    """Content tokens: case-folded words and numbers, stop words dropped."""
    words = _TOKEN.findall(_norm(text))
    content = [word for word in words if word not in _STOPWORDS]
    return content or words


def token_f1(a: str, b: str) -> float:
    """F1 of the multiset of content tokens (SQuAD-style)."""
    left, right = Counter(tokens(a)), Counter(tokens(b))
    if not left and not right:
        return 1.0
    common = sum((left & right).values())
    if not common:
        return 0.0
    precision = common / sum(right.values())
    recall = common / sum(left.values())
    return 2 * precision * recall / (precision + recall)


def fuzzy_similarity(a: str, b: str) -> float:
    """rapidfuzz token-set ratio in [0, 1] (word order and repeated words ignored)."""
    return (
        float(
            fuzz.token_set_ratio(
                " ".join(_TOKEN.findall(_norm(a))), " ".join(_TOKEN.findall(_norm(b)))
            )
        )
        / 100
    )


def text_similarity(a: str, b: str) -> float:
    """Mean of token F1 and fuzzy similarity: the short-text score and list-matching key."""
    if not a.strip() and not b.strip():
        return 1.0
    if not a.strip() or not b.strip():
        return 0.0
    return (token_f1(a, b) + fuzzy_similarity(a, b)) / 2


class _Shown(NamedTuple):
    """How a field's expected and produced values are shown in reports."""

    expected: str
    got: str


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def score_text(name: str, gold: str | None, output: str | None) -> FieldScore:
    gold_present, output_present = bool(gold and gold.strip()), bool(output and output.strip())
    shown = _Shown(_shown(gold), _shown(output))
    if not gold_present and not output_present:
        return FieldScore(
            name, 1.0, "both not reported", False, False, expected=shown.expected, got=shown.got
        )
    if not gold_present:
        return FieldScore(
            name,
            0.0,
            "hallucinated: gold says not reported",
            False,
            True,
            expected=shown.expected,
            got=shown.got,
        )
    if not output_present:
        return FieldScore(name, 0.0, "omitted", True, False, expected=shown.expected, got=shown.got)
    assert gold is not None and output is not None
    f1, fz = token_f1(gold, output), fuzzy_similarity(gold, output)
    return FieldScore(
        name,
        (f1 + fz) / 2,
        f"token F1 {f1:.2f}, fuzzy {fz:.2f}",
        True,
        True,
        expected=shown.expected,
        got=shown.got,
    )


# -- scalars -------------------------------------------------------------------------


def score_enum(
    name: str,
    gold: str | None,
    output: str | None,
    *,
    empty: str | None = None,
    accept: Sequence[str] = (),
) -> FieldScore:
    """Exact match. ``empty`` is the value meaning "not reported" (for omission counting);
    ``accept`` lists other values the labeller also accepts (they score 1 too)."""
    shown = _Shown(_shown(gold) + "".join(f" / {value}" for value in accept), _shown(output))
    accepted = output is not None and output != gold and output in accept
    if empty is None:
        ok = gold == output or accepted
        reason = (
            "exact"
            if gold == output
            else "accepted alternative"
            if ok
            else f"expected {gold}, got {output}"
        )
        return FieldScore(name, float(ok), reason, expected=shown.expected, got=shown.got)
    gold_present, output_present = gold not in (None, empty), output not in (None, empty)
    if not gold_present and not output_present:
        return FieldScore(
            name, 1.0, "both not reported", False, False, expected=shown.expected, got=shown.got
        )
    if gold == output or accepted:
        reason = "exact" if gold == output else "accepted alternative"
        return FieldScore(
            name, 1.0, reason, gold_present, output_present, expected=shown.expected, got=shown.got
        )
    reason = (
        "omitted"
        if not output_present
        else "hallucinated: gold says not reported"
        if not gold_present
        else f"expected {gold}, got {output}"
    )
    return FieldScore(
        name, 0.0, reason, gold_present, output_present, expected=shown.expected, got=shown.got
    )


def age_tolerance(gold_years: float) -> float:
    """±0.5 years; under 2 years ±10 % of the gold age (never below one day)."""
    if gold_years < 2:
        return max(0.1 * gold_years, 1 / 365.25)
    return 0.5


def score_age(gold: float | None, output: float | None) -> FieldScore:
    name = "patient.age"
    shown = _Shown(_shown(gold), _shown(output))
    if gold is None and output is None:
        return FieldScore(
            name, 1.0, "both not reported", False, False, expected=shown.expected, got=shown.got
        )
    if gold is None:
        return FieldScore(
            name,
            0.0,
            "hallucinated: gold says not reported",
            False,
            True,
            expected=shown.expected,
            got=shown.got,
        )
    if output is None:
        return FieldScore(name, 0.0, "omitted", True, False, expected=shown.expected, got=shown.got)
    tolerance = age_tolerance(gold)
    off = abs(output - gold)
    ok = off <= tolerance + 1e-9
    return FieldScore(
        name,
        float(ok),
        f"{off:.4g} y off (tolerance ±{tolerance:.3g})",
        True,
        True,
        expected=shown.expected,
        got=shown.got,
    )


def score_count(gold: int | None, output: int | None, *, accept: Sequence[int] = ()) -> FieldScore:
    score = score_enum(
        "patient_count",
        None if gold is None else str(gold),
        None if output is None else str(output),
        empty="",
        accept=[str(value) for value in accept],
    )
    if gold is None or output is None:
        score.gold_present, score.output_present = gold is not None, output is not None
    return score


# -- lists ---------------------------------------------------------------------------

G = TypeVar("G")
O = TypeVar("O")  # noqa: E741


@dataclass(slots=True)
class ListMatch:
    """A one-to-one matching of gold items to output items."""

    pairs: list[tuple[int, int, float]] = field(default_factory=list)
    """(gold index, output index, item score) for pairs above the threshold."""
    n_gold: int = 0
    n_output: int = 0

    @property
    def precision(self) -> float:
        if not self.n_output:
            return 1.0 if not self.n_gold else 0.0
        return sum(score for *_, score in self.pairs) / self.n_output

    @property
    def recall(self) -> float:
        if not self.n_gold:
            return 1.0 if not self.n_output else 0.0
        return sum(score for *_, score in self.pairs) / self.n_gold

    @property
    def f1(self) -> float:
        precision, recall = self.precision, self.recall
        return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def match_lists(
    gold: Sequence[G],
    output: Sequence[O],
    similarity: Callable[[G, O], tuple[float, float]],
    *,
    threshold: float = MATCH_THRESHOLD,
) -> ListMatch:
    """Hungarian matching maximising the total item score.

    ``similarity(gold_item, output_item)`` returns ``(match_key, item_score)``: pairs whose
    key (text similarity) is below ``threshold`` cannot match; a matched pair earns its
    item score (which may also reward enum fields, e.g. an outcome's status).
    """
    import numpy as np  # late: keeps `case-summarizer` start-up fast
    from scipy.optimize import linear_sum_assignment

    result = ListMatch(n_gold=len(gold), n_output=len(output))
    if not gold or not output:
        return result
    scores = np.zeros((len(gold), len(output)))
    for i, gold_item in enumerate(gold):
        for j, output_item in enumerate(output):
            key, score = similarity(gold_item, output_item)
            scores[i, j] = score if key >= threshold else 0.0
    rows, cols = linear_sum_assignment(scores, maximize=True)
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        if scores[i, j] > 0:
            result.pairs.append((int(i), int(j), float(scores[i, j])))
    return result


def _combine(main: float, *parts: tuple[float, float | None]) -> tuple[float, float]:
    """(match key, item score): main text similarity weighted with applicable secondary parts."""
    weights = [(weight, value) for weight, value in parts if value is not None]
    rest = sum(weight for weight, _ in weights)
    score = (1 - rest) * main + sum(
        weight * value for weight, value in weights if value is not None
    )
    return main, score


def _optional_text(gold: str | None, output: str | None) -> float | None:
    """Similarity of an optional detail (duration, timing) when gold gives it."""
    if gold is None or not gold.strip():
        return None
    return text_similarity(gold, output or "")


def _score_list(
    name: str,
    gold: Sequence[G] | None,
    output: Sequence[O],
    similarity: Callable[[G, O], tuple[float, float]],
    show_gold: Callable[[G], str],
    show_output: Callable[[O], str],
) -> FieldScore:
    gold_items = list(gold or [])
    shown = _Shown(
        expected=_shown(" | ".join(show_gold(item) for item in gold_items) or "[]"),
        got=_shown(" | ".join(show_output(item) for item in output) or "[]"),
    )
    if not gold_items and not output:
        return FieldScore(
            name,
            1.0,
            "both empty",
            False,
            False,
            None,
            None,
            expected=shown.expected,
            got=shown.got,
        )
    if not gold_items:
        return FieldScore(
            name,
            0.0,
            f"hallucinated: {len(output)} item(s), gold has none",
            False,
            True,
            0.0,  # precision; recall is undefined without gold items
            None,
            expected=shown.expected,
            got=shown.got,
        )
    if not output:
        return FieldScore(
            name,
            0.0,
            f"omitted: 0 of {len(gold_items)} item(s)",
            True,
            False,
            None,  # precision is undefined without output items
            0.0,
            expected=shown.expected,
            got=shown.got,
        )
    matched = match_lists(gold_items, output, similarity)
    reason = (
        f"{len(matched.pairs)}/{len(gold_items)} gold matched, {len(matched.pairs)}/{len(output)} output; "
        f"P {matched.precision:.2f} R {matched.recall:.2f}"
    )
    return FieldScore(
        name,
        matched.f1,
        reason,
        True,
        True,
        matched.precision,
        matched.recall,
        expected=shown.expected,
        got=shown.got,
    )


def _bool_match(gold: bool, output: bool) -> float:
    return float(gold == output)


# -- the record ------------------------------------------------------------------------


def score_record(
    gold: GoldExpected, output: CaseReport | None, *, accept: GoldAlternatives | None = None
) -> dict[str, FieldScore]:
    """Every applicable field of ``gold`` scored against ``output``.

    ``output=None`` (the record failed) scores 0 on every applicable field; ``accept``
    gives alternatives the labeller also accepts for enum fields.
    """
    accept = accept or GoldAlternatives()
    if output is None:
        empty = score_record(gold, _EMPTY, accept=accept)
        for score in empty.values():
            if score.score is not None:
                # a failure counts in the validity rate, not as omissions
                score.score, score.reason, score.got = 0.0, "no output (record failed)", "(failed)"
                score.gold_present = score.output_present = None
        return empty

    scores: dict[str, FieldScore | None] = dict.fromkeys(FIELDS)
    if gold.given("title"):
        scores["title"] = score_text("title", gold.title, output.title)
    if gold.given("article_type") and gold.article_type is not None:
        scores["article_type"] = score_enum(
            "article_type",
            gold.article_type.value,
            output.article_type.value,
            accept=[value.value for value in accept.article_type],
        )
    if gold.given("patient_count"):
        scores["patient_count"] = score_count(
            gold.patient_count, output.patient_count, accept=accept.patient_count
        )
    if gold.given("patient"):
        patient = gold.patient
        if patient is None:  # the labeller says: no patient details reported
            scores["patient.age"] = score_age(None, output.patient.age_years)
            scores["patient.sex"] = score_enum(
                "patient.sex",
                Sex.not_reported.value,
                output.patient.sex.value,
                empty=Sex.not_reported.value,
            )
        else:
            fields = patient.model_fields_set
            if "age_years" in fields or "age_text" in fields:
                years = patient.age_years
                if years is None and patient.age_text and "age_years" not in fields:
                    years = parse_age(patient.age_text)
                scores["patient.age"] = score_age(years, output.patient.age_years)
            if "sex" in fields:
                gold_sex = (patient.sex or Sex.not_reported).value
                scores["patient.sex"] = score_enum(
                    "patient.sex",
                    gold_sex,
                    output.patient.sex.value,
                    empty=Sex.not_reported.value,
                    accept=[value.value for value in accept.sex],
                )
    if gold.given("presentation"):
        scores["presentation"] = _score_list(
            "presentation",
            gold.presentation,
            output.presentation,
            lambda g, o: _combine(
                text_similarity(g.description, o.description),
                (0.2, _optional_text(g.duration, o.duration)),
            ),
            lambda g: g.description + (f" ({g.duration})" if g.duration else ""),
            lambda o: o.description + (f" ({o.duration})" if o.duration else ""),
        )
    if gold.given("history"):
        scores["history"] = _score_list(
            "history",
            gold.history,
            output.history,
            lambda g, o: _combine(
                text_similarity(g.description, o.description),
                (0.2, _optional_text(g.timing, o.timing)),
            ),
            lambda g: g.description + (f" ({g.timing})" if g.timing else ""),
            lambda o: o.description + (f" ({o.timing})" if o.timing else ""),
        )
    if gold.given("clinical_findings"):
        scores["clinical_findings"] = _score_list(
            "clinical_findings",
            gold.clinical_findings,
            output.clinical_findings,
            lambda g, o: _combine(
                text_similarity(g.description, o.description),
                (0.2, _bool_match(g.negative, o.negative)),
            ),
            lambda g: ("no " if g.negative else "") + g.description,
            lambda o: ("no " if o.negative else "") + o.description,
        )
    if gold.given("diagnostic_assessment"):
        scores["diagnostic_assessment"] = _score_list(
            "diagnostic_assessment",
            gold.diagnostic_assessment,
            output.diagnostic_assessment,
            lambda g, o: _combine(
                text_similarity(f"{g.name} {g.result}", f"{o.name} {o.result}"),
                (0.2, _bool_match(g.negative, o.negative)),
            ),
            lambda g: f"{g.name}: {g.result}",
            lambda o: f"{o.name}: {o.result}",
        )
    if gold.given("diagnosis"):
        diagnosis = gold.diagnosis
        scores["diagnosis.final"] = score_text(
            "diagnosis.final",
            diagnosis.final if diagnosis else None,
            output.diagnosis.final if output.diagnosis else None,
        )
        if diagnosis is not None and diagnosis.differential is not None:
            scores["diagnosis.differential"] = _score_list(
                "diagnosis.differential",
                diagnosis.differential,
                output.diagnosis.differential if output.diagnosis else [],
                lambda g, o: (text_similarity(g, o), text_similarity(g, o)),
                str,
                str,
            )
    if gold.given("interventions"):
        scores["interventions"] = _score_list(
            "interventions",
            gold.interventions,
            output.interventions,
            lambda g, o: _combine(
                text_similarity(g.detail, o.detail),
                (0.3, float(g.kind == o.kind)),
                (0.1, _optional_text(g.timing, o.timing)),
            ),
            lambda g: f"{g.kind.value}: {g.detail}",
            lambda o: f"{o.kind.value}: {o.detail}",
        )
    if gold.given("outcomes"):
        scores["outcomes"] = _score_list(
            "outcomes",
            gold.outcomes,
            output.outcomes,
            lambda g, o: _combine(
                text_similarity(g.description, o.description),
                (0.3, float(g.status == o.status)),
                (0.1, _optional_text(g.timepoint, o.timepoint)),
            ),
            lambda g: (
                f"{g.status.value}: {g.description}" + (f" ({g.timepoint})" if g.timepoint else "")
            ),
            lambda o: (
                f"{o.status.value}: {o.description}" + (f" ({o.timepoint})" if o.timepoint else "")
            ),
        )
    if gold.given("why_reported"):
        scores["why_reported"] = score_text(
            "why_reported",
            gold.why_reported,
            output.why_reported.text if output.why_reported else None,
        )
    if gold.given("conclusion"):
        scores["conclusion"] = score_text(
            "conclusion", gold.conclusion, output.conclusion.text if output.conclusion else None
        )
    return {name: score for name, score in scores.items() if score is not None}


_EMPTY = CaseReport.model_construct(
    title=None,
    article_type=ArticleType.case_report,  # placeholder: every score of a failure is 0
    patient_count=None,
    patient=Patient(),
    presentation=[],
    history=[],
    clinical_findings=[],
    diagnostic_assessment=[],
    diagnosis=None,
    interventions=[],
    outcomes=[],
    why_reported=None,
    conclusion=None,
    summary="",
)
