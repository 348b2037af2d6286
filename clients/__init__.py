"""Python SDK (hub, admin and node clients), the ``lianfang`` CLI and the demo."""
