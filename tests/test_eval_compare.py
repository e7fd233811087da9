"""Bootstrap intervals and paired comparisons, with fixed seeds."""

from __future__ import annotations

import pytest

from summarizer.evaluation.compare import bootstrap_interval, compare_records, paired_bootstrap
from summarizer.evaluation.metrics import RecordScore
from summarizer.evaluation.scorers import FieldScore


def pairs(values: list[float]) -> list[tuple[float, float] | None]:
    return [(value, 1.0) for value in values]


def test_constant_difference_has_a_degenerate_interval() -> None:
    a = [0.1 * (i % 7) for i in range(30)]
    b = [value + 0.2 for value in a]
    interval = paired_bootstrap(pairs(a), pairs(b), resamples=1000, seed=1)
    assert interval.estimate == pytest.approx(0.2)
    assert interval.low == pytest.approx(0.2) and interval.high == pytest.approx(0.2)


def test_known_difference_interval_with_fixed_seed() -> None:
    # b − a per record is 1 for half the records and 0 for the other half: the mean
    # difference is 0.5 with standard error sqrt(0.25 / 100) = 0.05, so the 95 % interval
    # is about 0.5 ± 0.098.
    a = [0.0] * 100
    b = [1.0 if i % 2 else 0.0 for i in range(100)]
    first = paired_bootstrap(pairs(a), pairs(b), resamples=2000, seed=7)
    again = paired_bootstrap(pairs(a), pairs(b), resamples=2000, seed=7)
    assert first == again  # reproducible
    assert first.estimate == pytest.approx(0.5)
    # the percentile interval of the resampled means, close to the normal approximation
    assert first.low == pytest.approx(0.40, abs=0.005)
    assert first.high == pytest.approx(0.60, abs=0.005)


def test_no_difference_is_not_significant() -> None:
    a = [0.5] * 20
    b = [1.0] * 10 + [0.0] * 10
    interval = paired_bootstrap(pairs(a), pairs(b), resamples=1000, seed=3)
    assert interval.estimate == pytest.approx(0.0)
    assert interval.low is not None and interval.high is not None
    assert interval.low < 0 < interval.high


def test_single_run_interval_and_missing_values() -> None:
    interval = bootstrap_interval(
        [(1.0, 1.0), None, (0.0, 1.0), (1.0, 1.0)], resamples=1000, seed=0
    )
    assert interval.estimate == pytest.approx(2 / 3)
    assert interval.low is not None and 0 <= interval.low <= interval.estimate <= interval.high <= 1  # type: ignore[operator]
    assert bootstrap_interval([None, None]).estimate is None


def _record(ident: str, sex: float, title: float) -> RecordScore:
    return RecordScore(
        id=ident,
        ok=True,
        fields={
            "patient.sex": FieldScore(
                field="patient.sex", score=sex, reason="exact" if sex else "wrong"
            ),
            "title": FieldScore(field="title", score=title, reason="text"),
        },
    )


def test_compare_flags_significant_changes_and_lists_records() -> None:
    a = [_record(f"r{i}", 1.0, 0.5) for i in range(10)]
    b = [_record(f"r{i}", 0.0, 0.5 if i else 0.9) for i in range(10)]
    comparison = compare_records(a, b, name_a="base", name_b="new", resamples=1000, seed=5)
    rows = {row.metric.name: row for row in comparison.rows}
    assert rows["patient.sex"].difference.estimate == pytest.approx(-1.0)
    assert rows["patient.sex"].significant and rows["patient.sex"].verdict == "worse"
    assert rows["patient.sex"].regression
    assert not rows["title"].significant  # one record moved: the interval includes 0
    assert [c.id for c in comparison.worse["patient.sex"]] == [f"r{i}" for i in range(10)]
    assert [c.id for c in comparison.better["title"]] == ["r0"]
    assert [row.metric.name for row in comparison.regressions] == ["overall", "patient.sex"]
    # the same inputs and seed give the same report
    again = compare_records(a, b, name_a="base", name_b="new", resamples=1000, seed=5)
    assert again.to_dict() == comparison.to_dict()


def test_compare_pairs_by_record_id() -> None:
    a = [_record("x", 1, 1), _record("y", 1, 1)]
    b = [_record("y", 1, 1), _record("z", 0, 0)]
    comparison = compare_records(a, b, resamples=1000)
    assert comparison.records == 1 and comparison.only_a == ["x"] and comparison.only_b == ["z"]
