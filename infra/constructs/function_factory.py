"""Creates the service's Lambda functions with one shared shape: runtime, layers, env, logs, tracing."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import paths
from infra.constructs.lambda_layers import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, SKIPPED_FILES, LambdaLayers
from jobsched import __version__, config
from jobsched.settings import Settings

HANDLER = "handler.handler"
DEFAULT_MEMORY_MB = 256
API_TIMEOUT = Duration.seconds(10)
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
POWERTOOLS_SERVICE_NAME = config.SERVICE
DEFAULT_MAX_JOBS_PER_TENANT = Settings.model_fields["max_jobs_per_tenant"].default


def function_environment(regions: tuple[str, ...]) -> dict[str, str]:
    """The variables jobsched.settings reads at cold start (AWS_REGION is set by Lambda itself)."""
    return {
        "JOBSCHED_REGIONS": ",".join(regions),
        "JOBS_TABLE_NAME": config.JOBS_TABLE,
        "EXECUTIONS_TABLE_NAME": config.EXECUTIONS_TABLE,
        "SERVICE_VERSION": __version__,
        "MAX_JOBS_PER_TENANT": str(DEFAULT_MAX_JOBS_PER_TENANT),
        # Deployed stacks never call private, loopback or plain-HTTP targets; only the local runtime may.
        "ALLOW_PRIVATE_TARGETS": "false",
        "ALLOW_HTTP_TARGETS": "false",
        "POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": config.METRICS_NAMESPACE,
    }


class FunctionFactory(Construct):
    """Builds functions from functions/<name>/handler.py; the layers are created once and shared."""

    def __init__(self, scope: Construct, construct_id: str, *, regions: tuple[str, ...]) -> None:
        super().__init__(scope, construct_id)
        self.layers = LambdaLayers(self, "Layers")
        self.environment = function_environment(regions)

    def create(
        self,
        construct_id: str,
        *,
        code_dir: str,
        description: str,
        timeout: Duration = API_TIMEOUT,
        memory_size: int = DEFAULT_MEMORY_MB,
    ) -> lambda_.Function:
        scope = Construct(self, construct_id)
        # Created here rather than by Lambda on first write, so retention applies and the stack owns it;
        # retained on stack deletion so an incident can still be investigated afterwards.
        log_group = logs.LogGroup(scope, "Logs", retention=LOG_RETENTION)
        # An own role with write access to this log group only, instead of the managed
        # AWSLambdaBasicExecutionRole that would allow writing to every log group of the account.
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"jobsched {code_dir} function",
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            scope,
            "Function",
            description=description,
            runtime=LAMBDA_RUNTIME,
            architecture=LAMBDA_ARCHITECTURE,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(paths.FUNCTIONS_DIR / code_dir), exclude=list(SKIPPED_FILES)),
            layers=self.layers.layers,
            environment=self.environment,
            memory_size=memory_size,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            role=role,
        )
        Validations.of(role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="X-Ray active tracing: xray:PutTraceSegments/PutTelemetryRecords support no "
                "resource-level permissions, so CDK grants them on '*'.",
            )
        )
        Validations.of(function).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason="python3.13 is the runtime the deps layer is built and tested for (pip "
                "--python-version 3.13); a newer runtime is a deliberate upgrade of layer, local runtime "
                "and tests together.",
            )
        )
        return function
