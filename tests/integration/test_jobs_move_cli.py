"""`jobsched jobs move` on moto: progress, summary, and a second run that moves nothing."""

from __future__ import annotations

import pytest

from jobsched_cli.main import main
from tests.integration.scheduling_support import job_service, principal, spec, stored

pytestmark = pytest.mark.usefixtures("aws")


def test_move_reports_what_it_moved_and_is_safe_twice(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBSCHED_REGIONS", "us-east-1,eu-west-1")
    ids = [
        job_service().create(principal(tenant), spec()).job["job_id"] for tenant in ("acme", "acme", "globex")
    ]

    assert main(["jobs", "move", "--from", "us-east-1", "--to", "eu-west-1", "--tenant", "acme"]) == 0
    first = capsys.readouterr()
    assert "tenant acme: moved 2 job(s) from us-east-1 to eu-west-1" in first.out
    assert "moving us-east-1 -> eu-west-1" in first.err  # the progress bar
    assert [stored("acme", job_id)["region"] for job_id in ids[:2]] == ["eu-west-1", "eu-west-1"]
    assert stored("globex", ids[2])["region"] == "us-east-1"

    assert main(["jobs", "move", "--from", "us-east-1", "--to", "eu-west-1"]) == 0
    assert "all tenants: moved 1 job(s)" in capsys.readouterr().out
    assert main(["jobs", "move", "--from", "us-east-1", "--to", "eu-west-1"]) == 0
    assert "moved 0 job(s)" in capsys.readouterr().out


def test_an_unknown_region_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jobs", "move", "--from", "us-east-1", "--to", "us-west-2"]) == 1
    assert "us-west-2 is not one of the configured regions" in capsys.readouterr().err
