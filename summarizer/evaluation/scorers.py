"""Field-typed scorers: a gold record against an output record.

The scored fields are one table, ``FIELD_SPECS``: each ``FieldSpec`` says where the
field's value sits in the gold record and in the output, when a value counts as present,
how two present values compare, and how a value reads in a report. ``FieldSpec.score``
applies the same presence rules to every field:

==========  ==========  ===========================  ===============================
gold        output      score                        counts in
==========  ==========  ===========================  ===============================
present     present     the field's comparison       –
present     absent      0                            the omission rate
absent      present     0                            the hallucination rate
absent      absent      none: no field credit        the hallucination rate (as a
                                                     correct "not reported")
==========  ==========  ===========================  ===============================

Both-absent earns no field credit because there is nothing to compare (as F1 is
undefined with no items on either side), and because crediting it lets an empty output
look good: the rules backend never fills ``diagnosis.differential`` and scored 0.837 on
it, from the 36 of 43 gold records that list no differential. Whether an output rightly
leaves a field empty is what the hallucination rate measures.

Comparisons, when both sides have a value:

- enums (article_type, sex) and patient_count: exact;
- age: within ±0.5 years, or ±10 % when the gold age is under 2 years (at least one day);
- short text (title, diagnosis, why_reported, conclusion): the mean of token F1 and
  rapidfuzz's token-set similarity;
- lists: one-to-one Hungarian matching (``scipy.optimize.linear_sum_assignment``) on an
  item similarity with a threshold, then soft precision / recall / F1 (each matched pair
  counts its item score, so near misses earn partial credit; order does not matter). An
  item's score weighs its text with its other fields (``ListSpec`` weights).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Generic, NamedTuple, TypeVar

from rapidfuzz import fuzz

from ..ages import parse_age
from ..schema import FIELD_LABELS, CaseReport, Sex
from .gold import GoldAlternatives, GoldExpected

__all__ = [
    "FIELDS",
    "FIELD_SPECS",
    "MATCH_THRESHOLD",
    "SCORER_VERSION",
    "Compared",
    "FieldScore",
    "FieldSpec",
    "ListMatch",
    "Part",
    "age_tolerance",
    "field_label",
    "field_spec",
    "match_lists",
    "score_record",
    "text_similarity",
    "token_f1",
]

SCORER_VERSION = "2"
"""Bump when a scorer changes: stored runs say which version scored them.
2: a field empty in both gold and output earns no field credit (was 1.0)."""

MATCH_THRESHOLD = 0.5
"""Minimum text similarity for two list items to count as the same item."""

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
FAILED = "no output (record failed)"
BOTH_ABSENT = "both not reported (no field credit)"


@dataclass(slots=True, kw_only=True)
class FieldScore:
    """The score of one field of one record."""

    field: str
    score: float | None
    """In [0, 1]; None when there is nothing to score (gold and output both empty)."""
    reason: str
    gold_present: bool | None = None
    """Whether gold has a value (None: presence not meaningful, e.g. article_type, or the
    record failed)."""
    output_present: bool | None = None
    precision: float | None = None
    """Lists: soft precision (None when the output has no items)."""
    recall: float | None = None
    """Lists: soft recall (None when gold has no items)."""
    expected: str = ""
    got: str = ""

    @property
    def omitted(self) -> bool:
        return self.gold_present is True and self.output_present is False

    @property
    def hallucinated(self) -> bool:
        return self.gold_present is False and self.output_present is True

    @property
    def both_absent(self) -> bool:
        """Gold says "not reported" and the output agrees: no field credit, no penalty."""
        return self.gold_present is False and self.output_present is False

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


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


# -- the spec and the presence rules -----------------------------------------------------

V = TypeVar("V")


class Compared(NamedTuple):
    """What comparing two values gave."""

    score: float | None
    reason: str
    precision: float | None = None
    recall: float | None = None


def _no_alternatives(_accept: GoldAlternatives) -> Sequence[Any]:
    return ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldSpec(Generic[V]):
    """How one field is found, compared and shown."""

    path: str
    """The field's path in the record, e.g. ``patient.age`` (also its metric name)."""
    applies: Callable[[GoldExpected], bool]
    """Whether the labeller gave this field (absent fields are not scored)."""
    gold: Callable[[GoldExpected], V]
    output: Callable[[CaseReport], V]
    compare: Callable[[V, V], Compared]
    """Both sides have a value: the score and why."""
    show: Callable[[V], str]
    present: Callable[[V], bool] | None = None
    """Whether a value counts as given; None: always (no omission or hallucination)."""
    alternatives: Callable[[GoldAlternatives], Sequence[V]] = _no_alternatives
    """Other values the labeller accepts (they score as the gold value would)."""
    size: Callable[[V], int] | None = None
    """Lists: the number of items (reasons say counts; P/R exist)."""

    @property
    def label(self) -> str:
        """The clinical name of the field (from the schema)."""
        return field_label(self.path)

    def score(
        self, gold: GoldExpected, output: CaseReport | None, accept: GoldAlternatives
    ) -> FieldScore:
        """This field of ``gold`` against ``output`` (None: the record failed)."""
        expected = self.gold(gold)
        alternatives = self.alternatives(accept)
        if output is None:
            # a failure counts in the validity rate, not as omissions or hallucinations;
            # it scores 0 wherever a value would have been scored
            given = self.present is None or self.present(expected)
            return FieldScore(
                field=self.path,
                score=0.0 if given else None,
                reason=FAILED,
                expected=self._expected(expected, alternatives),
                got="(failed)",
            )
        return self.score_values(expected, self.output(output), alternatives=alternatives)

    def score_values(self, expected: V, got: V, *, alternatives: Sequence[V] = ()) -> FieldScore:
        """The presence rules, then ``compare`` when both sides have a value."""
        shown_expected, shown_got = self._expected(expected, alternatives), self.show(got)
        accepted = got != expected and got in alternatives
        if accepted:
            expected = got  # the labeller also accepts this answer: it is the gold value
        if self.present is None:
            gold_present = output_present = None
            compared = self.compare(expected, got)
        else:
            gold_present, output_present = self.present(expected), self.present(got)
            compared = self._presence(expected, got, gold_present, output_present)
        if accepted and compared.score is not None:
            compared = compared._replace(reason="accepted alternative")
        return FieldScore(
            field=self.path,
            score=compared.score,
            reason=compared.reason,
            gold_present=gold_present,
            output_present=output_present,
            precision=compared.precision,
            recall=compared.recall,
            expected=shown_expected,
            got=shown_got,
        )

    def _presence(self, expected: V, got: V, gold_present: bool, output_present: bool) -> Compared:
        lists = self.size is not None
        if gold_present and output_present:
            return self.compare(expected, got)
        if gold_present:
            counted = f": 0 of {self.size(expected)} item(s)" if self.size else ""
            return Compared(0.0, f"omitted{counted}", None, 0.0 if lists else None)
        if output_present:
            counted = f": {self.size(got)} item(s), gold has none" if self.size else ""
            reason = f"hallucinated{counted}" if counted else "hallucinated: gold says not reported"
            return Compared(0.0, reason, 0.0 if lists else None, None)
        return Compared(None, BOTH_ABSENT)

    def _expected(self, expected: V, alternatives: Sequence[V]) -> str:
        return self.show(expected) + "".join(f" / {self.show(value)}" for value in alternatives)


def field_label(path: str) -> str:
    """The clinical name of a field path ("patient.age" → "Patient age")."""
    return FIELD_LABELS.get(path, path)


# -- scalars -------------------------------------------------------------------------


def _exact(expected: Any, got: Any) -> Compared:
    if expected == got:
        return Compared(1.0, "exact")
    return Compared(0.0, f"expected {_shown(expected)}, got {_shown(got)}")


def age_tolerance(gold_years: float) -> float:
    """±0.5 years; under 2 years ±10 % of the gold age (never below one day)."""
    if gold_years < 2:
        return max(0.1 * gold_years, 1 / 365.25)
    return 0.5


def _age(expected: float | None, got: float | None) -> Compared:
    assert expected is not None and got is not None
    tolerance = age_tolerance(expected)
    off = abs(got - expected)
    return Compared(float(off <= tolerance + 1e-9), f"{off:.4g} y off (tolerance ±{tolerance:.3g})")


def _text(expected: str | None, got: str | None) -> Compared:
    assert expected is not None and got is not None
    f1, fz = token_f1(expected, got), fuzzy_similarity(expected, got)
    return Compared((f1 + fz) / 2, f"token F1 {f1:.2f}, fuzzy {fz:.2f}")


def _has_text(value: str | None) -> bool:
    return bool(value and value.strip())


def _is_given(value: object) -> bool:
    return value is not None


def _gold_age(gold: GoldExpected) -> float | None:
    patient = gold.patient
    if patient is None:  # the labeller says: no patient details reported
        return None
    years = patient.age_years
    if years is None and patient.age_text and "age_years" not in patient.model_fields_set:
        years = parse_age(patient.age_text)
    return years


def _gold_sex(gold: GoldExpected) -> str:
    patient = gold.patient
    return (patient.sex if patient and patient.sex else Sex.not_reported).value


def _patient_gives(*names: str) -> Callable[[GoldExpected], bool]:
    def applies(gold: GoldExpected) -> bool:
        if not gold.given("patient"):
            return False
        return gold.patient is None or bool(set(names) & gold.patient.model_fields_set)

    return applies


def _given(name: str) -> Callable[[GoldExpected], bool]:
    return lambda gold: gold.given(name)


def _text_spec(
    path: str,
    *,
    applies: Callable[[GoldExpected], bool],
    gold: Callable[[GoldExpected], str | None],
    output: Callable[[CaseReport], str | None],
) -> FieldSpec[str | None]:
    return FieldSpec(
        path=path,
        applies=applies,
        gold=gold,
        output=output,
        compare=_text,
        show=_shown,
        present=_has_text,
    )


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


class Part(NamedTuple):
    """A secondary field of a list item and its weight in the item score."""

    weight: float
    similarity: Callable[[Any, Any], float | None]
    """(gold item, output item) → similarity in [0, 1], or None when gold does not give it
    (the part's weight then goes back to the item's text)."""


def _combine(main: float, parts: Sequence[tuple[float, float | None]]) -> tuple[float, float]:
    """(match key, item score): main text similarity weighted with applicable parts."""
    given = [(weight, value) for weight, value in parts if value is not None]
    rest = sum(weight for weight, _ in given)
    return main, (1 - rest) * main + sum(weight * value for weight, value in given)


def _optional_text(gold: str | None, output: str | None) -> float | None:
    """Similarity of an optional detail (duration, timing) when gold gives it."""
    if gold is None or not gold.strip():
        return None
    return text_similarity(gold, output or "")


def _same_negative(gold: Any, output: Any) -> float:
    return float(gold.negative == output.negative)


def _item_label(item: Any) -> str:
    """Gold and output items read the same way (the schema item's ``label``)."""
    return item if isinstance(item, str) else str(item.label)


def _list_spec(
    path: str,
    *,
    applies: Callable[[GoldExpected], bool],
    gold: Callable[[GoldExpected], Sequence[Any]],
    output: Callable[[CaseReport], Sequence[Any]],
    text: Callable[[Any], str],
    parts: Sequence[Part] = (),
) -> FieldSpec[Sequence[Any]]:
    """A list field: items match on ``text``; a matched pair also earns its ``parts``."""

    def similarity(gold_item: Any, output_item: Any) -> tuple[float, float]:
        main = text_similarity(text(gold_item), text(output_item))
        return _combine(main, [(p.weight, p.similarity(gold_item, output_item)) for p in parts])

    def compare(expected: Sequence[Any], got: Sequence[Any]) -> Compared:
        matched = match_lists(expected, got, similarity)
        reason = (
            f"{len(matched.pairs)}/{len(expected)} gold matched, {len(matched.pairs)}/{len(got)} "
            f"output; P {matched.precision:.2f} R {matched.recall:.2f}"
        )
        return Compared(matched.f1, reason, matched.precision, matched.recall)

    def show(items: Sequence[Any]) -> str:
        return _shown(" | ".join(_item_label(item) for item in items) or "[]")

    return FieldSpec(
        path=path,
        applies=applies,
        gold=lambda record: list(gold(record) or []),
        output=output,
        compare=compare,
        show=show,
        present=bool,
        size=len,
    )


def _record_list(
    name: str, *, text: Callable[[Any], str], parts: Sequence[Part] = ()
) -> FieldSpec[Sequence[Any]]:
    """A list field of the record itself (same name in gold and output)."""
    getter = attrgetter(name)
    return _list_spec(
        name,
        applies=_given(name),
        gold=lambda gold: getter(gold) or [],
        output=getter,
        text=text,
        parts=parts,
    )


# -- the table -------------------------------------------------------------------------

FIELD_SPECS: tuple[FieldSpec[Any], ...] = (
    _text_spec("title", applies=_given("title"), gold=lambda g: g.title, output=lambda r: r.title),
    FieldSpec(
        path="article_type",
        applies=lambda g: g.given("article_type") and g.article_type is not None,
        gold=lambda g: g.article_type.value if g.article_type else None,
        output=lambda r: r.article_type.value,
        compare=_exact,
        show=_shown,
        alternatives=lambda a: [value.value for value in a.article_type],
    ),
    FieldSpec(
        path="patient_count",
        applies=_given("patient_count"),
        gold=lambda g: g.patient_count,
        output=lambda r: r.patient_count,
        compare=_exact,
        show=_shown,
        present=_is_given,
        alternatives=lambda a: a.patient_count,
    ),
    FieldSpec(
        path="patient.age",
        applies=_patient_gives("age_years", "age_text"),
        gold=_gold_age,
        output=lambda r: r.patient.age_years,
        compare=_age,
        show=_shown,
        present=_is_given,
    ),
    FieldSpec(
        path="patient.sex",
        applies=_patient_gives("sex"),
        gold=_gold_sex,
        output=lambda r: r.patient.sex.value,
        compare=_exact,
        show=_shown,
        present=lambda value: value != Sex.not_reported.value,
        alternatives=lambda a: [value.value for value in a.sex],
    ),
    _record_list(
        "presentation",
        text=lambda item: item.description,
        parts=[Part(0.2, lambda g, o: _optional_text(g.duration, o.duration))],
    ),
    _record_list(
        "history",
        text=lambda item: item.description,
        parts=[Part(0.2, lambda g, o: _optional_text(g.timing, o.timing))],
    ),
    _record_list(
        "clinical_findings",
        text=lambda item: item.description,
        parts=[Part(0.2, _same_negative)],
    ),
    _record_list(
        "diagnostic_assessment",
        text=lambda item: f"{item.name} {item.result}",
        parts=[Part(0.2, _same_negative)],
    ),
    _text_spec(
        "diagnosis.final",
        applies=_given("diagnosis"),
        gold=lambda g: g.diagnosis.final if g.diagnosis else None,
        output=lambda r: r.diagnosis.final if r.diagnosis else None,
    ),
    _list_spec(
        "diagnosis.differential",
        applies=lambda g: (
            g.given("diagnosis")
            and g.diagnosis is not None
            and g.diagnosis.differential is not None
        ),
        gold=lambda g: (g.diagnosis.differential if g.diagnosis else None) or [],
        output=lambda r: r.diagnosis.differential if r.diagnosis else [],
        text=str,
    ),
    _record_list(
        "interventions",
        text=lambda item: item.detail,
        parts=[
            Part(0.3, lambda g, o: float(g.kind == o.kind)),
            Part(0.1, lambda g, o: _optional_text(g.timing, o.timing)),
        ],
    ),
    _record_list(
        "outcomes",
        text=lambda item: item.description,
        parts=[
            Part(0.3, lambda g, o: float(g.status == o.status)),
            Part(0.1, lambda g, o: _optional_text(g.timepoint, o.timepoint)),
        ],
    ),
    _text_spec(
        "why_reported",
        applies=_given("why_reported"),
        gold=lambda g: g.why_reported,
        output=lambda r: r.why_reported.text if r.why_reported else None,
    ),
    _text_spec(
        "conclusion",
        applies=_given("conclusion"),
        gold=lambda g: g.conclusion,
        output=lambda r: r.conclusion.text if r.conclusion else None,
    ),
)
"""Every scored field, in report order."""

FIELDS: tuple[str, ...] = tuple(spec.path for spec in FIELD_SPECS)
"""Scored field paths, in report order."""


def field_spec(path: str) -> FieldSpec[Any]:
    """The spec of a scored field (KeyError for an unknown path)."""
    for spec in FIELD_SPECS:
        if spec.path == path:
            return spec
    raise KeyError(path)


def score_record(
    gold: GoldExpected, output: CaseReport | None, *, accept: GoldAlternatives | None = None
) -> dict[str, FieldScore]:
    """Every field the labeller gave in ``gold``, scored against ``output``.

    ``output=None`` (the record failed) scores 0 wherever a value would have been scored;
    ``accept`` gives other answers the labeller also accepts.
    """
    accept = accept or GoldAlternatives()
    return {
        spec.path: spec.score(gold, output, accept) for spec in FIELD_SPECS if spec.applies(gold)
    }
