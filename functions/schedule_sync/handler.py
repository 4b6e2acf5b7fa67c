"""schedule-sync: the jobs table's stream -> this region's EventBridge Scheduler schedules. Thin."""

from __future__ import annotations

import gc

gc.disable()  # on again at the end: docs/decisions.md, "No garbage collection while a function starts"

from typing import Any

from jobsched.aws.clients import deferred_client
from jobsched.scheduling.adapters.stream_records import handle_stream_event
from jobsched.scheduling.adapters.sync_setup import build_sync
from jobsched.scheduling.settings import load_scheduling_settings
from jobsched.telemetry import instrument_handler

SETTINGS = load_scheduling_settings()
SYNC = build_sync(SETTINGS, deferred_client("scheduler"), deferred_client("dynamodb"))


@instrument_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_stream_event(SYNC, event)


# Started: what the start made lives as long as the function, so the collector leaves it alone.
gc.freeze()
gc.enable()
