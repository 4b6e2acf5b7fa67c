"""The test evaluator of metric math behaves as CloudWatch does on missing data."""

from __future__ import annotations

import pytest

from tests.support.metric_math import MathError, evaluate


def test_missing_series_poison_plain_arithmetic_and_fill_repairs_it() -> None:
    assert evaluate("failed / (succeeded + failed)", {"failed": 3.0, "succeeded": None}) is None
    assert (
        evaluate(
            "FILL(failed, 0) / (FILL(succeeded, 0) + FILL(failed, 0))", {"failed": 3.0, "succeeded": None}
        )
        == 1.0
    )
    assert evaluate("FILL(a, 0) + FILL(b, 0) * 2 - 1", {"a": None, "b": 4.0}) == 7.0
    assert evaluate("a / b", {"a": 1.0, "b": 0.0}) is None


@pytest.mark.parametrize("expression", ["a +", "b", "FILL(a 0)", "a ) "])
def test_malformed_expressions_are_refused(expression: str) -> None:
    with pytest.raises(MathError):
        evaluate(expression, {"a": 1.0})
