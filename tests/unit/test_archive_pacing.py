"""An archive run without AWS: its plan (one message per scan segment), the segments it accepts, the read
rate limit of a segment's scan (a fake clock: nothing waits), and the scan's paging under that limit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from jobsched.execution.adapters.archive_store import scan_executions
from jobsched.execution.adapters.segment_queue import SqsSegmentQueue
from jobsched.execution.archive import (
    ARCHIVE_SEGMENTS,
    MAX_SEGMENTS,
    ArchiveSegment,
    archive_segment,
    archive_segment_message,
    plan_segments,
)
from jobsched.execution.read_pacing import MAX_THROTTLED_RETRIES, ReadPacer


class FakeClock:
    """Time that moves only when the code under test sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def pacer(rate: float, clock: FakeClock, burst_seconds: float = 1.0) -> ReadPacer:
    return ReadPacer(rate, burst_seconds=burst_seconds, clock=clock, sleep=clock.sleep)


# -- the read rate ------------------------------------------------------------------------------------------


def test_reads_within_the_burst_do_not_wait() -> None:
    clock = FakeClock()
    limit = pacer(25, clock)
    limit.consumed(10)
    limit.consumed(15)
    assert clock.sleeps == []
    assert limit.consumed_units == 25


def test_a_read_beyond_the_bucket_waits_until_its_units_are_paid() -> None:
    clock = FakeClock()
    limit = pacer(25, clock)
    limit.consumed(128)  # a full 1 MB page: 25 in the bucket, 103 of debt at 25 a second
    assert clock.sleeps == [pytest.approx(103 / 25)]
    limit.consumed(25)  # the bucket is empty after paying: one more second
    assert clock.sleeps[-1] == pytest.approx(1.0)


def test_a_steady_scan_averages_the_rate() -> None:
    clock = FakeClock()
    limit = pacer(25, clock)
    for _ in range(100):
        limit.consumed(64)
        clock.now += 0.05  # the read itself takes time too
    # 6,400 units at 25 a second is 256 s of reading; the pacer asks to sleep that, less the burst the bucket
    # started with and the time the reads themselves took between payments (99 gaps of 0.05 s)
    assert sum(clock.sleeps) == pytest.approx((6400 - 25) / 25 - 99 * 0.05)
    assert limit.slept_seconds == pytest.approx(sum(clock.sleeps))


def test_time_spent_elsewhere_refills_the_bucket_up_to_its_burst() -> None:
    clock = FakeClock()
    limit = pacer(25, clock, burst_seconds=2)
    limit.consumed(50)
    clock.now += 60  # a long S3 merge: only two seconds' worth is kept
    limit.consumed(50)
    assert clock.sleeps == []
    limit.consumed(25)
    assert clock.sleeps == [pytest.approx(1.0)]


def test_throttled_reads_back_off_and_give_up_after_the_limit() -> None:
    clock = FakeClock()
    limit = pacer(25, clock)
    for _ in range(MAX_THROTTLED_RETRIES):
        limit.throttled()
    assert clock.sleeps[:6] == [1, 2, 4, 8, 16, 30]
    assert max(clock.sleeps) == 30
    with pytest.raises(RuntimeError, match="throttled"):
        limit.throttled()


def test_a_read_that_succeeds_resets_the_back_off() -> None:
    clock = FakeClock()
    limit = pacer(25, clock)
    limit.throttled()
    limit.throttled()
    limit.consumed(1)
    limit.throttled()
    assert clock.sleeps == [1, 2, 1]


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-5, 1), (25, 0)])
def test_a_rate_must_be_positive(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        ReadPacer(rate, burst_seconds=burst)


# -- the plan and its segments ------------------------------------------------------------------------------


def test_the_plan_is_every_segment_of_the_run_once() -> None:
    plan = plan_segments()
    assert [s.segment for s in plan] == list(range(ARCHIVE_SEGMENTS))
    assert {s.total_segments for s in plan} == {ARCHIVE_SEGMENTS}
    assert [archive_segment_message(s.message()) for s in plan] == plan


@pytest.mark.parametrize("total", [0, -1, MAX_SEGMENTS + 1])
def test_a_plan_of_no_or_too_many_segments_is_refused(total: int) -> None:
    with pytest.raises(ValueError, match="segment count"):
        plan_segments(total)


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"segment": 0},
        {"total_segments": 4},
        {"segment": 4, "total_segments": 4},
        {"segment": -1, "total_segments": 4},
        {"segment": 0, "total_segments": MAX_SEGMENTS + 1},
        {"segment": "0", "total_segments": 4},
        {"segment": 0.0, "total_segments": 4},
        {"segment": True, "total_segments": 4},
        {"segment": 0, "total_segments": 4, "table": "jobsched-jobs"},
    ],
)
def test_a_bad_segment_is_refused(event: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="bad archive segment"):
        archive_segment(event)


@pytest.mark.parametrize("body", ["", "not json", "[0, 4]", "null", '{"segment": 9, "total_segments": 4}'])
def test_a_bad_segment_message_is_refused(body: str) -> None:
    with pytest.raises(ValueError, match="bad archive segment"):
        archive_segment_message(body)


def test_a_good_segment_message_is_accepted() -> None:
    assert archive_segment_message('{"segment": 3, "total_segments": 512}') == ArchiveSegment(3, 512)


class FakeSqs:
    """send_message_batch that fails the entries named in `fail` (once each time they are named)."""

    def __init__(self, fail: list[set[str]] | None = None) -> None:
        self.fail = fail or []
        self.sent: list[dict[str, Any]] = []
        self.batches: list[list[str]] = []

    def get_queue_url(self, QueueName: str) -> dict[str, str]:
        return {"QueueUrl": f"https://sqs.example/{QueueName}"}

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        failing = self.fail.pop(0) if self.fail else set()
        self.batches.append([entry["Id"] for entry in Entries])
        failed = [{"Id": e["Id"], "Code": "InternalError"} for e in Entries if e["Id"] in failing]
        self.sent += [json.loads(e["MessageBody"]) for e in Entries if e["Id"] not in failing]
        return {"Successful": [], "Failed": failed}


def test_the_plan_is_sent_ten_messages_a_request() -> None:
    sqs = FakeSqs()
    SqsSegmentQueue(sqs, "jobsched-archive").send(plan_segments(25))
    assert [len(batch) for batch in sqs.batches] == [10, 10, 5]
    assert sqs.sent == [{"segment": i, "total_segments": 25} for i in range(25)]


def test_entries_sqs_failed_are_sent_again_and_then_the_plan_fails() -> None:
    sqs = FakeSqs(fail=[{"1", "2"}, {"2"}])
    SqsSegmentQueue(sqs).send(plan_segments(3))
    assert sqs.batches == [["0", "1", "2"], ["1", "2"], ["2"]]
    assert sorted(m["segment"] for m in sqs.sent) == [0, 1, 2]
    stubborn = FakeSqs(fail=[{"0"}, {"0"}, {"0"}])
    with pytest.raises(RuntimeError, match=r"refused segment messages \['0'\]"):
        SqsSegmentQueue(stubborn).send(plan_segments(1))


# -- the paced scan -----------------------------------------------------------------------------------------


def _throttle() -> ClientError:
    return ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "Scan"
    )


class FakeDynamo:
    """scan() answering pages of one item each, `units` read units a page; `throttle_first` refusals first."""

    def __init__(self, pages: int, units: float, throttle_first: int = 0) -> None:
        self.pages = pages
        self.units = units
        self.throttles = throttle_first
        self.requests: list[dict[str, Any]] = []

    def scan(self, **request: Any) -> dict[str, Any]:
        self.requests.append(dict(request))
        if self.throttles:
            self.throttles -= 1
            raise _throttle()
        index = int(request.get("ExclusiveStartKey", {}).get("n", {}).get("N", "0"))
        page: dict[str, Any] = {
            "Items": [{"n": {"N": str(index)}}],
            "ConsumedCapacity": {"TableName": "t", "CapacityUnits": self.units},
        }
        if index + 1 < self.pages:
            page["LastEvaluatedKey"] = {"n": {"N": str(index + 1)}}
        return page


def test_a_paced_scan_reads_every_page_at_the_rate() -> None:
    clock = FakeClock()
    limit = pacer(25, clock)
    dynamo = FakeDynamo(pages=8, units=50)
    items = list(scan_executions(dynamo, "t", segment=3, total_segments=512, pacer=limit))
    assert [item["n"] for item in items] == list(range(8))
    assert all(r["ReturnConsumedCapacity"] == "TOTAL" for r in dynamo.requests)
    assert {(r["Segment"], r["TotalSegments"]) for r in dynamo.requests} == {(3, 512)}
    assert limit.consumed_units == 400
    assert sum(clock.sleeps) == pytest.approx((400 - 25) / 25)


def test_a_throttled_page_is_read_again_after_a_pause() -> None:
    clock = FakeClock()
    dynamo = FakeDynamo(pages=2, units=1, throttle_first=2)
    items = list(scan_executions(dynamo, "t", pacer=pacer(25, clock)))
    assert [item["n"] for item in items] == [0, 1]
    assert clock.sleeps == [1, 2]
    assert "ExclusiveStartKey" not in dynamo.requests[2]


def test_an_unpaced_scan_does_not_absorb_throttling() -> None:
    dynamo = FakeDynamo(pages=1, units=1, throttle_first=1)
    with pytest.raises(ClientError):
        list(scan_executions(dynamo, "t"))
    assert "ReturnConsumedCapacity" not in dynamo.requests[0]


def test_other_errors_are_not_retried() -> None:
    class Broken(FakeDynamo):
        def scan(self, **request: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Scan")

    with pytest.raises(ClientError, match="AccessDenied"):
        list(scan_executions(Broken(1, 1), "t", pacer=pacer(25, FakeClock())))
