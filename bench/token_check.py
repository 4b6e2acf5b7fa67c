"""What a bearer token costs the authorizer, in-process: importing the token path, then each check.

Signs tokens with a throwaway local issuer and checks them as the authorizer does (RS256 signature,
iss/exp/nbf/aud, claims to principal); the JWKS is given directly, so no network is timed, and the
tenant's usage key comes from memory, so no DynamoDB either: what remains is the token check's own CPU.

    .venv/bin/python bench/token_check.py [--iterations 2000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers"), str(ROOT / "local")]

# What the token path adds to a cold start: jobsched.api.auth (which key callers load too) comes first.
IMPORT_PROBE = (
    "import time, jobsched.api.auth; t = time.perf_counter(); import jobsched.api.tokens; "
    "print((time.perf_counter() - t) * 1000)"
)


def import_ms() -> float:
    """A fresh interpreter's import of the token path beyond what every caller loads (PyJWT, cryptography)."""
    runs = []
    for _ in range(5):
        done = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE],
            env={"PYTHONPATH": str(ROOT / "layers")},
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(float(done.stdout.strip()))
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()

    import jwt

    from jobsched.api.tokens import TokenSettings, TokenVerifier
    from jobsched.config import Tier
    from jobsched.keys.models import TenantUsageKey
    from jobsched_local.token_issuer import LOCAL_AUDIENCE, LocalIssuer

    class Usage:
        def get_usage_key(self, tenant: str) -> TenantUsageKey:
            return TenantUsageKey(tenant=tenant, key_id="key_usage", tier=Tier.STANDARD, value="jsk_usage")

    with tempfile.TemporaryDirectory() as state:
        issuer = LocalIssuer(Path(state), "http://127.0.0.1:8080")
        key = jwt.PyJWK(issuer.public_jwk).key

        class Keys:
            def key_for(self, token: str) -> Any:
                return key

        verifier = TokenVerifier(
            TokenSettings(issuer=issuer.issuer_url, audience=(LOCAL_AUDIENCE,), jwks_url=issuer.jwks_url),
            Keys(),
        )
        token = issuer.user_token("acme", "operator", tags={"team": "billing"})
        timings = []
        for _ in range(args.iterations):
            started = time.perf_counter()
            verifier.principal(verifier.verify(token), Usage(), None)  # type: ignore[arg-type]
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p50, p99 = timings[len(timings) // 2], timings[int(len(timings) * 0.99)]
    print(f"import added by the token path (fresh interpreter, median of 5): {import_ms():.0f} ms")
    print(f"check of one user token ({args.iterations} runs): p50 {p50:.3f} ms, p99 {p99:.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
