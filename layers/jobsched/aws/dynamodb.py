"""Low-level DynamoDB helpers shared by the table adapters: typed (de)serialisation on the plain client.

The plain client (not the resource API) keeps cold starts lean and the calls explicit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    """Python values to a DynamoDB item; None values are left out (absent, not NULL)."""
    return {k: _serializer.serialize(_plain_to_dynamo(v)) for k, v in data.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _dynamo_to_plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _plain_to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _plain_to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_to_dynamo(v) for v in value]
    return value


def _dynamo_to_plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _dynamo_to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dynamo_to_plain(v) for v in value]
    if isinstance(value, set):
        return {_dynamo_to_plain(v) for v in value}
    return value
