"""What other applications import: validate, store, enqueue, read results. Imports no worker code."""

if __name__ != "smsq.producers":  # one module, one name (see smsq/__init__.py)
    raise ImportError(f"import smsq.producers, not {__name__}: smsq's packages are imported as smsq.<folder>")

from smsq.producers.client import Receipt, Smsq
from smsq.producers.core.results import MessageResult
from smsq.producers.errors import CannotCancel, InvalidInput, MessageNotFound, SmsqError, TwoFactorFailed
from smsq.producers.messages.models import Omnimessage, parse_omnimessage

__all__ = [
    "CannotCancel",
    "InvalidInput",
    "MessageNotFound",
    "MessageResult",
    "Omnimessage",
    "Receipt",
    "Smsq",
    "SmsqError",
    "TwoFactorFailed",
    "parse_omnimessage",
]
