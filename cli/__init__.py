if __name__ != "smsq.cli":  # one module, one name (see smsq/__init__.py)
    raise ImportError(f"import smsq.cli, not {__name__}: smsq's packages are imported as smsq.<folder>")
