"""Every place a fire can be lost or stuck has an alarm that reads that place, found from the templates.

The dead-letter queues are enumerated from what the templates wire to them (an SQS redrive policy, a
stream's on-failure destination, a schedule's or a rule target's dead-letter config), not from a list kept
here, so a new queue, schedule or rule with a DLQ and no alarm fails this test. The alarms on the service's
own counts must read the metric, namespace and dimensions the code emits, or they would never leave OK.
"""

from __future__ import annotations

from typing import Any

from jobsched import config, telemetry

# The keys under which CloudFormation wires a dead-letter queue.
DEAD_LETTER_KEYS = ("RedrivePolicy", "DeadLetterConfig", "OnFailure")
# The fires the requirement names: lost before the queue (scheduler), a schedule never made (sync), an
# execution that gave up (execution). Their DLQs page.
PAGING_DLQS = {config.SCHEDULER_DLQ, config.SCHEDULE_SYNC_DLQ, config.EXECUTION_DLQ}
# Alarm name (after jobsched-<region>-) -> the metric of the service's own it must read.
COUNTED = {
    "warning-ScheduleSyncFailures": telemetry.SCHEDULE_SYNC_FAILURES_TOTAL,
    "warning-SchedulesInError": telemetry.SCHEDULES_IN_ERROR_GAUGE,
    "critical-StuckExecutions": telemetry.STUCK_EXECUTIONS_GAUGE,
    "critical-HeartbeatMissing": telemetry.HEARTBEAT_OK,
    "critical-FiresRejected": telemetry.FIRES_REJECTED_TOTAL,
}


def _of_type(resources: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in resources.items() if value["Type"] == kind}


def _refs(value: Any) -> set[str]:
    """Every logical id a template value refers to (Ref and Fn::GetAtt)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            found.add(value["Ref"])
        if isinstance(value.get("Fn::GetAtt"), list):
            found.add(value["Fn::GetAtt"][0])
        for inner in value.values():
            found |= _refs(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _refs(inner)
    return found


def _wired_as_dead_letter(value: Any) -> set[str]:
    """Logical ids referenced under any dead-letter key of a resource's properties."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            found |= _refs(inner) if key in DEAD_LETTER_KEYS else _wired_as_dead_letter(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _wired_as_dead_letter(inner)
    return found


def dead_letter_queues(resources: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Queue logical id -> queue name, for every queue the template uses as a dead-letter queue."""
    queues = _of_type(resources, "AWS::SQS::Queue")
    wired = set().union(*(_wired_as_dead_letter(r.get("Properties", {})) for r in resources.values()))
    return {queue_id: queues[queue_id]["Properties"]["QueueName"] for queue_id in wired & set(queues)}


def _queue_alarms(resources: dict[str, dict[str, Any]], queue_id: str) -> list[dict[str, Any]]:
    return [
        alarm["Properties"]
        for alarm in _of_type(resources, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Namespace") == "AWS/SQS"
        and {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
        in alarm["Properties"].get("Dimensions", [])
    ]


def test_the_dead_letter_queues_are_found_from_their_wiring(resources: dict[str, dict[str, Any]]) -> None:
    found = set(dead_letter_queues(resources).values())
    named_dlq = {
        q["Properties"]["QueueName"]
        for q in _of_type(resources, "AWS::SQS::Queue").values()
        if q["Properties"]["QueueName"].endswith("-dlq")
    }
    assert found == named_dlq
    assert found >= PAGING_DLQS


def test_every_dead_letter_queue_alarms_on_its_first_message(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    for queue_id, name in dead_letter_queues(resources).items():
        [alarm] = _queue_alarms(resources, queue_id)
        assert (alarm["MetricName"], alarm["Statistic"]) == (
            "ApproximateNumberOfMessagesVisible",
            "Maximum",
        ), name
        assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["EvaluationPeriods"]) == (
            "GreaterThanThreshold",
            0,
            1,
        ), name
        assert alarm["TreatMissingData"] == "notBreaching", name
        assert alarm["AlarmActions"], name
        if name in PAGING_DLQS:
            # A lost fire pages within the minute (the archiver's DLQ, one run every third day, may wait).
            assert alarm["AlarmName"].startswith(f"jobsched-{region}-critical-"), name
            assert alarm["Period"] == 60, name


def test_the_lost_fire_alarms_read_the_metrics_the_code_emits(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    alarms = {
        a["Properties"]["AlarmName"].removeprefix(f"jobsched-{region}-"): a["Properties"]
        for a in _of_type(resources, "AWS::CloudWatch::Alarm").values()
    }
    for name, metric in COUNTED.items():
        alarm = alarms[name]
        assert (alarm["Namespace"], alarm["MetricName"]) == (config.METRICS_NAMESPACE, metric), name
        # The dimensions the telemetry module writes these metrics with (tests/integration asserts them).
        assert alarm["Dimensions"] == [{"Name": telemetry.SERVICE_DIMENSION, "Value": config.SERVICE}], name
        assert alarm["AlarmActions"], name


def test_refs_are_found_in_nested_values() -> None:
    value = {"A": [{"Ref": "Queue1"}, {"B": {"Fn::GetAtt": ["Queue2", "Arn"]}}], "C": "text"}
    assert _refs(value) == {"Queue1", "Queue2"}
    assert _wired_as_dead_letter({"X": {"DeadLetterConfig": {"Arn": {"Ref": "Dlq"}}, "Y": {"Ref": "Q"}}}) == {
        "Dlq"
    }
