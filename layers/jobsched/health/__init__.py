"""Deep health: can this region serve a request right now."""
