"""GET /health/deep: can this region serve requests? 200 with each check's result, or 503 naming the failures.

Route 53's health checks call it (no API key); the verdict is cached for a few seconds per environment.
"""

from __future__ import annotations

import gc

gc.disable()  # on again at the end: docs/decisions.md, "No garbage collection while a function starts"

import json
import os
from typing import Any

from jobsched import config
from jobsched.health.deep import DeepHealth, Dependencies, DependencyFailed
from jobsched.settings import SettingsError, load_settings
from jobsched.telemetry import instrument_api


def load_dependencies() -> Dependencies:
    # Imported here: the checks' clients are only built once the settings are known to be good.
    from jobsched.health.adapters.checks import DynamoDrillMarkers, SqsQueueProbe, health_client

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise DependencyFailed(str(exc)) from None
    queue_name = os.environ.get("EXECUTION_QUEUE_NAME", config.EXECUTION_QUEUE)
    return Dependencies(
        region=settings.region,
        version=settings.version,
        drills=DynamoDrillMarkers(health_client("dynamodb", settings.region), settings.jobs_table),
        queue=SqsQueueProbe(
            health_client("sqs", settings.region), queue_name, os.environ.get("EXECUTION_QUEUE_URL") or None
        ),
    )


# Module level: the cache lives as long as the execution environment.
HEALTH = DeepHealth(load_dependencies)


@instrument_api
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    verdict, cached = HEALTH.verdict()
    return {
        "statusCode": 200 if verdict.healthy else 503,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
        "body": json.dumps(verdict.document(cached=cached), separators=(",", ":")),
    }


# Started: what the start made lives as long as the function, so the collector leaves it alone.
gc.freeze()
gc.enable()
