"""The assistant's HTTP service (Flask app factory in ``serving.app``; gunicorn settings in ``serving/gunicorn_conf.py``)."""
