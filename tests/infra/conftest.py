"""Synthesizes the whole CDK app once per test session, with cdk.json's context, into a temporary cdk.out."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# jsii prints an end-of-life banner for Node 20 on every start unless told not to.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Template

from app import build_app
from infra import paths
from infra.stacks.data_stack import data_stack_name
from infra.stacks.regional_stack import regional_stack_name
from jobsched import config

VALIDATION_REPORT = "validation-report.json"
# What an operator adds with -c on the command line to put the regions behind one global name.
DOMAIN_CONTEXT = {
    "domain_name": "api.example.com",
    "hosted_zone_id": "Z0123456789ABC",
    "hosted_zone_name": "example.com",
}


def load_cdk_json() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(paths.CDK_JSON.read_text())
    return loaded


@dataclass(frozen=True)
class SynthesizedApp:
    outdir: Path
    stack_names: tuple[str, ...]

    def template_path(self, stack_name: str) -> Path:
        return self.outdir / f"{stack_name}.template.json"

    def template_json(self, stack_name: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.template_path(stack_name).read_text())
        return loaded

    def template(self, stack_name: str) -> Template:
        return Template.from_json(self.template_json(stack_name))

    def validation_report(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.outdir / VALIDATION_REPORT).read_text())
        return loaded


def _failed_validation_summary(outdir: Path) -> str:
    report_path = outdir / VALIDATION_REPORT
    if not report_path.exists():
        return "no validation report was written"
    report = json.loads(report_path.read_text())
    lines = [
        f"{violation['ruleName']}: {construct['constructPath']}"
        for plugin in report.get("pluginReports", [])
        for violation in plugin.get("violations", [])
        for construct in violation.get("violatingConstructs", [])
    ]
    return "\n".join(lines)


@pytest.fixture(scope="session")
def cdk_json() -> dict[str, Any]:
    return load_cdk_json()


def synthesize(tmp_path_factory: pytest.TempPathFactory, extra_context: dict[str, Any]) -> SynthesizedApp:
    outdir = tmp_path_factory.mktemp("cdk.out")
    with pytest.MonkeyPatch.context() as env:
        # Offline and deterministic: the account stays a token as it does on any machine without credentials.
        env.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
        env.delenv("CDK_DEFAULT_REGION", raising=False)
        app = build_app(context={**load_cdk_json()["context"], **extra_context}, outdir=str(outdir))
        try:
            assembly = app.synth()
        except RuntimeError as exc:
            pytest.fail(f"synth failed: {exc}\n{_failed_validation_summary(outdir)}")
    return SynthesizedApp(outdir=outdir, stack_names=tuple(stack.stack_name for stack in assembly.stacks))


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynthesizedApp]:
    yield synthesize(tmp_path_factory, {})


@pytest.fixture(scope="session")
def synthesized_with_domain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynthesizedApp]:
    """The app as `cdk synth -c domain_name=... -c hosted_zone_id=... -c hosted_zone_name=...` makes it."""
    yield synthesize(tmp_path_factory, DOMAIN_CONTEXT)


@pytest.fixture(scope="session", params=["default context", "with the global domain"])
def every_synth(request: pytest.FixtureRequest) -> SynthesizedApp:
    """Both ways the app is synthesized: cdk.json's context alone, and with the global domain added."""
    fixture = "synthesized" if request.param == "default context" else "synthesized_with_domain"
    found: SynthesizedApp = request.getfixturevalue(fixture)
    return found


@pytest.fixture(scope="session")
def data_stack_template(synthesized: SynthesizedApp) -> Template:
    return synthesized.template(data_stack_name(config.PRIMARY_REGION))


@pytest.fixture(scope="session")
def regional_templates(synthesized: SynthesizedApp) -> dict[str, Template]:
    return {region: synthesized.template(regional_stack_name(region)) for region in config.REGIONS}


# Per-region views of the default synth, for the tests of one regional stack at a time.
@pytest.fixture(params=config.REGIONS)
def region(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def template(regional_templates: dict[str, Template], region: str) -> Template:
    return regional_templates[region]


@pytest.fixture
def resources(template: Template) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = template.to_json()["Resources"]
    return found
