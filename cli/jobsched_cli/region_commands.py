"""`jobsched regions fail|restore|status`: mark a region unhealthy for a failover drill, and back.

The mark is an item in the jobs table (jobsched.health.adapters.checks), which the global table replicates
to every region; that region's GET /health/deep then answers 503 naming the drill, its Route 53 health check
fails and its latency record leaves DNS, exactly as if the region were lost. Works against AWS and against
the local runtime alike. `status` also shows each region's last heartbeat (the dead man's switch,
jobsched.execution.heartbeat): when the region's executor last recorded the service's own once-a-minute fire.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TextIO

from jobsched.execution.heartbeat import HEARTBEAT_SILENCE_MINUTES, Heartbeat, HeartbeatStore
from jobsched.health.adapters.checks import DynamoDrillMarkers
from jobsched.health.deep import DrillMarker

Clock = Callable[[], datetime]
# The note is for operators (`regions status`); deep health, a public endpoint, never shows it.
MAX_NOTE_LENGTH = 200


def _now() -> datetime:
    return datetime.now(UTC)


def mark_unhealthy(
    markers: DynamoDrillMarkers, region: str, note: str, out: TextIO, clock: Clock = _now
) -> DrillMarker:
    marker = DrillMarker(region=region, marked_at=clock().isoformat(timespec="seconds"), note=note)
    markers.put(marker)
    print(
        f"{region} is marked unhealthy (drill): its GET /health/deep answers 503 within a few seconds, its "
        "Route 53 health check fails after three checks and its latency record leaves DNS.",
        file=out,
    )
    print(f"Evacuate its jobs: jobsched jobs move --from {region} --to <another region>", file=out)
    print(f"Undo: jobsched regions restore --region {region}", file=out)
    return marker


def restore(markers: DynamoDrillMarkers, region: str, out: TextIO) -> bool:
    removed = markers.delete(region)
    if removed:
        print(
            f"{region} is no longer marked unhealthy; its deep health answers 200 again if all else is well.",
            file=out,
        )
    else:
        print(f"{region} was not marked unhealthy; nothing to restore.", file=out)
    return removed


def status(
    markers: DynamoDrillMarkers,
    regions: Sequence[str],
    out: TextIO,
    heartbeats: HeartbeatStore | None = None,
    clock: Clock = _now,
) -> None:
    for region, marker in markers.markers(regions).items():
        if marker is None:
            print(f"{region}: not marked", file=out)
        else:
            note = f" ({marker.note})" if marker.note else ""
            print(f"{region}: marked unhealthy since {marker.marked_at}{note}", file=out)
    if heartbeats is None:
        return
    now = clock()
    for region, heartbeat in heartbeats.latest(regions).items():
        print(f"{region}: {describe_heartbeat(heartbeat, now)}", file=out)


def describe_heartbeat(heartbeat: Heartbeat | None, now: datetime) -> str:
    if heartbeat is None:
        return "no heartbeat recorded"
    age = max(int((now - heartbeat.arrived_at).total_seconds()), 0)
    late = " (LATE: the heartbeat alarm fires)" if age > HEARTBEAT_SILENCE_MINUTES * 60 else ""
    stamp = heartbeat.arrived_at.isoformat(timespec="seconds").replace("+00:00", "Z")
    return f"last heartbeat {stamp}, {age} s ago{late}"
