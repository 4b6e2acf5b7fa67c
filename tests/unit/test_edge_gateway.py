"""The local gateway's edge: WAF's per-IP limit before everything else, gzip for large responses."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from werkzeug.test import Client

from jobsched import config
from jobsched_local import gateway as gateway_module
from jobsched_local.compression import accepts_gzip, compress_response
from jobsched_local.gateway import Gateway
from jobsched_local.key_check import KeyInPlan
from jobsched_local.proxy_event import ApiStage, HttpRequest, ProxyResponse
from jobsched_local.throttle import PlanLimits, SourceLimiter

API = ApiStage(api_id="api1", stage="prod", region="us-east-1", account_id="123456789012")
ROOMY = PlanLimits(rate=1_000.0, burst=1_000, daily_quota=None)
BIG = json.dumps({"items": [{"job_id": f"job-{n}", "name": "nightly report"} for n in range(100)]})


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def big_page(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": BIG}


def small(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"status":"ok"}'}


def make_gateway(clock: Clock, monkeypatch: pytest.MonkeyPatch, per_ip_burst: int = 3) -> Gateway:
    monkeypatch.setattr(gateway_module, "PER_IP_LIMIT_PER_WINDOW", per_ip_burst)
    monkeypatch.setattr(gateway_module, "PER_IP_RATE_PER_SECOND", 1)
    return Gateway(
        API,
        {"health": small, "job_api": big_page},
        None,
        lambda value: KeyInPlan("k", "jobsched-premium", ROOMY) if value == "good" else None,
        clock=clock,
    )


def send(
    gateway: Gateway, path: str, source_ip: str = "203.0.113.7", headers: list[tuple[str, str]] | None = None
) -> ProxyResponse:
    return gateway.handle(HttpRequest("GET", path, headers or [], [], b"", source_ip, "req-1"))


def header(response: ProxyResponse, name: str) -> str | None:
    found = [value for key, value in response.headers if key.lower() == name.lower()]
    return found[-1] if found else None


def test_a_client_over_its_per_ip_limit_gets_the_json_429_with_retry_after(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = make_gateway(clock, monkeypatch)

    statuses = [send(gateway, "/health").status for _ in range(3)]
    refused = send(gateway, "/health")

    assert statuses == [200, 200, 200]
    assert refused.status == 429
    assert header(refused, "Retry-After") == str(config.PER_IP_RETRY_AFTER_SECONDS)
    assert header(refused, "Content-Type") == "application/json"
    error = json.loads(refused.body)["error"]
    assert error["code"] == "too_many_requests"
    assert error["details"] == [{"field": "source_ip", "message": "sends more than 100 requests per second"}]
    assert "100 requests per second" in error["message"]


def test_the_per_ip_limit_comes_before_routes_and_keys(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = make_gateway(clock, monkeypatch, per_ip_burst=1)
    assert send(gateway, "/api/v1/jobs").status == 401  # no key: API Gateway's answer, once

    # Over the limit, neither the missing key (401) nor the unknown route (403) is looked at: WAF answers.
    assert send(gateway, "/api/v1/jobs").status == 429
    assert send(gateway, "/nowhere").status == 429


def test_each_address_has_its_own_bucket_which_refills(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = make_gateway(clock, monkeypatch, per_ip_burst=1)
    assert send(gateway, "/health", source_ip="198.51.100.1").status == 200
    assert send(gateway, "/health", source_ip="198.51.100.1").status == 429
    assert send(gateway, "/health", source_ip="198.51.100.2").status == 200

    clock.now += 1  # one request per second refills one token
    assert send(gateway, "/health", source_ip="198.51.100.1").status == 200


def test_default_limit_is_the_spec_s_100_per_second_over_a_60_second_window(clock: Clock) -> None:
    limiter = SourceLimiter(config.PER_IP_RATE_PER_SECOND, config.PER_IP_LIMIT_PER_WINDOW, clock)

    allowed = sum(limiter.try_take("192.0.2.1") for _ in range(6_001))
    assert (config.PER_IP_LIMIT_PER_WINDOW, allowed) == (6_000, 6_000)
    clock.now += 1
    assert sum(limiter.try_take("192.0.2.1") for _ in range(101)) == 100


def test_the_limiter_forgets_quiet_addresses_once_it_tracks_too_many(clock: Clock) -> None:
    limiter = SourceLimiter(rate=1, burst=2, clock=clock, max_tracked=3)
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        limiter.try_take(address)
    clock.now += 2  # long enough to be full again
    limiter.try_take("192.0.2.4")
    assert limiter.tracked == 1


def test_large_responses_are_gzipped_when_the_client_accepts_it(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = make_gateway(clock, monkeypatch, per_ip_burst=100)

    response = send(gateway, "/api/v1/jobs", headers=[("x-api-key", "good"), ("Accept-Encoding", "gzip, br")])

    assert len(BIG) >= config.COMPRESSION_MIN_BYTES
    assert header(response, "Content-Encoding") == "gzip"
    assert header(response, "Vary") == "Accept-Encoding"
    assert gzip.decompress(response.body).decode() == BIG
    assert len(response.body) < len(BIG) / 3


@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0", "br"])
def test_large_responses_stay_plain_without_gzip_in_accept_encoding(
    clock: Clock, monkeypatch: pytest.MonkeyPatch, accept: str | None
) -> None:
    gateway = make_gateway(clock, monkeypatch, per_ip_burst=100)
    headers = [("x-api-key", "good")] + ([("Accept-Encoding", accept)] if accept else [])

    response = send(gateway, "/api/v1/jobs", headers=headers)

    assert header(response, "Content-Encoding") is None
    assert response.body.decode() == BIG
    assert header(response, "Vary") == "Accept-Encoding"


def test_small_responses_are_never_compressed(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = make_gateway(clock, monkeypatch, per_ip_burst=100)

    response = send(gateway, "/health", headers=[("Accept-Encoding", "gzip")])

    assert header(response, "Content-Encoding") is None
    assert header(response, "Vary") is None
    assert response.body == b'{"status":"ok"}'


def test_over_http_the_content_length_is_the_compressed_size(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client(make_gateway(clock, monkeypatch, per_ip_burst=100).wsgi_app)

    reply = client.get("/api/v1/jobs", headers={"x-api-key": "good", "Accept-Encoding": "gzip"})

    assert reply.headers["Content-Encoding"] == "gzip"
    assert reply.headers["Content-Length"] == str(len(reply.data))
    assert json.loads(gzip.decompress(reply.data)) == json.loads(BIG)


def test_a_body_already_encoded_by_the_function_is_left_alone() -> None:
    encoded = ProxyResponse(200, [("Content-Encoding", "br"), ("Vary", "Origin")], b"x" * 2_000)
    assert compress_response(encoded, "gzip") is encoded


def test_an_existing_vary_header_keeps_its_value() -> None:
    response = compress_response(ProxyResponse(200, [("Vary", "Origin")], b"x" * 2_000), "gzip")
    assert header(response, "Vary") == "Origin, Accept-Encoding"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("*", True),
        ("gzip;q=0", False),
        ("identity", False),
        ("", False),
    ],
)
def test_accepts_gzip(accept: str, expected: bool) -> None:
    assert accepts_gzip(accept) is expected
