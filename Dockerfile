# syntax=docker/dockerfile:1
# CareAssist platform image. The install steps are the README's: a venv, uv, the pinned lock, then
# the package. The runtime stage carries only the venv and the project files, and runs as non-root.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml setup.cfg requirements.lock README.md ./
COPY careassist ./careassist
RUN python -m venv /app/.venv \
 && /app/.venv/bin/python -m pip install uv==0.13.8 \
 && /app/.venv/bin/uv pip install --python /app/.venv/bin/python -r requirements.lock \
 && /app/.venv/bin/uv pip install --python /app/.venv/bin/python --no-deps -e .

FROM python:3.11-slim AS runtime
RUN useradd --create-home --uid 10001 careassist
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
# The package is installed in editable mode at /app, beside feature_repo/ (which it reads).
COPY careassist ./careassist
COPY feature_repo ./feature_repo
COPY dags ./dags
COPY plugins ./plugins
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CAREASSIST_DATA_ROOT=/data
RUN mkdir -p /data && chown careassist:careassist /data
USER careassist
VOLUME ["/data"]
# The settings load and validate: a bad CAREASSIST_* variable marks the container unhealthy.
HEALTHCHECK --interval=30s --timeout=10s --retries=3 CMD ["healthcare-ai", "settings"]
ENTRYPOINT ["healthcare-ai"]
CMD ["--help"]
