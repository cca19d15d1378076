"""The HTTP API (`smsq api`): API keys, messages, campaigns, blacklist and two-factor over HTTP, thin
over the producer API. Needs the api extra (``pip install "smsq[api]"``)."""

if __name__ != "smsq.api":  # one module, one name (see smsq/__init__.py)
    raise ImportError(f"import smsq.api, not {__name__}: smsq's packages are imported as smsq.<folder>")
