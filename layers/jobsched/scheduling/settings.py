"""schedule-sync's configuration: where fires go and who sends them, read once at cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

from jobsched import config
from jobsched.settings import settings_from_env


class SchedulingSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    region: str = Field(min_length=1)
    jobs_table: str = config.JOBS_TABLE
    schedule_group: str = config.SCHEDULE_GROUP
    execution_queue_arn: str = Field(pattern=r"^arn:aws[a-z-]*:sqs:")
    scheduler_role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::")
    scheduler_dlq_arn: str = Field(pattern=r"^arn:aws[a-z-]*:sqs:")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SchedulingSettings:
        mapping = {
            "region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
            "jobs_table": env.get("JOBS_TABLE_NAME"),
            "schedule_group": env.get("SCHEDULE_GROUP_NAME"),
            "execution_queue_arn": env.get("EXECUTION_QUEUE_ARN"),
            "scheduler_role_arn": env.get("SCHEDULER_ROLE_ARN"),
            "scheduler_dlq_arn": env.get("SCHEDULER_DLQ_ARN"),
        }
        return settings_from_env(cls, mapping, "schedule-sync")


def queue_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{account}:{name}"


@lru_cache(maxsize=1)
def load_scheduling_settings() -> SchedulingSettings:
    return SchedulingSettings.from_env(os.environ)
