"""Where the CDK app finds the code it packages, independent of the directory it is started from."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = REPO_ROOT / "cdk.json"
LAYERS_DIR = REPO_ROOT / "layers"
DOMAIN_PACKAGE_DIR = LAYERS_DIR / "jobsched"
LAYER_REQUIREMENTS = LAYERS_DIR / "requirements.txt"
FUNCTIONS_DIR = REPO_ROOT / "functions"
