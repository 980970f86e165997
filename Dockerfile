# syntax=docker/dockerfile:1
# CareAssist platform images, one Dockerfile, three targets:
#   runtime  the package and its command line (`healthcare-ai ...`), the base of the other two
#   service  the assistant's HTTP API (`healthcare-ai serve` on 0.0.0.0:8000), health-checked on /healthz
#   airflow  Airflow 3 with the platform's DAGs and plugin under AIRFLOW_HOME, for the official Helm chart
#   docker build --target service --build-arg GIT_COMMIT=$(git rev-parse HEAD) -t careassist/platform:0.1.0 .
#   docker build --target airflow --build-arg GIT_COMMIT=$(git rev-parse HEAD) -t careassist/platform:0.1.0-airflow .
# The install steps are the README's (a venv, uv, the pinned lock, the package in editable mode) without
# the dev extra: tests/unit/test_dockerfile.py checks that the two agree.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.8
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 UV_NO_CACHE=1 UV_LINK_MODE=copy
WORKDIR /app
COPY pyproject.toml setup.cfg requirements.lock README.md ./
COPY careassist ./careassist
# The lock constrains every version (-c): the package's dependencies are installed at their locked
# versions and the dev tools the lock also pins are not. uv leaves the venv once it has installed.
RUN python -m venv /app/.venv \
 && /app/.venv/bin/python -m pip install uv==${UV_VERSION} \
 && /app/.venv/bin/uv pip install --python /app/.venv/bin/python -c requirements.lock -e . \
 && /app/.venv/bin/python -m pip uninstall --yes uv

FROM ${PYTHON_IMAGE} AS runtime
# Group 0 owns what the platform writes, so the image also runs under an arbitrary uid of group 0
# (OpenShift, a Helm chart's securityContext).
RUN useradd --uid 10001 --gid 0 --create-home --home-dir /home/careassist careassist \
 && mkdir -p /data \
 && chown 10001:0 /data \
 && chmod 0770 /data
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
# The package is installed in editable mode at /app, beside what it finds there: feature_repo/ (Feast),
# dags/ and plugins/ (careassist.orchestration), serving/ (healthcare-ai serve), mlflow/ (the server).
COPY careassist ./careassist
COPY feature_repo ./feature_repo
COPY dags ./dags
COPY plugins ./plugins
COPY serving ./serving
COPY mlflow ./mlflow
# The commit the image is built from (--build-arg GIT_COMMIT=$(git rev-parse HEAD)): the lineage tag of
# the models it trains, and part of their pipeline key. There is no .git in the image to read it from.
ARG GIT_COMMIT=unknown
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CAREASSIST_DATA_ROOT=/data \
    CAREASSIST_GIT_COMMIT=${GIT_COMMIT}
USER 10001
# The settings load and validate: a bad CAREASSIST_* variable marks the container unhealthy.
HEALTHCHECK --interval=30s --timeout=10s --retries=3 CMD ["healthcare-ai", "settings"]
ENTRYPOINT ["healthcare-ai"]
CMD ["--help"]

FROM runtime AS service
# Inside a container the service listens on every interface; the port stays CAREASSIST_API_PORT.
ENV CAREASSIST_API_HOST=0.0.0.0
EXPOSE 8000
USER 10001
# Liveness from inside the container, on the settings' port (no curl in a slim image).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; from careassist.links import api_url; from careassist.settings import get_settings; urllib.request.urlopen(api_url(get_settings()) + '/healthz', timeout=4)"]
CMD ["serve"]

FROM runtime AS airflow
# The chart's layout: AIRFLOW_HOME=/opt/airflow with dags/ and plugins/ in it (its airflow.cfg
# points there), logs written by the Airflow user. Executor, database and API host come from the chart.
ENV AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__LOAD_EXAMPLES=False
USER 0
RUN mkdir -p /opt/airflow/logs \
 && chown -R 10001:0 /opt/airflow \
 && chmod -R g=u /opt/airflow
COPY --chown=10001:0 dags /opt/airflow/dags
COPY --chown=10001:0 plugins /opt/airflow/plugins
WORKDIR /opt/airflow
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=30s --retries=3 CMD ["airflow", "config", "get-value", "core", "dags_folder"]
# `airflow <arguments>`, read as the official image's entrypoint reads them, since the Helm chart's
# pods pass `bash -c "exec airflow scheduler"`, `airflow db check-migrations`, `python -m ...` or a
# bare Airflow command.
ENTRYPOINT ["/bin/bash", "-c", "case \"$1\" in bash|sh|python|python3) exec \"$@\" ;; airflow) shift ;; esac; exec airflow \"$@\"", "airflow"]
CMD ["version"]
