if __name__ != "smsq.config":  # one module, one name (see smsq/__init__.py)
    raise ImportError(f"import smsq.config, not {__name__}: smsq's packages are imported as smsq.<folder>")
