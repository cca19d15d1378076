"""smsq: a task-queue system that delivers SMS, Viber, WhatsApp and Telegram messages through
provider HTTP APIs.

The distribution's only top-level import name is ``smsq``. Its packages live in the repository's
top-level folders (``config/``, ``producers/``, ``workers/``, ``sandbox/``, ``cli/``, ``api/``); the entries
of this folder link to them, so every module has exactly one name, ``smsq.<folder>.<module>``.
Each folder's ``__init__`` refuses to be imported under its bare name (``import config``), so a
module can never be loaded twice under two names, and an application's own ``config`` or ``cli``
package never collides with smsq's.
"""

__version__ = "0.2.0"
