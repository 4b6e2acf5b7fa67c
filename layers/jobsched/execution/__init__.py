"""Execution: the fire message, the executor, execution history, retry and run-now."""
