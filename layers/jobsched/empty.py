"""Default factories for model fields that start empty: ``Field(default_factory=empty_list)``.

Not ``list`` or ``dict``: pydantic asks each default factory for its signature when it builds a model, and
the signature of a builtin type is read from its text signature with ``tokenize``, whose first use compiles
tokenize's patterns: ~13 M instructions (a tenth of a cold start's service code) in the first function to do
it, and every function builds such a model (docs/decisions.md, "Default factories are functions").
"""

from __future__ import annotations

from typing import Any


def empty_list() -> list[Any]:
    return []


def empty_dict() -> dict[Any, Any]:
    return {}
