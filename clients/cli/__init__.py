"""The ``lianfang`` command line (noun-verb)."""
