"""``lianfang demo``: a whole consortium on loopback replaying a synthetic workload."""
