"""Shapes of the Job API's answers besides the job itself: a page of jobs and a rotated webhook secret.

Apart from jobsched.api.models (the error envelope every API function uses), so the functions that
return no job do not build the job models when they start.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from jobsched.jobs.models import JobView


class JobList(BaseModel):
    items: list[JobView]
    next_token: str | None = Field(description="pass as next_token for the next page; null on the last page")


class WebhookSecret(BaseModel):
    job_id: str
    webhook_secret: str = Field(
        description="whsec_<base64>; shown only in this answer", examples=["whsec_..."]
    )
