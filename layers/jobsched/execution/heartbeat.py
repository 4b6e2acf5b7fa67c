"""The dead man's switch: a service-owned schedule per region that fires every minute down the real path.

EventBridge Scheduler (or the local runtime's schedule clock) puts a fire message of the reserved tenant
on the region's execution queue; the executor recognises it, checks its heartbeat token, calls its target,
the region's own API (`GET /health` of the regional stage, a service-owned target), and only when that
answered 200 records its arrival (the region's heartbeat item) and counts `heartbeat_ok`. An alarm pages
when no heartbeat arrived for three minutes, so a broken scheduler, queue, executor, API or table is
noticed even when nobody calls the API; and the API gets a request a minute, so its 5xx alarms are never
blind for want of traffic. The heartbeat is not a job: no job item, no schedule-sync, no execution history.

The tenant id `_service` cannot be a tenant's: tenant ids start with a letter or digit
(jobsched.keys.models.validate_tenant), so no API key can ever name it and no job can own its schedule name.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from jobsched.execution.fire import FireMessage
from jobsched.keyscheme import JobKey

HEARTBEAT_TENANT = "_service"
HEARTBEAT_JOB_ID = "heartbeat"
HEARTBEAT_JOB_VERSION = 1
HEARTBEAT_EXPRESSION = "rate(1 minute)"
# schedule-sync names a job's schedule <tenant>.<job_id>; this one follows the rule with the reserved tenant.
HEARTBEAT_SCHEDULE_NAME = f"{HEARTBEAT_TENANT}.{HEARTBEAT_JOB_ID}"
HEARTBEAT_DESCRIPTION = "jobsched dead man's switch: one fire a minute, recorded by the executor"
# The executor's environment variable with the token the heartbeat's fires carry.
HEARTBEAT_TOKEN_ENV = "HEARTBEAT_FIRE_TOKEN"  # noqa: S105 (a variable name, not a secret)
# No heartbeat for this long is an alarm (and what `jobsched regions status` calls late).
HEARTBEAT_SILENCE_MINUTES = 3
# The executor's environment variable with the heartbeat's target: the region's own API health route.
HEARTBEAT_PROBE_URL_ENV = "HEARTBEAT_PROBE_URL"
HEARTBEAT_PROBE_PATH = "/health"

# Calls the heartbeat's target; None when it answered as it must, otherwise what went wrong.
HealthProbe = Callable[[], str | None]


def heartbeat_input(token: str) -> str:
    """The schedule's target Input: the same fire template every job's schedule has, with its token."""
    # Imported here: the Scheduler adapter is for the stack and the local runtime, not the executor's path.
    from jobsched.scheduling.adapters.scheduler import scheduler_input_template

    return scheduler_input_template(JobKey(HEARTBEAT_TENANT, HEARTBEAT_JOB_ID), HEARTBEAT_JOB_VERSION, token)


def is_heartbeat(message: FireMessage) -> bool:
    return message.tenant == HEARTBEAT_TENANT


@dataclass(frozen=True)
class Heartbeat:
    """The latest heartbeat of a region: when it was due and when the executor recorded it."""

    region: str
    scheduled_at: datetime
    arrived_at: datetime


class HeartbeatStore(Protocol):
    def record(self, heartbeat: Heartbeat) -> None:
        """Keep it as the region's latest, unless a later one is already recorded."""
        ...

    def latest(self, regions: Iterable[str]) -> dict[str, Heartbeat | None]: ...


class HeartbeatReceiver:
    """The executor's side: accepts heartbeat fires that carry this region's token, calls the heartbeat's
    target (`probe`; none configured: nothing to call) and records each one whose target answered."""

    def __init__(
        self,
        region: str,
        token: str | None,
        store: HeartbeatStore,
        on_received: Callable[[Heartbeat], None] = lambda heartbeat: None,
        probe: HealthProbe | None = None,
        on_unanswered: Callable[[str], None] = lambda error: None,
    ) -> None:
        self._region = region
        self._token = token
        self._store = store
        self._on_received = on_received
        self._probe = probe
        self._on_unanswered = on_unanswered

    def genuine(self, message: FireMessage) -> bool:
        """Whether the message carries the heartbeat token (no token configured: nothing is genuine)."""
        if not self._token or not message.fire_token:
            return False
        return hmac.compare_digest(message.fire_token.encode(), self._token.encode())

    def receive(self, message: FireMessage, now: datetime) -> Heartbeat | None:
        """The recorded heartbeat, or None when its target did not answer (reported, not recorded: the
        silence is what the alarm sees; a missed heartbeat is never sent again)."""
        error = self._probe() if self._probe is not None else None
        if error is not None:
            self._on_unanswered(error)
            return None
        heartbeat = Heartbeat(region=self._region, scheduled_at=message.scheduled_time, arrived_at=now)
        self._store.record(heartbeat)
        self._on_received(heartbeat)
        return heartbeat
