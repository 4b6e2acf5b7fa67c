"""The runtime's AWS: DynamoDB Local for the tables, moto for everything else, one endpoint for both.

- DynamoDB and DynamoDB Streams: Amazon's DynamoDB Local, a child process keeping the tables on disk
  under <state-dir>/dynamodb. This process's boto3 clients reach it directly (AWS_ENDPOINT_URL_DYNAMODB
  and AWS_ENDPOINT_URL_DYNAMODB_STREAMS); moto is told not to serve DynamoDB at all, so a client that
  somehow missed the endpoint fails loudly instead of writing to a table nobody keeps. A write is
  followed by a barrier request, as DynamoDB Local acknowledges one before storing it (dynamodb_direct.py).
- The other services: moto, in memory. `mock_aws` intercepts this process's boto3 calls; moto's
  ThreadedMotoServer answers HTTP callers on an internal port. Both use the same backends. What moto
  holds is derived state, rebuilt from the tables at every start (jobsched_local.rebuild).
- The public AWS endpoint (default :4566) routes by X-Amz-Target: DynamoDB and Streams requests to
  DynamoDB Local, the rest to moto's server (jobsched_local.aws_router). The CLI, the aws CLI and
  handler processes use it through AWS_ENDPOINT_URL (handler processes send DynamoDB calls to DynamoDB
  Local directly, with the same barrier: dynamodb_direct.py).
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import boto3
from moto import mock_aws
from moto.core.config import DefaultConfig
from moto.server import ThreadedMotoServer

from jobsched_local.aws_router import AwsRouter, AwsRouterServer
from jobsched_local.dynamodb_local import DynamoDBLocal, install_commit_barrier
from jobsched_local.queue_journal import JOURNAL_FILE, QueueJournal

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
DYNAMODB_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS")
DYNAMODB_SERVICES = frozenset({"dynamodb", "dynamodbstreams"})
DYNAMODB_DIR = "dynamodb"


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


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now on host (for the internal servers; the kernel picks it)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


# Lambda targets are invoked asynchronously (InvocationType Event): moto accepts them without Docker.
MOTO_LAMBDA_WITHOUT_DOCKER: DefaultConfig = {"lambda": {"use_docker": False}}


def moto_config_without_dynamodb() -> DefaultConfig:
    """mock_aws settings under which moto serves every service except DynamoDB and its streams."""
    from moto.backend_index import backend_url_patterns

    services = sorted({service for service, _ in backend_url_patterns} - DYNAMODB_SERVICES)
    return {
        "core": {
            "mock_credentials": True,
            "passthrough": {"urls": [], "services": []},
            "reset_boto3_session": True,
            "service_whitelist": services,
        },
        **MOTO_LAMBDA_WITHOUT_DOCKER,
    }


class AwsEmulator:
    def __init__(self, host: str, port: int, state_dir: Path) -> None:
        self._host = host
        self._port = port
        internal = "127.0.0.1"
        self.dynamodb = DynamoDBLocal(state_dir / DYNAMODB_DIR, internal, free_port(internal))
        self._mock = mock_aws(config=moto_config_without_dynamodb())
        self._moto_port = free_port(internal)
        self._moto = ThreadedMotoServer(ip_address=internal, port=self._moto_port, verbose=False)
        self._router: AwsRouterServer | None = None
        self._started: list[str] = []
        # What the API put on the execution queue (moto's, in memory), kept on disk (queue_journal.py).
        self.journal = QueueJournal(state_dir / JOURNAL_FILE)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def internal_ports(self) -> tuple[int, ...]:
        """The ports behind the endpoint (DynamoDB Local, moto's server): never a job's target either."""
        return (self.dynamodb.port, self._moto_port)

    @property
    def dynamodb_endpoint_url(self) -> str:
        return self.dynamodb.endpoint_url

    def start(self) -> None:
        ensure_port_free(self._host, self._port, "AWS endpoint")
        for name in _UNSET:
            os.environ.pop(name, None)
        os.environ.update(FAKE_CREDENTIALS)
        # moto's server logs every call through werkzeug; the runtime logs what matters itself.
        for noisy in ("werkzeug", "botocore.credentials", "botocore.configprovider"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self.dynamodb.start()
        self._started.append("dynamodb")
        for name in DYNAMODB_ENDPOINT_VARIABLES:
            os.environ[name] = self.dynamodb.endpoint_url
        self._mock.start()
        self._started.append("mock")
        # mock_aws has just reset boto3's default session; every in-process client is made from the new one.
        boto3.setup_default_session()
        install_commit_barrier(boto3.DEFAULT_SESSION, self.dynamodb.endpoint_url)
        self._moto.start()
        self._started.append("moto")
        router = AwsRouter(
            self.dynamodb.endpoint_url, f"http://127.0.0.1:{self._moto_port}", self.journal.record
        )
        self._router = AwsRouterServer(router, self._host, self._port)
        self._router.start()
        self._started.append("router")

    def stop(self) -> None:
        while self._started:
            part = self._started.pop()
            if part == "router" and self._router is not None:
                self._router.stop()
                self._router = None
                self.journal.close()
            elif part == "moto":
                self._moto.stop()
            elif part == "mock":
                self._mock.stop()
            elif part == "dynamodb":
                for name in DYNAMODB_ENDPOINT_VARIABLES:
                    os.environ.pop(name, None)
                self.dynamodb.stop()
