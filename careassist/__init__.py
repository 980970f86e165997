"""CareAssist: a healthcare assistant and the MLOps platform that trains, registers and serves it."""

__version__ = "0.1.0"
