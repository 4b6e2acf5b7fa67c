"""API keys: what a key is, how it is stored, issued and revoked."""
