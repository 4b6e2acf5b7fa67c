"""The cost model: prices the synthesized templates against the load profile (`make cost`)."""
