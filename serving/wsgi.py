"""The WSGI entry point for gunicorn: ``gunicorn -c serving/gunicorn_conf.py serving.wsgi:app``.

Each worker imports this module: logs become redacted JSON lines, then the app is built from the
``CAREASSIST_*`` settings (the worker loads its model before it accepts requests); each model it
installs later settles the heap again (``serving/workers.py``).
"""

from __future__ import annotations

import os

from careassist.logs import configure_json_logging
from serving.app import create_app
from serving.workers import settle_on_install

configure_json_logging(os.environ.get("CAREASSIST_LOG_LEVEL", "INFO"))
app = create_app()
settle_on_install(app.extensions["careassist"].source)
