"""The jobs domain's AWS adapters."""
