"""A stateful stand-in for the Messente, SMSAPI and Direct Messenger HTTP APIs, with fault injection."""

from sandbox.config import SandboxConfig

__all__ = ["SandboxConfig"]
