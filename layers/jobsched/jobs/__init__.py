"""Jobs: what a caller defines and the service keeps, the job logic, and the jobs table."""
