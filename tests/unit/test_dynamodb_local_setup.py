"""Finding DynamoDB Local and Java, and the pid file that stops a leftover instance (no process started)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobsched_local import dynamodb_local
from jobsched_local.dynamodb_local import (
    PID_FILE,
    DynamoDBLocalError,
    find_distribution,
    parse_java_version,
    require_java,
    stop_leftover,
)


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ("no version here", None),
    ],
)
def test_the_java_major_version_is_read_from_java_dash_version(output: str, major: int | None) -> None:
    assert parse_java_version(output) == major


def test_without_java_17_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dynamodb_local, "java_major_version", lambda java="java": 11)
    with pytest.raises(DynamoDBLocalError, match=r"apt-get install openjdk-17-jre-headless.*found Java 11"):
        require_java()
    monkeypatch.setattr(dynamodb_local, "java_major_version", lambda java="java": None)
    with pytest.raises(DynamoDBLocalError, match="no java on PATH"):
        require_java()


def test_no_java_on_path_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dynamodb_local.shutil, "which", lambda name: None)
    assert dynamodb_local.java_major_version() is None


def test_the_jar_is_found_in_the_packages_dated_folder(tmp_path: Path) -> None:
    release = tmp_path / "lib" / "dynamodb_local_2026-01-16"
    (release / "DynamoDBLocal_lib").mkdir(parents=True)
    (release / "DynamoDBLocal.jar").write_bytes(b"")
    found = find_distribution(tmp_path)
    assert (found.jar, found.library_dir) == (release / "DynamoDBLocal.jar", release / "DynamoDBLocal_lib")


def test_a_missing_package_says_to_run_make_setup(tmp_path: Path) -> None:
    with pytest.raises(DynamoDBLocalError, match="make setup"):
        find_distribution(tmp_path)


def test_the_installed_package_is_the_pinned_one() -> None:
    found = find_distribution()
    assert found.jar.is_file() and found.library_dir.is_dir()


def test_a_pid_file_of_another_process_kills_nothing_and_is_removed(tmp_path: Path) -> None:
    (tmp_path / PID_FILE).write_text(f"{os.getpid()}\n")
    assert stop_leftover(tmp_path) is False  # this test process is not DynamoDB Local on tmp_path
    assert not (tmp_path / PID_FILE).exists()


def test_an_unreadable_or_missing_pid_file_is_no_leftover(tmp_path: Path) -> None:
    assert stop_leftover(tmp_path) is False
    (tmp_path / PID_FILE).write_text("not a pid")
    assert stop_leftover(tmp_path) is False
