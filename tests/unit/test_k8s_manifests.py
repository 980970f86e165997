"""The Kubernetes manifests of k8s/, checked offline.

Every manifest file and every document of the rendered overlays (``kubectl kustomize``) is
validated strictly against the Kubernetes JSON schemas of one fixed version (kubernetes-validate
ships them), then the invariants the service depends on are checked: probes on /healthz and
/readyz at the container's port, resources everywhere, pinned images, no secret value in the
tree, the three namespaces, and that HPA, PDB, Services and NetworkPolicies reach the pods they
are meant for. Custom resources (Argo CD Applications) and the Airflow chart's values, whose
schemas are not available offline, are checked structurally.

``pytest -rP tests/unit/test_k8s_manifests.py -k counts`` prints how many documents were validated
per file and per overlay.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from careassist.settings import ENV_PREFIX, Settings

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
#: The Kubernetes version whose schemas every document must satisfy.
KUBERNETES_VERSION = "1.33.0"
TARGETS = ("base", "overlays/dev", "overlays/prod")
OVERLAYS = ("overlays/dev", "overlays/prod")
NAMESPACES = {"mlops-platform", "mlflow", "monitoring"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet"}
PROJECT_IMAGE = "registry.example.org/careassist/platform"
ASSISTANT = "careassist-assistant"
#: Environment variables that carry a secret: never a literal ``value``.
SECRET_ENV = re.compile(
    r"PASSWORD|SECRET|TOKEN|KEY_HASHES|DATABASE_URL|REDIS_URL|ACCESS_KEY|SALT|FERNET", re.IGNORECASE
)
HELM_VALUES = K8S / "airflow" / "values.yaml"
ARGOCD = K8S / "argocd"


# -- loading -------------------------------------------------------------------------------------
def _documents(text: str, origin: str) -> list[dict[str, Any]]:
    try:
        docs = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        pytest.fail(f"{origin} is not valid YAML: {exc}")
    for number, doc in enumerate(docs, 1):
        assert isinstance(doc, dict), f"{origin}: document {number} is not a mapping"
    return docs


def _kubectl() -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail(
            "kubectl is needed to render the kustomize overlays of k8s/ (`kubectl kustomize`):"
            " install it with `apt-get install kubectl` (.ci/run does)",
            pytrace=False,
        )
    return kubectl


@functools.cache
def rendered(target: str) -> tuple[dict[str, Any], ...]:
    """The documents ``kubectl kustomize k8s/<target>`` prints."""
    result = subprocess.run(
        [_kubectl(), "kustomize", str(K8S / target)], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize k8s/{target} failed:\n{result.stderr}", pytrace=False)
    return tuple(_documents(result.stdout, f"kubectl kustomize k8s/{target}"))


def _kustomization_resources(folder: Path) -> Iterator[Path]:
    """The manifest files a kustomization (and the ones it includes) lists as resources."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
    for entry in kustomization.get("resources", []):
        path = (folder / entry).resolve()
        if path.is_dir():
            yield from _kustomization_resources(path)
        else:
            yield path


def manifest_files() -> list[Path]:
    return sorted(set(_kustomization_resources(K8S / "base")))


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def validate(doc: dict[str, Any], origin: str) -> None:
    name = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
    problem = None
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(part) for part in exc.path) or "<root>"
        problem = f"{origin}: {name} is invalid for Kubernetes {KUBERNETES_VERSION} at {path}: {exc.message}"
    except kubernetes_validate.SchemaNotFoundError:
        problem = f"{origin}: {name}: no Kubernetes {KUBERNETES_VERSION} schema for {doc.get('apiVersion')}"
    if problem:
        pytest.fail(problem, pytrace=False)


@functools.cache
def validated_file(path: Path) -> int:
    docs = _documents(path.read_text(encoding="utf-8"), _rel(path))
    for doc in docs:
        validate(doc, _rel(path))
    return len(docs)


@functools.cache
def validated_target(target: str) -> int:
    docs = rendered(target)
    for doc in docs:
        validate(doc, f"k8s/{target} (rendered)")
    return len(docs)


# -- helpers over rendered documents ------------------------------------------------------------
def _of_kind(docs: tuple[dict[str, Any], ...], *kinds: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] in kinds]


def _find(docs: tuple[dict[str, Any], ...], kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    for doc in docs:
        meta = doc["metadata"]
        if doc["kind"] == kind and meta["name"] == name and (namespace is None or meta.get("namespace") == namespace):
            return doc
    raise AssertionError(f"no {kind} {namespace or ''}/{name} in the rendered manifests")


def _pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def _containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = _pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels / matchExpressions, or a plain map) matches ``labels``."""
    if not selector:
        return True
    match = selector.get("matchLabels", selector if "matchExpressions" not in selector else {})
    if any(labels.get(key) != value for key, value in match.items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _quantity(value: str | float) -> float:
    """A Kubernetes quantity (``500m``, ``2``, ``768Mi``, ``1Gi``) as a number."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in sorted(units.items(), key=lambda item: -len(item[0])):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}", item
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


# -- schema validation ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", manifest_files(), ids=_rel)
def test_every_manifest_file_is_valid_against_the_kubernetes_schemas(path: Path) -> None:
    assert validated_file(path) > 0, f"{_rel(path)} holds no document"


@pytest.mark.parametrize("target", TARGETS)
def test_every_rendered_document_is_valid_against_the_kubernetes_schemas(target: str) -> None:
    assert validated_target(target) > 0


def test_a_broken_manifest_is_refused() -> None:
    """The validation itself can fail: a misspelt field and a wrong type are both caught."""
    deployment = _find(rendered("base"), "Deployment", ASSISTANT)
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


# -- invariants of the rendered overlays ---------------------------------------------------------
@pytest.mark.parametrize("target", TARGETS)
def test_the_three_namespaces_hold_everything(target: str) -> None:
    docs = rendered(target)
    assert {doc["metadata"]["name"] for doc in _of_kind(docs, "Namespace")} == NAMESPACES
    for doc in docs:
        namespace = doc["metadata"].get("namespace")
        if doc["kind"] in CLUSTER_SCOPED:
            assert namespace is None, f"{doc['kind']}/{doc['metadata']['name']} is cluster-scoped"
        else:
            assert namespace in NAMESPACES, f"{doc['kind']}/{doc['metadata']['name']} is in namespace {namespace!r}"
    for binding in _of_kind(docs, "ClusterRoleBinding", "RoleBinding"):
        for subject in binding["subjects"]:
            if subject["kind"] == "ServiceAccount":
                _find(docs, "ServiceAccount", subject["name"], subject["namespace"])


@pytest.mark.parametrize("target", TARGETS)
def test_the_assistant_is_probed_on_healthz_and_readyz_at_its_port(target: str) -> None:
    docs = rendered(target)
    config = _find(docs, "ConfigMap", "careassist-config", "mlops-platform")["data"]
    deployment = _find(docs, "Deployment", ASSISTANT, "mlops-platform")
    (container,) = _pod_spec(deployment)["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": int(config["CAREASSIST_API_PORT"])}
    assert config["CAREASSIST_API_HOST"] == "0.0.0.0", "gunicorn must listen beyond the pod's loopback"

    def probe(kind: str) -> tuple[str, int]:
        http = container[kind]["httpGet"]
        port = http["port"]
        return http["path"], ports[port] if isinstance(port, str) else port

    assert probe("livenessProbe") == ("/healthz", ports["http"])
    assert probe("startupProbe") == ("/healthz", ports["http"])
    assert probe("readinessProbe") == ("/readyz", ports["http"])
    # The startup probe outlasts a worker's model load (it waits for the registry first).
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] > float(
        config["CAREASSIST_MODEL_START_TIMEOUT_SECONDS"]
    )


@pytest.mark.parametrize("target", TARGETS)
def test_every_container_has_probes_resources_and_a_locked_down_security_context(target: str) -> None:
    for workload in _of_kind(rendered(target), *WORKLOADS):
        name = f"{workload['metadata']['namespace']}/{workload['metadata']['name']}"
        pod = _pod_spec(workload)
        assert pod["securityContext"].get("runAsNonRoot") is True, name
        for container in _containers(workload):
            where = f"{name} container {container['name']}"
            probed = container in pod["containers"]
            resources = container.get("resources", {})
            for field in ("cpu", "memory"):
                assert field in resources.get("requests", {}), f"{where}: no {field} request"
                assert field in resources.get("limits", {}), f"{where}: no {field} limit"
                assert _quantity(resources["requests"][field]) <= _quantity(resources["limits"][field]), where
            assert not probed or ("readinessProbe" in container and "livenessProbe" in container), (
                f"{where}: probes missing"
            )
            security = container.get("securityContext", {})
            assert security.get("allowPrivilegeEscalation") is False, where
            assert security.get("capabilities", {}).get("drop") == ["ALL"], where


@pytest.mark.parametrize("target", TARGETS)
def test_images_are_pinned_by_tag(target: str) -> None:
    for workload in _of_kind(rendered(target), *WORKLOADS):
        for container in _containers(workload):
            image = container["image"]
            tag = image.rpartition(":")[2]
            assert "@sha256:" in image or ("/" not in tag and tag and tag != "latest"), (
                f"{workload['metadata']['name']}: image {image!r} is not pinned by a tag (nor a digest)"
            )
            assert container.get("imagePullPolicy") != "Always", image


@pytest.mark.parametrize("target", TARGETS)
def test_secrets_are_referenced_never_committed(target: str) -> None:
    docs = rendered(target)
    assert not _of_kind(docs, "Secret"), "a Secret object is rendered: create Secrets beside the manifests instead"
    for workload in _of_kind(docs, *WORKLOADS):
        for container in _containers(workload):
            for variable in container.get("env", []):
                if SECRET_ENV.search(variable["name"]):
                    assert "valueFrom" in variable and "value" not in variable, (
                        f"{workload['metadata']['name']}: {variable['name']} has a literal value; use a secretKeyRef"
                    )
    for config_map in _of_kind(docs, "ConfigMap"):
        for key in config_map.get("data", {}):
            assert not SECRET_ENV.search(key), f"ConfigMap {config_map['metadata']['name']} holds {key}: a secret"


def test_no_secret_or_secret_generator_anywhere_in_the_tree() -> None:
    files = sorted(K8S.rglob("*.yaml")) + sorted(K8S.rglob("*.yml"))
    assert files
    for path in files:
        for doc in _documents(path.read_text(encoding="utf-8"), _rel(path)):
            assert doc.get("kind") != "Secret", f"{_rel(path)} commits a Secret"
            assert "secretGenerator" not in doc, f"{_rel(path)} generates a Secret from committed values"
            for key, value in _walk(doc):
                leaf = key.rsplit(".", 1)[-1].lower()
                if leaf in {"password", "pass", "fernetkey", "webserversecretkey", "apisecretkey", "jwtsecret"}:
                    assert not value, f"{_rel(path)}: {key} holds a literal credential"


@pytest.mark.parametrize("target", TARGETS)
def test_secret_references_are_documented(target: str) -> None:
    """Every Secret a pod needs (name and key) is in k8s/README.md's list, so an operator can make it."""
    readme = (K8S / "README.md").read_text(encoding="utf-8")
    for workload in _of_kind(rendered(target), *WORKLOADS):
        for container in _containers(workload):
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    row = re.search(rf"^\|\s*`{re.escape(ref['name'])}`\s*\|.*$", readme, re.MULTILINE)
                    assert row, f"Secret {ref['name']} is not documented in k8s/README.md"
                    assert f"`{ref['key']}`" in row.group(0), (
                        f"key {ref['key']} of Secret {ref['name']} is not documented"
                    )


@pytest.mark.parametrize("target", TARGETS)
def test_careassist_variables_are_settings_fields(target: str) -> None:
    fields = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    docs = rendered(target)
    names: list[str] = []
    for config_map in _of_kind(docs, "ConfigMap"):
        names += [key for key in config_map.get("data", {}) if key.startswith(ENV_PREFIX)]
    for workload in _of_kind(docs, *WORKLOADS):
        for container in _containers(workload):
            names += [v["name"] for v in container.get("env", []) if v["name"].startswith(ENV_PREFIX)]
    assert names
    unknown = sorted(set(names) - fields)
    assert not unknown, f"not settings of careassist/settings.py: {unknown}"


@pytest.mark.parametrize("target", TARGETS)
def test_references_to_config_maps_and_service_accounts_resolve(target: str) -> None:
    docs = rendered(target)
    for workload in _of_kind(docs, *WORKLOADS):
        namespace, pod = workload["metadata"]["namespace"], _pod_spec(workload)
        if "serviceAccountName" in pod:
            _find(docs, "ServiceAccount", pod["serviceAccountName"], namespace)
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                _find(docs, "ConfigMap", volume["configMap"]["name"], namespace)
            if "persistentVolumeClaim" in volume:
                _find(docs, "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"], namespace)
        for container in _containers(workload):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    _find(docs, "ConfigMap", source["configMapRef"]["name"], namespace)
            mounts = {mount["name"] for mount in container.get("volumeMounts", [])}
            claims = {claim["metadata"]["name"] for claim in workload["spec"].get("volumeClaimTemplates", [])}
            assert mounts <= {v["name"] for v in pod.get("volumes", [])} | claims, workload["metadata"]["name"]


@pytest.mark.parametrize("target", TARGETS)
def test_the_hpa_scales_the_assistant_deployment(target: str) -> None:
    docs = rendered(target)
    (hpa,) = _of_kind(docs, "HorizontalPodAutoscaler")
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["apiVersion"], ref["kind"]) == ("apps/v1", "Deployment")
    deployment = _find(docs, "Deployment", ref["name"], hpa["metadata"]["namespace"])
    assert ref["name"] == ASSISTANT
    low, high = hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]
    assert 1 <= low <= deployment["spec"]["replicas"] <= high
    # A CPU utilisation target needs CPU requests on the pods.
    assert all("cpu" in c["resources"]["requests"] for c in _pod_spec(deployment)["containers"])


@pytest.mark.parametrize("target", TARGETS)
def test_pdbs_select_running_pods_and_allow_a_drain(target: str) -> None:
    docs = rendered(target)
    budgets = _of_kind(docs, "PodDisruptionBudget")
    assert ASSISTANT in {pdb["metadata"]["name"] for pdb in budgets}
    for pdb in budgets:
        namespace = pdb["metadata"]["namespace"]
        matched = [
            w
            for w in _of_kind(docs, *WORKLOADS)
            if w["metadata"]["namespace"] == namespace
            and _selects(pdb["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(matched) == 1, f"PDB {pdb['metadata']['name']} selects {len(matched)} workloads"
        (workload,) = matched
        assert _selects(pdb["spec"]["selector"], workload["spec"]["selector"]["matchLabels"])
        if "minAvailable" in pdb["spec"]:
            assert pdb["spec"]["minAvailable"] < workload["spec"]["replicas"], "the PDB would block every drain"
        else:
            assert pdb["spec"]["maxUnavailable"] >= 1


@pytest.mark.parametrize("target", TARGETS)
def test_network_policies_select_every_workload_and_open_its_ports(target: str) -> None:
    docs = rendered(target)
    policies = _of_kind(docs, "NetworkPolicy")
    for workload in _of_kind(docs, *WORKLOADS):
        namespace, labels = workload["metadata"]["namespace"], workload["spec"]["template"]["metadata"]["labels"]
        selecting = [
            p
            for p in policies
            if p["metadata"]["namespace"] == namespace and _selects(p["spec"]["podSelector"], labels)
        ]
        assert selecting, f"no NetworkPolicy selects {namespace}/{workload['metadata']['name']}"
        allowed = {
            port["port"] for p in selecting for rule in p["spec"].get("ingress", []) for port in rule.get("ports", [])
        }
        for container in _pod_spec(workload)["containers"]:
            for port in container.get("ports", []):
                assert port["containerPort"] in allowed or port["name"] in allowed, (
                    f"{namespace}/{workload['metadata']['name']}: port {port['containerPort']} is closed by its policies"
                )
    assistant = _find(docs, "NetworkPolicy", ASSISTANT, "mlops-platform")
    assert assistant["spec"]["policyTypes"] == ["Ingress"]


@pytest.mark.parametrize("target", TARGETS)
def test_services_reach_their_pods_by_named_ports(target: str) -> None:
    docs = rendered(target)
    for service in _of_kind(docs, "Service"):
        namespace = service["metadata"]["namespace"]
        matched = [
            w
            for w in _of_kind(docs, *WORKLOADS)
            if w["metadata"]["namespace"] == namespace
            and _selects(service["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(matched) == 1, f"Service {namespace}/{service['metadata']['name']} selects {len(matched)} workloads"
        names = {p["name"] for c in _pod_spec(matched[0])["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in names, (
                f"Service {service['metadata']['name']}: no container port {port['targetPort']}"
            )


def test_prod_is_larger_than_dev() -> None:
    dev, prod = rendered("overlays/dev"), rendered("overlays/prod")

    def assistant(docs: tuple[dict[str, Any], ...]) -> tuple[int, int, float, float]:
        deployment = _find(docs, "Deployment", ASSISTANT)
        hpa = _find(docs, "HorizontalPodAutoscaler", ASSISTANT)
        requests = _pod_spec(deployment)["containers"][0]["resources"]["requests"]
        return (
            deployment["spec"]["replicas"],
            hpa["spec"]["minReplicas"],
            _quantity(requests["cpu"]),
            _quantity(requests["memory"]),
        )

    small, large = assistant(dev), assistant(prod)
    assert all(s < b for s, b in zip(small, large, strict=True)), (small, large)
    assert (
        _find(prod, "Deployment", "mlflow")["spec"]["replicas"] > _find(dev, "Deployment", "mlflow")["spec"]["replicas"]
    )
    assert prod != dev


@pytest.mark.parametrize("target", OVERLAYS)
def test_overlays_and_the_helm_values_run_one_image_release(target: str) -> None:
    """The overlays run the service image at one tag; Airflow runs the airflow image of that tag."""
    values = yaml.safe_load(HELM_VALUES.read_text(encoding="utf-8"))
    images = {
        c["image"]
        for w in _of_kind(rendered(target), *WORKLOADS)
        for c in _containers(w)
        if c["image"].startswith(PROJECT_IMAGE + ":")
    }
    assert len(images) == 1, images
    (tag,) = {image.rpartition(":")[2] for image in images}
    for key in ("airflow", "pod_template"):
        assert values["images"][key]["repository"] == PROJECT_IMAGE
        assert values["images"][key]["tag"] == f"{tag}-airflow", key


def test_prometheus_scrapes_what_the_manifests_expose() -> None:
    docs = rendered("base")
    monitoring = K8S / "base" / "monitoring"
    config = yaml.safe_load((monitoring / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}

    assistant = jobs[ASSISTANT]
    keep = {tuple(r["source_labels"]): r["regex"] for r in assistant["relabel_configs"] if r.get("action") == "keep"}
    deployment = _find(docs, "Deployment", ASSISTANT, "mlops-platform")
    assert (
        keep[("__meta_kubernetes_pod_label_app_kubernetes_io_name",)]
        == deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
    )
    assert keep[("__meta_kubernetes_pod_container_port_name",)] in {
        p["name"] for p in _pod_spec(deployment)["containers"][0]["ports"]
    }
    assert assistant["kubernetes_sd_configs"][0]["namespaces"]["names"] == ["mlops-platform"]

    pushgateway = jobs["pushgateway"]
    assert pushgateway["honor_labels"] is True
    (target,) = pushgateway["static_configs"][0]["targets"]
    host, port = target.rsplit(":", 1)
    service = _find(docs, "Service", "pushgateway", "monitoring")
    assert host.startswith("pushgateway.monitoring.svc") and int(port) in {p["port"] for p in service["spec"]["ports"]}
    # The drift DAG's tasks (Airflow in mlops-platform) push to the same address.
    config_map = _find(docs, "ConfigMap", "careassist-config", "mlops-platform")["data"]
    assert config_map["CAREASSIST_PUSHGATEWAY_URL"] == f"http://{target}"

    # The rule files are mounted beside the configuration.
    generators = yaml.safe_load((monitoring / "kustomization.yaml").read_text(encoding="utf-8"))["configMapGenerator"]
    (prometheus_files,) = [g["files"] for g in generators if g["name"] == "prometheus-config"]
    assert {Path(f).name for f in prometheus_files} >= {"prometheus.yml", *config["rule_files"]}

    datasources = yaml.safe_load((monitoring / "grafana" / "datasources.yaml").read_text(encoding="utf-8"))
    url = datasources["datasources"][0]["url"]
    assert url == "http://prometheus.monitoring.svc.cluster.local:9090"
    _find(docs, "Service", "prometheus", "monitoring")


# -- custom resources and the Helm chart's values (no schema offline: structure) ------------------
def _applications() -> list[tuple[Path, dict[str, Any]]]:
    return [
        (path, doc)
        for path in sorted(ARGOCD.glob("*.yaml"))
        for doc in _documents(path.read_text(encoding="utf-8"), _rel(path))
    ]


def test_argocd_applications_are_well_formed_and_point_at_real_paths() -> None:
    applications = _applications()
    assert {doc["metadata"]["name"] for _, doc in applications} == {
        "careassist-dev",
        "careassist-prod",
        "careassist-airflow",
    }
    allowed_spec = {
        "project",
        "source",
        "sources",
        "destination",
        "syncPolicy",
        "ignoreDifferences",
        "info",
        "revisionHistoryLimit",
    }
    for path, doc in applications:
        where = _rel(path)
        assert doc["apiVersion"] == "argoproj.io/v1alpha1" and doc["kind"] == "Application", where
        assert doc["metadata"]["namespace"] == "argocd", where
        spec = doc["spec"]
        assert set(spec) <= allowed_spec, f"{where}: unknown fields {set(spec) - allowed_spec}"
        assert spec["project"] and spec["destination"]["server"] == "https://kubernetes.default.svc", where
        assert ("source" in spec) != ("sources" in spec), f"{where}: exactly one of source and sources"
        automated = spec.get("syncPolicy", {}).get("automated")
        assert automated is None or set(automated) <= {"prune", "selfHeal", "allowEmpty"}, where
        for source in spec.get("sources", [spec.get("source")]):
            assert source["repoURL"].startswith("https://") and source["targetRevision"], where
            if "path" in source:
                assert source["path"].removeprefix("k8s/") in OVERLAYS, f"{where}: {source['path']} is no overlay"
                assert rendered(source["path"].removeprefix("k8s/")), where
        if doc["metadata"]["name"] == "careassist-prod":
            assert automated is None, "production is synced by an operator"
            assert re.fullmatch(r"v\d+\.\d+\.\d+", spec["source"]["targetRevision"]), "prod follows a release tag"


def test_the_airflow_application_uses_the_chart_with_the_values_file() -> None:
    (doc,) = [doc for _, doc in _applications() if doc["metadata"]["name"] == "careassist-airflow"]
    chart, values = doc["spec"]["sources"]
    assert chart["chart"] == "airflow" and chart["repoURL"] == "https://airflow.apache.org"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["targetRevision"]), "pin the chart version"
    assert values["ref"] == "values"
    (value_file,) = chart["helm"]["valueFiles"]
    assert value_file.startswith("$values/") and (REPO / value_file.removeprefix("$values/")) == HELM_VALUES
    assert doc["spec"]["destination"]["namespace"] == "mlops-platform"


def test_the_helm_values_run_the_project_image_against_the_platform() -> None:
    values = yaml.safe_load(HELM_VALUES.read_text(encoding="utf-8"))
    assert values["executor"] in {"KubernetesExecutor", "CeleryExecutor"}
    for key in ("airflow", "pod_template"):
        image = values["images"][key]
        assert image["repository"] == PROJECT_IMAGE, key
        assert image["tag"] and image["tag"] != "latest", key
    # The project's Airflow version (setup.cfg) is the one the chart is told about.
    assert f"apache-airflow=={values['airflowVersion']}" in (REPO / "setup.cfg").read_text(encoding="utf-8")

    # DAGs and plugins are baked into the image's airflow stage where the chart's airflow.cfg looks.
    stage = _dockerfile_stage("airflow")
    for folder, key in (("dags", "dags_folder"), ("plugins", "plugins_folder")):
        copied = re.search(rf"^COPY (?:--\S+ )*{folder} (\S+)$", stage, re.MULTILINE)
        assert copied, f"the Dockerfile's airflow stage does not copy {folder}/"
        assert values["config"]["core"][key] == copied.group(1)
    assert not values["dags"]["gitSync"]["enabled"] and not values["dags"]["persistence"]["enabled"]
    uid = re.search(r"useradd .*--uid (\d+)", _dockerfile_stage("runtime"))
    assert uid and values["uid"] == int(uid.group(1))

    # The platform's PostgreSQL through a Secret; no chart-made database or credentials.
    assert values["postgresql"]["enabled"] is False
    assert values["data"]["metadataSecretName"] and "metadataConnection" not in values["data"]
    for key in ("fernetKey", "webserverSecretKey", "apiSecretKey", "jwtSecret"):
        assert not values.get(key), f"{key} would put a secret in the values file"
    for key in ("fernetKeySecretName", "apiSecretKeySecretName", "jwtSecretName"):
        assert values[key], key
    readme = (K8S / "README.md").read_text(encoding="utf-8")
    secret_names = [
        values["data"]["metadataSecretName"],
        values["fernetKeySecretName"],
        values["apiSecretKeySecretName"],
        values["jwtSecretName"],
        *(s["secretName"] for s in values["secret"]),
    ]
    for name in secret_names:
        assert f"`{name}`" in readme, f"Secret {name} is not documented in k8s/README.md"
    for entry in values["secret"]:
        row = re.search(rf"^\|\s*`{re.escape(entry['secretName'])}`\s*\|.*$", readme, re.MULTILINE)
        assert row and f"`{entry['secretKey']}`" in row.group(0), (
            f"{entry['secretName']}/{entry['secretKey']} is undocumented"
        )

    # The platform's settings reach every container: the ConfigMap exists in Airflow's namespace.
    env_from = yaml.safe_load(values["extraEnvFrom"])
    (config_ref,) = [e["configMapRef"]["name"] for e in env_from]
    _find(rendered("base"), "ConfigMap", config_ref, "mlops-platform")
    fields = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    for entry in values["secret"]:
        assert not entry["envName"].startswith(ENV_PREFIX) or entry["envName"] in fields, entry["envName"]

    # The chart's pods pass their own commands: the image must not need any override.
    for component in ("apiServer", "scheduler", "dagProcessor", "triggerer", "workers"):
        assert "command" not in values.get(component, {}), component
    assert "podTemplate" not in values


def _dockerfile_stage(name: str) -> str:
    """The instructions of one ``FROM ... AS <name>`` stage of the Dockerfile."""
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    stages = re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[1:]
    for stage in stages:
        if re.match(rf"\S+ AS {name}\s*$", stage.splitlines()[0], re.IGNORECASE):
            return stage
    raise AssertionError(f"the Dockerfile has no stage {name!r}")


def test_the_airflow_image_runs_what_the_chart_passes(tmp_path: Path) -> None:
    """The airflow stage's ENTRYPOINT runs the chart's `bash -c ...`, `airflow ...` and bare commands."""
    stage = _dockerfile_stage("airflow")
    entrypoint = re.search(r"^ENTRYPOINT (\[.*\])$", stage, re.MULTILINE)
    assert entrypoint, "the airflow stage sets no ENTRYPOINT"
    command = json.loads(entrypoint.group(1))
    fake = tmp_path / "airflow"
    fake.write_text('#!/bin/sh\necho "airflow $*"\n', encoding="utf-8")
    fake.chmod(0o755)
    environment = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    cases = {
        ("bash", "-c", "exec airflow scheduler"): "airflow scheduler",
        ("airflow", "db", "check-migrations"): "airflow db check-migrations",
        ("airflow", "tasks", "run", "training_pipeline", "train"): "airflow tasks run training_pipeline train",
        ("api-server",): "airflow api-server",
    }
    for args, expected in cases.items():
        result = subprocess.run(
            [*command, *args], capture_output=True, text=True, env=environment, timeout=30, check=False
        )
        assert result.returncode == 0 and result.stdout.strip() == expected, (args, result.stdout, result.stderr)


# -- the figures -----------------------------------------------------------------------------------
def test_validation_counts() -> None:
    """How many documents were validated against the Kubernetes schemas, per file and per overlay."""
    lines = [f"documents validated against Kubernetes {KUBERNETES_VERSION} (strict):"]
    total = 0
    for path in manifest_files():
        count = validated_file(path)
        total += count
        lines.append(f"  {_rel(path):<50} {count:>4}")
    lines.append(f"  {'manifest files':<50} {total:>4}")
    for target in TARGETS:
        lines.append(f"  {'k8s/' + target + ' (kubectl kustomize)':<50} {validated_target(target):>4}")
    lines.append(f"  {'k8s/argocd Applications (structural)':<50} {len(_applications()):>4}")
    print("\n".join(lines))
    assert total > 0
