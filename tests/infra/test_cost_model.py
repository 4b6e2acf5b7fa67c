"""The cost model prices the synthesized templates: docs/cost.md is its output; unknown types fail."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from infra import paths
from infra.constructs.execution_archive import ARCHIVER_MAX_CONCURRENCY
from infra.cost import cost_model
from jobsched import config, tables, telemetry
from jobsched.execution.heartbeat import HEARTBEAT_SCHEDULE_NAME
from tests.infra.conftest import DOMAIN_CONTEXT, SynthesizedApp

COST_DOC = paths.REPO_ROOT / "docs" / "cost.md"


@pytest.fixture(scope="module")
def profile() -> dict[str, object]:
    return cost_model.load_json(cost_model.LOAD_PROFILE)


@pytest.fixture(scope="module")
def prices() -> dict[str, object]:
    return cost_model.load_json(cost_model.PRICES)


@pytest.fixture(scope="module")
def estimate(
    synthesized_with_domain: SynthesizedApp, profile: dict[str, object], prices: dict[str, object]
) -> cost_model.Estimate:
    stacks = cost_model.load_templates(synthesized_with_domain.outdir)
    return cost_model.estimate(stacks, profile, prices)


def test_the_model_prices_the_app_as_deployed_behind_the_global_domain(profile: dict[str, object]) -> None:
    assert profile["synth_context"] == DOMAIN_CONTEXT


def test_docs_cost_md_is_what_the_model_writes(
    estimate: cost_model.Estimate, profile: dict[str, object], prices: dict[str, object]
) -> None:
    written = cost_model.markdown_report(estimate, profile, prices, cost_model.Model(profile, prices))
    assert COST_DOC.read_text() == written, "docs/cost.md is out of date: run `make cost`"


def test_the_text_report_ends_with_the_month_12_total(
    estimate: cost_model.Estimate, prices: dict[str, object]
) -> None:
    last = cost_model.text_report(estimate, prices).splitlines()[-1]
    assert last == f"Month-12 total: ${estimate.total(12):,.2f}"
    assert estimate.total(12) >= estimate.total(1) > 0


def test_the_price_list_is_dated_and_names_its_source(prices: dict[str, object]) -> None:
    assert str(prices["as_of"])[:7] in cost_model.PRICES.name  # prices-YYYY-MM.json
    assert prices["source"] and set(prices["regions"]) == set(config.REGIONS)  # type: ignore[arg-type]


def test_history_is_priced_in_its_home_region_only(estimate: cost_model.Estimate) -> None:
    executions = [line for line in estimate.months[12] if line.resource.startswith(config.EXECUTIONS_TABLE)]
    assert {line.region for line in executions} == set(config.REGIONS)
    assert not [line for line in executions if "replicated" in line.item or "replication" in line.item]
    recovery = {line.region for line in estimate.months[12] if "point-in-time" in line.item}
    jobs_recovery = {
        line.region
        for line in estimate.months[12]
        if "point-in-time" in line.item and line.resource.startswith(config.JOBS_TABLE)
    }
    assert recovery == set(config.REGIONS) and jobs_recovery == {config.PRIMARY_REGION}


def test_the_archive_grows_from_month_1_to_month_12(estimate: cost_model.Estimate) -> None:
    def archive(month: int) -> float:
        return sum(x.quantity for x in estimate.months[month] if "S3 Standard storage" in x.item)

    assert archive(1) == 0 and archive(12) > 0


def _with_resource(source: Path, target: Path, kind: str) -> Path:
    shutil.copytree(source, target)
    template_path = target / "jobsched-eu-west-1.template.json"
    template = json.loads(template_path.read_text())
    template["Resources"]["Mystery"] = {"Type": kind, "Properties": {}}
    template_path.write_text(json.dumps(template))
    return target


def test_a_resource_type_the_model_does_not_know_is_an_error_naming_it(
    synthesized_with_domain: SynthesizedApp,
    tmp_path: Path,
    profile: dict[str, object],
    prices: dict[str, object],
    capsys: pytest.CaptureFixture[str],
) -> None:
    outdir = _with_resource(synthesized_with_domain.outdir, tmp_path / "cdk.out", "AWS::Mystery::Thing")
    with pytest.raises(
        cost_model.CostModelError, match=r"AWS::Mystery::Thing \(jobsched-eu-west-1/Mystery\)"
    ):
        cost_model.estimate(cost_model.load_templates(outdir), profile, prices)
    assert cost_model.main(["--templates", str(outdir)]) == 2
    assert "AWS::Mystery::Thing" in capsys.readouterr().err


def test_a_function_the_load_profile_does_not_know_is_an_error(
    synthesized_with_domain: SynthesizedApp, profile: dict[str, object], prices: dict[str, object]
) -> None:
    functions = dict(profile["functions"])  # type: ignore[call-overload]
    del functions["ArchiverFunction"]
    stacks = cost_model.load_templates(synthesized_with_domain.outdir)
    with pytest.raises(cost_model.CostModelError, match="ArchiverFunction"):
        cost_model.estimate(stacks, {**profile, "functions": functions}, prices)


def test_the_heartbeat_schedule_is_priced_as_one_fire_a_minute_per_region(
    estimate: cost_model.Estimate,
) -> None:
    fires = [line for line in estimate.months[12] if line.resource == HEARTBEAT_SCHEDULE_NAME]
    assert sorted(line.region for line in fires) == sorted(config.REGIONS)
    assert {line.quantity for line in fires} == {1440 * 30 / cost_model.MILLION}


def test_a_heartbeat_the_profile_does_not_describe_is_an_error(
    synthesized_with_domain: SynthesizedApp, profile: dict[str, object], prices: dict[str, object]
) -> None:
    stacks = cost_model.load_templates(synthesized_with_domain.outdir)
    with pytest.raises(cost_model.CostModelError, match=r"heartbeat\.fires_per_day says 288"):
        cost_model.estimate(
            stacks, {**profile, "heartbeat": {"fires_per_day": 288, "jobs_write_units": 1}}, prices
        )


@pytest.mark.parametrize(
    ("expression", "per_day"),
    [("rate(1 minute)", 1440), ("rate(5 minutes)", 288), ("rate(2 hours)", 12), ("rate(1 day)", 1)],
)
def test_fires_per_day_of_a_rate_expression(expression: str, per_day: float) -> None:
    assert cost_model.fires_per_day(expression) == per_day


def test_a_cron_service_schedule_is_an_error_naming_it() -> None:
    with pytest.raises(cost_model.CostModelError, match=r"cron\(0 \* \* \* \? \*\)"):
        cost_model.fires_per_day("cron(0 * * * ? *)")


def test_access_log_bytes_follow_the_stage_format(
    profile: dict[str, object], prices: dict[str, object]
) -> None:
    model = cost_model.Model(profile, prices)
    # {"status":"xxx"} is 16 characters, plus the line end
    assert cost_model.access_log_bytes(model, '{"status":"$context.status"}') == 17
    with pytest.raises(cost_model.CostModelError, match=r"\$context.identity.userAgent"):
        cost_model.access_log_bytes(model, '{"ua":"$context.identity.userAgent"}')


def _request_metrics_line(status: int, durations_ms: list[float]) -> bytes:
    """The line the API functions' telemetry writes for these requests of one status (with its line end)."""
    lines: list[str] = []
    metrics = telemetry.ApiRequestMetrics(0, now=lambda: 0.0, write=lines.append)
    for duration in durations_ms:
        metrics.add(status, duration)
    metrics.flush_due()
    (line,) = lines
    return (line + "\n").encode()


def test_the_api_request_metrics_bytes_are_what_the_telemetry_writes(profile: dict[str, Any]) -> None:
    """document_bytes and bytes_per_value (load profile) against documents of 1 and 100 requests."""
    figures = profile["logs"]["api_request_metrics"]
    assert figures["values_per_document"] == telemetry.MAX_VALUES_PER_DOCUMENT
    for status in (200, 404, 503):
        one = len(_request_metrics_line(status, [31.7]))
        full = len(_request_metrics_line(status, [31.7] * 100))
        per_value = (full - one) / 99
        assert per_value == pytest.approx(figures["bytes_per_value"], abs=0.05), status
        assert full - 100 * per_value == pytest.approx(figures["document_bytes"], abs=1), status


def test_the_custom_metrics_priced_are_the_series_the_code_declares(
    profile: dict[str, Any], estimate: cost_model.Estimate
) -> None:
    """One line a regional stack, its quantity telemetry's count (no hand-kept figure in the profile)."""
    assert "custom_metric_series_per_region" not in profile
    lines = [line for line in estimate.months[12] if line.item == "CloudWatch custom metrics (EMF series)"]
    assert sorted(line.region for line in lines) == sorted(profile["region_shares"])
    assert {line.quantity for line in lines} == {telemetry.custom_metric_series()} == {19}


def test_the_api_functions_pay_a_value_and_a_share_of_a_document_per_request(
    profile: dict[str, Any], prices: dict[str, Any]
) -> None:
    model = cost_model.Model(profile, prices)
    figures = profile["logs"]["api_request_metrics"]
    per_request = figures["bytes_per_value"] + figures["document_bytes"] / figures["values_per_document"]
    for name in ("JobApiFunction", "ScheduleApiFunction", "ExecutionsApiFunction"):
        assert cost_model.emf_bytes_per_invocation(model, name) == pytest.approx(per_request), name
    assert cost_model.emf_bytes_per_invocation(model, "AuthorizerFunction") == 0
    default = profile["logs"]["metrics_bytes_per_invocation"]
    assert cost_model.emf_bytes_per_invocation(model, "ExecutorFunction") == default


def _authorizer_calls(result: cost_model.Estimate) -> dict[str, float]:
    return {
        line.region: line.quantity * cost_model.MILLION
        for line in result.months[12]
        if line.resource == "AuthorizerFunction" and line.item == "Lambda requests"
    }


def test_an_uncached_authorizer_is_priced_at_every_request(
    estimate: cost_model.Estimate, profile: dict[str, Any], prices: dict[str, Any]
) -> None:
    model = cost_model.Model(profile, prices)
    calls = _authorizer_calls(estimate)
    assert set(calls) == set(config.REGIONS)
    for region, count in calls.items():
        assert count == pytest.approx(model.loads[region].requests)
        assert count > 0


def test_a_cached_authorizer_is_priced_once_per_caller_and_ttl(
    synthesized_with_domain: SynthesizedApp, profile: dict[str, Any], prices: dict[str, Any]
) -> None:
    stacks = [
        cost_model.StackTemplate(
            name=stack.name,
            region=stack.region,
            resources={
                lid: (
                    {**res, "Properties": {**res["Properties"], "AuthorizerResultTtlInSeconds": 300}}
                    if res["Type"] == "AWS::ApiGateway::Authorizer"
                    else res
                )
                for lid, res in stack.resources.items()
            },
        )
        for stack in cost_model.load_templates(synthesized_with_domain.outdir)
    ]
    calls = _authorizer_calls(cost_model.estimate(stacks, profile, prices))
    keys = profile["api"]["api_keys_in_use"]
    for region, count in calls.items():
        assert count == pytest.approx(keys * profile["region_shares"][region] * 30 * 86400 / 300)


def test_a_client_token_request_a_client_and_day_is_priced(
    estimate: cost_model.Estimate, profile: dict[str, Any]
) -> None:
    (tokens,) = [line for line in estimate.months[12] if "token requests" in line.item]
    assert tokens.quantity * 1000 == profile["identity"]["oauth_clients"] * 30


def test_the_jobs_table_is_priced_by_the_capacity_it_provisions(estimate: cost_model.Estimate) -> None:
    """Provisioned: capacity-hours of the table and its index in every replica, writes as replicated write
    capacity (every replica carries every region's writes); no per-request lines."""
    jobs = [line for line in estimate.months[12] if line.resource.startswith(config.JOBS_TABLE)]
    assert not [line for line in jobs if line.item.endswith(("write units", "read units"))]
    capacity = [line for line in jobs if line.item.startswith("DynamoDB provisioned")]
    for region in config.REGIONS:
        here = {line.item.split(" (")[0]: line for line in capacity if line.region == region}
        assert set(here) == {
            "DynamoDB provisioned write capacity",
            "DynamoDB provisioned read capacity",
            f"DynamoDB provisioned {config.GSI1} write capacity",
            f"DynamoDB provisioned {config.GSI1} read capacity",
        }
        assert here["DynamoDB provisioned write capacity"].unit == "rWCU-hours"
        for line in here.values():
            assert line.quantity >= 5 * 24 * 30  # never below the floor
    writes = {line.quantity for line in capacity if line.item.startswith("DynamoDB provisioned write")}
    assert len(writes) == 1  # the same write capacity in every replica


def test_provisioned_capacity_follows_the_day_at_the_target_between_floor_and_maximum(
    profile: dict[str, Any], prices: dict[str, Any]
) -> None:
    model = cost_model.Model(profile, prices)
    month = model.seconds
    # steady 35 units/s at 70%: 50 units every hour
    assert cost_model.capacity_hours(model, 35 * month, 0, (25, 1000, 0.7), "t") == pytest.approx(50 * 720)
    # below the floor: the floor
    assert cost_model.capacity_hours(model, 7 * month, 0, (25, 1000, 0.7), "t") == pytest.approx(25 * 720)
    # 10 units/s on average following the API's day: 30/s for the 6 peak hours, 10/3 for the other 18;
    # capacity falls an hour after the peak ends
    assert cost_model.day_shape(model) == [3.0] * 6 + [pytest.approx(1 / 3)] * 18
    hours = cost_model.capacity_hours(model, 0, 10 * month, (1, 1000, 0.7), "t")
    assert hours == pytest.approx((7 * 30 / 0.7 + 17 * (10 / 3) / 0.7) * 30)


def test_a_maximum_that_cannot_carry_the_peak_is_an_error(
    synthesized_with_domain: SynthesizedApp, profile: dict[str, Any], prices: dict[str, Any]
) -> None:
    def lowered(resource: dict[str, Any]) -> dict[str, Any]:
        if resource["Type"] != "AWS::DynamoDB::GlobalTable" or resource["Properties"]["TableName"] != (
            config.JOBS_TABLE
        ):
            return resource
        changed = json.loads(json.dumps(resource))
        for replica in changed["Properties"]["Replicas"]:
            replica["ReadProvisionedThroughputSettings"]["ReadCapacityAutoScalingSettings"]["MaxCapacity"] = (
                100
            )
        return dict(changed)

    stacks = [
        cost_model.StackTemplate(
            name=stack.name,
            region=stack.region,
            resources={lid: lowered(dict(res)) for lid, res in stack.resources.items()},
        )
        for stack in cost_model.load_templates(synthesized_with_domain.outdir)
    ]
    with pytest.raises(
        cost_model.CostModelError, match=r"jobsched-jobs read capacity .*above the maximum 100"
    ):
        cost_model.estimate(stacks, profile, prices)


def test_the_executions_tables_are_priced_by_the_capacity_they_provision(
    estimate: cost_model.Estimate,
) -> None:
    """Each region's own table: capacity-hours of the table and its index (no replicated units), and the read
    capacity auto scaling adds while the archive's paced scan reads; no per-request lines."""
    executions = [
        line for line in estimate.months[12] if line.resource == f"{config.EXECUTIONS_TABLE} (table)"
    ]
    assert not [line for line in executions if line.item.endswith(("write units", "read units"))]
    for region in config.REGIONS:
        here = {
            line.item.split(" (")[0]: line
            for line in executions
            if line.region == region and line.item.startswith("DynamoDB provisioned")
        }
        assert set(here) == {
            "DynamoDB provisioned write capacity",
            "DynamoDB provisioned read capacity",
            f"DynamoDB provisioned {config.GSI1} write capacity",
            f"DynamoDB provisioned {config.GSI1} read capacity",
            "DynamoDB provisioned read capacity for the archive scans",
        }
        assert here["DynamoDB provisioned write capacity"].unit == "WCU-hours"
        # writes are steady and under the floor's use: the floor, every hour
        floor = tables.EXECUTIONS_CAPACITY.writes.minimum
        assert here["DynamoDB provisioned write capacity"].quantity == pytest.approx(floor * 24 * 30)
        assert here["DynamoDB provisioned read capacity for the archive scans"].quantity > 0


def _pacing_changed(stacks: list[cost_model.StackTemplate], rate: str) -> list[cost_model.StackTemplate]:
    def changed(lid: str, resource: dict[str, Any]) -> dict[str, Any]:
        if resource["Type"] != "AWS::Lambda::Function" or not lid.startswith("FunctionsArchiverFunction"):
            return resource
        copy = json.loads(json.dumps(resource))
        copy["Properties"]["Environment"]["Variables"]["ARCHIVE_READ_UNITS_PER_SECOND"] = rate
        return dict(copy)

    return [
        cost_model.StackTemplate(
            name=s.name,
            region=s.region,
            resources={lid: changed(lid, dict(r)) for lid, r in s.resources.items()},
        )
        for s in stacks
    ]


def test_the_archive_scan_is_priced_at_the_rate_the_template_sets(
    synthesized_with_domain: SynthesizedApp, profile: dict[str, Any], prices: dict[str, Any]
) -> None:
    """The archiver's compute waits for its read rate: half the rate, twice the seconds; the scan's extra
    read capacity is its units at the run's rate (segment rate x the event source's maximum concurrency)."""
    stacks = cost_model.load_templates(synthesized_with_domain.outdir)
    model = cost_model.Model(profile, prices)
    cost_model.price_month(model, stacks, 12)
    pacing = model.pacing("us-east-1")
    assert pacing.units_per_second == config.ARCHIVE_READ_UNITS_PER_SECOND
    assert pacing.concurrency == ARCHIVER_MAX_CONCURRENCY
    assert pacing.timeout_seconds == config.ARCHIVER_TIMEOUT_SECONDS
    units = model.archive_scan_units("us-east-1", 12)
    assert model.archive_run_seconds("us-east-1", 12) == pytest.approx(units / pacing.run_units_per_second)

    def waiting(lines: list[cost_model.Line]) -> float:
        (line,) = [x for x in lines if x.region == "us-east-1" and "paced archive scans" in x.item]
        return line.quantity

    slower = cost_model.estimate(_pacing_changed(stacks, "12.5"), profile, prices)
    normal = cost_model.estimate(stacks, profile, prices)
    assert waiting(slower.months[12]) == pytest.approx(2 * waiting(normal.months[12]))


def test_a_rate_too_slow_for_the_runs_schedule_is_an_error(
    synthesized_with_domain: SynthesizedApp, profile: dict[str, Any], prices: dict[str, Any]
) -> None:
    stacks = _pacing_changed(cost_model.load_templates(synthesized_with_domain.outdir), "1")
    with pytest.raises(cost_model.CostModelError, match=r"archive (run|segment) in .* more than half"):
        cost_model.estimate(stacks, profile, prices)


def test_a_paced_scan_adds_its_rate_over_the_target_while_it_reads(
    profile: dict[str, Any], prices: dict[str, Any]
) -> None:
    model = cost_model.Model(profile, prices)
    # nothing else read: 50 units/s for 10 h a month in 2 runs, at 70% above a floor of 5
    hours = cost_model.paced_scan_hours(model, 0, 0, (5, 1000, 0.7), (50, 10, 2), "t")
    assert hours == pytest.approx((10 + 2 * cost_model.SCALE_IN_HOURS) * (50 / 0.7 - 5))
    # a floor that carries the scan adds nothing
    assert cost_model.paced_scan_hours(model, 0, 0, (100, 1000, 0.7), (50, 10, 2), "t") == 0
    with pytest.raises(cost_model.CostModelError, match="above the maximum 60"):
        cost_model.paced_scan_hours(model, 0, 0, (5, 60, 0.7), (50, 10, 2), "t")
