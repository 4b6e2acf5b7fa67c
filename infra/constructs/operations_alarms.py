"""The spec's alarms for one region, each acting on the critical or the warning topic (on ALARM and OK).

Critical (page): service down, API error rate > 5%, API p95 > 2 s, DynamoDB errors or throttling, DLQ not
empty, a fire message rejected (not made by the service). Warning (chat): API error rate > 2%, API p95 > 1 s,
job execution failures > 10%, WAF blocking more than 3,000 requests in five minutes.
API alarms read API Gateway's own stage metrics: they include what the functions never see (authorizer
failures, integration timeouts, throttling at the stage), and need no code in the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from jobsched import config, telemetry

ONE_MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)

# Service down > 30 s: at steady traffic, 30 s of failing everything is half of a one-minute period failing.
SERVICE_DOWN_ERROR_RATE = 0.5
CRITICAL_ERROR_RATE = 0.05
WARNING_ERROR_RATE = 0.02
CRITICAL_P95 = Duration.seconds(2)
WARNING_P95 = Duration.seconds(1)
EXECUTION_FAILURE_RATE = 0.10
# WAF blocking more than this many requests in five minutes (10/s on average) is an attack or a rule
# refusing a legitimate caller: worth a look, not a page (the requests never reached the service).
WAF_BLOCKED_REQUESTS = 3_000
# The operations the functions use; SystemErrors is published per operation.
TABLE_OPERATIONS = (
    dynamodb.Operation.GET_ITEM,
    dynamodb.Operation.PUT_ITEM,
    dynamodb.Operation.UPDATE_ITEM,
    dynamodb.Operation.DELETE_ITEM,
    dynamodb.Operation.QUERY,
    dynamodb.Operation.TRANSACT_WRITE_ITEMS,
)


def api_metric(metric_name: str, statistic: str, period: Duration = ONE_MINUTE) -> cloudwatch.Metric:
    """A stage metric of the REST API, by the API's and stage's fixed names.

    Names, not the Stage resource: an alarm that referenced the stage would close a dependency cycle
    (stage -> methods -> live alias -> its CodeDeploy update policy -> deployment group -> alarm).
    """
    return cloudwatch.Metric(
        namespace="AWS/ApiGateway",
        metric_name=metric_name,
        dimensions_map={"ApiName": config.rest_api_name(), "Stage": config.API_STAGE},
        statistic=statistic,
        period=period,
    )


def execution_metric(
    outcome: telemetry.ExecutionOutcome, period: Duration = FIVE_MINUTES
) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=config.METRICS_NAMESPACE,
        metric_name=telemetry.JOBS_EXECUTED_TOTAL,
        dimensions_map={
            telemetry.SERVICE_DIMENSION: config.SERVICE,
            telemetry.OUTCOME_DIMENSION: outcome.value,
        },
        statistic="Sum",
        period=period,
    )


def execution_failure_rate(period: Duration = FIVE_MINUTES) -> cloudwatch.MathExpression:
    """Failed / (succeeded + failed); skipped executions called nothing, so they do not count."""
    return cloudwatch.MathExpression(
        expression="failed / (succeeded + failed)",
        using_metrics={
            "failed": execution_metric(telemetry.ExecutionOutcome.FAILED, period),
            "succeeded": execution_metric(telemetry.ExecutionOutcome.SUCCEEDED, period),
        },
        label="job execution failure rate",
        period=period,
    )


def waf_blocked_requests(
    web_acl_name: str, region: str, period: Duration = FIVE_MINUTES
) -> cloudwatch.Metric:
    """Requests the web ACL blocked, all rules together (WAF's `ALL` rule dimension)."""
    return cloudwatch.Metric(
        namespace="AWS/WAFV2",
        metric_name="BlockedRequests",
        dimensions_map={"WebACL": web_acl_name, "Region": region, "Rule": "ALL"},
        statistic="Sum",
        period=period,
    )


@dataclass(frozen=True)
class AlarmSet:
    critical: list[cloudwatch.Alarm]
    warning: list[cloudwatch.Alarm]
    # The critical alarms that judge the code being deployed (not a backlog left from before).
    rollback: list[cloudwatch.Alarm]


class OperationsAlarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dead_letter_queue: sqs.IQueue,
        tables: Sequence[dynamodb.ITable],
        critical_topic: sns.ITopic,
        warning_topic: sns.ITopic,
        web_acl_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._critical_actions = actions.SnsAction(critical_topic)
        self._warning_actions = actions.SnsAction(warning_topic)
        self.region_prefix = f"{config.SERVICE}-{Stack.of(self).region}"
        error_rate = api_metric("5XXError", "Average")
        p95 = api_metric("Latency", "p95")

        service_down = self._critical(
            "ServiceDown",
            error_rate,
            threshold=SERVICE_DOWN_ERROR_RATE,
            periods=1,
            description="Service down for more than 30 s: over half of a minute's API requests got a 5xx.",
        )
        critical_errors = self._critical(
            "ApiErrorRate",
            error_rate,
            threshold=CRITICAL_ERROR_RATE,
            periods=3,
            description="More than 5% of API requests got a 5xx, three minutes running.",
        )
        critical_latency = self._critical(
            "ApiLatencyP95",
            p95,
            threshold=CRITICAL_P95.to_milliseconds(),
            periods=3,
            description="API p95 latency above 2 s, three minutes running.",
        )
        table_alarms: list[cloudwatch.Alarm] = []
        for table in tables:
            name = table.table_name
            table_alarms.append(
                self._critical(
                    f"DynamoDbErrors-{name}",
                    table.metric_system_errors_for_operations(
                        operations=list(TABLE_OPERATIONS), period=ONE_MINUTE
                    ),
                    threshold=0,
                    periods=1,
                    description=f"DynamoDB answered with server errors on {name}.",
                )
            )
            table_alarms.append(
                self._critical(
                    f"DynamoDbThrottles-{name}",
                    cloudwatch.MathExpression(
                        expression="FILL(reads, 0) + FILL(writes, 0)",
                        using_metrics={
                            "reads": _table_metric(table, "ReadThrottleEvents"),
                            "writes": _table_metric(table, "WriteThrottleEvents"),
                        },
                        label=f"{name} throttled events",
                        period=ONE_MINUTE,
                    ),
                    threshold=0,
                    periods=1,
                    description=f"DynamoDB throttled requests on {name}.",
                )
            )
        dlq_not_empty = self._critical(
            "DeadLetterQueueNotEmpty",
            dead_letter_queue.metric_approximate_number_of_messages_visible(
                statistic="Maximum", period=ONE_MINUTE
            ),
            threshold=0,
            periods=1,
            description="Executions gave up after every retry; drain with `jobsched dlq redrive` "
            "(docs/operations.md).",
        )
        fires_rejected = self._critical(
            "FiresRejected",
            cloudwatch.Metric(
                namespace=config.METRICS_NAMESPACE,
                metric_name=telemetry.FIRES_REJECTED_TOTAL,
                dimensions_map={telemetry.SERVICE_DIMENSION: config.SERVICE},
                statistic="Sum",
                period=ONE_MINUTE,
            ),
            threshold=0,
            periods=1,
            description="The executor dropped messages on the execution queue that the service did not make "
            "(a forged fire, or jobs still without a fire token): see the executor's 'fire message "
            "rejected' log lines and docs/security.md.",
        )

        warnings = [
            self._warning(
                "ApiErrorRate",
                error_rate,
                threshold=WARNING_ERROR_RATE,
                periods=5,
                description="More than 2% of API requests got a 5xx, five minutes running.",
            ),
            self._warning(
                "ApiLatencyP95",
                p95,
                threshold=WARNING_P95.to_milliseconds(),
                periods=5,
                description="API p95 latency above 1 s, five minutes running.",
            ),
            self._warning(
                "JobExecutionFailures",
                execution_failure_rate(),
                threshold=EXECUTION_FAILURE_RATE,
                periods=2,
                description="More than 10% of job executions failed, two 5-minute periods running.",
            ),
        ]
        if web_acl_name is not None:
            warnings.append(
                self._warning(
                    "WafBlockedRequests",
                    waf_blocked_requests(web_acl_name, Stack.of(self).region),
                    threshold=WAF_BLOCKED_REQUESTS,
                    periods=1,
                    description="WAF blocked more than 3,000 requests in 5 minutes: an attack, or a rule "
                    "refusing a legitimate caller (see the aws-waf-logs-jobsched-<region> log group).",
                )
            )
        critical = [
            service_down,
            critical_errors,
            critical_latency,
            *table_alarms,
            dlq_not_empty,
            fires_rejected,
        ]
        self.alarms = AlarmSet(
            critical=critical,
            warning=warnings,
            rollback=[service_down, critical_errors, critical_latency, *table_alarms],
        )

    def _critical(
        self, name: str, metric: cloudwatch.IMetric, *, threshold: float, periods: int, description: str
    ) -> cloudwatch.Alarm:
        return self._alarm("Critical", name, metric, threshold, periods, description, self._critical_actions)

    def _warning(
        self, name: str, metric: cloudwatch.IMetric, *, threshold: float, periods: int, description: str
    ) -> cloudwatch.Alarm:
        return self._alarm("Warning", name, metric, threshold, periods, description, self._warning_actions)

    def _alarm(
        self,
        severity: str,
        name: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        periods: int,
        description: str,
        action: actions.SnsAction,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            f"{severity}{name}",
            alarm_name=f"{self.region_prefix}-{severity.lower()}-{name}",
            alarm_description=f"[{severity.upper()}] {description}",
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            # No requests or no executions is not an outage by itself (quiet regions, nights).
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        return alarm


def _table_metric(table: dynamodb.ITable, metric_name: str) -> cloudwatch.Metric:
    return table.metric(metric_name, statistic="Sum", period=ONE_MINUTE)
