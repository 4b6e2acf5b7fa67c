"""cdk.json and jobsched.config describe the same deployment; the context parses into InfraConfig."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import aws_cdk
import pytest

from infra.config import InfraConfig, InfraConfigError
from infra.constructs.key_authorizer import token_environment
from jobsched import config

RECOMMENDED_FLAGS_MEMBER = "package/recommended-feature-flags.json"


def _recommended_feature_flags() -> dict[str, Any]:
    """The flags `cdk init` would write for the installed aws-cdk-lib, read from its jsii assembly."""
    jsii_dir = Path(aws_cdk.__file__).parent / "_jsii"
    (tarball,) = jsii_dir.glob("aws-cdk-lib@*.jsii.tgz")
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(RECOMMENDED_FLAGS_MEMBER)
        assert member is not None
        flags: dict[str, Any] = json.load(member)
    return flags


def test_cdk_json_context_matches_jobsched_config(cdk_json: dict[str, Any]) -> None:
    context = cdk_json["context"]

    assert tuple(context["regions"]) == config.REGIONS
    assert context["primary_region"] == config.PRIMARY_REGION
    assert context["tiers"] == {
        tier.value: {
            "requests_per_hour": limits.requests_per_hour,
            "rate_per_second": limits.rate_per_second,
            "burst": limits.burst,
            "daily_quota": limits.daily_quota,
        }
        for tier, limits in config.TIERS.items()
    }


def test_cdk_json_runs_the_app_quietly_without_telemetry(cdk_json: dict[str, Any]) -> None:
    assert cdk_json["app"] == ".venv/bin/python app.py"
    assert cdk_json["notices"] is False
    assert cdk_json["context"]["cli-telemetry"] is False


def test_cdk_json_sets_every_recommended_feature_flag_of_the_installed_cdk(cdk_json: dict[str, Any]) -> None:
    context = cdk_json["context"]
    recommended = _recommended_feature_flags()

    differing = {flag: value for flag, value in recommended.items() if context.get(flag) != value}
    assert differing == {}


def test_cdk_json_context_parses_into_the_defaults(cdk_json: dict[str, Any]) -> None:
    parsed = InfraConfig.from_context(cdk_json["context"])

    assert parsed == InfraConfig()
    assert parsed.replica_regions == ("eu-west-1", "ap-south-1")
    assert parsed.tiers[config.Tier.PREMIUM].daily_quota == config.TIERS[config.Tier.PREMIUM].daily_quota


def test_missing_context_falls_back_to_jobsched_config() -> None:
    parsed = InfraConfig.from_context({})

    assert parsed.regions == config.REGIONS
    assert parsed.primary_region == config.PRIMARY_REGION
    assert {tier: settings.burst for tier, settings in parsed.tiers.items()} == {
        tier: limits.burst for tier, limits in config.TIERS.items()
    }


def test_regions_given_on_the_command_line_as_one_string_are_split() -> None:
    parsed = InfraConfig.from_context({"regions": "us-east-1, eu-west-1"})

    assert parsed.regions == ("us-east-1", "eu-west-1")
    assert parsed.replica_regions == ("eu-west-1",)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"regions": ["eu-west-1"], "primary_region": "us-east-1"}, "primary_region"),
        ({"regions": ["us-east-1", "us-east-1"]}, "unique"),
        (
            {
                "tiers": {
                    "basic": {"requests_per_hour": 1, "rate_per_second": 1, "burst": 1, "daily_quota": 1}
                }
            },
            "tiers",
        ),
        (
            {"tiers": {"gold": {"requests_per_hour": 1, "rate_per_second": 1, "burst": 1, "daily_quota": 1}}},
            "tiers",
        ),
        ({"auth": {"issuer": "http://idp.example.com"}}, "auth.issuer"),
        ({"auth": {"issuer": "https://idp.example.com"}}, "audience"),
        ({"auth": {"cognito_domain_prefix": "Has Spaces"}}, "auth.cognito_domain_prefix"),
        ({"auth": {"surprise": 1}}, "auth.surprise"),
    ],
)
def test_invalid_context_is_rejected_with_the_field_named(context: dict[str, Any], message: str) -> None:
    with pytest.raises(InfraConfigError, match=message):
        InfraConfig.from_context(context)


def test_another_oidc_issuer_replaces_the_user_pool_in_the_authorizers_environment() -> None:
    auth = InfraConfig.from_context(
        {
            "auth": {
                "issuer": "https://idp.example.com/",
                "audience": ["app-1", "app-2"],
                "role_claim": "roles",
            }
        }
    ).auth
    assert not auth.uses_cognito
    assert token_environment(auth, "us-east-1") == {
        "TOKEN_TENANT_CLAIM": "custom:tenant",
        "TOKEN_ROLE_CLAIM": "roles",
        "TOKEN_TAGS_CLAIM": "custom:job_tags",
        "TOKEN_ISSUER": "https://idp.example.com/",
        "TOKEN_AUDIENCE": "app-1,app-2",
        "TOKEN_JWKS_URL": "https://idp.example.com/.well-known/jwks.json",
    }
