"""Bad arguments are refused by name (exit 2) before anything touches AWS or starts a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobsched_cli.aws_session import is_loopback
from jobsched_cli.key_commands import format_table
from jobsched_cli.main import build_parser, main


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        ([], "{local,keys,tokens,clients,jobs,tenants,targets,dlq,regions}"),
        (["tenants", "set-role", "--tenant", "acme"], "--role-arn"),
        (["targets", "allow", "--tenant", "acme"], "ARN"),
        (["keys"], "{create,list,revoke}"),
        (["keys", "create", "--tier", "basic", "--role", "admin"], "--tenant"),
        (["keys", "create", "--tenant", "t", "--tier", "gold", "--role", "admin"], "--tier"),
        (["keys", "create", "--tenant", "t", "--tier", "basic", "--role", "root"], "--role"),
        (["keys", "--regions", "us-east-1,mars", "list"], "--regions"),
        (["keys", "--regions", ",", "list"], "--regions"),
        (["keys", "--table-region", "nowhere", "list"], "--table-region"),
        (["keys", "revoke"], "KEY_ID"),
        (["local", "--port", "70000"], "--port"),
        (["local", "--port", "http"], "--port"),
        (["local", "--aws-port", "0"], "--aws-port"),
        (["local", "--region", "EU"], "--region"),
        (["local", "--region", "sa-east-1"], "--region"),
        (["local", "--allow-target", "127.0.0.1"], "--allow-target"),
        (["local", "--allow-target", "127.0.0.1:http"], "--allow-target"),
        (["local", "--port", "8081", "--allow-target", "127.0.0.1:8081"], "own ports"),
        (["local", "--aws-port", "4567", "--allow-target", "localhost:4567"], "own ports"),
        (["local", "--workers", "0"], "--workers"),
        (["local", "--workers", "many"], "--workers"),
        (["local", "--workers", "65"], "--workers"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_arguments_name_the_argument(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert named in refused(argv, capsys)


def test_bad_port_env_is_named(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PORT", "eighty")
    assert "PORT" in refused(["local"], capsys)


def test_bad_regions_env_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOBSCHED_REGIONS", "us-east-1,,moon")
    assert "JOBSCHED_REGIONS" in refused(["keys", "list"], capsys)


def test_local_defaults() -> None:
    args = build_parser().parse_args(["local"])
    assert (args.host, args.port, args.aws_port, str(args.state_dir), args.region) == (
        "127.0.0.1",
        None,  # resolved from $PORT, else 8080, at start
        4566,
        ".jobsched",
        "us-east-1",
    )


def test_regions_are_split_and_deduplicated() -> None:
    args = build_parser().parse_args(["keys", "--regions", "eu-west-1, us-east-1,eu-west-1", "list"])
    assert args.regions == ("eu-west-1", "us-east-1")


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:4566", True),
        ("http://localhost:4566", True),
        ("http://[::1]:4566", True),
        ("http://127.8.9.1", True),
        ("https://dynamodb.us-east-1.amazonaws.com", False),
        ("http://10.0.0.5:4566", False),
        (None, False),
        ("", False),
    ],
)
def test_loopback_endpoints(url: str | None, loopback: bool) -> None:
    assert is_loopback(url) is loopback


def test_table_columns_line_up() -> None:
    table = format_table(("A", "LONGER"), [("x", "1"), ("wide cell", "2")])
    assert table.splitlines() == ["A          LONGER", "x          1", "wide cell  2"]


def test_bad_allowed_targets_env_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOBSCHED_ALLOW_TARGETS", "127.0.0.1:9000,nowhere")
    assert "JOBSCHED_ALLOW_TARGETS" in refused(["local"], capsys)


def test_allowed_targets_from_flags_and_env_reach_the_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    from jobsched_local import runtime

    started: list[runtime.RuntimeOptions] = []
    monkeypatch.setattr(runtime, "run", lambda options: started.append(options) or 0)
    monkeypatch.setenv("JOBSCHED_ALLOW_TARGETS", "localhost:9001, 127.0.0.1:9000")
    argv = ["local", "--allow-target", "127.0.0.1:9000", "--allow-target", "[::1]:9002"]
    assert main(argv) == 0
    [options] = started
    assert options.allow_targets == ("127.0.0.1:9000", "[::1]:9002", "localhost:9001")
    assert options.own_ports == (8080, 4566)


def test_the_runtime_refuses_to_allow_its_own_ports() -> None:
    from jobsched_local.runtime import LocalRuntime, RuntimeOptions

    with pytest.raises(ValueError, match="own ports"):
        LocalRuntime(RuntimeOptions(port=8085, allow_targets=("127.0.0.1:8085",)))


@pytest.mark.parametrize("value", ["0", "lots", "-3"])
def test_bad_workers_env_is_named(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOBSCHED_LOCAL_WORKERS", value)
    assert "JOBSCHED_LOCAL_WORKERS" in refused(["local"], capsys)


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["local", "--workers", "3"], "7", 3),  # the option wins over the variable
        (["local"], "7", 7),
        (["local"], None, None),  # four per core
    ],
)
def test_workers_come_from_the_option_then_the_env(
    argv: list[str], env: str | None, expected: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from jobsched_local import runtime

    seen: list[runtime.RuntimeOptions] = []
    monkeypatch.setattr(runtime, "run", lambda options: seen.append(options) or 0)
    if env is None:
        monkeypatch.delenv("JOBSCHED_LOCAL_WORKERS", raising=False)
    else:
        monkeypatch.setenv("JOBSCHED_LOCAL_WORKERS", env)
    assert main(argv) == 0
    assert seen[0].workers_per_function == (expected or 4 * (os.cpu_count() or 1))


def test_a_clock_file_reaches_the_runtime_from_the_flag_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from jobsched_local import runtime

    started: list[runtime.RuntimeOptions] = []
    monkeypatch.setattr(runtime, "run", lambda options: started.append(options) or 0)
    assert main(["local"]) == 0
    assert main(["local", "--clock-file", str(tmp_path / "a.json")]) == 0
    monkeypatch.setenv("JOBSCHED_LOCAL_CLOCK_FILE", str(tmp_path / "b.json"))
    assert main(["local"]) == 0
    assert [options.clock_file for options in started] == [None, tmp_path / "a.json", tmp_path / "b.json"]


def test_a_clock_file_without_an_offset_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "clock.json"
    bad.write_text('{"offset": 5}')
    assert "--clock-file" in refused(["local", "--clock-file", str(bad)], capsys)
    assert "--clock-file" in refused(["local", "--clock-file", str(tmp_path)], capsys)  # a folder


def test_a_clock_file_needs_the_test_dependency(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "time_machine" else real(name)
    )
    assert "time-machine" in refused(["local", "--clock-file", str(tmp_path / "clock.json")], capsys)
