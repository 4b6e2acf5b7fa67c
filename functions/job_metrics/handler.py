"""Every five minutes, the job census: active jobs, schedules in error, stuck executions, as gauges."""

from __future__ import annotations

import gc

gc.disable()  # on again at the end: docs/decisions.md, "No garbage collection while a function starts"

from datetime import UTC, datetime
from typing import Any

from jobsched.aws.clients import client
from jobsched.jobs.adapters.job_census import take_census
from jobsched.settings import load_settings
from jobsched.telemetry import instrument_handler, record_job_census

SETTINGS = load_settings()


@instrument_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    census = take_census(
        client("dynamodb"), SETTINGS.jobs_table, SETTINGS.executions_table, datetime.now(UTC)
    )
    record_job_census(census.active_jobs, census.schedules_in_error, census.stuck_executions)
    return {
        "active_jobs": census.active_jobs,
        "schedules_in_error": census.schedules_in_error,
        "stuck_executions": census.stuck_executions,
    }


# Started: what the start made lives as long as the function, so the collector leaves it alone.
gc.freeze()
gc.enable()
