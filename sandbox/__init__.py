"""A stateful stand-in for the Messente, SMSAPI and Direct Messenger HTTP APIs, with fault injection."""

if __name__ != "smsq.sandbox":  # one module, one name (see smsq/__init__.py)
    raise ImportError(f"import smsq.sandbox, not {__name__}: smsq's packages are imported as smsq.<folder>")

from smsq.sandbox.config import SandboxConfig

__all__ = ["SandboxConfig"]
