"""`jobsched regions`: arguments are checked before anything reaches AWS."""

from __future__ import annotations

import pytest

from jobsched_cli.main import build_parser, main
from jobsched_cli.region_commands import MAX_NOTE_LENGTH


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["regions"], "{fail,restore,status}"),
        (["regions", "fail"], "--region"),
        (["regions", "fail", "--region", "Europe"], "--region"),
        (["regions", "restore", "--region", "eu-west-1", "--table-region", "x"], "--table-region"),
    ],
)
def test_bad_arguments_name_the_argument(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err


def test_a_note_longer_than_a_sentence_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["regions", "fail", "--region", "eu-west-1", "--note", "x" * (MAX_NOTE_LENGTH + 1)])
    assert code == 1
    assert f"--note is longer than {MAX_NOTE_LENGTH} characters" in capsys.readouterr().err


def test_a_region_outside_the_configuration_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBSCHED_REGIONS", "us-east-1,eu-west-1")
    assert main(["regions", "fail", "--region", "ap-south-1"]) == 1
    assert (
        "--region ap-south-1 is not one of the configured regions us-east-1,eu-west-1"
        in capsys.readouterr().err
    )


def test_fail_takes_a_region_a_note_and_the_table_region() -> None:
    args = build_parser().parse_args(
        ["regions", "fail", "--region", "eu-west-1", "--note", "game day", "--table-region", "ap-south-1"]
    )
    assert (args.regions_command, args.region, args.note, args.table_region) == (
        "fail",
        "eu-west-1",
        "game day",
        "ap-south-1",
    )
    assert build_parser().parse_args(["regions", "status"]).table_region == "us-east-1"
