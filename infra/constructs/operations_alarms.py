"""The spec's alarms for one region, each acting on the critical or the warning topic (on ALARM and OK).

Critical (page): service down, API error rate > 5%, API p95 > 2 s, DynamoDB errors or throttling, any of
the three dead-letter queues not empty (execution, scheduler, schedule-sync), a fire message rejected (not
made by the service), no heartbeat for three minutes (the dead man's switch, execution.heartbeat), executions
stuck `running` past their lease. Warning (chat): API error rate > 2%, API p95 > 1 s, job execution failures
> 10%, WAF blocking more than 3,000 requests in five minutes, schedule-sync failures, schedules in `error`,
and for every function its errors and its throttles.
API alarms read API Gateway's own stage metrics: they include what the functions never see (authorizer
failures, integration timeouts, throttling at the stage), and need no code in the functions.

Missing data: every alarm states how it counts. Silence is breaching for the heartbeat only (its whole
point); elsewhere no data means nothing happened (no requests, no executions, an empty queue). Metric math
fills each input with FILL(x, 0), so one failure series alone, with the others absent, still alarms
(tests/infra/test_alarm_math.py evaluates every expression that way).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.function_factory import ServiceFunction
from jobsched import config, telemetry
from jobsched.execution.heartbeat import HEARTBEAT_SILENCE_MINUTES

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


def service_metric(name: str, statistic: str, period: Duration) -> cloudwatch.Metric:
    """One of the service's own metrics with the service dimension only (one series per region)."""
    return cloudwatch.Metric(
        namespace=config.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={telemetry.SERVICE_DIMENSION: config.SERVICE},
        statistic=statistic,
        period=period,
    )


def execution_failure_rate(period: Duration = FIVE_MINUTES) -> cloudwatch.MathExpression:
    """Failed / (succeeded + failed); skipped executions called nothing, so they do not count.

    Each series filled with 0: a period with failures and no success is a rate of 1, not missing data.
    """
    return cloudwatch.MathExpression(
        expression="FILL(failed, 0) / (FILL(succeeded, 0) + FILL(failed, 0))",
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


def table_system_errors(table: dynamodb.ITable, period: Duration = ONE_MINUTE) -> cloudwatch.MathExpression:
    """SystemErrors of every operation the functions use, each filled with 0 before they are added."""
    using = {
        f"op{index}": cloudwatch.Metric(
            namespace="AWS/DynamoDB",
            metric_name="SystemErrors",
            dimensions_map={"TableName": table.table_name, "Operation": operation.value},
            statistic="Sum",
            period=period,
        )
        for index, operation in enumerate(TABLE_OPERATIONS)
    }
    return cloudwatch.MathExpression(
        expression=" + ".join(f"FILL({name}, 0)" for name in using),
        using_metrics=using,
        label=f"{table.table_name} system errors",
        period=period,
    )


@dataclass(frozen=True)
class FunctionAlarms:
    """A function's own alarms: its deployment group rolls back on them (with the shared ones)."""

    function: ServiceFunction
    alarms: list[cloudwatch.Alarm]


@dataclass(frozen=True)
class AlarmSet:
    critical: list[cloudwatch.Alarm]
    warning: list[cloudwatch.Alarm]
    # The critical alarms that judge the code being deployed (not a backlog left from before).
    rollback: list[cloudwatch.Alarm]
    # Errors and throttles of each function; warnings, and rollback alarms of that function only.
    per_function: list[FunctionAlarms] = field(default_factory=list)
    # The dead man's switch: a rollback alarm of the executor, whose path it watches.
    heartbeat: cloudwatch.Alarm | None = None


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
        scheduler_dead_letter_queue: sqs.IQueue | None = None,
        sync_dead_letter_queue: sqs.IQueue | None = None,
        bulk_dead_letter_queue: sqs.IQueue | None = None,
        functions: Sequence[ServiceFunction] = (),
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
                    table_system_errors(table),
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
        dlq_not_empty = self._dlq_alarm(
            "DeadLetterQueueNotEmpty",
            dead_letter_queue,
            "Executions gave up after every retry; drain with `jobsched dlq redrive` (docs/operations.md).",
        )
        lost_fires = [
            self._dlq_alarm(
                "SchedulerDeadLetterQueueNotEmpty",
                queue,
                "EventBridge Scheduler could not deliver fires to the execution queue for an hour of "
                "retries: those runs never happened. Read the messages' error attributes, fix, and send "
                "them to the execution queue (docs/operations.md).",
            )
            for queue in [scheduler_dead_letter_queue]
            if queue is not None
        ]
        lost_fires += [
            self._dlq_alarm(
                "ScheduleSyncDeadLetterQueueNotEmpty",
                queue,
                "schedule-sync gave up on job changes after every retry: those jobs' schedules are stale. "
                "Find the job ids in the 'schedule-sync failed' log lines and touch each job "
                "(docs/operations.md).",
            )
            for queue in [sync_dead_letter_queue]
            if queue is not None
        ]
        lost_fires += [
            self._dlq_alarm(
                "BulkDeadLetterQueueNotEmpty",
                queue,
                "The bulk worker could not take a bulk pause/resume page (a message it could neither "
                "process nor mark its operation failed): that operation stays 'running'. Read the message, "
                "and ask the tenant to repeat the bulk request; repeating is safe (docs/operations.md).",
            )
            for queue in [bulk_dead_letter_queue]
            if queue is not None
        ]
        heartbeat = self._alarm(
            "Critical",
            "HeartbeatMissing",
            service_metric(telemetry.HEARTBEAT_OK, "Sum", ONE_MINUTE),
            threshold=1,
            periods=HEARTBEAT_SILENCE_MINUTES,
            description="No heartbeat for three minutes: the path scheduler -> execution queue -> executor "
            "-> table is broken in this region, whether or not anyone calls the API (docs/operations.md).",
            action=self._critical_actions,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            # Silence is the failure this alarm exists for.
            missing=cloudwatch.TreatMissingData.BREACHING,
        )
        stuck = self._critical(
            "StuckExecutions",
            service_metric(telemetry.STUCK_EXECUTIONS_GAUGE, "Maximum", FIVE_MINUTES),
            threshold=0,
            periods=1,
            description="Executions are still `running` after their lease: their executor died. SQS "
            "redelivers them after the visibility timeout, or they reach the execution DLQ "
            "(docs/operations.md).",
        )
        fires_rejected = self._critical(
            "FiresRejected",
            service_metric(telemetry.FIRES_REJECTED_TOTAL, "Sum", ONE_MINUTE),
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
            self._warning(
                "ScheduleSyncFailures",
                service_metric(telemetry.SCHEDULE_SYNC_FAILURES_TOTAL, "Sum", FIVE_MINUTES),
                threshold=0,
                periods=1,
                description="schedule-sync failed to apply job changes (retried; its DLQ pages when the "
                "retries run out). The 'schedule-sync failed' log lines name each job and error.",
            ),
            self._warning(
                "SchedulesInError",
                service_metric(telemetry.SCHEDULES_IN_ERROR_GAUGE, "Maximum", FIVE_MINUTES),
                threshold=0,
                periods=1,
                description="EventBridge Scheduler refused some jobs' schedules (state error): those jobs do "
                "not fire. Each job's schedule_error says why (docs/operations.md).",
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
            *lost_fires,
            fires_rejected,
            heartbeat,
            stuck,
        ]
        per_function = [self._function_alarms(service_function) for service_function in functions]
        self.alarms = AlarmSet(
            critical=critical,
            warning=[*warnings, *(alarm for own in per_function for alarm in own.alarms)],
            rollback=[service_down, critical_errors, critical_latency, *table_alarms],
            per_function=per_function,
            heartbeat=heartbeat,
        )

    def _function_alarms(self, service_function: ServiceFunction) -> FunctionAlarms:
        """Errors and throttles of one function, two minutes running (one bad invocation is no alarm)."""
        function = service_function.function
        name = function_label(service_function)
        errors = self._warning(
            f"{name}-Errors",
            function.metric_errors(statistic="Sum", period=ONE_MINUTE),
            threshold=0,
            periods=2,
            description=f"{name} failed invocations (errors, timeouts) two minutes running; a deployment "
            "of it rolls back on this alarm.",
        )
        throttles = self._warning(
            f"{name}-Throttles",
            function.metric_throttles(statistic="Sum", period=ONE_MINUTE),
            threshold=0,
            periods=2,
            description=f"{name} invocations throttled two minutes running (concurrency limit reached).",
        )
        return FunctionAlarms(service_function, [errors, throttles])

    def _dlq_alarm(self, name: str, queue: sqs.IQueue, description: str) -> cloudwatch.Alarm:
        return self._critical(
            name,
            queue.metric_approximate_number_of_messages_visible(statistic="Maximum", period=ONE_MINUTE),
            threshold=0,
            periods=1,
            description=description,
        )

    def _critical(
        self, name: str, metric: cloudwatch.IMetric, *, threshold: float, periods: int, description: str
    ) -> cloudwatch.Alarm:
        return self._alarm(
            "Critical",
            name,
            metric,
            threshold=threshold,
            periods=periods,
            description=description,
            action=self._critical_actions,
        )

    def _warning(
        self, name: str, metric: cloudwatch.IMetric, *, threshold: float, periods: int, description: str
    ) -> cloudwatch.Alarm:
        return self._alarm(
            "Warning",
            name,
            metric,
            threshold=threshold,
            periods=periods,
            description=description,
            action=self._warning_actions,
        )

    def _alarm(
        self,
        severity: str,
        name: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        periods: int,
        description: str,
        action: actions.SnsAction,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        # No requests or no executions is not an outage by itself (quiet regions, nights).
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            f"{severity}{name}",
            alarm_name=f"{self.region_prefix}-{severity.lower()}-{name}",
            alarm_description=f"[{severity.upper()}] {description}",
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        return alarm


def function_label(service_function: ServiceFunction) -> str:
    """The function's construct id (ExecutorFunction, JobApiFunction, ...): stable, readable, unique."""
    scope = service_function.function.node.scope
    assert scope is not None
    return scope.node.id


def _table_metric(table: dynamodb.ITable, metric_name: str) -> cloudwatch.Metric:
    return table.metric(metric_name, statistic="Sum", period=ONE_MINUTE)
