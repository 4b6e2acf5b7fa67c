"""Target invokers: the signed HTTP webhook (stdlib http.client) and the AWS targets (EventBridge, SQS,
Lambda, SNS, Step Functions).

The HTTP call connects to an address the SSRF guard has just approved, with TLS still verified against
the URL's host name (SNI and certificate), so a DNS answer that changes between check and connect cannot
redirect the call; redirects are never followed (http.client does not follow them).
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from jobsched import __version__, config
from jobsched.aws.clients import assumed_client
from jobsched.execution.models import Outcome, excerpt
from jobsched.execution.ports import Delivery
from jobsched.execution.templates import rendered_target
from jobsched.jobs.models import (
    AwsTarget,
    EventBridgeTarget,
    HttpTarget,
    Job,
    LambdaTarget,
    SnsTarget,
    SqsTarget,
    StepFunctionsTarget,
)
from jobsched.targets.access import Grant, TargetAccessReader, TargetNotAllowed, authorize
from jobsched.targets.adapters.dns import resolve_host
from jobsched.targets.guard import Resolver, TargetPolicy, TargetRefused, allowed_addresses
from jobsched.targets.webhook import signature_headers

USER_AGENT = f"jobsched/{__version__}"
# A call may not use the executor's whole run time: recording the outcome needs the last minute.
MAX_CALL_SECONDS = config.EXECUTOR_TIMEOUT_SECONDS - 60
# (service, region or None for the function's own) -> client; (service, region, credentials) -> client.
ClientFactory = Callable[[str, str | None], Any]
AssumedClientFactory = Callable[[str, str, dict[str, Any]], Any]
ASSUMED_ROLE_SECONDS = 3600
CREDENTIALS_MARGIN_SECONDS = 300


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def delivery_headers(job: Job, delivery: Delivery) -> dict[str, str]:
    return {
        "user-agent": USER_AGENT,
        "x-jobsched-job-id": job.job_id,
        "x-jobsched-scheduled-time": delivery.scheduled_at.isoformat().replace("+00:00", "Z"),
        "x-jobsched-attempt": str(delivery.attempt),
        "x-jobsched-trigger": delivery.trigger.value,
    }


class HttpInvoker:
    def __init__(
        self,
        policy: TargetPolicy,
        *,
        resolver: Resolver = resolve_host,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._wall_clock = wall_clock
        self._tls_context: ssl.SSLContext | None = None

    @property
    def _tls(self) -> ssl.SSLContext:
        # Made by the first https call (loading the CA bundle is ~20 ms), not at import: http and AWS
        # targets never need it.
        if self._tls_context is None:
            self._tls_context = ssl.create_default_context()
        return self._tls_context

    def invoke(self, job: Job, target: HttpTarget, secret: str | None, delivery: Delivery) -> Outcome:
        started = time.monotonic()
        try:
            problems = target.problems()  # a job stored before a rule existed may break it
            if problems:
                raise TargetRefused("; ".join(f"{field} {why}" for field, why in problems))
            addresses = allowed_addresses(target.url, self._policy, resolver=self._resolver)
        except TargetRefused as exc:
            return Outcome(succeeded=False, duration_ms=_elapsed_ms(started), error=f"target refused: {exc}")
        body = (target.body or "").encode("utf-8")
        headers = {**target.headers, **delivery_headers(job, delivery)}
        if target.body is not None and not any(k.lower() == "content-type" for k in target.headers):
            headers["content-type"] = "application/json"
        if secret is not None:
            headers.update(signature_headers(secret, delivery.execution_id, int(self._wall_clock()), body))
        parts = urlsplit(target.url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        timeout = min(target.timeout_seconds, MAX_CALL_SECONDS)
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = _PinnedHTTPSConnection(host, port, addresses[0], timeout, self._tls)
        else:
            connection = _PinnedHTTPConnection(host, port, addresses[0], timeout)
        try:
            connection.request(
                target.method, path, body=body if body or target.method != "GET" else None, headers=headers
            )
            response = connection.getresponse()
            data = response.read(1024)
        except (OSError, http.client.HTTPException) as exc:
            return Outcome(
                succeeded=False,
                duration_ms=_elapsed_ms(started),
                error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
            )
        finally:
            connection.close()
        ok = 200 <= response.status < 300
        return Outcome(
            succeeded=ok,
            duration_ms=_elapsed_ms(started),
            status_code=response.status,
            error=None if ok else f"HTTP {response.status} {response.reason}".strip(),
            response_excerpt=excerpt(data),
        )


class AwsTargetInvoker:
    """The AWS targets, each checked again at call time (jobsched.targets.access) before anything is called.

    A resource in the account of the tenant's target role is called as that role, assumed with the tenant
    id as ExternalId (credentials kept until five minutes before they expire); an allow-listed one with
    the executor's own role. Clients are made in the resource's own region.
    """

    def __init__(
        self,
        client_for: ClientFactory,
        *,
        access: TargetAccessReader,
        service_account: str | None,
        assumed_client_for: AssumedClientFactory = assumed_client,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._client_for = client_for
        self._access = access
        self._service_account = service_account
        self._assumed_client_for = assumed_client_for
        self._wall_clock = wall_clock
        self._credentials: dict[tuple[str, str], dict[str, Any]] = {}

    def invoke(self, job: Job, target: AwsTarget, delivery: Delivery) -> Outcome:
        started = time.monotonic()
        try:
            grant = authorize(
                delivery.tenant, target, service_account=self._service_account, access=self._access
            )
        except TargetNotAllowed as exc:
            return Outcome(succeeded=False, duration_ms=_elapsed_ms(started), error=f"target refused: {exc}")
        try:
            call = self._client(grant, delivery.tenant)
            if isinstance(target, EventBridgeTarget):
                return self._put_event(call("events"), target, delivery, started)
            if isinstance(target, SqsTarget):
                return self._send_message(call("sqs"), job, target, delivery, started)
            if isinstance(target, LambdaTarget):
                return self._invoke_function(call("lambda"), job, target, delivery, started)
            if isinstance(target, SnsTarget):
                return self._publish(call("sns"), job, target, delivery, started)
            return self._start_execution(call("stepfunctions"), target, delivery, started)
        except Exception as exc:  # botocore's errors have no common base worth importing here
            return _aws_failure(started, exc)

    def _client(self, grant: Grant, tenant: str) -> Callable[[str], Any]:
        region = grant.resource.region
        if grant.role_arn is None:
            return lambda service: self._client_for(service, region)
        credentials = self._assume(grant.role_arn, tenant)
        return lambda service: self._assumed_client_for(service, region, credentials)

    def _assume(self, role_arn: str, tenant: str) -> dict[str, Any]:
        cached = self._credentials.get((role_arn, tenant))
        if (
            cached is not None
            and cached["Expiration"].timestamp() - CREDENTIALS_MARGIN_SECONDS > self._wall_clock()
        ):
            return cached
        response = self._client_for("sts", None).assume_role(
            RoleArn=role_arn,
            RoleSessionName=f"{config.SERVICE}-{tenant}"[:64],
            ExternalId=tenant,
            DurationSeconds=ASSUMED_ROLE_SECONDS,
        )
        credentials: dict[str, Any] = response["Credentials"]
        self._credentials[(role_arn, tenant)] = credentials
        return credentials

    @staticmethod
    def _put_event(events: Any, target: EventBridgeTarget, delivery: Delivery, started: float) -> Outcome:
        response = events.put_events(
            Entries=[
                {
                    "EventBusName": target.event_bus_arn,
                    "Source": target.source,
                    "DetailType": target.detail_type,
                    "Detail": target.detail,
                    "Time": delivery.scheduled_at,
                }
            ]
        )
        entry = (response.get("Entries") or [{}])[0]
        if response.get("FailedEntryCount", 0) or entry.get("ErrorCode"):
            error = f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}"
            return Outcome(succeeded=False, duration_ms=_elapsed_ms(started), error=error)
        return _aws_success(started, {"EventId": entry.get("EventId")})

    @staticmethod
    def _send_message(sqs: Any, job: Job, target: SqsTarget, delivery: Delivery, started: float) -> Outcome:
        request: dict[str, Any] = {
            "QueueUrl": target.queue_url,
            "MessageBody": target.body,
            "MessageAttributes": _string_attributes(job, delivery),
        }
        if target.queue_url.endswith(".fifo"):
            request["MessageGroupId"] = target.message_group_id or job.job_id
            request["MessageDeduplicationId"] = delivery.execution_id
        response = sqs.send_message(**request)
        return _aws_success(started, {"MessageId": response.get("MessageId")})

    @staticmethod
    def _invoke_function(
        lambda_: Any, job: Job, target: LambdaTarget, delivery: Delivery, started: float
    ) -> Outcome:
        # Asynchronous: Lambda queues the event and answers 202; the function's own retries and
        # destinations take over from there, as EventBridge Scheduler's Lambda target does.
        response = lambda_.invoke(
            FunctionName=target.function_arn,
            InvocationType="Event",
            Payload=target.payload.encode("utf-8"),
            ClientContext=_client_context(job, delivery),
        )
        status = int(response.get("StatusCode", 0))
        if status != 202:
            return Outcome(
                succeeded=False,
                duration_ms=_elapsed_ms(started),
                status_code=status,
                error=f"Lambda answered {status}",
            )
        return Outcome(succeeded=True, duration_ms=_elapsed_ms(started), status_code=status)

    @staticmethod
    def _publish(sns: Any, job: Job, target: SnsTarget, delivery: Delivery, started: float) -> Outcome:
        request: dict[str, Any] = {
            "TopicArn": target.topic_arn,
            "Message": target.message,
            "MessageAttributes": _string_attributes(job, delivery),
        }
        if target.subject is not None:
            request["Subject"] = target.subject
        if target.topic_arn.endswith(".fifo"):
            request["MessageGroupId"] = target.message_group_id or job.job_id
            request["MessageDeduplicationId"] = delivery.execution_id
        response = sns.publish(**request)
        return _aws_success(started, {"MessageId": response.get("MessageId")})

    @staticmethod
    def _start_execution(
        stepfunctions: Any, target: StepFunctionsTarget, delivery: Delivery, started: float
    ) -> Outcome:
        # The name is the execution id: a second start of the same execution is refused by Step Functions
        # (ExecutionAlreadyExists) for 90 days, which makes a redelivered attempt harmless.
        try:
            response = stepfunctions.start_execution(
                stateMachineArn=target.state_machine_arn, name=delivery.execution_id, input=target.input
            )
        except stepfunctions.exceptions.ExecutionAlreadyExists:
            return _aws_success(started, {"executionName": delivery.execution_id, "alreadyStarted": True})
        return _aws_success(started, {"executionArn": response.get("executionArn")})


def _string_attributes(job: Job, delivery: Delivery) -> dict[str, dict[str, str]]:
    return {
        name: {"DataType": "String", "StringValue": value}
        for name, value in {
            "jobsched-job-id": job.job_id,
            "jobsched-execution-id": delivery.execution_id,
            "jobsched-attempt": str(delivery.attempt),
        }.items()
    }


def _client_context(job: Job, delivery: Delivery) -> str:
    custom = {"jobsched-job-id": job.job_id, "jobsched-execution-id": delivery.execution_id}
    return base64.b64encode(json.dumps({"custom": custom}).encode()).decode()


def _aws_success(started: float, answer: dict[str, Any]) -> Outcome:
    return Outcome(succeeded=True, duration_ms=_elapsed_ms(started), response_excerpt=json.dumps(answer))


def _aws_failure(started: float, exc: Exception) -> Outcome:
    return Outcome(succeeded=False, duration_ms=_elapsed_ms(started), error=f"{type(exc).__name__}: {exc}")


class TargetDispatcher:
    """The executor's TargetInvoker: picks the invoker by the job's target type."""

    def __init__(self, http: HttpInvoker, aws: AwsTargetInvoker) -> None:
        self._http = http
        self._aws = aws

    def invoke(self, job: Job, secret: str | None, delivery: Delivery) -> Outcome:
        target = rendered_target(job.target, job.job_id, delivery)
        if isinstance(target, HttpTarget):
            return self._http.invoke(job, target, secret, delivery)
        return self._aws.invoke(job, target, delivery)
