"""Target invokers: the signed HTTP webhook (stdlib http.client) and the AWS targets (EventBridge, SQS).

The HTTP call connects to an address the SSRF guard has just approved, with TLS still verified against
the URL's host name (SNI and certificate), so a DNS answer that changes between check and connect cannot
redirect the call; redirects are never followed (http.client does not follow them).
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from jobsched import __version__, config
from jobsched.executions import Outcome, excerpt
from jobsched.executor import Delivery
from jobsched.jobs import EventBridgeTarget, HttpTarget, Job, SqsTarget
from jobsched.target_guard import Resolver, TargetPolicy, TargetRefused, allowed_addresses, resolve_host
from jobsched.webhook import signature_headers

USER_AGENT = f"jobsched/{__version__}"
# A call may not use the executor's whole run time: recording the outcome needs the last minute.
MAX_CALL_SECONDS = config.EXECUTOR_TIMEOUT_SECONDS - 60
ClientFactory = Callable[[str], Any]


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
        self._tls = ssl.create_default_context()

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
    """PutEvents and SendMessage with the executor's own credentials (IAM scopes which buses and queues)."""

    def __init__(self, client_for: ClientFactory) -> None:
        self._client_for = client_for

    def put_event(self, job: Job, target: EventBridgeTarget, delivery: Delivery) -> Outcome:
        started = time.monotonic()
        try:
            response = self._client_for("events").put_events(
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
        except Exception as exc:  # botocore's errors have no common base worth importing here
            return _aws_failure(started, exc)
        entry = (response.get("Entries") or [{}])[0]
        if response.get("FailedEntryCount", 0) or entry.get("ErrorCode"):
            error = f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}"
            return Outcome(succeeded=False, duration_ms=_elapsed_ms(started), error=error)
        return Outcome(
            succeeded=True,
            duration_ms=_elapsed_ms(started),
            response_excerpt=json.dumps({"EventId": entry.get("EventId")}),
        )

    def send_message(self, job: Job, target: SqsTarget, delivery: Delivery) -> Outcome:
        started = time.monotonic()
        request: dict[str, Any] = {
            "QueueUrl": target.queue_url,
            "MessageBody": target.body,
            "MessageAttributes": {
                name: {"DataType": "String", "StringValue": value}
                for name, value in {
                    "jobsched-job-id": job.job_id,
                    "jobsched-execution-id": delivery.execution_id,
                    "jobsched-attempt": str(delivery.attempt),
                }.items()
            },
        }
        if target.queue_url.endswith(".fifo"):
            request["MessageGroupId"] = target.message_group_id or job.job_id
            request["MessageDeduplicationId"] = delivery.execution_id
        try:
            response = self._client_for("sqs").send_message(**request)
        except Exception as exc:
            return _aws_failure(started, exc)
        return Outcome(
            succeeded=True,
            duration_ms=_elapsed_ms(started),
            response_excerpt=json.dumps({"MessageId": response.get("MessageId")}),
        )


def _aws_failure(started: float, exc: Exception) -> Outcome:
    return Outcome(succeeded=False, duration_ms=_elapsed_ms(started), error=f"{type(exc).__name__}: {exc}")


class TargetDispatcher:
    """The executor's TargetInvoker: picks the invoker by the job's target type."""

    def __init__(self, http: HttpInvoker, aws: AwsTargetInvoker) -> None:
        self._http = http
        self._aws = aws

    def invoke(self, job: Job, secret: str | None, delivery: Delivery) -> Outcome:
        target = job.target
        if isinstance(target, HttpTarget):
            return self._http.invoke(job, target, secret, delivery)
        if isinstance(target, EventBridgeTarget):
            return self._aws.put_event(job, target, delivery)
        return self._aws.send_message(job, target, delivery)
