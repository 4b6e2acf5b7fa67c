"""Shared test support: AWS fixtures and API Gateway events."""
