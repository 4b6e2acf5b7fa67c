"""moto's DynamoDB made to behave like the service where the code relies on it (tests' moto variant).

1. Every operation is atomic. moto applies an UpdateItem attribute by attribute on the live item, so a
   query in another thread (the API reading history while the executor claims an execution) could see a
   half-written item, or fail with "dictionary changed size during iteration". One lock around moto's
   DynamoDB operations makes each one whole, as DynamoDB's are.
2. Transactions cost what they touch, not the whole table:

moto makes a transaction undoable by deep-copying every table it names before it starts, so each
TransactWriteItems costs time in proportion to the table: creating the 10,000th job of a local run takes
seconds. DynamoDB itself commits all or nothing, which allows a cheaper emulation: check every condition
first without writing, cancel with the same reasons DynamoDB gives if one fails, and only then write.
The few items about to be written are copied, so a write that still fails is undone item by item.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from typing import Any

_installed = False
# Re-entrant: a transaction calls put_item, update_item and delete_item while holding it.
_OPERATION_LOCK = threading.RLock()
_ATOMIC_OPERATIONS = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
    "transact_write_items",
)


def install() -> None:
    """Make moto's DynamoDB operations atomic and its transactions item-level (idempotent)."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.models import DynamoDBBackend

    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    for name in _ATOMIC_OPERATIONS:
        if hasattr(DynamoDBBackend, name):
            setattr(DynamoDBBackend, name, _atomic(getattr(DynamoDBBackend, name)))
    _installed = True


def _atomic(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _OPERATION_LOCK:
            return operation(*args, **kwargs)

    return locked


def _key_of(backend: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _check(backend: Any, op_type: str, op: dict[str, Any], key: dict[str, Any]) -> tuple[Any, Any, Any]:
    """One operation's cancellation reason as (code, message, old item), or (None, None, None)."""
    from moto.dynamodb.comparisons import get_filter_expression

    if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
        raise ValueError(f"unsupported transaction operation {op_type}")
    expression = op.get("ConditionExpression")
    if expression is None:
        return None, None, None
    current = backend.get_item(op["TableName"], key)
    condition = get_filter_expression(
        expression, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    )
    if condition.expr(current):
        return None, None, None
    old = None
    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
        old = current.to_json()["Attributes"]
    return "ConditionalCheckFailed", "The conditional request failed", old


def _write(backend: Any, op_type: str, op: dict[str, Any], key: dict[str, Any]) -> None:
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    if op_type == "Put":
        backend.put_item(op["TableName"], op["Item"])
    elif op_type == "Delete":
        backend.delete_item(op["TableName"], key)
    elif op_type == "Update":
        backend.update_item(
            op["TableName"],
            key,
            update_expression=op["UpdateExpression"],
            expression_attribute_names=names,
            expression_attribute_values=values,
        )


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    from moto.dynamodb.exceptions import (
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    planned: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    seen: set[tuple[str, str]] = set()
    for entry in transact_items:
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(entry.items()))
        key = _key_of(self, op_type, op)
        identity = (str(op["TableName"]), str(sorted(key.items())))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        planned.append((op_type, op, key))

    reasons = [_check(self, op_type, op, key) for op_type, op, key in planned]
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)

    before = [
        (op["TableName"], key, copy.deepcopy(self.get_item(op["TableName"], key))) for _, op, key in planned
    ]
    try:
        for op_type, op, key in planned:
            _write(self, op_type, op, key)
    except Exception:
        for table_name, key, item in reversed(before):
            if item is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, item.to_json()["Attributes"])
        raise
