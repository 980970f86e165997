#!/usr/bin/env bash
# Run the MLflow tracking server of the current profile in the foreground.
# The profile and all locations come from CAREASSIST_* variables (see mlflow/README.md);
# arguments are passed on (--print shows the command without starting it).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
exec "$VENV/bin/python" -m careassist.mlflow_server "$@"
