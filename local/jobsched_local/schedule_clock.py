"""The schedule clock: fires the emulated EventBridge Scheduler schedules, which moto stores but never fires.

Every tick it reads each region's schedule group, works out which fires fell due with
jobsched.scheduling.expressions (cron, rate and at() in the schedule's time zone, DST, start/end dates), and
sends each due fire to the schedule's target queue as EventBridge Scheduler would: the target's Input with
its <aws.scheduler.*> placeholders filled. A flexible window delays the send by a fixed offset inside the
window (AWS picks a random one); the scheduled time in the message stays the nominal one. An at() schedule
with ActionAfterCompletion=DELETE is deleted after its fire, and so is any such schedule past its end date.

Restarts: the clock keeps, per schedule, the last nominal time it fired and a fingerprint of the
definition, in <state-dir>/schedule-clock.json (replaced atomically: temp file, fsync, rename, fsync of
the folder). A schedule whose definition is unchanged resumes from that mark, so nothing at or before
it fires again. A new or changed schedule counts from when its job was last defined (the job item's
updated_at, read from the table: moto's own dates are those of the last rebuild), so an edit never
replays old fires. The fires that fell due while the runtime was down follow their job's catch-up policy
(jobsched.scheduling.catch_up: skip, once = only the latest, all; none later than the job's window, by
default an hour); fires passed over are logged. A rate schedule counts from
its job's creation (created_at), as the API's next_runs do, whatever moto's creation date.

Order: send, then mark. A crash between the two sends that fire again after the restart, which the
executor absorbs (executions are idempotent on job and scheduled time); it never drops one. A fire
sent before a crash may still have been on the queue (moto's, in memory) when the runtime died: on its
first tick after a start the clock sends again those fires of the last hour, at or before the mark,
that have no execution record (`unexecuted`); the executor ignores any that did run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jobsched import config
from jobsched.keyscheme import JobKey
from jobsched.scheduling.catch_up import CatchUp, CatchUpPolicy, fires_to_run, window_start
from jobsched.scheduling.expressions import ExpressionError, fire_times, parse_expression, parse_timezone
from jobsched_local.durable_file import replace_durably
from jobsched_local.workers import PeriodicWorker

LOG = logging.getLogger(__name__)
MARKS_FILE = "schedule-clock.json"
# Fires have a one-minute grain; one look a second keeps a fire within a second of its time while the
# listing of every region's schedules (which grows with the jobs) costs a quarter of what it did at 0.25 s.
TICK_SECONDS = 1.0
# A fire due more than this long ago is skipped (and logged) instead of sent late.
CATCH_UP_WINDOW = timedelta(hours=1)

Now = Callable[[], datetime]
ClientFor = Callable[[str, str], Any]


@dataclass(frozen=True)
class JobTimes:
    """When a schedule's job was created (the anchor of a rate) and last defined (since when it fires)."""

    created_at: datetime
    updated_at: datetime
    catch_up: CatchUp | None = None  # the job's policy for missed fires; None: the default (once, 1 h)


# (region, group) -> the group's schedule summaries (Name, State, LastModificationDate), or None when the
# group does not exist; by default from the Scheduler API (list_schedules).
SummaryLister = Callable[[str, str], list[dict[str, Any]] | None]
# The job behind a schedule: its times, or None when unknown (then moto's dates count).
JobTimesLookup = Callable[[JobKey], JobTimes | None]
# (job, scheduled times) -> those of the times that have no execution record.
UnexecutedLookup = Callable[[JobKey, list[datetime]], list[datetime]]


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
        data = {
            arn: {"fired_at": m.fired_at.isoformat(), "fingerprint": m.fingerprint}
            for arn, m in self._marks.items()
        }
        replace_durably(self._path, json.dumps(data, sort_keys=True), prefix=".clock-")


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
        job_times: JobTimesLookup | None = None,
        unexecuted: UnexecutedLookup | None = None,
        summaries: SummaryLister | None = None,
    ) -> None:
        self._regions = list(regions)
        self._client_for = client_for
        self._marks = marks
        self._now = now or (lambda: datetime.now(UTC))
        self._group = group
        self._job_times = job_times
        self._unexecuted = unexecuted
        self._clients: dict[tuple[str, str], Any] = {}
        self._summaries = summaries or self._listed_summaries
        self._first_tick = True
        # (region, name) -> (LastModificationDate, GetSchedule's answer, its fingerprint)
        self._details: dict[tuple[str, str], tuple[Any, dict[str, Any], str]] = {}
        # ARN -> ((fingerprint, since), when its next fire is due to be sent, or None: never)
        self._next_due: dict[str, tuple[tuple[str, datetime], datetime | None]] = {}
        self._times: dict[tuple[str, str], JobTimes | None] = {}
        self._worker = PeriodicWorker(self.name, interval, self.tick)

    def tick(self) -> list[SentFire]:
        now = self._now()
        sent: list[SentFire] = []
        recovering, self._first_tick = self._first_tick, False
        for region in self._regions:
            for schedule, print_ in self._schedules(region):
                if recovering:
                    sent += self._resend_unexecuted(region, schedule, now)
                sent += self._fire_due(region, schedule, now, print_)
        return sent

    def _client(self, service: str, region: str) -> Any:
        """One client per service and region for the clock's life (making one costs more than a call)."""
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self._client_for(service, region)
        return self._clients[key]

    def _listed_summaries(self, region: str, group: str) -> list[dict[str, Any]] | None:
        client = self._client("scheduler", region)
        try:
            pages = client.get_paginator("list_schedules").paginate(GroupName=group)
            return [s for page in pages for s in page.get("Schedules", [])]
        except client.exceptions.ResourceNotFoundException:
            return None

    def _schedules(self, region: str) -> list[tuple[dict[str, Any], str]]:
        """The region's enabled schedules with their fingerprints; details are read once per change."""
        summaries = self._summaries(region, self._group)
        if summaries is None:
            return []
        found = []
        for summary in summaries:
            if summary.get("State") != "ENABLED":
                continue
            key = (region, summary["Name"])
            cached = self._details.get(key)
            if cached is None or cached[0] != summary.get("LastModificationDate"):
                client = self._client("scheduler", region)
                detail = client.get_schedule(Name=summary["Name"], GroupName=self._group)
                cached = (summary.get("LastModificationDate"), detail, fingerprint(detail))
                self._details[key] = cached
            found.append((cached[1], cached[2]))
        return found

    def _fire_due(
        self, region: str, schedule: dict[str, Any], now: datetime, print_: str | None = None
    ) -> list[SentFire]:
        arn = schedule["Arn"]
        print_ = print_ or fingerprint(schedule)
        mark = self._marks.get(arn)
        times = self._times_of(schedule)
        since = self._since(schedule, mark, print_, times, now)
        # Most ticks find nothing due: the next fire's time is worked out once per definition and mark.
        known = self._next_due.get(arn)
        if known is not None and known[0] == (print_, since) and (known[1] is None or now < known[1]):
            return []
        anchor = times.created_at if times is not None else None
        due = due_fires(schedule, since, now, anchor=anchor, catch_up=times.catch_up if times else None)
        if due.passed_over:
            LOG.warning(
                "schedule %s: %d missed fire(s) not sent, as its job's catch-up policy says",
                schedule["Name"],
                due.passed_over,
            )
        nothing_due = not due.fires and due.skipped_from is None and due.last_due is None
        if nothing_due and not due.finished:
            self._next_due[arn] = ((print_, since), due.upcoming)
        elif nothing_due and due.finished:
            self._next_due[arn] = ((print_, since), None)
        if due.skipped_from is not None:
            LOG.warning(
                "schedule %s: skipped its fires from %s to %s, more than %s late",
                schedule["Name"],
                due.skipped_from.isoformat(),
                due.horizon.isoformat(),
                now - due.horizon,
            )
        sent = [self._send(region, schedule, instant) for instant in due.fires]
        if due.last_due is not None:
            self._marks.set(arn, Mark(due.last_due, print_))
        elif due.skipped_from is not None:
            self._marks.set(arn, Mark(due.horizon, print_))  # past the skipped stretch
        if due.finished and schedule.get("ActionAfterCompletion") == "DELETE":
            self._client("scheduler", region).delete_schedule(Name=schedule["Name"], GroupName=self._group)
            self._details.pop((region, schedule["Name"]), None)
            self._next_due.pop(arn, None)
            self._marks.forget(arn)
        return sent

    @staticmethod
    def _since(
        schedule: dict[str, Any], mark: Mark | None, print_: str, times: JobTimes | None, now: datetime
    ) -> datetime:
        """After when the schedule's fires count: its mark, or when its job was last defined."""
        if mark is not None and mark.fingerprint == print_:
            return mark.fired_at
        modified = _aware(schedule.get("LastModificationDate") or schedule.get("CreationDate") or now)
        defined = times.updated_at if times is not None else modified
        return max(defined, mark.fired_at) if mark is not None else defined

    def _resend_unexecuted(self, region: str, schedule: dict[str, Any], now: datetime) -> list[SentFire]:
        """After a start: fires of the last hour sent before it that never made an execution record."""
        mark = self._marks.get(schedule["Arn"])
        job = _job_of(schedule)
        if self._unexecuted is None or mark is None or mark.fingerprint != fingerprint(schedule) or not job:
            return []
        times = self._times_of(schedule)
        start = max(now - CATCH_UP_WINDOW, times.updated_at if times is not None else now - CATCH_UP_WINDOW)
        # Every fire up to the mark is a candidate (the policy decided, when they were sent, which were).
        every = CatchUp(policy=CatchUpPolicy.ALL, window=CATCH_UP_WINDOW)
        candidates = due_fires(schedule, start, mark.fired_at, anchor=_created(times), catch_up=every).fires
        if not candidates:
            return []
        missing = self._unexecuted(job, candidates)
        if missing:
            LOG.warning(
                "schedule %s: %d fire(s) sent before the restart never ran; sending them again",
                schedule["Name"],
                len(missing),
            )
        return [self._send(region, schedule, instant) for instant in missing]

    def _times_of(self, schedule: dict[str, Any]) -> JobTimes | None:
        """The job's times, read once per definition of the schedule."""
        if self._job_times is None:
            return None
        key = (str(schedule["Arn"]), str(schedule.get("Description")))
        if key not in self._times:
            job = _job_of(schedule)
            self._times[key] = self._job_times(job) if job else None
        return self._times[key]

    def _send(self, region: str, schedule: dict[str, Any], scheduled: datetime) -> SentFire:
        target = schedule["Target"]
        _, _, _, queue_region, account, queue_name = target["Arn"].split(":", 5)
        sqs = self._client("sqs", queue_region)
        url = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        body = fill_input(target.get("Input", "{}"), scheduled_time=scheduled, schedule_arn=schedule["Arn"])
        sqs.send_message(QueueUrl=url, MessageBody=body)
        LOG.info("schedule %s fired for %s", schedule["Name"], scheduled.isoformat())
        return SentFire(region, schedule["Name"], scheduled, url)

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()


@dataclass(frozen=True)
class DueFires:
    fires: list[datetime]  # in (since, now], those the catch-up policy sends, in order
    finished: bool  # no fire is left after them
    skipped_from: datetime | None = None  # the first fire passed over for being too late, if any
    # Bookkeeping, not what is due (equality compares the above): the latest fire due, sent or not (the
    # schedule's new mark), the due fires the policy does not send, and where the look started.
    last_due: datetime | None = field(default=None, compare=False)
    passed_over: int = field(default=0, compare=False)
    horizon: datetime = field(default=datetime.min.replace(tzinfo=UTC), compare=False)
    # When the first fire not yet due is to be sent (None when finished); what a tick may skip until.
    upcoming: datetime | None = field(default=None, compare=False)


def due_fires(
    schedule: dict[str, Any],
    since: datetime,
    now: datetime,
    anchor: datetime | None = None,
    catch_up: CatchUp | None = None,
) -> DueFires:
    """The fires in (since, now] whose flexible delay has passed, as the catch-up policy sends them; those
    due before its window are passed over (only the first is named, for the log), so a long outage costs no
    work per fire."""
    try:
        expression = parse_expression(schedule["ScheduleExpression"])
        zone = parse_timezone(schedule.get("ScheduleExpressionTimezone") or "UTC")
    except ExpressionError as exc:
        LOG.warning("schedule %s cannot fire: %s", schedule.get("Name"), exc)
        return DueFires([], False)
    window = int(schedule.get("FlexibleTimeWindow", {}).get("MaximumWindowInMinutes") or 0)
    start = _aware(schedule["StartDate"]) if schedule.get("StartDate") else None
    end = _aware(schedule["EndDate"]) if schedule.get("EndDate") else None
    anchor = start or anchor or _aware(schedule.get("CreationDate") or since)
    policy = catch_up or CatchUp(window=CATCH_UP_WINDOW)
    flexible = timedelta(minutes=window)
    horizon = window_start(policy, now, flexible)
    skipped: datetime | None = None
    due: list[datetime] = []

    def outcome(following: datetime | None, finished: bool, upcoming: datetime | None = None) -> DueFires:
        sent = fires_to_run(policy, due, following, now, flexible)
        last = due[-1] if due else None
        return DueFires(sent, finished, skipped, last, len(due) - len(sent), horizon, upcoming)

    try:
        if since < horizon:
            first = next(fire_times(expression, zone, since, anchor=anchor, start_at=start, end_at=end), None)
            skipped = first if first is not None and first < horizon else None
            since = horizon - timedelta(microseconds=1)  # a fire exactly an hour late still runs
        for instant in fire_times(expression, zone, since, anchor=anchor, start_at=start, end_at=end):
            send_at = instant + flexible_delay(schedule["Name"], instant, window)
            if send_at > now:
                return outcome(instant, False, upcoming=send_at)
            due.append(instant)
    except ExpressionError as exc:  # an at() whose wall time a DST change skips: it can never fire
        LOG.warning("schedule %s cannot fire: %s", schedule.get("Name"), exc)
    return outcome(None, True)


def _job_of(schedule: dict[str, Any]) -> JobKey | None:
    """The job in the schedule's target input, or None for a schedule that is not a job's."""
    template = schedule.get("Target", {}).get("Input") or "{}"
    try:
        data = json.loads(fill_input(template, scheduled_time=datetime.now(UTC), schedule_arn=""))
    except ValueError:
        return None
    if not isinstance(data, dict) or not data.get("tenant") or not data.get("job_id"):
        return None
    return JobKey(str(data["tenant"]), str(data["job_id"]))


def _created(times: JobTimes | None) -> datetime | None:
    return times.created_at if times is not None else None


def _aware(value: datetime) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def _iso(value: Any) -> str | None:
    return _aware(value).isoformat() if isinstance(value, datetime) else None
