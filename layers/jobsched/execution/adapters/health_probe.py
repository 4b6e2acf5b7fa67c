"""The heartbeat's target: the region's own API health route, called by the executor over HTTP(S).

A service-owned URL from the stack (the regional stage's `GET /health`) or the local runtime (the gateway
stand-in), never a tenant's: it goes out without the tenant targets' guard and signatures, with the
standard library (one GET a minute needs no connection pool). Any answer but 200, or none within the
timeout, is an unanswered heartbeat.
"""

from __future__ import annotations

PROBE_TIMEOUT_SECONDS = 5.0


class ApiHealthProbe:
    def __init__(self, url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"the heartbeat's target must be an http(s) URL, not {url!r}")
        self.url = url
        self._timeout = timeout

    def __call__(self) -> str | None:
        """None when the API answered 200; otherwise what it answered, or why it did not."""
        # Imported on the first heartbeat, not at the executor's cold start (it loads http.client).
        import urllib.error
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            self.url, method="GET", headers={"User-Agent": "jobsched-heartbeat"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                status = int(response.status)
        except urllib.error.HTTPError as error:
            return f"HTTP {error.code}"
        except (urllib.error.URLError, OSError) as error:
            return f"{type(error).__name__}: {error}"
        return None if status == 200 else f"HTTP {status}"
