"""Pass/fail gates for CI: thresholds on metrics and regressions against a baseline run.

    verdict = judge(runs, comparisons, thresholds=[Threshold.parse("overall=0.6")],
                    fail_on_regression=True)
    verdict.passed, verdict.failures

``judge`` only decides; the CLI prints the verdict and turns it into an exit code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .metrics import metric_by_name

if TYPE_CHECKING:  # numpy loads with compare, on use
    from .compare import Comparison
    from .eval_runs import StoredRun

__all__ = ["Threshold", "Verdict", "judge"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    """A metric must not be below ``limit`` (above, for lower-is-better metrics)."""

    metric: str
    limit: float

    @classmethod
    def parse(cls, text: str) -> Threshold:
        """``METRIC=VALUE``, e.g. ``overall=0.6`` (ConfigError when malformed)."""
        name, sep, number = text.partition("=")
        if not sep:
            raise ConfigError(f"{text!r}: expected METRIC=VALUE, e.g. overall=0.6")
        metric_by_name(name.strip())  # unknown metric: ConfigError naming the known ones
        try:
            return cls(metric=name.strip(), limit=float(number))
        except ValueError:
            raise ConfigError(f"{text!r}: VALUE must be a number") from None

    def failure(self, run: StoredRun) -> str | None:
        """Why ``run`` fails this threshold, or None when it passes."""
        metric = metric_by_name(self.metric)
        value = (run.metrics.get(self.metric) or {}).get("estimate")
        if value is None:
            return f"{run.label}: {self.metric} has no value (no record scored it)"
        if metric.higher_is_better and value < self.limit:
            return f"{run.label}: {self.metric} = {value:.4g} is below {self.limit:g}"
        if not metric.higher_is_better and value > self.limit:
            return (
                f"{run.label}: {self.metric} = {value:.4g} is above {self.limit:g} "
                "(lower is better)"
            )
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The outcome of the gates: pass, or the reasons it failed."""

    gated: bool
    """Whether any gate was asked for (no gate: the run passes, unjudged)."""
    failures: tuple[str, ...] = ()
    judged: tuple[str, ...] = ()
    """Labels of the runs the gates judged."""

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def headline(self) -> str:
        """One line: ``PASS``/``FAIL`` and what was judged."""
        runs = ", ".join(self.judged) or "no run"
        if not self.gated:
            return f"not gated ({runs}; use --fail-under or --baseline --fail-on-regression)"
        if self.passed:
            return f"PASS: {runs} met every gate"
        return f"FAIL: {len(self.failures)} gate(s) failed for {runs}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "gated": self.gated,
            "passed": self.passed,
            "headline": self.headline,
            "failures": list(self.failures),
            "judged": list(self.judged),
        }


def judge(
    runs: Sequence[StoredRun],
    comparisons: Sequence[Comparison] = (),
    *,
    thresholds: Sequence[Threshold] = (),
    fail_on_regression: bool = False,
) -> Verdict:
    """Check every run against the thresholds and, with ``fail_on_regression``, every
    comparison for a quality metric significantly worse than its baseline."""
    failures: list[str] = []
    for run in runs:
        for threshold in thresholds:
            problem = threshold.failure(run)
            if problem:
                failures.append(problem)
    if fail_on_regression:
        for comparison in comparisons:
            for row in comparison.regressions:
                interval = row.difference
                failures.append(
                    f"{comparison.b}: {row.metric.name} significantly worse than the baseline "
                    f"({interval.estimate:+.4g}, 95% CI [{interval.low:+.4g}, {interval.high:+.4g}])"
                )
    return Verdict(
        gated=bool(thresholds) or fail_on_regression,
        failures=tuple(failures),
        judged=tuple(run.label for run in runs),
    )
