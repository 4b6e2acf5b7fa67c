"""The scheduling domain's AWS adapters and edge parsing (stream records, Scheduler)."""
