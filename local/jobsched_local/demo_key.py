"""The demo API key the runtime prints: made once through the KeyService, then the same one on every start."""

from __future__ import annotations

import os
from pathlib import Path

from jobsched.config import Role, Tier
from jobsched.keys.models import KeyService, KeyStatus, KeyStore, hash_key

DEMO_TENANT = "demo"
DEMO_KEY_FILE = "demo-key"


def ensure_demo_key(state_dir: Path, service: KeyService, store: KeyStore) -> str:
    """The stored demo key if it still works, else a new one (admin, premium) whose value is then stored."""
    path = state_dir / DEMO_KEY_FILE
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        record = store.get_by_hash(hash_key(value)) if value else None
        if record is not None and record.status is KeyStatus.ACTIVE:
            return value
    _, value = service.create(DEMO_TENANT, Tier.PREMIUM, Role.ADMIN)
    state_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(value + "\n", encoding="utf-8")
    # It is a credential, if only for the local runtime: readable by its owner only.
    os.chmod(path, 0o600)
    return value
