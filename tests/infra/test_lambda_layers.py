"""The layers and function code are bundled locally, for python3.13 on arm64, without Docker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra import paths
from infra.constructs.lambda_layers import requirements_hash
from infra.stacks.regional_stack import regional_stack_name
from jobsched import config

LAYER = "AWS::Lambda::LayerVersion"
FUNCTION = "AWS::Lambda::Function"


def _asset_dirs(synthesized: Any, region: str, resource_type: str) -> dict[str, Path]:
    """Logical id of each layer or function -> the directory its code was bundled or staged into."""
    template = synthesized.template_json(regional_stack_name(region))
    staged: dict[str, Path] = {}
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        code = properties.get("Content") or properties.get("Code")
        if resource["Type"] == resource_type and code:
            asset_hash = code["S3Key"].removesuffix(".zip")
            staged[logical_id] = synthesized.outdir / f"asset.{asset_hash}"
    return staged


def _asset_dir(synthesized: Any, suffix: str) -> Path:
    layers = _asset_dirs(synthesized, config.PRIMARY_REGION, LAYER)
    matches = [path for key, path in layers.items() if suffix in key]
    assert len(matches) == 1, f"expected one asset for {suffix}, found {matches}"
    return matches[0]


def test_deps_layer_holds_the_pinned_packages_built_for_python313_arm64(synthesized: Any) -> None:
    python_dir = _asset_dir(synthesized, "DepsLayer") / "python"

    assert (python_dir / "aws_lambda_powertools").is_dir()
    assert (python_dir / "pydantic-2.14.3.dist-info").is_dir()
    compiled = list((python_dir / "pydantic_core").glob("_pydantic_core.*.so"))
    assert [path.name for path in compiled] == ["_pydantic_core.cpython-313-aarch64-linux-gnu.so"]
    # boto3 comes with the Lambda runtime; shipping it would only grow the layer.
    assert not (python_dir / "boto3").exists()
    # Tracer needs the X-Ray SDK; its botocore dependency must not shadow the runtime's (--no-deps).
    assert (python_dir / "aws_xray_sdk").is_dir()
    assert not (python_dir / "botocore").exists()
    # The authorizer's token check: PyJWT with cryptography's arm64 build (RS256).
    assert (python_dir / "jwt").is_dir()
    assert list((python_dir / "cryptography" / "hazmat" / "bindings").glob("_rust*.so"))
    assert not any(python_dir.rglob("*.pyc"))


def test_domain_layer_is_the_jobsched_package_without_caches(synthesized: Any) -> None:
    package_dir = _asset_dir(synthesized, "DomainLayer") / "python" / "jobsched"

    assert (package_dir / "config.py").read_text() == (paths.DOMAIN_PACKAGE_DIR / "config.py").read_text()
    assert (package_dir / "jobs" / "adapters" / "job_store.py").is_file()
    assert not list(package_dir.rglob("__pycache__"))


@pytest.mark.parametrize("code_dir", ["health", "authorizer", "job_api"])
def test_function_code_is_its_handler_folder(synthesized: Any, code_dir: str) -> None:
    matches = [
        path
        for path in _asset_dirs(synthesized, config.PRIMARY_REGION, FUNCTION).values()
        if (path / "handler.py").read_text() == (paths.FUNCTIONS_DIR / code_dir / "handler.py").read_text()
    ]
    assert len(matches) == 1


def test_all_regions_share_one_bundle_per_layer(synthesized: Any) -> None:
    layer_assets = {
        region: sorted(str(path) for path in _asset_dirs(synthesized, region, LAYER).values())
        for region in config.REGIONS
    }

    assert len({json.dumps(assets) for assets in layer_assets.values()}) == 1
    assert len(layer_assets[config.PRIMARY_REGION]) == 2


def test_deps_layer_hash_follows_the_pins_only(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(paths.LAYER_REQUIREMENTS.read_text())
    unchanged = requirements_hash(requirements)

    assert unchanged == requirements_hash(paths.LAYER_REQUIREMENTS)
    requirements.write_text(paths.LAYER_REQUIREMENTS.read_text() + "six==1.17.0\n")
    assert requirements_hash(requirements) != unchanged
