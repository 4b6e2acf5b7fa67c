"""A stand-in for the context object Lambda passes to a handler (what Powertools and our handlers read)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from jobsched.config import SERVICE

LOCAL_ACCOUNT_ID = "123456789012"  # moto's default account


@dataclass
class LambdaContext:
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 29.0  # API Gateway's integration timeout caps a proxy call anyway
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def function_name(function: str) -> str:
    """The deployed name of a function folder (functions/job_api -> jobsched-job-api)."""
    return f"{SERVICE}-{function.replace('_', '-')}"


def make_context(function: str, region: str, account_id: str = LOCAL_ACCOUNT_ID) -> LambdaContext:
    name = function_name(function)
    arn = f"arn:aws:lambda:{region}:{account_id}:function:{name}"
    return LambdaContext(function_name=name, invoked_function_arn=arn)
