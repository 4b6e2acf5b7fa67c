"""The `jobsched` command: operators' commands against AWS (keys, jobs, tenants, targets, dlq, regions), and
`jobsched local`, which starts the local runtime (package jobsched_local, imported only for that command)."""
