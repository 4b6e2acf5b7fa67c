"""`jobsched jobs move`: re-home jobs from one region to another (how a region is evacuated);
`jobsched jobs issue-fire-tokens`: the one-off migration giving jobs made before fire tokens their token.

The jobs are listed first (one tenant by query, all by a scan of the jobs table), then moved one
conditional write at a time with a progress bar; schedule-sync in each region then deletes the old
schedules and creates the new ones from the stream. Running it again moves nothing that already moved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TextIO

from tqdm import tqdm

from jobsched import config
from jobsched.execution.fire import new_fire_token
from jobsched.scheduling.adapters.job_schedule_store import DynamoJobScheduleStore
from jobsched.scheduling.control import MoveSummary, jobs_to_move, move_jobs


def move_home_region(
    dynamodb: Any,
    *,
    from_region: str,
    to_region: str,
    regions: Sequence[str],
    tenant: str | None,
    out: TextIO,
    progress_to: TextIO,
) -> MoveSummary:
    store = DynamoJobScheduleStore(dynamodb, config.JOBS_TABLE)
    jobs = jobs_to_move(store, from_region, tenant)
    with tqdm(jobs, desc=f"moving {from_region} -> {to_region}", unit="job", file=progress_to) as bar:
        summary = move_jobs(store, bar, from_region=from_region, to_region=to_region, regions=regions)
    scope = f"tenant {tenant}" if tenant else "all tenants"
    print(
        f"{scope}: moved {summary.moved} job(s) from {from_region} to {to_region}; "
        f"{summary.already_moved} had moved already; {len(summary.failed)} failed",
        file=out,
    )
    for failure in summary.failed:
        print(f"  failed: {failure}", file=out)
    if summary.moved:
        print(
            f"schedule-sync now deletes their schedules in {from_region} and creates them in {to_region}; "
            "GET /api/v1/schedule/status shows the jobs still pending.",
            file=out,
        )
    return summary


def issue_fire_tokens(dynamodb: Any, *, out: TextIO, progress_to: TextIO) -> int:
    """Give every job without a fire token one; schedule-sync then rewrites its schedule's input.

    Until then the executor rejects the job's fires (they carry no token). Running it again issues nothing.
    Returns how many jobs got a token.
    """
    store = DynamoJobScheduleStore(dynamodb, config.JOBS_TABLE)
    issued = 0
    pending = list(store.jobs_without_fire_token())
    with tqdm(pending, desc="issuing fire tokens", unit="job", file=progress_to) as bar:
        for job in bar:
            issued += store.issue_fire_token(job, new_fire_token())
    print(f"issued a fire token to {issued} job(s); {len(pending) - issued} had one meanwhile", file=out)
    return issued
