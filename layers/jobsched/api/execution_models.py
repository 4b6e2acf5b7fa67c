"""Shapes of the Execution API's requests and answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from jobsched.execution.models import Execution
from jobsched.execution.triggers import Trigger


class ExecutionList(BaseModel):
    items: list[Execution]
    next_token: str | None = Field(description="pass as next_token for the next page; null on the last page")


class RetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    execution_id: str | None = Field(
        default=None, max_length=64, description="the failed execution to retry; default: the latest failed"
    )


class BackfillRequest(BaseModel):
    """A past range; times without an offset are read in the job's time zone."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: datetime = Field(alias="from", description="ISO 8601, the first time included")
    end: datetime = Field(alias="to", description="ISO 8601, the last time included; not in the future")


class BackfillQueued(BaseModel):
    job_id: str
    fires: int = Field(description="fires queued (at most 1,000); each runs once per (job, scheduled time)")
    scheduled_times: list[datetime] = Field(description="the fires' scheduled times, UTC, oldest first")


class ExecutionQueued(BaseModel):
    job_id: str
    execution_id: str
    trigger: Trigger
    retry_of: str | None = None
