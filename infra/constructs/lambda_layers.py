"""The two Lambda layers: pinned third-party packages, and the jobsched domain package.

Both are built by CDK *local* bundling, because there is no Docker engine on developer machines or in CI.
The Docker image named in the bundling options only satisfies the API: it is never pulled, since the
local bundlers always succeed or raise.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import paths

LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_13
LAMBDA_ARCHITECTURE = lambda_.Architecture.ARM_64

# What pip must fetch for: the Lambda runtime above, not the machine running the synth.
PIP_TARGET_ARGS: tuple[str, ...] = (
    "--platform",
    "manylinux2014_aarch64",
    "--only-binary=:all:",
    "--python-version",
    "3.13",
    "--implementation",
    "cp",
)
NEVER_PULLED_IMAGE = DockerImage.from_registry("local-bundling-only")
LAYER_PYTHON_DIR = "python"  # Lambda puts <layer>/python on sys.path
SKIPPED_FILES = ("__pycache__", "*.pyc")


class LayerBundlingError(RuntimeError):
    """Raised when a layer cannot be built locally; synth stops rather than ship a broken layer."""


@jsii.implements(ILocalBundling)
class PipInstallBundling:
    """Installs a requirements file for the Lambda platform with the pip of the running interpreter."""

    def __init__(self, requirements: Path) -> None:
        self.requirements = requirements

    def try_bundle(self, output_dir: str, *_options: Any, **_keyword_options: Any) -> bool:
        # jsii hands the bundling options over as one positional struct; nothing here needs them.
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            # Bytecode compiled by the synth machine's Python would not match python3.13 anyway.
            "--no-compile",
            # The requirements pin the whole closure; without this, aws-xray-sdk would pull in botocore and
            # shadow the runtime's own (mismatching the runtime's boto3).
            "--no-deps",
            *PIP_TARGET_ARGS,
            "--requirement",
            str(self.requirements),
            "--target",
            str(Path(output_dir) / LAYER_PYTHON_DIR),
        ]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if completed.returncode != 0:
            raise LayerBundlingError(f"pip could not build the deps layer:\n{completed.stderr}")
        return True


@jsii.implements(ILocalBundling)
class CopyPackageBundling:
    """Copies a Python package into the layer's python/ directory, leaving caches behind."""

    def __init__(self, package_dir: Path) -> None:
        self.package_dir = package_dir

    def try_bundle(self, output_dir: str, *_options: Any, **_keyword_options: Any) -> bool:
        # jsii hands the bundling options over as one positional struct; nothing here needs them.
        destination = Path(output_dir) / LAYER_PYTHON_DIR / self.package_dir.name
        shutil.copytree(self.package_dir, destination, ignore=shutil.ignore_patterns(*SKIPPED_FILES))
        return True


def requirements_hash(requirements: Path) -> str:
    """Fingerprint of what the deps layer is built from: unchanged pins reuse the bundle in cdk.out."""
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(" ".join(PIP_TARGET_ARGS).encode())
    return digest.hexdigest()


class LambdaLayers(Construct):
    """The deps layer and the domain layer every function of the service runs with."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.deps_layer = lambda_.LayerVersion(
            self,
            "DepsLayer",
            description="jobsched third-party packages (layers/requirements.txt)",
            compatible_runtimes=[LAMBDA_RUNTIME],
            compatible_architectures=[LAMBDA_ARCHITECTURE],
            code=lambda_.Code.from_asset(
                str(paths.LAYERS_DIR),
                # A custom hash of the pins alone: edits to the domain package next door do not re-run pip.
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=requirements_hash(paths.LAYER_REQUIREMENTS),
                bundling=BundlingOptions(
                    image=NEVER_PULLED_IMAGE, local=PipInstallBundling(paths.LAYER_REQUIREMENTS)
                ),
            ),
        )
        self.domain_layer = lambda_.LayerVersion(
            self,
            "DomainLayer",
            description="jobsched domain package (layers/jobsched)",
            compatible_runtimes=[LAMBDA_RUNTIME],
            compatible_architectures=[LAMBDA_ARCHITECTURE],
            code=lambda_.Code.from_asset(
                str(paths.DOMAIN_PACKAGE_DIR),
                asset_hash_type=AssetHashType.SOURCE,
                exclude=list(SKIPPED_FILES),
                bundling=BundlingOptions(
                    image=NEVER_PULLED_IMAGE, local=CopyPackageBundling(paths.DOMAIN_PACKAGE_DIR)
                ),
            ),
        )

    @property
    def layers(self) -> list[lambda_.ILayerVersion]:
        return [self.deps_layer, self.domain_layer]
