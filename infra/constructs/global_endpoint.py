"""This region's share of the one global name: certificate, custom domain, health check, latency record.

Every regional stack adds its own latency alias record for the same name (SetIdentifier = region), tied to
a Route 53 health check of its own deep health route. Route 53 answers each client with the nearest region
whose check passes; a region whose check fails leaves DNS until it passes again.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from constructs import Construct

from infra.config import GlobalDomain
from jobsched import config

HEALTH_CHECK_INTERVAL = Duration.seconds(30)
# Three failed checks in a row (about 90 s) before the region leaves DNS: one slow answer is not an outage.
HEALTH_CHECK_FAILURE_THRESHOLD = 3


def deep_health_resource_path() -> str:
    """The deep health route on the execute-api hostname, which carries the stage in the path."""
    return f"/{config.API_STAGE}{config.DEEP_HEALTH_PATH}"


class RegionalEndpoint(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, domain: GlobalDomain, rest_api: apigw.RestApi
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        region = stack.region
        zone = route53.PublicHostedZone.from_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=domain.hosted_zone_id, zone_name=domain.hosted_zone_name
        )
        # A regional custom domain needs a certificate in its own region; CloudFormation writes the DNS
        # validation record into the zone and waits until ACM has issued the certificate.
        self.certificate = acm.Certificate(
            self,
            "Certificate",
            domain_name=domain.domain_name,
            validation=acm.CertificateValidation.from_dns(zone),
        )
        self.domain_name = apigw.DomainName(
            self,
            "DomainName",
            domain_name=domain.domain_name,
            certificate=self.certificate,
            endpoint_type=apigw.EndpointType.REGIONAL,
            security_policy=apigw.SecurityPolicy.TLS_1_2,
        )
        # The name's root is the prod stage: https://<name>/api/v1/jobs.
        self.domain_name.add_base_path_mapping(rest_api, stage=rest_api.deployment_stage)
        # The check calls this region's own execute-api hostname: the global name would resolve to whichever
        # region is nearest to the checker, not necessarily this one.
        self.health_check = route53.HealthCheck(
            self,
            "DeepHealthCheck",
            type=route53.HealthCheckType.HTTPS,
            fqdn=f"{rest_api.rest_api_id}.execute-api.{region}.{stack.url_suffix}",
            port=443,
            resource_path=deep_health_resource_path(),
            enable_sni=True,
            request_interval=HEALTH_CHECK_INTERVAL,
            failure_threshold=HEALTH_CHECK_FAILURE_THRESHOLD,
        )
        self.record = route53.ARecord(
            self,
            "LatencyRecord",
            zone=zone,
            record_name=domain.domain_name,
            target=route53.RecordTarget.from_alias(targets.ApiGatewayDomain(self.domain_name)),
            region=region,
            set_identifier=region,
            health_check=self.health_check,
            comment=f"jobsched API in {region}: latency routing, withdrawn while its deep health check fails",
        )
