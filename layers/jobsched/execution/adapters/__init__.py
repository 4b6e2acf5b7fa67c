"""The execution domain's AWS adapters."""
