"""Function configuration is read once from the environment; a bad one fails with every problem named."""

from __future__ import annotations

import pytest

from jobsched.scheduling.settings import SchedulingSettings
from jobsched.settings import Settings, SettingsError, TelemetrySettings
from jobsched.targets.guard import TargetPolicy


def test_function_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {"AWS_REGION": "eu-west-1", "JOBSCHED_REGIONS": "us-east-1, eu-west-1", "MAX_JOBS_PER_TENANT": "5"}
    )
    assert settings.region == "eu-west-1"
    assert settings.regions == ("us-east-1", "eu-west-1")
    assert settings.max_jobs_per_tenant == 5
    assert settings.target_policy() == TargetPolicy(allow_http=False)


def test_the_local_runtime_allow_list_and_reserved_ports_reach_the_target_policy() -> None:
    settings = Settings.from_env(
        {
            "AWS_REGION": "us-east-1",
            "ALLOW_HTTP_TARGETS": "true",
            "ALLOW_TARGETS": "127.0.0.1:9000, LocalHost:9001,[::1]:9002",
            "RESERVED_TARGET_PORTS": "8080,4566",
        }
    )
    assert settings.target_policy() == TargetPolicy(
        allow_http=True,
        allowed=frozenset({("127.0.0.1", 9000), ("localhost", 9001), ("::1", 9002)}),
        reserved_ports=frozenset({8080, 4566}),
    )


@pytest.mark.parametrize("entry", ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", ":9000", "a b:9000"])
def test_a_malformed_allowed_target_fails_at_cold_start(entry: str) -> None:
    with pytest.raises(SettingsError, match="allow_targets"):
        Settings.from_env({"AWS_REGION": "us-east-1", "ALLOW_TARGETS": entry})


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


def test_the_metrics_flush_interval_defaults_to_a_minute_and_zero_means_every_invocation() -> None:
    assert TelemetrySettings.from_env({}).metrics_flush_seconds == 60
    assert TelemetrySettings.from_env({"METRICS_FLUSH_SECONDS": ""}).metrics_flush_seconds == 60
    assert TelemetrySettings.from_env({"METRICS_FLUSH_SECONDS": "0"}).metrics_flush_seconds == 0


@pytest.mark.parametrize("value", ["-1", "301", "soon", "1.5"])
def test_a_bad_metrics_flush_interval_names_the_setting(value: str) -> None:
    with pytest.raises(SettingsError, match=r"invalid telemetry configuration: metrics_flush_seconds"):
        TelemetrySettings.from_env({"METRICS_FLUSH_SECONDS": value})
