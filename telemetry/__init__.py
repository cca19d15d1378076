"""What an operator sees: Prometheus metrics (counters recorded by every process into Redis, read
with the live figures by one exporter), structured logs, and ``smsq top``. Imports no worker code, so
the API, ``smsq metrics`` and producers can all use it."""

if __name__ != "smsq.telemetry":  # one module, one name (see smsq/__init__.py)
    raise ImportError(f"import smsq.telemetry, not {__name__}: smsq's packages are imported as smsq.<folder>")
