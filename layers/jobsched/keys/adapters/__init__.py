"""API key records and the usage-plan registry."""
