"""The WSGI entry point for gunicorn: ``gunicorn -c serving/gunicorn_conf.py serving.wsgi:app``.

The app is built when gunicorn imports this module in each worker (settings from ``CAREASSIST_*``).
"""

from __future__ import annotations

from serving.app import create_app

app = create_app()
