"""Tables and API keys survive a restart: captured from one moto, restored into a fresh one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from jobsched import config
from jobsched.keys import hash_key
from jobsched_local import moto_backends, state
from jobsched_local.key_service import make_key_service, make_key_store
from jobsched_local.provision import provision

REGIONS = ("us-east-1", "eu-west-1")


def clients(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


def put_job_item(extra: dict[str, Any] | None = None) -> None:
    item = {
        "pk": {"S": "TENANT#acme"},
        "sk": {"S": "JOB#j-1"},
        "blob": {"B": b"\x00\xffraw"},
        "nested": {"M": {"bin": {"B": b"\x01"}, "list": {"L": [{"N": "1.5"}, {"SS": ["a", "b"]}]}}},
        **(extra or {}),
    }
    boto3.client("dynamodb", region_name="us-east-1").put_item(TableName=config.JOBS_TABLE, Item=item)


def test_round_trip_keeps_items_and_keys(aws_env: None, tmp_path: Path) -> None:
    with mock_aws():
        provision("us-east-1", REGIONS)
        record, value = make_key_service(clients, "us-east-1", REGIONS).create("acme", "standard", "viewer")
        put_job_item()
        state.save(tmp_path, state.capture(REGIONS))

    with mock_aws():
        assert moto_backends.api_keys("us-east-1") == []  # a fresh emulator
        provision("us-east-1", REGIONS)
        summary = state.restore(state.load(tmp_path) or {}, REGIONS)
        assert summary.api_keys == 2  # one per region
        assert summary.items == 2  # the key record and the job
        stored = make_key_store(clients, "us-east-1").get_by_hash(hash_key(value))
        assert stored == record
        for region in REGIONS:
            (key,) = moto_backends.api_keys(region)
            assert key["value"] == value and key["enabled"] is True
            assert key["usage_plans"] == [config.usage_plan_name("standard")]
            assert key["tags"] == {"key_id": record.key_id}
        item = boto3.client("dynamodb", region_name="us-east-1").get_item(
            TableName=config.JOBS_TABLE, Key={"pk": {"S": "TENANT#acme"}, "sk": {"S": "JOB#j-1"}}
        )["Item"]
        assert item["blob"] == {"B": b"\x00\xffraw"}
        assert item["nested"]["M"]["bin"] == {"B": b"\x01"}
        assert item["nested"]["M"]["list"]["L"][0] == {"N": "1.5"}


def test_restoring_twice_does_not_duplicate_keys(fake_aws: None, tmp_path: Path) -> None:
    provision("us-east-1", REGIONS)
    make_key_service(clients, "us-east-1", REGIONS).create("acme", "basic", "admin")
    snapshot = state.capture(REGIONS)
    assert state.restore(snapshot, REGIONS).api_keys == 0
    assert len(moto_backends.api_keys("us-east-1")) == 1


def test_snapshots_are_written_only_when_something_changed(fake_aws: None, tmp_path: Path) -> None:
    provision("us-east-1", REGIONS)
    snapshots = state.StateSnapshotter(tmp_path, REGIONS)
    snapshots.mark_saved()
    assert snapshots.save_if_changed() is False
    assert not (tmp_path / state.STATE_FILE).exists()
    put_job_item()
    assert snapshots.save_if_changed() is True
    assert snapshots.save_if_changed() is False
    put_job_item({"name": {"S": "changed"}})  # an update, same item count
    assert snapshots.save_if_changed() is True
    make_key_service(clients, "us-east-1", REGIONS).create("acme", "basic", "admin")
    assert snapshots.save_if_changed() is True
    assert [p.name for p in tmp_path.iterdir()] == [state.STATE_FILE]  # no temp files left behind


def test_stopping_writes_a_final_snapshot(fake_aws: None, tmp_path: Path) -> None:
    provision("us-east-1", REGIONS)
    snapshots = state.StateSnapshotter(tmp_path, REGIONS, interval=3600)
    snapshots.start()
    put_job_item()
    snapshots.stop()
    saved = json.loads((tmp_path / state.STATE_FILE).read_text())
    assert len(saved["dynamodb"]["us-east-1"][config.JOBS_TABLE]) == 1


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    (tmp_path / state.STATE_FILE).write_text(json.dumps({"format": 99}))
    with pytest.raises(ValueError, match="format"):
        state.load(tmp_path)


def test_no_state_file_means_nothing_to_restore(tmp_path: Path) -> None:
    assert state.load(tmp_path) is None
