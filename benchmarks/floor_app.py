"""The floor of the serving stack for ``make bench-serve``: a bare Flask app that returns a constant.

Served by the same gunicorn settings as the assistant (``serving/gunicorn_conf.py``), it measures
what gunicorn, Werkzeug and Flask cost on their own. ``POST /v1/assist`` reads the body (as the
service must) and answers a fixed JSON object of the size of a real answer's envelope, with no
authentication, parsing, model or cache.
"""

from __future__ import annotations

from flask import Flask, Response, request

BODY = b'{"category":"floor","confidence":1.0,"crisis":false,"out_of_scope":false,"cached":false}'


def create_app() -> Flask:
    app = Flask("careassist-floor")

    @app.post("/v1/assist")
    def assist() -> Response:
        request.get_data(cache=False)
        return Response(BODY, mimetype="application/json")

    @app.get("/healthz")
    def healthz() -> Response:
        return Response(b'{"status":"alive"}', mimetype="application/json")

    return app


app = create_app()
