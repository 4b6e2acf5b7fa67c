"""GET /health: is the service up, which version, which region. Served without an API key."""

from __future__ import annotations

import gc

gc.disable()  # on again at the end: docs/decisions.md, "No garbage collection while a function starts"

import json
from typing import Any

from jobsched.settings import load_settings
from jobsched.telemetry import instrument_api

SETTINGS = load_settings()


@instrument_api
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = {"status": "ok", "version": SETTINGS.version, "region": SETTINGS.region}
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
        "body": json.dumps(body),
    }


# Started: what the start made lives as long as the function, so the collector leaves it alone.
gc.freeze()
gc.enable()
