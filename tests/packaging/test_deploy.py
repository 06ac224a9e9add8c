"""`deploy/`: the Kubernetes manifests and the compose file are checked against their schemas
and against the application they deploy.

- Kubernetes: every manifest is validated (strict: unknown fields are errors) against the
  Kubernetes JSON schemas of `KUBERNETES_VERSION` shipped by `kubernetes-validate`; then the
  cross-references a schema cannot see: selectors match the pod labels, the Service and the
  probes use the container's named port, probe paths are routes of the app, the HPA targets the
  Deployment, the pods run as the Dockerfile's user, every `EXPERIENCE_*` name is a setting and
  the ConfigMap's values are accepted by `Settings`.
- Compose: validated against the Compose Specification schema (the copy vendored in
  `check-jsonschema`), then the same cross-references (services, ports, settings, the
  reference Runtime's command line, the nginx config file it mounts).
- nginx: the directives the design relies on are present, and `nginx -t` accepts the file
  (nginx is installed with apt-get when missing, see `tests.support.packages`).
"""

from __future__ import annotations

import importlib.resources
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from kubernetes_validate import utils as kubernetes

from experience_plane.app import create_app
from experience_plane.settings import Settings, environment_names
from reference_runtime.cli import build_parser as runtime_parser
from tests.support.packages import system_binary

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES_VERSION = "1.33.0"


def manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object in deploy/k8s, by kind (one of each)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            assert document["kind"] not in found, f"two {document['kind']} objects"
            found[document["kind"]] = document
    return found


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def compose_schema() -> dict[str, Any]:
    vendored = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendored / "compose-spec.json").read_text())
    return schema


def assert_setting(name: str) -> None:
    assert name in environment_names(), f"{name} is not a setting"


def app_paths() -> set[str]:
    app = create_app(Settings(insecure_dev=True))
    # Routes of included routers are listed in the OpenAPI document, not in `app.routes`.
    direct = {path for route in app.routes if isinstance(path := getattr(route, "path", None), str)}
    return direct | set(app.openapi()["paths"])


def pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = manifests()["Deployment"]["spec"]["template"]["spec"]
    return spec


def container() -> dict[str, Any]:
    (only,) = pod_spec()["containers"]
    assert isinstance(only, dict)
    return only


# -- Kubernetes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"]
)
def test_each_manifest_is_valid_kubernetes(kind: str) -> None:
    kubernetes.validate(manifests()[kind], KUBERNETES_VERSION, strict=True)


def test_the_schema_check_is_really_checking() -> None:
    deployment = manifests()["Deployment"]
    misspelt = {**deployment, "spec": {**deployment["spec"], "replica": 3}}
    with pytest.raises(kubernetes.ValidationError):
        kubernetes.validate(misspelt, KUBERNETES_VERSION, strict=True)
    wrong_type = json.loads(json.dumps(deployment))
    wrong_type["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    with pytest.raises(kubernetes.ValidationError):
        kubernetes.validate(wrong_type, KUBERNETES_VERSION, strict=True)


def test_kustomization_applies_every_manifest() -> None:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    files = {path.name for path in (DEPLOY / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)


def test_selectors_match_the_pods_labels() -> None:
    objects = manifests()
    deployment = objects["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]

    def selects_pods(selector: dict[str, str]) -> bool:
        return bool(selector) and selector.items() <= labels.items()

    assert selects_pods(deployment["spec"]["selector"]["matchLabels"])
    assert selects_pods(objects["Service"]["spec"]["selector"])
    assert selects_pods(objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"])
    for constraint in pod_spec()["topologySpreadConstraints"]:
        assert selects_pods(constraint["labelSelector"]["matchLabels"])
    target = objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert target == {
        "apiVersion": deployment["apiVersion"],
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    hpa = objects["HorizontalPodAutoscaler"]["spec"]
    assert hpa["minReplicas"] >= 2, "the PDB could never allow an eviction"
    assert objects["PodDisruptionBudget"]["spec"]["maxUnavailable"] < hpa["minReplicas"]


def test_ports_and_probes_reach_the_app() -> None:
    objects = manifests()
    ports = {port["name"]: port["containerPort"] for port in container()["ports"]}
    settings = objects["ConfigMap"]["data"]
    assert ports["http"] == int(settings["EXPERIENCE_PORT"])
    assert objects["Service"]["spec"]["ports"][0]["targetPort"] in ports
    annotations = objects["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == ports["http"]

    paths = app_paths()
    assert annotations["prometheus.io/path"] in paths
    probes = {
        name: container()[name]["httpGet"]
        for name in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    for probe in probes.values():
        assert probe["path"] in paths
        assert probe["port"] in ports


def test_pods_run_as_the_dockerfiles_user_and_outlast_the_shutdown_grace() -> None:
    user = re.search(r"^USER (\d+):(\d+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert user is not None
    security = pod_spec()["securityContext"]
    assert (security["runAsUser"], security["runAsGroup"]) == (int(user[1]), int(user[2]))
    assert security["runAsNonRoot"] is True
    assert container()["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {mount["mountPath"] for mount in container()["volumeMounts"]}
    assert mounts == {"/tmp"}  # noqa: S108 - a path inside the container
    grace = float(manifests()["ConfigMap"]["data"]["EXPERIENCE_SHUTDOWN_GRACE_SECONDS"])
    pre_stop = container()["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod_spec()["terminationGracePeriodSeconds"] > grace + pre_stop


def test_configuration_names_real_settings_with_valid_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objects = manifests()
    config_map = objects["ConfigMap"]
    (source,) = container()["envFrom"]
    assert source["configMapRef"]["name"] == config_map["metadata"]["name"]
    names = [*config_map["data"], *(variable["name"] for variable in container()["env"])]
    for name in names:
        assert_setting(name)
    for name, value in config_map["data"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EXPERIENCE_AUTH_HS256_SECRET", "from-the-secret")
    settings = Settings()
    assert settings.port == 8000
    assert not settings.is_development


# -- Compose and nginx ----------------------------------------------------------------------


def test_compose_file_follows_the_compose_specification() -> None:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    validator.validate(compose())
    broken = compose()
    broken["services"]["api"]["replicas"] = 3  # belongs under `deploy:`
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_compose_services_fit_together() -> None:
    services = compose()["services"]
    assert set(services) == {"redis", "runtime", "api", "lb"}
    for service in services.values():
        for dependency in service.get("depends_on", {}):
            assert dependency in services
    api = services["api"]
    assert api["deploy"]["replicas"] >= 2
    environment = api["environment"]
    for name in environment:
        assert_setting(name)
    assert environment["EXPERIENCE_REDIS_URL"].startswith("redis://redis:6379/")
    runtime_args = runtime_parser().parse_args(services["runtime"]["command"])
    assert environment["EXPERIENCE_RUNTIME_URL"] == f"http://runtime:{runtime_args.port}"
    assert services["runtime"]["entrypoint"] == ["reference-runtime"]
    assert environment["EXPERIENCE_PORT"] in api["expose"]
    (mount,) = services["lb"]["volumes"]
    assert (DEPLOY / mount["source"]).resolve() == DEPLOY / "nginx.conf"


def test_nginx_balances_the_replicas_with_sticky_websockets() -> None:
    config = (DEPLOY / "nginx.conf").read_text()
    environment = compose()["services"]["api"]["environment"]
    assert re.search(rf"server api:{environment['EXPERIENCE_PORT']}\b", config)
    assert "hash $remote_addr consistent;" in config
    assert "proxy_set_header Upgrade $http_upgrade;" in config
    assert "proxy_set_header Connection $connection_upgrade;" in config
    assert "proxy_buffering off;" in config
    assert re.search(r"location = /metrics \{\s*return 404;", config)
    read_timeout = re.search(r"proxy_read_timeout (\d+)s;", config)
    assert read_timeout is not None
    assert int(read_timeout[1]) > Settings().tuning.ws_keep_alive_interval
    listen = re.search(r"listen (\d+);", config)
    assert listen is not None
    assert f"{listen[1]}:{listen[1]}" in compose()["services"]["lb"]["ports"]


def test_nginx_puts_limits_in_front_of_the_api() -> None:
    config = (DEPLOY / "nginx.conf").read_text()
    header_timeout = re.search(r"client_header_timeout (\d+)s;", config)
    assert header_timeout is not None
    assert int(header_timeout[1]) <= 10  # half-open sockets are dropped within seconds
    assert re.search(r"client_body_timeout \d+s;", config)
    assert re.search(r"limit_conn_zone \$binary_remote_addr zone=(\w+):", config)
    assert re.search(r"limit_conn per_client \d+;", config)
    body = re.search(r"client_max_body_size (\d+)m;", config)
    assert body is not None
    assert int(body[1]) * 1024 * 1024 >= Settings().max_upload_bytes


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    nginx = system_binary("nginx", "nginx", "macOS: `brew install nginx`")
    # Compose's DNS is not here: the replicas' name is swapped for loopback.
    config = (DEPLOY / "nginx.conf").read_text().replace("server api:", "server 127.0.0.1:")
    (tmp_path / "nginx.conf").write_text(config)
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", "stderr"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
