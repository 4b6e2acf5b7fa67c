"""jobsched_local: the `jobsched` CLI and the local runtime (moto + an API Gateway stand-in, one process)."""
