"""Entry point for ``celery -A workers.main`` and ``smsq worker``: settings are read here, once."""

from config.settings import load_settings
from workers.app import create_app

app = create_app(load_settings())
