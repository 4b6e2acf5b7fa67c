"""Response compression as the REST API's minimumCompressionSize does it: gzip large bodies if accepted."""

from __future__ import annotations

import gzip

from werkzeug.http import parse_accept_header

from jobsched.config import COMPRESSION_MIN_BYTES
from jobsched_local.proxy_event import ProxyResponse

GZIP = "gzip"


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header allows gzip (`gzip`, `*`; not `gzip;q=0`, not `identity` alone)."""
    return bool(accept_encoding) and parse_accept_header(accept_encoding).quality(GZIP) > 0


def compress_response(
    response: ProxyResponse, accept_encoding: str | None, min_bytes: int = COMPRESSION_MIN_BYTES
) -> ProxyResponse:
    """The response gzip-compressed when it is at least `min_bytes` long and the client accepts gzip.

    Bodies of that size vary by Accept-Encoding whether compressed or not, so they say so (caches).
    A body the function encoded already is left alone.
    """
    names = {name.lower() for name, _ in response.headers}
    if len(response.body) < min_bytes or "content-encoding" in names:
        return response
    headers = [
        (name, value) for name, value in response.headers if name.lower() not in ("content-length", "vary")
    ]
    vary = [value for name, value in response.headers if name.lower() == "vary"]
    headers.append(("Vary", ", ".join([*vary, "Accept-Encoding"])))
    if not accepts_gzip(accept_encoding):
        return ProxyResponse(response.status, headers, response.body)
    # mtime=0: the same body compresses to the same bytes (stable ETags and tests).
    body = gzip.compress(response.body, mtime=0)
    return ProxyResponse(response.status, [*headers, ("Content-Encoding", GZIP)], body)
