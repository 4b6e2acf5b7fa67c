"""Function configuration is read once from the environment; a bad one fails with every problem named."""

from __future__ import annotations

import pytest

from jobsched.scheduling_settings import SchedulingSettings
from jobsched.settings import Settings, SettingsError


def test_function_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {"AWS_REGION": "eu-west-1", "JOBSCHED_REGIONS": "us-east-1, eu-west-1", "MAX_JOBS_PER_TENANT": "5"}
    )
    assert settings.region == "eu-west-1"
    assert settings.regions == ("us-east-1", "eu-west-1")
    assert settings.max_jobs_per_tenant == 5
    assert settings.allow_private_targets is False


def test_bad_function_settings_name_every_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"MAX_JOBS_PER_TENANT": "none", "ALLOW_HTTP_TARGETS": "maybe"})
    message = str(caught.value)
    assert message.startswith("invalid function configuration:")
    for field in ("region", "max_jobs_per_tenant", "allow_http_targets"):
        assert field in message


def test_bad_schedule_sync_settings_say_which_function() -> None:
    with pytest.raises(SettingsError, match=r"invalid schedule-sync configuration: .*execution_queue_arn"):
        SchedulingSettings.from_env({"AWS_REGION": "us-east-1", "EXECUTION_QUEUE_ARN": "not-an-arn"})
