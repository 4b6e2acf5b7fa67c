"""Why an execution ran, apart from the fire message's model: the execution history and the Executions API
name triggers, and a history read never builds the message."""

from __future__ import annotations

from enum import StrEnum


class Trigger(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    RETRY = "retry"
    BACKFILL = "backfill"  # POST /jobs/{job_id}/backfill: a past fire, same id as had it run then
    CATCH_UP = "catch_up"  # a fire that fell inside a pause, enqueued by the resume
    CHAIN = "chain"  # run because a job naming it in on_success succeeded
