"""Job logic: create, read, list, replace and delete a tenant's jobs. No HTTP and no AWS in here."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from jobsched import page_tokens
from jobsched.config import Role
from jobsched.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from jobsched.execution.fire_tokens import new_fire_token
from jobsched.execution.templates import template_problems
from jobsched.jobs.models import (
    HttpTarget,
    Job,
    JobSpec,
    JobView,
    new_job_id,
    status_for,
    stored_preview,
)
from jobsched.jobs.ports import IdempotencyClaim, IdempotentReplay, JobFilters, JobStore
from jobsched.settings import Settings
from jobsched.targets.guard import Resolver, TargetRefused, check_target_url, url_problem
from jobsched.targets.webhook import new_webhook_secret

if TYPE_CHECKING:
    from jobsched.api.auth import Principal  # annotations only
    from jobsched.targets.access import TargetAccessReader, TenantAccess

# Built on first use (jobsched.jobs.models), so the functions that only read jobs never build it; the Job
# API validates and writes specs, so it builds it when it starts (JobView: jobsched.api.job_models).
JobSpec.model_rebuild()

IDEMPOTENCY_TTL = timedelta(hours=24)
MAX_IDEMPOTENCY_KEY_LENGTH = 255
MAX_VERSION_DIGITS = 18
MAX_CHAIN_WALK = 1000  # jobs read to look for a cycle through on_success
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class JobPage:
    items: list[JobView]
    next_token: str | None


@dataclass(frozen=True)
class Created:
    job: dict[str, Any]
    replayed: bool = False


class NoTargetAccess:
    """No tenant has a target role or an allow-list: every AWS target is refused."""

    def access(self, tenant: str, arn: str) -> TenantAccess:
        from jobsched.targets.access import TenantAccess

        return TenantAccess(role_arn=None, allow_listed=False)


class JobService:
    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        clock: Clock | None = None,
        *,
        resolver: Resolver,
        access: TargetAccessReader | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._now = clock or (lambda: datetime.now(UTC))
        self._resolver = resolver
        self._policy = settings.target_policy()
        self._access = access or NoTargetAccess()

    def create(self, principal: Principal, spec: JobSpec, idempotency_key: str | None = None) -> Created:
        principal.require_write()
        principal.require_tags(spec.tags)
        now = self._now()
        region = self._home_region(spec)
        self._check_fires(spec, now)
        self._check_target(principal.tenant, spec)
        self._check_notifications(spec)
        self._check_chain(principal, None, spec)
        claim = None
        if idempotency_key is not None:
            claim = IdempotencyClaim(
                key=_valid_idempotency_key(idempotency_key),
                body_hash=_hash_spec(spec),
                expires_at=now + IDEMPOTENCY_TTL,
            )
        job = Job.model_validate(
            {
                **dict(spec),  # the validated parts as they are: the schedule keeps its parsed expression
                "job_id": new_job_id(),
                "region": region,
                "version": 1,
                "created_at": now,
                "updated_at": now,
                "created_by": principal.key_id,
                "updated_by": principal.key_id,
                "status": status_for(spec.enabled),
                "fire_token": new_fire_token(),
                "next_runs": stored_preview(spec.schedule, spec.enabled, now, created_at=now),
            }
        )
        secret = new_webhook_secret()
        # The secret is part of the create's answer, so an idempotent replay (a client that lost the first
        # answer) gets it too; the idempotency record keeps it for its 24 hours, like the job item does.
        response = {**JobView.of(job, now).model_dump(mode="json"), "webhook_secret": secret}
        try:
            self._store.create(
                principal.tenant,
                job,
                response,
                self._settings.max_jobs_per_tenant,
                claim,
                webhook_secret=secret,
            )
        except IdempotentReplay as replay:
            return Created(job=replay.response, replayed=True)
        return Created(job=response)

    def rotate_webhook_secret(self, principal: Principal, job_id: str) -> str:
        """A new signing secret for the job's webhooks, in force from the next call; shown only here."""
        principal.require_role(Role.ADMIN)
        self._require_visible(principal, job_id)
        secret = new_webhook_secret()
        self._store.rotate_webhook_secret(principal.job(job_id), secret, self._now(), principal.key_id)
        return secret

    def get(self, principal: Principal, job_id: str) -> JobView:
        job = self._store.get(principal.job(job_id))
        principal.require_visible(job_id, job.tags)
        return JobView.of(job, self._now())

    def _require_visible(self, principal: Principal, job_id: str) -> None:
        """For a caller limited to tags: the job must carry them (else 404, as another tenant's job)."""
        if principal.tags:
            principal.require_visible(job_id, self._store.get(principal.job(job_id)).tags)

    def replace(self, principal: Principal, job_id: str, spec: JobSpec, if_match: str | None) -> JobView:
        principal.require_write()
        self._require_visible(principal, job_id)
        principal.require_tags(spec.tags)
        now = self._now()
        spec = spec.model_copy(update={"region": self._home_region(spec)})
        self._check_fires(spec, now)
        self._check_target(principal.tenant, spec)
        self._check_notifications(spec)
        self._check_chain(principal, job_id, spec)
        job = self._store.replace(
            principal.job(job_id),
            spec,
            expected_version=parse_if_match(if_match),
            at=now,
            by=principal.key_id,
            fire_token=new_fire_token(),
            next_runs=stored_preview(spec.schedule, spec.enabled, now, created_at=None),
        )
        return JobView.of(job, now)

    def delete(self, principal: Principal, job_id: str, if_match: str | None = None) -> None:
        principal.require_write()
        self._require_visible(principal, job_id)
        self._store.delete(
            principal.job(job_id),
            expected_version=parse_if_match(if_match),
            at=self._now(),
            by=principal.key_id,
        )

    def list(
        self, principal: Principal, *, limit: int, next_token: str | None, filters: JobFilters
    ) -> JobPage:
        start_after = decode_page_token(next_token) if next_token else None
        if principal.tags:
            filters = replace(filters, scope_tags=principal.tags)
        jobs, last = self._store.list(principal.tenant, limit, start_after, filters)
        now = self._now()
        return JobPage(
            items=[JobView.of(job, now) for job in jobs],
            next_token=encode_page_token(last) if last else None,
        )

    def _home_region(self, spec: JobSpec) -> str:
        region = spec.region or self._settings.region
        if region not in self._settings.regions:
            raise InvalidInput.field("region", f"must be one of: {', '.join(self._settings.regions)}")
        return region

    def _check_chain(self, principal: Principal, job_id: str | None, spec: JobSpec) -> None:
        """Each job of on_success exists (this tenant's), and none leads back to ``job_id`` (a cycle).

        A job being created cannot be in a cycle: nothing names it yet. The walk reads each job reachable
        from the chain once, at most MAX_CHAIN_WALK of them."""
        for index, child in enumerate(spec.on_success):
            if child == job_id:
                raise InvalidInput.field(f"on_success.{index}", "a job cannot chain to itself")
            try:
                self._store.get(principal.job(child))
            except NotFound:
                raise InvalidInput.field(f"on_success.{index}", f"no job {child}") from None
        if job_id is None:
            return
        seen: set[str] = set()
        pending = list(spec.on_success)
        while pending and len(seen) < MAX_CHAIN_WALK:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            try:
                following = self._store.get(principal.job(current)).on_success
            except NotFound:
                continue
            if job_id in following:
                raise InvalidInput.field("on_success", f"would make a cycle: {current} runs {job_id} again")
            pending.extend(following)

    def _check_notifications(self, spec: JobSpec) -> None:
        webhook = spec.notifications.webhook if spec.notifications else None
        if webhook is None:
            return
        problem = url_problem(webhook)
        try:
            if problem is not None:
                raise TargetRefused(problem)
            check_target_url(webhook, self._policy, resolver=self._resolver)
        except TargetRefused as exc:
            raise InvalidInput.field("notifications.webhook", str(exc)) from None

    def _check_target(self, tenant: str, spec: JobSpec) -> None:
        for field, why in template_problems(spec.target):
            raise InvalidInput.field(field, why)
        if not isinstance(spec.target, HttpTarget):
            # Only an AWS target needs the access rules (their dataclasses and ARN patterns: ~12 M
            # instructions), so a container that only writes http jobs never imports them.
            from jobsched.targets.access import TargetNotAllowed, authorize, target_field

            try:
                authorize(
                    tenant,
                    spec.target,
                    service_account=self._settings.service_account_id,
                    access=self._access,
                )
            except TargetNotAllowed as exc:
                raise InvalidInput.field(target_field(spec.target), str(exc)) from None
            return
        problems = spec.target.problems()
        if problems:
            message = "; ".join(f"{field}: {why}" for field, why in problems)
            raise InvalidInput(message, [{"field": field, "message": why} for field, why in problems])
        try:
            check_target_url(spec.target.url, self._policy, resolver=self._resolver)
        except TargetRefused as exc:
            raise InvalidInput.field("target.url", str(exc)) from None

    @staticmethod
    def _check_fires(spec: JobSpec, now: datetime) -> None:
        problem = spec.schedule.first_fire_problem(now)
        if problem is not None:
            raise InvalidInput.field(*problem)


def parse_if_match(value: str | None) -> int | None:
    """The version an If-Match header names; None for no header or '*' (any current version)."""
    if value is None or value.strip() == "*":
        return None
    tag = value.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    tag = tag.strip('"')
    # ASCII digits only (str.isdigit takes '²'), and no more than a version can have: DynamoDB numbers
    # stop at 38 digits, and no job is changed 10^18 times.
    if not (tag.isascii() and tag.isdigit()) or len(tag) > MAX_VERSION_DIGITS:
        raise PreconditionFailed("If-Match does not name a version of this job")
    return int(tag)


def encode_page_token(last_job_id: str) -> str:
    return page_tokens.encode_page_token(last_job_id)


def decode_page_token(token: str) -> str:
    return page_tokens.decode_page_token(token, "job_")


def _valid_idempotency_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH or not key.isprintable():
        raise InvalidInput.field(
            "Idempotency-Key", f"must be 1-{MAX_IDEMPOTENCY_KEY_LENGTH} printable characters"
        )
    return key


def _hash_spec(spec: JobSpec) -> str:
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_conflict() -> Conflict:
    return Conflict("Idempotency-Key was already used with a different request body")
