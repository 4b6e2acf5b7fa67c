"""Unit tests never touch the network: pytest-socket blocks sockets for every test in this folder."""

from __future__ import annotations

from pathlib import Path

# The X-Ray SDK creates its UDP emitter socket when first imported (Powertools' Tracer imports it even
# with tracing disabled). Creating it here, before pytest-socket blocks sockets, sends nothing.
import aws_xray_sdk.core  # noqa: F401
import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Marking here (not --disable-socket globally) keeps integration and e2e tests free to use sockets.
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.disable_socket)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials, no profile, no endpoint override and no instance metadata for every unit test.

    Without credentials, building a boto3 client (as handler modules do at import) walks the credential
    chain to the EC2 metadata endpoint, and an enabled Powertools Tracer opens the X-Ray daemon's UDP
    socket: network use, which pytest-socket refuses.
    """
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
