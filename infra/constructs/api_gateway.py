"""The regional REST API: stage, throttling, access logs, tracing, and the keyless health check."""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, Size, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.api_routes import add_keyless_method
from jobsched import config

ACCESS_LOG_RETENTION = logs.RetentionDays.ONE_MONTH

# One JSON object per request, lean: every field is paid for on every request (CloudWatch Logs ingestion,
# docs/cost.md). Who (ip, the authorizer's key and tenant), what (method, resource template and path), how
# it went (status, latency) and the request id that finds the function's log lines and the trace. The time
# is the log event's own timestamp (docs/decisions.md).
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "keyId": "$context.authorizer.key_id",
    "tenant": "$context.authorizer.tenant",
    "method": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",
    "status": "$context.status",
    "latency": "$context.responseLatency",
}


class ApiGateway(Construct):
    """A regional REST API whose every method needs an API key unless it opts out explicitly.

    Regional (not edge) endpoints, because each region serves its own API behind latency-based routing.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, stage_rate_per_second: float, stage_burst: int
    ) -> None:
        super().__init__(scope, construct_id)
        # Infrequent Access: half the ingestion price. The access log is read by Logs Insights queries (the
        # operations dashboard's per-route table; the class runs every query command but pattern, diff,
        # filterIndex and unmask) and by nothing else: no metric filter, subscription or EMF reads it, and
        # those (with Live Tail) are what the class gives up (docs/decisions.md, Cost).
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=ACCESS_LOG_RETENTION,
            log_group_class=logs.LogGroupClass.INFREQUENT_ACCESS,
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=config.rest_api_name(),
            description="jobsched job scheduler API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # The authorizer names the key to count (usageIdentifierKey): the caller's own API key, or its
            # tenant's usage key for a bearer token, so tiers hold for both (docs/decisions.md).
            api_key_source_type=apigw.ApiKeySourceType.AUTHORIZER,
            # Secure by default: a method added later without thinking about keys still requires one.
            default_method_options=apigw.MethodOptions(api_key_required=True),
            # gzip for clients that send Accept-Encoding: list pages shrink several times over.
            min_compression_size=Size.bytes(config.COMPRESSION_MIN_BYTES),
            # Stage logging needs the account-level CloudWatch role of API Gateway in this region.
            cloud_watch_role=True,
            deploy_options=apigw.StageOptions(
                stage_name=config.API_STAGE,
                throttling_rate_limit=stage_rate_per_second,
                throttling_burst_limit=stage_burst,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.custom(
                    json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))
                ),
                tracing_enabled=True,
                # Stage-level metrics (free) only: per-method ones are custom metrics ($0.30 each, ~80 a
                # region). The per-route view is this stage's access log, which the operations dashboard
                # queries with Logs Insights (method, resourcePath, status, latency per request).
                metrics_enabled=False,
                # Execution logs for failures only; full request logging would put payloads in logs.
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
            ),
        )
        # The stack declares its own ApiUrl and ApiId outputs; RestApi's automatic one would repeat the URL.
        self.rest_api.node.try_remove_child("Endpoint")
        # Bodies are validated by the functions (pydantic, with field-level error messages); the
        # validator is the hook for request models and checks required parameters where declared.
        self.request_validator = self.rest_api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True
        )
        self._add_gateway_responses()
        self._acknowledge_findings()

    def _add_gateway_responses(self) -> None:
        """API Gateway's own answers, made to agree with the API's contract (docs/api.md).

        A key that is no longer in a usage plan (revoked) is INVALID_API_KEY, a 403 "Forbidden" by default:
        answered 401 like any unknown key. Throttled and quota-exceeded 429s carry Retry-After; API
        Gateway cannot compute the quota's reset time, so that one says an hour (the local runtime, which
        can, says the seconds until midnight UTC).
        """
        unauthorized = {"application/json": json.dumps({"message": "Unauthorized"})}
        self.rest_api.add_gateway_response(
            "InvalidApiKey",
            type=apigw.ResponseType.INVALID_API_KEY,
            status_code="401",
            templates=unauthorized,
        )
        for construct_id, kind, message, retry_after in (
            ("Throttled", apigw.ResponseType.THROTTLED, "Too Many Requests", "1"),
            ("QuotaExceeded", apigw.ResponseType.QUOTA_EXCEEDED, "Limit Exceeded", "3600"),
        ):
            self.rest_api.add_gateway_response(
                construct_id,
                type=kind,
                status_code="429",
                response_headers={"Retry-After": f"'{retry_after}'"},
                templates={"application/json": json.dumps({"message": message})},
            )

    @property
    def stage(self) -> apigw.Stage:
        return self.rest_api.deployment_stage

    def add_health_route(self, health_function: lambda_.IFunction) -> apigw.Method:
        """GET /health: no key and no authorizer, so load balancers and probes can call it."""
        return add_keyless_method(
            self.rest_api.root,
            "health",
            apigw.LambdaIntegration(health_function, allow_test_invoke=False),
            "GET /health is the public liveness probe: it reveals only status, version and region.",
        )

    def add_deep_health_route(self, deep_health_function: lambda_.IFunction) -> apigw.Method:
        """GET /health/deep: no key and no authorizer, because Route 53's health checkers call it."""
        return add_keyless_method(
            self.rest_api.root,
            "deep_health",
            apigw.LambdaIntegration(deep_health_function, allow_test_invoke=False),
            "GET /health/deep is what Route 53's health checkers call (they send no key): it reveals which "
            "dependency failed, never data, and caches its verdict so it cannot be used to load the table.",
        )

    def _acknowledge_findings(self) -> None:
        cloud_watch_role = self.rest_api.node.find_child("CloudWatchRole")
        Validations.of(cloud_watch_role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                reason="The account-level API Gateway logging role: AWS's managed policy is the documented "
                "way to let API Gateway create its execution log groups in this region.",
            )
        )
