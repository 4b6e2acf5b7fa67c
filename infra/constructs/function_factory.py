"""Creates the service's Lambda functions with one shared shape: runtime, layers, env, logs, tracing,
a `live` alias and a CodeDeploy canary deployment group."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_xray as xray
from constructs import Construct

from infra import paths
from infra.config import DeploymentSettings
from infra.constructs.lambda_layers import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, SKIPPED_FILES, LambdaLayers
from jobsched import config
from jobsched.functions import FunctionEnvironment, check_function_variables

HANDLER = "handler.handler"
DEFAULT_MEMORY_MB = 256
API_TIMEOUT = Duration.seconds(10)
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
LIVE_ALIAS = "live"
# Lean logs (docs/decisions.md): warnings and errors by default; 1% of invocations log at INFO (Powertools
# samples them at DEBUG, Lambda lets INFO through); Lambda's own START/END/REPORT lines only when WARN.
LOG_LEVEL = "WARNING"
LOG_SAMPLE_RATE = "0.01"
APPLICATION_LOG_LEVEL = lambda_.ApplicationLogLevel.INFO
SYSTEM_LOG_LEVEL = lambda_.SystemLogLevel.WARN
# One X-Ray sampling rule per region, ahead of the default (1 trace a second plus 5%): 0.2% of requests
# and executions, no reservoir. At the spec's 100 requests/s that is still about 170 traces an hour in
# each region (docs/decisions.md).
TRACE_SAMPLE_RATE = 0.002
TRACE_RESERVOIR_PER_SECOND = 0
TRACE_RULE_PRIORITY = 9000


@dataclass(frozen=True)
class ServiceFunction:
    """A function of the service with its `live` alias and the deployment group that shifts the alias."""

    function: lambda_.Function
    alias: lambda_.Alias
    deployment_group: codedeploy.LambdaDeploymentGroup


class FunctionFactory(Construct):
    """Builds functions from functions/<name>/handler.py; the layers are created once and shared.

    Every function gets, without anything to do at the call site:
    - telemetry settings (JSON logs into its own log group, active X-Ray tracing, Powertools service and
      metrics namespace); the handler wraps itself in jobsched.telemetry.instrument_api / instrument_handler;
    - a `live` alias on its current version, and a CodeDeploy deployment group that moves the alias by
      canary (DeploymentSettings: 10% for 30 minutes, then 100%) and rolls back when a rollback alarm fires
      (the shared ones, and the function's own errors and throttles, which the stack adds).

    create() returns the lambda_.Function (grant permissions on it as before). Wire every *caller* to the
    alias, never to the function, or the caller bypasses the canary and always runs $LATEST:

        fn = functions.create("ExecutorFunction", code_dir="executor", description="...")
        live = functions.live_alias(fn)
        live.add_event_source(SqsEventSource(queue))          # event sources: on the alias
        apigw.LambdaIntegration(live)                          # API integrations: on the alias
        queue.grant_consume_messages(fn)                       # grants: on the function (same role)

    `functions.functions` lists every ServiceFunction created so far (dashboards and alarms take it).
    Rollback alarms may be added before or after a function is created: add_rollback_alarm() reaches
    every deployment group, present and future.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        regions: tuple[str, ...],
        deployment: DeploymentSettings | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.layers = LambdaLayers(self, "Layers")
        self.environment = FunctionEnvironment(
            regions=regions,
            service_account_id=Stack.of(self).account,
            allow_http_targets=False,
            log_level=LOG_LEVEL,
            log_sample_rate=LOG_SAMPLE_RATE,
        ).variables()
        self.functions: list[ServiceFunction] = []
        self._rollback_alarms: list[cloudwatch.IAlarm] = []
        settings = deployment or DeploymentSettings()
        self.deployment_application = codedeploy.LambdaApplication(self, "DeploymentApplication")
        # One service role for every deployment group (CDK would otherwise create one per group).
        self.deployment_role = iam.Role(
            self,
            "DeploymentRole",
            assumed_by=iam.ServicePrincipal("codedeploy.amazonaws.com"),
            description="CodeDeploy: shifts the live aliases of the jobsched functions",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AWSCodeDeployRoleForLambdaLimited"
                )
            ],
        )
        Validations.of(self.deployment_role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSCodeDeployRoleForLambdaLimited]",
                reason="AWS's narrow managed policy for CodeDeploy on Lambda: read alarms, read and update "
                "aliases, invoke CodeDeployHook_* functions. AWS keeps it current as CodeDeploy changes.",
            )
        )
        self.sampling_rule = xray.CfnSamplingRule(
            self,
            "TraceSampling",
            sampling_rule=xray.CfnSamplingRule.SamplingRuleProperty(
                rule_name=f"{config.SERVICE}-{Stack.of(self).region}"[:32],
                priority=TRACE_RULE_PRIORITY,
                fixed_rate=TRACE_SAMPLE_RATE,
                reservoir_size=TRACE_RESERVOIR_PER_SECOND,
                service_name="*",
                service_type="*",
                host="*",
                http_method="*",
                url_path="*",
                resource_arn="*",
                version=1,
            ),
        )
        self.deployment_config = codedeploy.LambdaDeploymentConfig(
            self,
            "CanaryConfig",
            traffic_routing=codedeploy.TimeBasedCanaryTrafficRouting(
                percentage=settings.canary_percent,
                interval=Duration.minutes(settings.canary_interval_minutes),
            ),
        )

    def live_alias(self, function: lambda_.IFunction) -> lambda_.Alias:
        """The `live` alias of a function this factory created."""
        for created in self.functions:
            if created.function is function:
                return created.alias
        raise KeyError(f"{function.node.path} was not created by this FunctionFactory")

    def deployment_group(self, function: lambda_.IFunction) -> codedeploy.LambdaDeploymentGroup:
        """The deployment group that shifts the `live` alias of a function this factory created."""
        for created in self.functions:
            if created.function is function:
                return created.deployment_group
        raise KeyError(f"{function.node.path} was not created by this FunctionFactory")

    def add_rollback_alarm(self, alarm: cloudwatch.IAlarm) -> None:
        """An alarm that stops a deployment and moves `live` back, on every deployment group."""
        self._rollback_alarms.append(alarm)
        for created in self.functions:
            created.deployment_group.add_alarm(alarm)

    def create(
        self,
        construct_id: str,
        *,
        code_dir: str,
        description: str,
        timeout: Duration = API_TIMEOUT,
        memory_size: int = DEFAULT_MEMORY_MB,
        environment: Mapping[str, str] | None = None,
    ) -> lambda_.Function:
        """A function of functions/<code_dir>; `environment` holds exactly the variables that
        jobsched.functions.FUNCTION_VARIABLES declares for it (the common ones are added here)."""
        check_function_variables(code_dir, environment or {})
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
            environment={**self.environment, **(environment or {})},
            memory_size=memory_size,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=APPLICATION_LOG_LEVEL,
            system_log_level_v2=SYSTEM_LOG_LEVEL,
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
        alias = lambda_.Alias(scope, "LiveAlias", alias_name=LIVE_ALIAS, version=function.current_version)
        deployment_group = codedeploy.LambdaDeploymentGroup(
            scope,
            "Deployment",
            application=self.deployment_application,
            alias=alias,
            deployment_config=self.deployment_config,
            role=self.deployment_role,
            alarms=list(self._rollback_alarms),
            auto_rollback=codedeploy.AutoRollbackConfig(
                failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True
            ),
        )
        self.functions.append(ServiceFunction(function, alias, deployment_group))
        return function
