"""``healthcare-ai up/down``: the plan of processes, their groups, and the errors a user meets first."""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
import time

import pytest

from careassist import stack
from careassist.settings import Settings

pytestmark = pytest.mark.unit


def _sleeper(name: str, script: str = "import time; time.sleep(60)") -> stack.Component:
    return stack.Component(name, [sys.executable, "-c", script], lambda: dict(os.environ), 0, "")


def test_the_plan_starts_mlflow_first_and_the_assistant_last_on_the_configured_ports(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(api_port=18000, mlflow_port=15000, airflow_port=18080)
    plan = stack.components(settings)
    assert [c.name for c in plan] == ["mlflow", "airflow-scheduler", "airflow-dag-processor", "airflow-api-server", "assistant"]
    by_name = {c.name: c for c in plan}
    mlflow = by_name["mlflow"].command
    assert by_name["mlflow"].port == 15000 and "15000" in mlflow
    assert mlflow[mlflow.index("--workers") + 1] == "1"  # one worker on one machine, either profile
    api_server = by_name["airflow-api-server"]
    assert api_server.command[-5:] == ["api-server", "-H", "127.0.0.1", "-p", "18080"]
    assert (api_server.port, api_server.health_path) == (18080, "/api/v2/monitor/health")
    assert (by_name["assistant"].port, by_name["assistant"].health_path) == (18000, "/readyz")
    assert not (settings.root / "serving").exists()  # building the plan creates no key and wipes no metrics


def test_airflow_components_share_secrets_that_are_private_and_stable(settings: Settings) -> None:
    first = stack.airflow_stack_environment(settings)
    second = stack.airflow_stack_environment(settings)
    assert first["AIRFLOW__API_AUTH__JWT_SECRET"] == second["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert len(first["AIRFLOW__API_AUTH__JWT_SECRET"]) >= 32
    assert first["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"http://127.0.0.1:{settings.airflow_port}/execution/"
    assert first["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"
    for name in ("jwt-secret", "api-secret-key"):
        assert stat.S_IMODE((settings.airflow_home / name).stat().st_mode) == 0o600


def test_the_airflow_password_is_generated_once_into_the_auth_managers_file(settings: Settings) -> None:
    password = stack.airflow_password(settings)
    path = settings.airflow_home / "simple_auth_manager_passwords.json"
    assert json.loads(path.read_text()) == {"admin": password}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stack.airflow_password(settings) == password


def test_a_component_runs_in_its_own_group_and_down_stops_it(settings: Settings) -> None:
    pid = stack.start(settings, _sleeper("assistant"))
    assert stack.running_pid(settings, "assistant") == pid
    assert os.getpgid(pid) == pid
    assert stack.down(settings, say=lambda _: None) == {"assistant": "stopped"}
    assert stack.running_pid(settings, "assistant") is None
    assert not (stack.run_dir(settings) / "assistant.pid").exists()


def test_a_group_that_ignores_sigterm_is_killed(settings: Settings) -> None:
    script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    pid = stack.start(settings, _sleeper("stubborn", script))
    log = stack.log_dir(settings) / "stubborn.log"
    deadline = time.monotonic() + 20
    while "up" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stack.stop_group(pid, timeout=0.5) == "killed after SIGTERM timed out"
    deadline = time.monotonic() + 10
    while stack.running_pid(settings, "stubborn") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stack.running_pid(settings, "stubborn") is None


def test_a_stale_pid_file_counts_as_stopped(settings: Settings) -> None:
    stack.run_dir(settings).mkdir(parents=True)
    (stack.run_dir(settings) / "mlflow.pid").write_text("999999999\n")
    assert stack.running_pid(settings, "mlflow") is None
    assert not (stack.run_dir(settings) / "mlflow.pid").exists()


def test_a_component_that_dies_at_start_is_reported_with_its_log(settings: Settings) -> None:
    script = "import sys, time; time.sleep(0.3); print('cannot open the backend store'); sys.exit(3)"
    with socket.socket() as probe:  # a port nothing answers on: the health check keeps failing
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    component = stack.Component("mlflow", [sys.executable, "-c", script], lambda: dict(os.environ), port, "/health")
    stack.start(settings, component)
    with pytest.raises(stack.StackError, match="(?s)mlflow exited during start.*cannot open the backend store"):
        stack.wait_ready(settings, component, timeout=30)


def test_up_refuses_a_port_another_program_holds_and_names_the_variable(make_settings) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        settings = make_settings(api_port=holder.getsockname()[1])
        with pytest.raises(stack.StackError, match=f"port {settings.api_port} for assistant.*CAREASSIST_API_PORT"):
            stack.up(settings, say=lambda _: None)
    assert not stack.run_dir(settings).exists()  # nothing started


def test_smoke_without_a_running_platform_says_to_run_make_up(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    checks = stack.smoke(settings)
    assert stack.main_exit(checks) == 1
    assert "run `make up` first" in capsys.readouterr().out


def test_down_with_nothing_running_says_so(settings: Settings) -> None:
    said: list[str] = []
    assert stack.down(settings, say=said.append) == {}
    assert said == [f"nothing of the platform is running under {settings.root}"]


def test_the_summary_names_every_url_the_login_and_the_key() -> None:
    access = {
        "profile": "embedded", "data_root": "/data", "logs": "/data/logs",
        "airflow": {"url": "http://127.0.0.1:8080", "user": "admin", "password": "pw"},
        "mlflow": {"url": "http://127.0.0.1:5000", "model": "http://127.0.0.1:5000/#/models/healthcare-assistant"},
        "assistant": {"url": "http://127.0.0.1:8000", "docs": "http://127.0.0.1:8000/openapi.json", "api_key": "ca_k"},
    }
    text = stack.describe(access)
    for expected in ("http://127.0.0.1:8080", "admin / pw", "http://127.0.0.1:5000/#/models/healthcare-assistant",
                     "http://127.0.0.1:8000/openapi.json", "API key        ca_k", "/data/run/access.json", "make down"):
        assert expected in text
