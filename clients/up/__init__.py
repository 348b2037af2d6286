"""``lianfang up``: a local multi-process consortium."""
