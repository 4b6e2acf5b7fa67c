"""The release pipeline: synthesized only when the context names it; source -> make test -> staging with a
smoke test -> manual approval -> us-east-1 -> eu-west-1 and ap-south-1, each followed by the smoke test."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from infra.config import InfraConfig, InfraConfigError
from infra.stacks.pipeline_stack import PIPELINE_STACK_NAME, wildcard_findings
from tests.infra.conftest import SynthesizedApp, synthesize

PIPELINE = {
    "connection_arn": (
        "arn:aws:codeconnections:us-east-1:111111111111:connection/0f1e2d3c-aaaa-bbbb-cccc-1234567890ab"
    ),
    "repository": "example-org/jobsched",
    "branch": "main",
    "account": "111111111111",
    "staging_account": "222222222222",
    "smoke_target_url": "https://hooks.example.com/jobsched-smoke",
}
SMOKE_COMMAND = 'python3 tools/smoke_test.py "$API_URL" "$SMOKE_API_KEY" --target-url "$SMOKE_TARGET_URL"'


@pytest.fixture(scope="module")
def with_pipeline(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    return synthesize(tmp_path_factory, {"pipeline": PIPELINE})


@pytest.fixture(scope="module")
def pipeline_template(with_pipeline: SynthesizedApp) -> dict[str, Any]:
    return with_pipeline.template_json(PIPELINE_STACK_NAME)


def _stages(template: dict[str, Any]) -> list[dict[str, Any]]:
    [pipeline] = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    stages: list[dict[str, Any]] = pipeline["Properties"]["Stages"]
    return stages


def _actions(stage: dict[str, Any]) -> list[tuple[str, str, int]]:
    ordered = sorted(stage["Actions"], key=lambda action: (action["RunOrder"], action["Name"]))
    return [(a["Name"], a["ActionTypeId"]["Provider"], a["RunOrder"]) for a in ordered]


def _build_spec(template: dict[str, Any], project_id: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(template["Resources"][project_id]["Properties"]["Source"]["BuildSpec"])
    return spec


def test_without_pipeline_context_no_pipeline_is_synthesized(synthesized: SynthesizedApp) -> None:
    assert PIPELINE_STACK_NAME not in synthesized.stack_names


def test_the_pipeline_runs_in_order_staging_approval_then_production_waves(
    pipeline_template: dict[str, Any],
) -> None:
    stages = _stages(pipeline_template)
    assert [stage["Name"] for stage in stages] == [
        "Source",
        "Build",
        "UpdatePipeline",
        "Assets",
        "Staging",
        "Production-us-east-1",
        "Production-eu-west-1-ap-south-1",
    ]
    by_name = {stage["Name"]: stage for stage in stages}
    [source] = by_name["Source"]["Actions"]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["FullRepositoryId"] == "example-org/jobsched"
    assert source["Configuration"]["BranchName"] == "main"
    assert _actions(by_name["Staging"]) == [
        ("jobsched-data-us-east-1.Prepare", "CloudFormation", 1),
        ("jobsched-data-us-east-1.Deploy", "CloudFormation", 2),
        ("jobsched-us-east-1.Prepare", "CloudFormation", 3),
        ("jobsched-us-east-1.Deploy", "CloudFormation", 4),
        ("SmokeTest-Staging", "CodeBuild", 5),
    ]
    assert _actions(by_name["Production-us-east-1"]) == [
        ("PromoteToProduction", "Manual", 1),
        ("jobsched-data-us-east-1.Prepare", "CloudFormation", 2),
        ("jobsched-data-us-east-1.Deploy", "CloudFormation", 3),
        ("jobsched-us-east-1.Prepare", "CloudFormation", 4),
        ("jobsched-us-east-1.Deploy", "CloudFormation", 5),
        ("SmokeTest-Production-us-east-1", "CodeBuild", 6),
    ]
    second_wave = _actions(by_name["Production-eu-west-1-ap-south-1"])
    assert [name for name, _, order in second_wave if order == 3] == [
        "Production-ap-south-1.SmokeTest-Production-ap-south-1",
        "Production-eu-west-1.SmokeTest-Production-eu-west-1",
    ]
    regions = {a.get("Region") for a in by_name["Production-eu-west-1-ap-south-1"]["Actions"]}
    assert regions == {"eu-west-1", "ap-south-1", None}


def test_staging_deploys_to_its_own_account(pipeline_template: dict[str, Any]) -> None:
    staging = next(stage for stage in _stages(pipeline_template) if stage["Name"] == "Staging")
    roles = json.dumps([action.get("RoleArn") for action in staging["Actions"]])
    assert "222222222222" in roles and "111111111111" not in roles


def test_synth_runs_make_test_and_each_smoke_test_runs_the_script_against_its_stage(
    pipeline_template: dict[str, Any],
) -> None:
    by_name = {stage["Name"]: stage for stage in _stages(pipeline_template)}
    [synth] = by_name["Build"]["Actions"]
    synth_spec = _build_spec(pipeline_template, synth["Configuration"]["ProjectName"]["Ref"])
    assert synth_spec["phases"]["build"]["commands"] == ["make test", "npx --no-install cdk synth"]
    assert synth_spec["phases"]["install"]["runtime-versions"]["python"] == "3.11"
    smoke_actions = [
        action
        for stage in _stages(pipeline_template)
        for action in stage["Actions"]
        if "SmokeTest" in action["Name"]
    ]
    assert len(smoke_actions) == 4
    for action in smoke_actions:
        project = pipeline_template["Resources"][action["Configuration"]["ProjectName"]["Ref"]]
        spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
        assert spec["phases"]["build"]["commands"] == [SMOKE_COMMAND]
        variables = {v["Name"]: v for v in project["Properties"]["Environment"]["EnvironmentVariables"]}
        assert variables["SMOKE_API_KEY"]["Type"] == "SECRETS_MANAGER"
        # The stage's ApiUrl output reaches the step as API_URL (CDK Pipelines passes it as a variable).
        assert "API_URL" in action["Configuration"]["EnvironmentVariables"]


def test_the_smoke_script_exists_where_the_pipeline_runs_it() -> None:
    assert (Path(__file__).resolve().parents[2] / "tools" / "smoke_test.py").is_file()


def test_make_pipeline_deploys_the_pipeline_stack() -> None:
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    recipe = re.search(r"^pipeline:.*\n\t(.*)$", makefile, re.MULTILINE)

    assert recipe is not None
    words = recipe.group(1).split()
    assert "deploy" in words and words[-1] == PIPELINE_STACK_NAME


def test_the_make_test_the_build_runs_holds_the_90_percent_coverage_floor() -> None:
    root = Path(__file__).resolve().parents[2]
    makefile = (root / "Makefile").read_text()
    test_prerequisites = re.search(r"^test:(.*)$", makefile, re.MULTILINE)
    pytest_recipe = re.search(r"^pytest:.*\n\t(.*)$", makefile, re.MULTILINE)
    coverage = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["coverage"]

    assert test_prerequisites is not None and "pytest" in test_prerequisites.group(1).split()
    assert pytest_recipe is not None and "--cov" in pytest_recipe.group(1).split()
    assert coverage["report"]["fail_under"] >= 90
    assert {"layers", "functions", "local"} <= set(coverage["run"]["source"])


@pytest.mark.parametrize(
    "change",
    [
        {"account": "12345"},
        {"staging_account": PIPELINE["account"]},
        {"connection_arn": "arn:aws:iam::111111111111:role/x"},
        {"repository": "no-owner"},
        {"smoke_target_url": "http://plain.example.com"},
        {"staging_region": "sa-east-1"},
    ],
)
def test_an_invalid_pipeline_context_is_refused(change: dict[str, str]) -> None:
    with pytest.raises(InfraConfigError, match="pipeline"):
        InfraConfig.from_context({"pipeline": {**PIPELINE, **change}})


def test_wildcard_findings_are_spelled_as_cdk_nag_prints_them() -> None:
    document = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject*", "s3:PutObject"],
                "Resource": [{"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/*"]]}, {"Ref": "Topic"}],
            },
            {"Effect": "Deny", "Action": "kms:*", "Resource": "*"},
        ]
    }
    assert wildcard_findings(document) == [
        "AwsSolutions-IAM5[Action::s3:GetObject*]",
        "AwsSolutions-IAM5[Resource::<Bucket.Arn>/*]",
    ]


def test_the_pipeline_synth_passes_cdk_nag(with_pipeline: SynthesizedApp) -> None:
    report = with_pipeline.validation_report()
    assert [p for p in report["pluginReports"] if p.get("conclusion") != "success"] == []


def test_every_pipeline_acknowledgment_still_matches_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import build_app
    from tests.infra.conftest import load_cdk_json
    from tests.infra.test_template_checks import dead_acknowledgments

    context = {**load_cdk_json()["context"], "pipeline": PIPELINE}
    monkeypatch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
    dead = dead_acknowledgments(lambda outdir: build_app(context=context, outdir=outdir), monkeypatch)
    assert dead == set()


def test_the_pipeline_context_may_come_as_one_json_string_from_the_command_line() -> None:
    parsed = InfraConfig.from_context({"pipeline": json.dumps(PIPELINE)})
    assert parsed.pipeline is not None and parsed.pipeline.repository == "example-org/jobsched"
    with pytest.raises(InfraConfigError, match="pipeline"):
        InfraConfig.from_context({"pipeline": "not json"})
