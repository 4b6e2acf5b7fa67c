"""The target invokers and the tenants' access grants store."""
