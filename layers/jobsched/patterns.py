"""A model field's pattern compiled by the first value it checks, not when the model is built.

``Annotated[str, Field(max_length=...), Pattern(r"^...$")]`` validates, documents and reports exactly what
``Field(max_length=..., pattern=r"^...$")`` does: the same JSON schema (``pattern``), the same error
(``string_pattern_mismatch``, "String should match pattern '...'") after the same length checks. Only when
the expression is compiled differs: pydantic-core compiles a field's pattern into its Rust regex engine while
the model is built, in every function that imports the model, and an ARN pattern with ``\\d{12}`` (Unicode
digits) and bounded repeats costs that engine ~3-7 M instructions; Python's ``re`` compiles it in ~0.5 M,
and only in the process whose request has such a value (docs/decisions.md, "Patterns compiled on first
use"). Python's ``$`` also matches before a trailing newline, which the Rust engine's does not: the value
must match the whole pattern (``fullmatch``), so ``"arn:...\\n"`` is refused as before.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema


class Pattern:
    """A whole-value pattern (``^...$``) for a string field, compiled on its first check."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str) -> None:
        if not pattern.startswith("^") or not pattern.endswith("$") or pattern.endswith("\\$"):
            raise ValueError(f"a field pattern must be anchored at both ends (^...$): {pattern!r}")
        self.pattern = pattern
        self._compiled: re.Pattern[str] | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema

    def check(self, value: str) -> str:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self.pattern)
        if compiled.fullmatch(value) is None:
            raise PydanticCustomError(
                "string_pattern_mismatch",
                "String should match pattern '{pattern}'",
                {"pattern": self.pattern},
            )
        return value

    def __repr__(self) -> str:
        return f"Pattern({self.pattern!r})"
