"""The spec's four CloudWatch dashboards for one region, as the four sections of one dashboard
(`jobsched-<region>-operations`), built with cdk-monitoring-constructs. One dashboard costs $3 a month
where four cost $12 (docs/decisions.md, Cost); each section starts with a large header naming it:

- error rate and latency (first: where an on-call engineer starts): the alarms' state and the metrics
  they watch, with their thresholds drawn in;
- business metrics: jobs created, executions by outcome and duration, active jobs, key decisions, the
  heartbeat, schedule-sync failures, schedules in error, stuck executions;
- infrastructure health: every function (invocations, errors, throttles, duration, concurrency), the
  execution queue and its DLQ, the scheduler's and schedule-sync's DLQs, both tables;
- application performance (last, so what the stack adds to it afterwards, WAF's requests, stays in it): API
  traffic and latency, the functions' request metrics by status class, and per route a Logs Insights table
  of the stage's access log (requests, 4xx, 5xx, p95/p99 latency; docs/decisions.md, Cost).
Functions are taken from the FunctionFactory's list as it is when the dashboards are built, so the stack
builds them last, after every function (tests/infra checks that each function is on a dashboard).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from cdk_monitoring_constructs import (
    CustomMetricGroup,
    DefaultDashboardFactory,
    MonitoringFacade,
)
from constructs import Construct

from infra.constructs.api_gateway import ACCESS_LOG_FIELDS
from infra.constructs.function_factory import ServiceFunction
from infra.constructs.operations_alarms import (
    CRITICAL_ERROR_RATE,
    CRITICAL_P95,
    EXECUTION_FAILURE_RATE,
    WARNING_ERROR_RATE,
    WARNING_P95,
    AlarmSet,
    api_metric,
    execution_failure_rate,
    execution_metric,
    function_label,
)
from jobsched import config, telemetry
from jobsched.tables import TABLES

DASHBOARD = "operations"
# the spec's four dashboards, as sections of the one dashboard, in the order they appear
SECTIONS = {
    "ErrorRateAndLatency": "Error rate and latency",
    "BusinessMetrics": "Business metrics",
    "InfrastructureHealth": "Infrastructure health",
    "ApplicationPerformance": "Application performance",
}
FIVE_MINUTES = Duration.minutes(5)
ONE_MINUTE = Duration.minutes(1)


def dashboard_name(region: str, slug: str) -> str:
    return f"{config.SERVICE}-{region}-{slug}"


def _service_metric(name: str, statistic: str, label: str, **dimensions: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=config.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={telemetry.SERVICE_DIMENSION: config.SERVICE, **dimensions},
        statistic=statistic,
        label=label,
        period=FIVE_MINUTES,
    )


def _access_log_field(variable: str) -> str:
    """The access log's field for a $context variable: the stage's format (ACCESS_LOG_FIELDS) names it."""
    (name,) = [name for name, value in ACCESS_LOG_FIELDS.items() if value == variable]
    return name


def route_query_lines() -> list[str]:
    """Logs Insights over the access log: per route (method and resource template) its requests, 4xx,
    5xx and p95/p99 latency (ms, API Gateway's whole response time), the busiest route first."""
    method = _access_log_field("$context.httpMethod")
    resource = _access_log_field("$context.resourcePath")
    status = _access_log_field("$context.status")
    latency = _access_log_field("$context.responseLatency")
    return [
        f"fields {method}, {resource}, {status}, {latency}",
        f"stats count(*) as requests, sum({status} >= 400 and {status} < 500) as client_errors_4xx, "
        f"sum({status} >= 500) as server_errors_5xx, pct({latency}, 95) as p95_ms, "
        f"pct({latency}, 99) as p99_ms by {method}, {resource}",
        "sort requests desc",
    ]


class Dashboards(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rest_api: apigw.RestApi,
        access_logs: logs.ILogGroup,
        functions: Sequence[ServiceFunction],
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        tables: Sequence[dynamodb.ITable],
        alarms: AlarmSet,
        other_dead_letter_queues: Mapping[str, sqs.IQueue] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        facade = MonitoringFacade(
            self,
            "Operations",
            dashboard_factory=DefaultDashboardFactory(
                self,
                "OperationsFactory",
                dashboard_name_prefix=dashboard_name(region, DASHBOARD),
                create_dashboard=True,
                create_summary_dashboard=False,
                create_alarm_dashboard=False,
            ),
        )
        # each section's facade: the one dashboard's (the stack adds WAF's widgets to ApplicationPerformance)
        self.facades = dict.fromkeys(SECTIONS, facade)
        stage = rest_api.deployment_stage.stage_name
        facade.add_large_header(SECTIONS["ErrorRateAndLatency"])
        self._error_rate_and_latency(facade, alarms)
        facade.add_large_header(SECTIONS["BusinessMetrics"])
        self._business_metrics(facade)
        facade.add_large_header(SECTIONS["InfrastructureHealth"])
        self._infrastructure_health(facade, functions, queue, dead_letter_queue, tables)
        self._dead_letter_queues(facade, other_dead_letter_queues or {})
        facade.add_large_header(SECTIONS["ApplicationPerformance"])
        self._application_performance(facade, rest_api, stage, access_logs)

    @staticmethod
    def _application_performance(
        facade: MonitoringFacade, rest_api: apigw.RestApi, stage: str, access_logs: logs.ILogGroup
    ) -> None:
        facade.add_medium_header("API: traffic and latency")
        facade.monitor_api_gateway(api=rest_api, api_stage=stage, human_readable_name="REST API")
        by_class = telemetry.STATUS_CLASS_DIMENSION
        facade.monitor_custom(
            human_readable_name="API by status class (from the functions)",
            alarm_friendly_name="ApiByStatusClass",
            metric_groups=[
                CustomMetricGroup(
                    title="Request duration by status class (ms)",
                    metrics=[
                        _service_metric(
                            telemetry.API_REQUEST_DURATION, statistic, f"{cls} {statistic}", **{by_class: cls}
                        )
                        for cls in telemetry.STATUS_CLASSES
                        for statistic in ("p95", "p99")
                    ],
                ),
                CustomMetricGroup(
                    title="Requests by status class (per 5 min)",
                    metrics=[
                        _service_metric(telemetry.API_REQUESTS_TOTAL, "Sum", cls, **{by_class: cls})
                        for cls in telemetry.STATUS_CLASSES
                    ],
                ),
            ],
        )
        # Per route from the access log, which API Gateway writes for every request anyway: a query runs
        # (and is billed by the GB it scans) only when the dashboard is viewed, where per-route metrics
        # would be ~90 custom metrics a region, billed every month.
        facade.add_widget(
            cloudwatch.LogQueryWidget(
                title="API by route, from the access log (Logs Insights over the dashboard's time range)",
                log_group_names=[access_logs.log_group_name],
                query_lines=route_query_lines(),
                view=cloudwatch.LogQueryVisualizationType.TABLE,
                width=24,
                height=8,
            )
        )

    @staticmethod
    def _infrastructure_health(
        facade: MonitoringFacade,
        functions: Sequence[ServiceFunction],
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        tables: Sequence[dynamodb.ITable],
    ) -> None:
        facade.add_medium_header("Functions")
        for service_function in functions:
            facade.monitor_lambda_function(
                lambda_function=service_function.function,
                human_readable_name=function_label(service_function),
                alarm_friendly_name=function_label(service_function),
            )
        facade.add_medium_header("Execution queue and tables")
        facade.monitor_sqs_queue_with_dlq(
            queue=queue,
            dead_letter_queue=dead_letter_queue,
            human_readable_name="Execution queue",
            alarm_friendly_name="ExecutionQueue",
        )
        provisioned = {definition.name for definition in TABLES if definition.capacity is not None}
        for table in tables:
            facade.monitor_dynamo_table(
                table=table,
                # a provisioned table's widgets show consumed against provisioned capacity
                billing_mode=dynamodb.BillingMode.PROVISIONED
                if table.table_name in provisioned
                else dynamodb.BillingMode.PAY_PER_REQUEST,
                human_readable_name=f"Table {table.table_name}",
                alarm_friendly_name=table.table_name,
            )

    @staticmethod
    def _dead_letter_queues(facade: MonitoringFacade, queues: Mapping[str, sqs.IQueue]) -> None:
        if not queues:
            return
        facade.add_widget(
            cloudwatch.GraphWidget(
                title="Dead-letter queues: scheduler and schedule-sync (messages visible)",
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        statistic="Maximum", period=ONE_MINUTE, label=label
                    )
                    for label, queue in queues.items()
                ],
                width=24,
            )
        )

    @staticmethod
    def _business_metrics(facade: MonitoringFacade) -> None:
        outcomes = [
            execution_metric(outcome).with_(label=outcome.value) for outcome in telemetry.ExecutionOutcome
        ]
        facade.monitor_custom(
            human_readable_name="Jobs",
            alarm_friendly_name="Jobs",
            metric_groups=[
                CustomMetricGroup(
                    title="Jobs created (per 5 min)",
                    metrics=[_service_metric(telemetry.JOBS_CREATED_TOTAL, "Sum", "created")],
                ),
                CustomMetricGroup(
                    title="Active jobs",
                    metrics=[_service_metric(telemetry.ACTIVE_JOBS_GAUGE, "Maximum", "active jobs")],
                ),
                CustomMetricGroup(title="Executions by outcome (per 5 min)", metrics=outcomes),
                CustomMetricGroup(
                    title="Execution duration (ms)",
                    metrics=[
                        _service_metric(telemetry.JOB_EXECUTION_DURATION, statistic, statistic)
                        for statistic in ("p50", "p95", "p99")
                    ],
                ),
                CustomMetricGroup(
                    title="Callers refused (key or token)",
                    metrics=[
                        _service_metric(
                            telemetry.AUTHORIZER_DECISIONS_TOTAL,
                            "Sum",
                            decision.value,
                            **{telemetry.DECISION_DIMENSION: decision.value},
                        )
                        for decision in telemetry.AuthorizerDecision
                    ],
                ),
            ],
        )
        facade.monitor_custom(
            human_readable_name="Fires: heartbeat and where they get lost",
            alarm_friendly_name="Fires",
            metric_groups=[
                CustomMetricGroup(
                    title="Heartbeats (per minute; 1 expected)",
                    metrics=[
                        _service_metric(telemetry.HEARTBEAT_OK, "Sum", "heartbeats").with_(period=ONE_MINUTE)
                    ],
                ),
                CustomMetricGroup(
                    title="schedule-sync failures (per 5 min)",
                    metrics=[_service_metric(telemetry.SCHEDULE_SYNC_FAILURES_TOTAL, "Sum", "failures")],
                ),
                CustomMetricGroup(
                    title="Schedules in error and stuck executions",
                    metrics=[
                        _service_metric(telemetry.SCHEDULES_IN_ERROR_GAUGE, "Maximum", "schedules in error"),
                        _service_metric(telemetry.STUCK_EXECUTIONS_GAUGE, "Maximum", "stuck executions"),
                    ],
                ),
            ],
        )

    @staticmethod
    def _error_rate_and_latency(facade: MonitoringFacade, alarms: AlarmSet) -> None:
        facade.add_widget(
            cloudwatch.AlarmStatusWidget(
                title="Critical and warning alarms",
                alarms=[*alarms.critical, *alarms.warning],
                width=24,
                height=6,
            )
        )
        error_rate = cloudwatch.MathExpression(
            expression="100 * errors",
            using_metrics={"errors": api_metric("5XXError", "Average")},
            label="5xx %",
            period=ONE_MINUTE,
        )
        client_rate = cloudwatch.MathExpression(
            expression="100 * client_errors",
            using_metrics={"client_errors": api_metric("4XXError", "Average")},
            label="4xx %",
            period=ONE_MINUTE,
        )
        facade.add_widget(
            cloudwatch.GraphWidget(
                title="API error rate (%)",
                left=[error_rate, client_rate],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=100 * CRITICAL_ERROR_RATE, label="critical", color="#d62728"
                    ),
                    cloudwatch.HorizontalAnnotation(
                        value=100 * WARNING_ERROR_RATE, label="warning", color="#ff7f0e"
                    ),
                ],
                width=12,
            )
        )
        facade.add_widget(
            cloudwatch.GraphWidget(
                title="API latency (ms)",
                left=[
                    api_metric("Latency", statistic).with_(label=statistic)
                    for statistic in ("p50", "p95", "p99")
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=CRITICAL_P95.to_milliseconds(), label="critical p95", color="#d62728"
                    ),
                    cloudwatch.HorizontalAnnotation(
                        value=WARNING_P95.to_milliseconds(), label="warning p95", color="#ff7f0e"
                    ),
                ],
                width=12,
            ),
        )
        facade.add_widget(
            cloudwatch.GraphWidget(
                title="Job execution failure rate (%)",
                left=[
                    cloudwatch.MathExpression(
                        expression="100 * rate",
                        using_metrics={"rate": execution_failure_rate()},
                        label="failed %",
                        period=FIVE_MINUTES,
                    )
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=100 * EXECUTION_FAILURE_RATE, label="warning")
                ],
                width=24,
            )
        )
