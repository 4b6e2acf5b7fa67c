"""A pattern compiled on first use checks, documents and reports what pydantic's own `pattern=` does."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, Field, ValidationError

from jobsched.patterns import Pattern

ACCOUNT = r"^\d{12}$"


class Lazy(BaseModel):
    account: Annotated[str, Field(max_length=12), Pattern(ACCOUNT)]


class Eager(BaseModel):
    account: str = Field(max_length=12, pattern=ACCOUNT)


def _errors(model: type[BaseModel], value: object) -> list[tuple[str, str, tuple[str | int, ...]]]:
    with pytest.raises(ValidationError) as raised:
        model.model_validate({"account": value})
    return [(e["type"], e["msg"], e["loc"]) for e in raised.value.errors()]


@pytest.mark.parametrize("value", ["12345678901", "12345678901x", "123456789012\n", "1234567890123", 12, ""])
def test_a_refused_value_gets_the_error_pydantic_gives(value: object) -> None:
    assert _errors(Lazy, value) == _errors(Eager, value)


def test_a_matching_value_passes_and_the_schema_is_the_same() -> None:
    assert Lazy.model_validate({"account": "123456789012"}).account == "123456789012"
    assert Lazy.model_json_schema() == {**Eager.model_json_schema(), "title": "Lazy"}


def test_a_pattern_must_cover_the_whole_value() -> None:
    for pattern in (r"\d{12}$", r"^\d{12}", r"^\d{12}\$"):
        with pytest.raises(ValueError, match="anchored"):
            Pattern(pattern)
