"""Catch-up: what becomes of the fires a job missed (the service or its region was down, the job was paused).

A fire is *missed* when it reaches the point of running more than ``LATE_GRACE`` after its scheduled time
(plus the job's flexible window, inside which any time is on time). Missed fires follow the job's
``catch_up`` policy:

- ``skip``: none of them runs;
- ``once`` (default): only the latest runs; a missed fire whose following fire is itself missed is
  superseded by it;
- ``all``: every one of them runs.

Whatever the policy, a fire more than ``catch_up.window`` late never runs (at most ``MAX_WINDOW``). The same
rule is applied by the local schedule clock when it catches up after a restart, by the executor to every
scheduled fire it receives (so a backlog the queue kept through a regional outage follows it too), and by a
resume to the fires that fell inside the pause.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Queue backlogs, the executor's batching and the clock's tick make a fire a little late without it having
# been missed; only a fire later than this counts as missed.
LATE_GRACE = timedelta(minutes=15)
DEFAULT_WINDOW = timedelta(hours=1)
MIN_WINDOW = timedelta(minutes=1)
MAX_WINDOW = timedelta(days=7)
# A resume enqueues at most this many of the fires its pause missed (the latest ones).
MAX_CATCH_UP_FIRES = 1000


class CatchUpPolicy(StrEnum):
    SKIP = "skip"
    ONCE = "once"
    ALL = "all"


class CatchUpVerdict(StrEnum):
    """Why a missed fire does not run (the executor records it as the execution's skip reason)."""

    OUTSIDE_WINDOW = "catch_up_window"
    SKIPPED = "catch_up_skip"
    SUPERSEDED = "catch_up_superseded"


class CatchUp(BaseModel):
    """The job's catch-up policy for fires it missed."""

    model_config = ConfigDict(extra="forbid")

    policy: CatchUpPolicy = Field(
        default=CatchUpPolicy.ONCE, description="skip: none; once: only the latest; all: every missed fire"
    )
    window: timedelta = Field(
        default=DEFAULT_WINDOW,
        description="ISO 8601 duration (PT1M to P7D): a fire later than this never runs",
        examples=["PT1H", "P1D"],
    )

    @field_validator("window", mode="before")
    @classmethod
    def _iso_duration(cls, value: object) -> object:
        # ISO 8601 text only: pydantic would also read a bare number of seconds, which the contract omits.
        if not isinstance(value, str | timedelta) or (isinstance(value, str) and not value.startswith("P")):
            raise ValueError("must be an ISO 8601 duration such as PT1H or P1D")
        return value

    @field_validator("window")
    @classmethod
    def _bounded(cls, value: timedelta) -> timedelta:
        if not MIN_WINDOW <= value <= MAX_WINDOW:
            raise ValueError("must be from PT1M to P7D")
        return value


def verdict(
    catch_up: CatchUp,
    fire: datetime,
    following: datetime | None,
    now: datetime,
    flexible_window: timedelta = timedelta(0),
) -> CatchUpVerdict | None:
    """None if the fire at ``fire`` runs at ``now``; else why not. ``following`` is the schedule's next fire
    after it (None: there is none)."""
    late_by = now - (fire + flexible_window)
    if late_by <= LATE_GRACE:
        return None
    if late_by > catch_up.window:
        return CatchUpVerdict.OUTSIDE_WINDOW
    if catch_up.policy is CatchUpPolicy.SKIP:
        return CatchUpVerdict.SKIPPED
    if (
        catch_up.policy is CatchUpPolicy.ONCE
        and following is not None
        and now - (following + flexible_window) > LATE_GRACE
    ):
        return CatchUpVerdict.SUPERSEDED
    return None


def fires_to_run(
    catch_up: CatchUp,
    fires: Sequence[datetime],
    following: datetime | None,
    now: datetime,
    flexible_window: timedelta = timedelta(0),
) -> list[datetime]:
    """Those of the due ``fires`` (in order) that run; ``following`` is the schedule's fire after the last."""
    if not fires:
        return []
    successors = [*fires[1:], following]
    return [
        fire
        for fire, successor in zip(fires, successors, strict=True)
        if verdict(catch_up, fire, successor, now, flexible_window) is None
    ]


def window_start(catch_up: CatchUp, now: datetime, flexible_window: timedelta = timedelta(0)) -> datetime:
    """The earliest fire time that may still run at ``now``: nothing before it needs to be looked at."""
    return now - max(catch_up.window, LATE_GRACE) - flexible_window
