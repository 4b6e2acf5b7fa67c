"""What the Job and Schedule APIs answer: a job (JobView), a page of jobs, a rotated webhook secret.

Apart from jobsched.api.models (the error envelope every API function uses), so the functions that
return no job do not build the job models when they start.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from jobsched.jobs.models import JobView

# Built on first use (jobsched.jobs.models), so the functions that return no job never build it; the Job
# and Schedule APIs return jobs, so they build it when they start (and before JobList, which then uses
# its schema instead of generating it again).
JobView.model_rebuild()

__all__ = ["JobList", "JobView", "WebhookSecret"]


class JobList(BaseModel):
    items: list[JobView]
    next_token: str | None = Field(description="pass as next_token for the next page; null on the last page")


class WebhookSecret(BaseModel):
    job_id: str
    webhook_secret: str = Field(
        description="whsec_<base64>; shown only in this answer", examples=["whsec_..."]
    )
