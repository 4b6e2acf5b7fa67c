"""CDK infrastructure of the job scheduler: configuration, stacks, and one construct per concern."""
