"""Targets: what a job may call (SSRF guard, AWS access), webhook signing."""
