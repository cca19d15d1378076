"""Entry point for ``celery -A smsq.workers.main`` and ``smsq worker``: settings are read here, once."""

from smsq.config.settings import load_settings
from smsq.workers.app import create_app

app = create_app(load_settings())
