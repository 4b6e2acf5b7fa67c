"""The schedule clock: fires the emulated EventBridge Scheduler schedules, which moto stores but never fires.

Every tick it reads each region's schedule group, works out which fires fell due with jobsched.schedule
(cron, rate and at() in the schedule's time zone, DST, start/end dates), and sends each due fire to the
schedule's target queue as EventBridge Scheduler would: the target's Input with its <aws.scheduler.*>
placeholders filled. A flexible window delays the send by a fixed offset inside the window (AWS picks
a random one); the scheduled time in the message stays the nominal one. An at() schedule with
ActionAfterCompletion=DELETE is deleted after its fire, and so is any such schedule past its end date.

Restarts: the clock keeps, per schedule, the last nominal time it fired and a fingerprint of the
definition, in <state-dir>/schedule-clock.json (written after each send). After a restart a schedule
whose definition is unchanged resumes from that mark: fires that fell due while the runtime was down
are caught up with at most one fire (the latest one due), and nothing at or before the mark fires again.
A new or changed schedule counts from its last modification, so an edit never replays old fires.
The mark is written after the send: a crash between the two may deliver one fire twice, which the
executor absorbs (executions are idempotent on job and scheduled time); it never drops one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jobsched import config
from jobsched.schedule import ExpressionError, fire_times, parse_expression, parse_timezone
from jobsched_local.workers import PeriodicWorker

LOG = logging.getLogger(__name__)
MARKS_FILE = "schedule-clock.json"
TICK_SECONDS = 0.25
# How far back a schedule's fires are looked for at most (bounds the work of a long-stopped runtime).
MAX_LOOKBACK = timedelta(days=31)

Now = Callable[[], datetime]
ClientFor = Callable[[str, str], Any]


@dataclass(frozen=True)
class Mark:
    fired_at: datetime  # the nominal (scheduled) time of the last fire sent
    fingerprint: str


@dataclass(frozen=True)
class SentFire:
    region: str
    schedule: str
    scheduled_time: datetime
    queue_url: str


class ScheduleMarks:
    """Last-fired marks per schedule ARN, persisted as one JSON file replaced atomically."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._marks: dict[str, Mark] = {}
        if path is not None and path.exists():
            for arn, raw in json.loads(path.read_text(encoding="utf-8")).items():
                self._marks[arn] = Mark(datetime.fromisoformat(raw["fired_at"]), raw["fingerprint"])

    def get(self, arn: str) -> Mark | None:
        return self._marks.get(arn)

    def set(self, arn: str, mark: Mark) -> None:
        self._marks[arn] = mark
        self._save()

    def forget(self, arn: str) -> None:
        if self._marks.pop(arn, None) is not None:
            self._save()

    def _save(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            arn: {"fired_at": m.fired_at.isoformat(), "fingerprint": m.fingerprint}
            for arn, m in self._marks.items()
        }
        handle, temp = tempfile.mkstemp(prefix=".clock-", suffix=".json", dir=self._path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(data, file, sort_keys=True)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, self._path)


def fingerprint(schedule: dict[str, Any]) -> str:
    """What decides when a schedule fires; a change of any of it starts the schedule afresh."""
    parts = [
        schedule.get("ScheduleExpression"),
        schedule.get("ScheduleExpressionTimezone", "UTC"),
        _iso(schedule.get("StartDate")),
        _iso(schedule.get("EndDate")),
        schedule.get("State"),
        schedule.get("Description"),
        json.dumps(schedule.get("FlexibleTimeWindow", {}), sort_keys=True),
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def fill_input(template: str, *, scheduled_time: datetime, schedule_arn: str, attempt: int = 1) -> str:
    """The target Input with EventBridge Scheduler's context placeholders filled in."""
    values = {
        "<aws.scheduler.scheduled-time>": scheduled_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.execution-id>": str(uuid.uuid4()),
        "<aws.scheduler.attempt-number>": str(attempt),
        "<aws.scheduler.schedule-arn>": schedule_arn,
    }
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return template


def flexible_delay(name: str, scheduled: datetime, window_minutes: int) -> timedelta:
    """A stable offset inside the flexible window (AWS chooses at random; stable keeps restarts exact)."""
    if window_minutes <= 0:
        return timedelta(0)
    digest = hashlib.sha256(f"{name}|{scheduled.isoformat()}".encode()).digest()
    return timedelta(seconds=int.from_bytes(digest[:4], "big") % (window_minutes * 60))


class ScheduleClock:
    name = "schedule-clock"

    def __init__(
        self,
        regions: Sequence[str],
        client_for: ClientFor,
        marks: ScheduleMarks,
        now: Now | None = None,
        group: str = config.SCHEDULE_GROUP,
        interval: float = TICK_SECONDS,
    ) -> None:
        self._regions = list(regions)
        self._client_for = client_for
        self._marks = marks
        self._now = now or (lambda: datetime.now(UTC))
        self._group = group
        self._details: dict[tuple[str, str], tuple[Any, dict[str, Any]]] = {}
        self._worker = PeriodicWorker(self.name, interval, self.tick)

    def tick(self) -> list[SentFire]:
        now = self._now()
        sent: list[SentFire] = []
        for region in self._regions:
            for schedule in self._schedules(region):
                sent += self._fire_due(region, schedule, now)
        return sent

    def _schedules(self, region: str) -> list[dict[str, Any]]:
        client = self._client_for("scheduler", region)
        found = []
        try:
            pages = client.get_paginator("list_schedules").paginate(GroupName=self._group)
            summaries = [s for page in pages for s in page.get("Schedules", [])]
        except client.exceptions.ResourceNotFoundException:
            return []
        for summary in summaries:
            if summary.get("State") != "ENABLED":
                continue
            key = (region, summary["Name"])
            cached = self._details.get(key)
            if cached is None or cached[0] != summary.get("LastModificationDate"):
                detail = client.get_schedule(Name=summary["Name"], GroupName=self._group)
                cached = (summary.get("LastModificationDate"), detail)
                self._details[key] = cached
            found.append(cached[1])
        return found

    def _fire_due(self, region: str, schedule: dict[str, Any], now: datetime) -> list[SentFire]:
        arn = schedule["Arn"]
        print_ = fingerprint(schedule)
        mark = self._marks.get(arn)
        modified = _aware(schedule.get("LastModificationDate") or schedule.get("CreationDate") or now)
        since = mark.fired_at if mark is not None and mark.fingerprint == print_ else modified
        if mark is not None and mark.fingerprint != print_:
            since = max(since, mark.fired_at)
        due, finished = latest_due(schedule, since, now)
        sent: list[SentFire] = []
        if due is not None:
            sent.append(self._send(region, schedule, due))
            self._marks.set(arn, Mark(due, print_))
        if finished and schedule.get("ActionAfterCompletion") == "DELETE":
            self._client_for("scheduler", region).delete_schedule(
                Name=schedule["Name"], GroupName=self._group
            )
            self._details.pop((region, schedule["Name"]), None)
            self._marks.forget(arn)
        return sent

    def _send(self, region: str, schedule: dict[str, Any], scheduled: datetime) -> SentFire:
        target = schedule["Target"]
        _, _, _, queue_region, account, queue_name = target["Arn"].split(":", 5)
        sqs = self._client_for("sqs", queue_region)
        url = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        body = fill_input(target.get("Input", "{}"), scheduled_time=scheduled, schedule_arn=schedule["Arn"])
        sqs.send_message(QueueUrl=url, MessageBody=body)
        LOG.info("schedule %s fired for %s", schedule["Name"], scheduled.isoformat())
        return SentFire(region, schedule["Name"], scheduled, url)

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()


def latest_due(schedule: dict[str, Any], since: datetime, now: datetime) -> tuple[datetime | None, bool]:
    """The latest fire in (since, now] whose flexible delay has passed, and whether none is left."""
    try:
        expression = parse_expression(schedule["ScheduleExpression"])
        zone = parse_timezone(schedule.get("ScheduleExpressionTimezone") or "UTC")
    except ExpressionError as exc:
        LOG.warning("schedule %s cannot fire: %s", schedule.get("Name"), exc)
        return None, False
    window = int(schedule.get("FlexibleTimeWindow", {}).get("MaximumWindowInMinutes") or 0)
    start = _aware(schedule["StartDate"]) if schedule.get("StartDate") else None
    end = _aware(schedule["EndDate"]) if schedule.get("EndDate") else None
    anchor = start or _aware(schedule.get("CreationDate") or since)
    after = max(since, now - MAX_LOOKBACK - timedelta(minutes=window))
    latest: datetime | None = None
    try:
        for instant in fire_times(expression, zone, after, anchor=anchor, start_at=start, end_at=end):
            if instant + flexible_delay(schedule["Name"], instant, window) > now:
                return latest, False
            latest = instant
    except ExpressionError as exc:  # an at() whose wall time a DST change skips: it can never fire
        LOG.warning("schedule %s cannot fire: %s", schedule.get("Name"), exc)
    return latest, True


def _aware(value: datetime) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def _iso(value: Any) -> str | None:
    return _aware(value).isoformat() if isinstance(value, datetime) else None
