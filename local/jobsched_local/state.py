"""What survives a restart of the local runtime: every table's items and every region's API keys.

A snapshot is one JSON file, <state-dir>/state.json, written atomically (temp file, fsync, rename) about
every second and a half when something changed, and once more at shutdown. At startup it is restored
after provisioning: items go back through the DynamoDB API (so they also appear as INSERT stream
records, which lets the stream consumers rebuild what they derive, such as schedules), and API keys
are registered again with the same value in the same usage plans (their AWS ids change, ours do not).

Not kept: per-key throttle buckets and daily quota counters (they start afresh on every start), and
anything outside the tables and API keys (moto's schedules and queues are rebuilt from the tables).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from jobsched_local import moto_backends
from jobsched_local.workers import PeriodicWorker

LOG = logging.getLogger(__name__)
STATE_FILE = "state.json"
FORMAT_VERSION = 1
SNAPSHOT_INTERVAL_SECONDS = 1.5
_BATCH = 25  # BatchWriteItem's limit


@dataclass(frozen=True)
class RestoreSummary:
    items: int
    api_keys: int


def capture(regions: Sequence[str]) -> dict[str, Any]:
    """The current tables and API keys, read straight from moto's backends."""
    for attempt in range(5):
        try:
            return _capture_once(regions)
        except RuntimeError:
            # A request thread changed a dict while we iterated it; read again.
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _capture_once(regions: Sequence[str]) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "saved_at": time.time(),
        "dynamodb": {
            region: {
                name: moto_backends.table_items(region, name) for name in moto_backends.table_names(region)
            }
            for region in regions
        },
        "apigateway": {region: moto_backends.api_keys(region) for region in regions},
    }


def save(state_dir: Path, snapshot: dict[str, Any]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=".state-", suffix=".json", dir=state_dir)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(snapshot, file, default=_bytes_as_base64, separators=(",", ":"))
            file.flush()
            os.fsync(file.fileno())
        # rename is atomic: a crash leaves either the old snapshot or the new one, never half of one.
        os.replace(temp_name, state_dir / STATE_FILE)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def load(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / STATE_FILE
    if not path.exists():
        return None
    snapshot: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if snapshot.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path} has format {snapshot.get('format')!r}; this runtime reads {FORMAT_VERSION}")
    return snapshot


def restore(snapshot: dict[str, Any], regions: Sequence[str]) -> RestoreSummary:
    items = keys = 0
    for region, tables in snapshot.get("dynamodb", {}).items():
        if region in regions:
            items += _restore_tables(region, tables)
    for region, api_keys in snapshot.get("apigateway", {}).items():
        if region in regions:
            keys += _restore_api_keys(region, api_keys)
    return RestoreSummary(items=items, api_keys=keys)


def _restore_tables(region: str, tables: dict[str, list[dict[str, Any]]]) -> int:
    client = boto3.client("dynamodb", region_name=region)
    existing = set(moto_backends.table_names(region))
    count = 0
    for name, items in tables.items():
        if name not in existing:
            LOG.warning("state has items for table %s in %s, which is not provisioned; skipped", name, region)
            continue
        for start in range(0, len(items), _BATCH):
            requests = [
                {"PutRequest": {"Item": _binary_from_base64(item)}} for item in items[start : start + _BATCH]
            ]
            pending: dict[str, Any] = {name: requests}
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        count += len(items)
    return count


def _restore_api_keys(region: str, api_keys: list[dict[str, Any]]) -> int:
    client = boto3.client("apigateway", region_name=region)
    plans = {plan["name"]: plan["id"] for plan in client.get_usage_plans(limit=500)["items"]}
    present = {key["value"] for key in moto_backends.api_keys(region)}
    count = 0
    for key in api_keys:
        if key["value"] in present:
            continue
        args: dict[str, Any] = {"name": key["name"], "value": key["value"], "enabled": key["enabled"]}
        if key.get("description"):
            args["description"] = key["description"]
        if key.get("tags"):
            args["tags"] = key["tags"]
        created = client.create_api_key(**args)
        for plan_name in key.get("usage_plans", []):
            if plan_name in plans:
                client.create_usage_plan_key(
                    usagePlanId=plans[plan_name], keyId=created["id"], keyType="API_KEY"
                )
            else:
                LOG.warning(
                    "usage plan %s no longer exists in %s; key %s left out of it",
                    plan_name,
                    region,
                    key["name"],
                )
        count += 1
    return count


def _bytes_as_base64(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot store {type(value).__name__} in a snapshot")


def _binary_from_base64(typed: dict[str, Any]) -> dict[str, Any]:
    """Snapshot JSON keeps binary attributes base64-encoded; the DynamoDB client wants bytes back."""
    return {name: _typed_value(value) for name, value in typed.items()}


def _typed_value(value: dict[str, Any]) -> dict[str, Any]:
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(v) for v in inner]}
    if kind == "M":
        return {"M": {k: _typed_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_typed_value(v) for v in inner]}
    return value


class StateSnapshotter:
    """Saves a snapshot when moto's state changed since the last save, and once more when stopped."""

    name = "state-snapshots"

    def __init__(
        self, state_dir: Path, regions: Sequence[str], interval: float = SNAPSHOT_INTERVAL_SECONDS
    ) -> None:
        self._state_dir = state_dir
        self._regions = list(regions)
        self._saved_marker: tuple[Any, ...] | None = None
        self._lock = threading.Lock()
        self._worker = PeriodicWorker(self.name, interval, self.save_if_changed, final=self.save_now)

    def mark_saved(self) -> None:
        """Take the current state as already on disk (right after a restore)."""
        self._saved_marker = moto_backends.change_marker(self._regions)

    def save_if_changed(self) -> bool:
        with self._lock:
            marker = moto_backends.change_marker(self._regions)
            if marker == self._saved_marker:
                return False
            save(self._state_dir, capture(self._regions))
            self._saved_marker = marker
            return True

    def save_now(self) -> None:
        with self._lock:
            marker = moto_backends.change_marker(self._regions)
            save(self._state_dir, capture(self._regions))
            self._saved_marker = marker

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
