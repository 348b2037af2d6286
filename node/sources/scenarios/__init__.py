"""Scenario TOML files for the provider simulators (data only; see ``node.sources.overrides``)."""
