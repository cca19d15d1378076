"""What other applications import: validate, store, enqueue, read results. Imports no worker code."""

from producers.client import Receipt, Smsq
from producers.errors import CannotCancel, InvalidInput, MessageNotFound, SmsqError, TwoFactorFailed
from producers.models import Omnimessage, parse_omnimessage
from producers.results import MessageResult

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
