"""Every five minutes: how many jobs are active across all tenants, as the active_jobs_gauge metric."""

from __future__ import annotations

from typing import Any

from jobsched.aws.clients import client
from jobsched.jobs.adapters.job_census import count_active_jobs
from jobsched.settings import load_settings
from jobsched.telemetry import instrument_handler, record_active_jobs

SETTINGS = load_settings()


@instrument_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    active = count_active_jobs(client("dynamodb"), SETTINGS.jobs_table)
    record_active_jobs(active)
    return {"active_jobs": active}
