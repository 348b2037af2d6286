"""The analyst's graph page: a small local web server over the hub's AnalystService, and the
standalone page (data inlined) that ``lianfang demo`` and ``lianfang analyst export --format html``
write. All assets ship in ``static/``: no CDN, it works offline."""
