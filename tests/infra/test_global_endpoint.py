"""One global name when the context gives one: certificate, custom domain, health check, latency record."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config import GlobalDomain, InfraConfig, InfraConfigError
from infra.stacks.regional_stack import regional_stack_name
from jobsched import config
from tests.infra.conftest import DOMAIN_CONTEXT, SynthesizedApp

GLOBAL_RESOURCE_TYPES = (
    "AWS::CertificateManager::Certificate",
    "AWS::ApiGateway::DomainName",
    "AWS::ApiGateway::BasePathMapping",
    "AWS::Route53::HealthCheck",
    "AWS::Route53::RecordSet",
)


@pytest.fixture
def resources(synthesized_with_domain: SynthesizedApp, region: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = synthesized_with_domain.template_json(regional_stack_name(region))[
        "Resources"
    ]
    return found


def _only(resources: dict[str, dict[str, Any]], kind: str) -> tuple[str, dict[str, Any]]:
    found = [(key, value["Properties"]) for key, value in resources.items() if value["Type"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {[key for key, _ in found]}"
    return found[0]


def test_without_the_domain_context_no_global_name_is_made(synthesized: SynthesizedApp) -> None:
    for region in config.REGIONS:
        template = synthesized.template_json(regional_stack_name(region))
        kinds = {resource["Type"] for resource in template["Resources"].values()}
        assert kinds.isdisjoint(GLOBAL_RESOURCE_TYPES), region
        # (the primary's user pool outputs are tests/infra/test_regional_stacks.py's)
        assert {name for name in template["Outputs"] if not name.startswith("Users")} == {"ApiUrl", "ApiId"}


def test_a_dns_validated_certificate_in_the_region(resources: dict[str, dict[str, Any]]) -> None:
    _, certificate = _only(resources, "AWS::CertificateManager::Certificate")

    assert certificate["DomainName"] == "api.example.com"
    assert certificate["ValidationMethod"] == "DNS"
    assert certificate["DomainValidationOptions"] == [
        {"DomainName": "api.example.com", "HostedZoneId": "Z0123456789ABC"}
    ]


def test_a_regional_custom_domain_mapped_to_the_prod_stage(resources: dict[str, dict[str, Any]]) -> None:
    certificate_id, _ = _only(resources, "AWS::CertificateManager::Certificate")
    domain_id, domain = _only(resources, "AWS::ApiGateway::DomainName")
    _, mapping = _only(resources, "AWS::ApiGateway::BasePathMapping")
    rest_api_id, _ = _only(resources, "AWS::ApiGateway::RestApi")
    stage_id, _ = _only(resources, "AWS::ApiGateway::Stage")

    assert domain["DomainName"] == "api.example.com"
    assert domain["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert domain["RegionalCertificateArn"] == {"Ref": certificate_id}
    assert domain["SecurityPolicy"] == "TLS_1_2"
    assert mapping["DomainName"] == {"Ref": domain_id}
    assert mapping["RestApiId"] == {"Ref": rest_api_id}
    assert mapping["Stage"] == {"Ref": stage_id}
    assert "BasePath" not in mapping  # the name's root is the API


def test_a_health_check_on_this_regions_own_deep_health_route(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    _, check = _only(resources, "AWS::Route53::HealthCheck")
    rest_api_id, _ = _only(resources, "AWS::ApiGateway::RestApi")
    properties = check["HealthCheckConfig"]

    assert (properties["Type"], properties["Port"], properties["EnableSNI"]) == ("HTTPS", 443, True)
    assert (
        properties["ResourcePath"] == f"/{config.API_STAGE}{config.DEEP_HEALTH_PATH}" == "/prod/health/deep"
    )
    assert properties["FullyQualifiedDomainName"] == {
        "Fn::Join": ["", [{"Ref": rest_api_id}, f".execute-api.{region}.", {"Ref": "AWS::URLSuffix"}]]
    }
    assert (properties["RequestInterval"], properties["FailureThreshold"]) == (30, 3)


def test_a_latency_alias_record_per_region_tied_to_its_health_check(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    check_id, _ = _only(resources, "AWS::Route53::HealthCheck")
    domain_id, _ = _only(resources, "AWS::ApiGateway::DomainName")
    _, record = _only(resources, "AWS::Route53::RecordSet")

    assert (record["Name"], record["Type"], record["HostedZoneId"]) == (
        "api.example.com.",
        "A",
        "Z0123456789ABC",
    )
    assert (record["Region"], record["SetIdentifier"]) == (region, region)
    assert record["HealthCheckId"] == {"Ref": check_id}
    assert record["AliasTarget"] == {
        "DNSName": {"Fn::GetAtt": [domain_id, "RegionalDomainName"]},
        "HostedZoneId": {"Fn::GetAtt": [domain_id, "RegionalHostedZoneId"]},
    }


def test_every_region_answers_for_the_same_name_with_its_own_identifier(
    synthesized_with_domain: SynthesizedApp,
) -> None:
    records = [
        resource["Properties"]
        for region in config.REGIONS
        for resource in synthesized_with_domain.template_json(regional_stack_name(region))[
            "Resources"
        ].values()
        if resource["Type"] == "AWS::Route53::RecordSet"
    ]

    assert {record["Name"] for record in records} == {"api.example.com."}
    assert sorted(record["SetIdentifier"] for record in records) == sorted(config.REGIONS)


def test_the_global_url_is_an_output(synthesized_with_domain: SynthesizedApp, region: str) -> None:
    outputs = synthesized_with_domain.template_json(regional_stack_name(region))["Outputs"]

    assert {name for name in outputs if not name.startswith("Users")} == {"ApiUrl", "ApiId", "GlobalUrl"}
    assert outputs["GlobalUrl"]["Value"] == "https://api.example.com/"


def test_the_domain_context_parses_into_a_global_domain() -> None:
    parsed = InfraConfig.from_context(
        {
            "domain_name": "API.Example.com.",
            "hosted_zone_id": "/hostedzone/Z0123456789ABC",
            "hosted_zone_name": "example.com.",
        }
    )

    assert parsed.global_domain == GlobalDomain("api.example.com", "Z0123456789ABC", "example.com")
    assert InfraConfig.from_context({}).global_domain is None
    assert (
        InfraConfig.from_context({**DOMAIN_CONTEXT, "domain_name": "example.com"}).global_domain is not None
    )


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"domain_name": "api.example.com"}, "missing hosted_zone_id, hosted_zone_name"),
        (
            {**DOMAIN_CONTEXT, "hosted_zone_name": "example.org"},
            "is not inside hosted_zone_name 'example.org'",
        ),
        ({**DOMAIN_CONTEXT, "domain_name": "notexample.com"}, "is not inside"),
        ({**DOMAIN_CONTEXT, "hosted_zone_id": "zone-1"}, "hosted_zone_id"),
        ({**DOMAIN_CONTEXT, "domain_name": "*.example.com"}, "domain_name"),
        ({**DOMAIN_CONTEXT, "domain_name": "api_1.example.com"}, "domain_name"),
    ],
)
def test_an_incomplete_or_inconsistent_domain_context_is_refused(
    context: dict[str, str], message: str
) -> None:
    with pytest.raises(InfraConfigError, match=message):
        InfraConfig.from_context(context)
