if __name__ != "smsq.workers":  # one module, one name (see smsq/__init__.py)
    raise ImportError(f"import smsq.workers, not {__name__}: smsq's packages are imported as smsq.<folder>")
