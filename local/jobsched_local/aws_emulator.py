"""AWS emulated by moto in this process, and the same state served over HTTP (CLI, boto3, aws CLI).

`mock_aws` intercepts this process's boto3 calls; moto's ThreadedMotoServer answers HTTP callers. Both
use the same in-memory backends, so a key created over HTTP is visible to the handlers at once.
"""

from __future__ import annotations

import logging
import os
import socket

from moto import mock_aws
from moto.server import ThreadedMotoServer

from jobsched_local import moto_dynamodb

# Dummy credentials: boto3 needs some to sign requests, and they must never be real ones.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# Variables that would send in-process calls elsewhere than moto, or pick up a real profile.
_UNSET = (
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


class PortInUse(RuntimeError):
    pass


def ensure_port_free(host: str, port: int, what: str) -> None:
    """Fail with a clear message before a server thread would fail where nobody sees it."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUse(f"cannot listen on {host}:{port} for the {what}: {exc.strerror}") from exc


class AwsEmulator:
    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        # Lambda targets are invoked asynchronously (InvocationType Event): moto accepts them without Docker.
        self._mock = mock_aws(config={"lambda": {"use_docker": False}})
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self._started = False

    @property
    def endpoint_url(self) -> str:
        return f"http://{self._host}:{self._port}"

    def start(self) -> None:
        ensure_port_free(self._host, self._port, "AWS endpoint")
        for name in _UNSET:
            os.environ.pop(name, None)
        os.environ.update(FAKE_CREDENTIALS)
        # moto's server logs every call through werkzeug; the runtime logs what matters itself.
        for noisy in ("werkzeug", "botocore.credentials"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        # Transactions at item cost, not table cost: the job API writes with them on every create.
        moto_dynamodb.install()
        self._mock.start()
        self._server.start()
        self._started = True

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self._server.stop()
        self._mock.stop()
