"""Deep health's AWS checks."""
