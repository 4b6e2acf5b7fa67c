"""The deployable stacks: the global data stack (primary region) and one regional stack per region."""
