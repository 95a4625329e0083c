"""The Helm chart (deploy/helm/digit-knower), checked offline: there is no cluster here.

The chart is rendered by Helm v4's own engine (helm-python-sdk), with its defaults alone and with
each values file in ci/, as chart-testing does. Then: `helm lint --strict`; every object validated
strictly against the Kubernetes API schemas of the oldest and newest supported versions (a kind
without a schema fails, but for the one CRD, checked here by hand); yamllint; checkov with no
failed check; and in code, what the deployment needs: hardened pods, probes, the per-pod outbox,
hooks, network policies, the images, the CloudNativePG wiring.
"""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

from digit_knower.store.engine import parse_url
from tests.support.deploy import parses_in_cli

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "deploy" / "helm" / "digit-knower"
CI_VALUES = {path.stem: path for path in sorted((CHART / "ci").glob("*.yaml"))}
VALUE_SETS = ["defaults", *CI_VALUES]
CNPG_CLUSTER = CHART / "examples" / "cloudnativepg-cluster.yaml"
CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
RELEASE, NAMESPACE = "dk", "digits"
# The chart's kubeVersion floor, and the newest schemas kubernetes-validate ships.
KUBE_VERSIONS = ("1.27.0", kubernetes_validate.utils.latest_version())
# Kinds with no schema in kubernetes-validate, each checked by a test of its own below.
CRD_KINDS = {"ServiceMonitor"}
WORKLOAD_KINDS = {"Deployment", "Job", "CronJob"}
# As chart-testing's own lint configuration: Helm's toYaml writes lists unindented, and a template
# that starts with a `{{- ... }}` line leaves one blank line before the object.
YAMLLINT = YamlLintConfig("""
extends: default
rules:
  line-length: {max: 140}
  document-start: disable
  truthy: {check-keys: false}
  indentation: {spaces: consistent, indent-sequences: whatever}
  empty-lines: {max-start: 1}
""")


@cache
def helm_defaults() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def values_of(name: str) -> dict:
    return helm.values_from_yaml(CI_VALUES[name].read_text()) if name in CI_VALUES else {}


@cache
def rendered_files(name: str, overrides: str = "{}") -> dict[str, str]:
    """Template path -> rendered text, for a values set (plus JSON `overrides`)."""
    values = {**values_of(name), **json.loads(overrides)}
    with helm.Chart.load(CHART) as chart:
        return chart.render(values=values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def objects(name: str, overrides: dict | None = None) -> list[dict]:
    files = rendered_files(name, json.dumps(overrides or {}, sort_keys=True))
    return [
        doc
        for path, text in files.items()
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def of_kind(docs: list[dict], kind: str) -> list[dict]:
    return [doc for doc in docs if doc["kind"] == kind]


def named(docs: list[dict], kind: str, component: str) -> dict:
    (found,) = [
        d for d in of_kind(docs, kind) if d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    return found


def pod_spec(workload: dict) -> dict:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def containers(workload: dict) -> list[dict]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


# ---- the tools ----------------------------------------------------------------------------------


@pytest.mark.parametrize("values", VALUE_SETS)
def test_helm_lint_strict_finds_nothing_beyond_information(values: str) -> None:
    report = helm.lint(str(CHART), values=values_of(values), strict=True)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == [], report


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("values", VALUE_SETS)
def test_every_rendered_object_is_valid_kubernetes_strictly(values: str, kube_version: str) -> None:
    for doc in objects(values):
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            # The CLI only warns here (e.g. an API removed in this version): a failure for us.
            assert doc["kind"] in CRD_KINDS, f"{where}: no schema for {doc['apiVersion']} in {kube_version}"
        except kubernetes_validate.ValidationError as error:
            path = ".".join(map(str, error.path))
            pytest.fail(f"{where} is not valid Kubernetes {kube_version}: {path}: {error.message}")


@pytest.mark.parametrize("values", VALUE_SETS)
def test_rendered_manifests_and_values_files_pass_yamllint(values: str) -> None:
    texts = {p: t for p, t in rendered_files(values).items() if not p.endswith("NOTES.txt")}
    if values == "defaults":  # and the chart's own YAML files, once
        files = [CHART / "values.yaml", CHART / "Chart.yaml", CNPG_CLUSTER, *CI_VALUES.values()]
        texts |= {str(p): p.read_text() for p in files}
    problems = [
        f"{path}:{p.line}: {p.desc}" for path, text in texts.items() for p in linter.run(text, YAMLLINT)
    ]
    assert problems == []


def test_checkov_finds_no_failed_check_and_every_skip_names_its_reason(tmp_path: Path) -> None:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is missing from {CHECKOV.parent.parent}: ./scripts/test installs it")
    for values in VALUE_SETS:
        files = rendered_files(values)
        text = "\n---\n".join(t for p, t in files.items() if not p.endswith("NOTES.txt"))
        (tmp_path / f"{values}.yaml").write_text(text)
    result = subprocess.run(
        [
            CHECKOV,
            "--directory",
            tmp_path,
            "--framework",
            "kubernetes",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [f"{c['check_id']} {c['resource']}" for c in report["results"]["failed_checks"]]
    assert (summary["failed"], summary["parsing_errors"], failed) == (0, 0, []), result.stderr[-2000:]
    assert summary["passed"] > 1000 and summary["resource_count"] >= 60, summary
    skipped = report["results"]["skipped_checks"]
    assert all(len(c["check_result"].get("suppress_comment", "")) > 20 for c in skipped), skipped
    assert {c["check_id"] for c in skipped} <= {
        "CKV_K8S_43",
        "CKV_K8S_15",
        "CKV_K8S_35",
        "CKV_K8S_8",
        "CKV_K8S_9",
    }


# ---- hardening, in code -------------------------------------------------------------------------


@pytest.mark.parametrize("values", VALUE_SETS)
def test_every_pod_is_non_root_read_only_unprivileged_with_no_capabilities_and_seccomp(values: str) -> None:
    workloads = [d for d in objects(values) if d["kind"] in WORKLOAD_KINDS]
    assert workloads
    for workload in workloads:
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["runAsUser"] >= 10000, where
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec["automountServiceAccountToken"] is False, where
        assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), where
        for container in containers(workload):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["privileged"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["seccompProfile"]["type"] == "RuntimeDefault", where
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{where}: {kind}"
        # A read-only root filesystem: every writable folder is a volume.
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounted = {
            m["mountPath"]: volumes[m["name"]] for c in containers(workload) for m in c["volumeMounts"]
        }
        assert {"/tmp", "/var/lib/digit-knower"} <= set(mounted), where


@pytest.mark.parametrize("values", VALUE_SETS)
def test_every_object_names_the_release_namespace(values: str) -> None:
    assert {d["metadata"].get("namespace") for d in objects(values)} == {NAMESPACE}


# ---- the API and the page -----------------------------------------------------------------------


def test_the_api_has_two_replicas_an_autoscaler_on_cpu_and_a_disruption_budget() -> None:
    docs = objects("defaults")
    api = named(docs, "Deployment", "api")
    assert "replicas" not in api["spec"], "the HorizontalPodAutoscaler owns the replica count"
    hpa = named(docs, "HorizontalPodAutoscaler", "api")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": api["metadata"]["name"],
    }
    assert hpa["spec"]["minReplicas"] == 2
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    pdb = named(docs, "PodDisruptionBudget", "api")
    assert pdb["spec"]["selector"]["matchLabels"] == api["spec"]["selector"]["matchLabels"]

    fixed = objects("hpa-off-values")
    assert of_kind(fixed, "HorizontalPodAutoscaler") == []
    assert named(fixed, "Deployment", "api")["spec"]["replicas"] == 3


def test_probes_need_no_api_key_and_readiness_is_readyz() -> None:
    (api,) = containers(named(objects("ingress-values"), "Deployment", "api"))
    assert "DIGIT_KNOWER_API_KEY" in env_of(api), "this values file sets a key: the probes must do without"
    paths = {
        probe: api[probe]["httpGet"]["path"] for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert paths == {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    assert all("httpHeaders" not in api[probe]["httpGet"] for probe in paths)
    (web,) = containers(named(objects("defaults"), "Deployment", "web"))
    assert {web[p]["httpGet"]["path"] for p in paths} == {"/_stcore/health"}


def test_api_and_page_listen_on_the_pod_network_with_the_key_from_a_secret_by_default() -> None:
    """`api` and `serve` listen on 127.0.0.1 unless told otherwise; in a pod that reaches nothing.
    Beyond it the API refuses to start with no key, so the chart always hands one over."""
    docs = objects("defaults")
    for component in ("api", "web"):
        (container,) = containers(named(docs, "Deployment", component))
        args = container["args"]
        assert args[args.index("--host") + 1] == "0.0.0.0", component
        assert "--insecure-no-key" not in args
        key = env_of(container)["DIGIT_KNOWER_API_KEY"]["valueFrom"]["secretKeyRef"]
        assert key == {"name": "digit-knower-api-key", "key": "api-key"}, component


def test_with_no_key_secret_the_install_fails_unless_insecure_no_key_says_so() -> None:
    with (
        helm.Chart.load(CHART) as chart,
        pytest.raises(helm.HelmRenderError, match=re.escape("apiKey.insecureNoKey=true")),
    ):
        chart.render(
            values={"apiKey": {"existingSecret": ""}}, name=RELEASE, namespace=NAMESPACE, is_install=True
        )
    demo = objects("defaults", {"apiKey": {"existingSecret": "", "insecureNoKey": True}})
    (api,) = containers(named(demo, "Deployment", "api"))
    assert parses_in_cli(api["args"]) == "api"
    assert api["args"][-1] == "--insecure-no-key"
    assert "DIGIT_KNOWER_API_KEY" not in env_of(api)


@pytest.mark.parametrize("component", ["api", "web"])
def test_the_outbox_is_per_pod_local_storage_and_is_flushed_before_the_pod_stops(component: str) -> None:
    deployment = named(objects("retrain-values"), "Deployment", component)
    (container,) = containers(deployment)
    state_dir = env_of(container)["DIGIT_KNOWER_STATE_DIR"]["value"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == state_dir]
    (volume,) = [v for v in pod_spec(deployment)["volumes"] if v["name"] == mount["name"]]
    assert set(volume) == {"name", "emptyDir"}, "the outbox must never be on a shared (network) volume"
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert (
        command[0] == "digit-knower"
        and parses_in_cli(command[1:]) == "db"
        and command[1:3] == ["db", "flush"]
    )
    # During a database outage the flush waits for it, but ends before the pod is killed.
    waits = int(command[command.index("--wait") + 1])
    assert 0 < waits < pod_spec(deployment)["terminationGracePeriodSeconds"]


def test_each_workload_runs_the_image_made_for_it_and_a_real_command() -> None:
    docs = objects("retrain-values")
    version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    expected = {
        ("Deployment", "api"): ("digit-knower-api", "api"),
        ("Deployment", "web"): ("digit-knower-web", "serve"),
        ("Job", "migrate"): ("digit-knower-api", "db"),
    }
    for (kind, component), (repository, handler) in expected.items():
        (container,) = containers(named(docs, kind, component))
        assert container["image"] == f"{repository}:{version}"
        assert parses_in_cli(container["args"]) == handler
    (retrain,) = containers(named(docs, "CronJob", "retrain"))
    # `digit-knower retrain` comes with the learning loop; its command line is checked there.
    assert (retrain["image"], retrain["args"]) == (f"digit-knower-train:{version}", ["retrain", "--promote"])
    digest = "sha256:" + "ab" * 32
    pinned = objects("defaults", {"api": {"image": {"digest": digest}}})  # Helm merges it into the defaults
    (container,) = containers(named(pinned, "Deployment", "api"))
    assert container["image"] == f"digit-knower-api@{digest}"


def test_several_web_replicas_get_sticky_sessions_on_the_ingress_and_one_does_not() -> None:
    sticky = "nginx.ingress.kubernetes.io/affinity"
    two = objects("ingress-values")
    assert named(two, "Deployment", "web")["spec"]["replicas"] == 2
    assert named(two, "Ingress", "web")["metadata"]["annotations"][sticky] == "cookie"
    assert sticky not in named(two, "Ingress", "api")["metadata"].get("annotations", {})
    one = objects("ingress-values", {"web": {"replicas": 1}})
    assert sticky not in named(one, "Ingress", "web")["metadata"].get("annotations", {})
    for component, host in (("web", "digits.example.com"), ("api", "api.digits.example.com")):
        ingress = named(two, "Ingress", component)
        (rule,) = ingress["spec"]["rules"]
        assert rule["host"] == host and ingress["spec"]["tls"][0]["hosts"] == [host]
        backend = rule["http"]["paths"][0]["backend"]["service"]
        assert backend == {
            "name": named(two, "Service", component)["metadata"]["name"],
            "port": {"name": "http"},
        }


# ---- migrations and the database ----------------------------------------------------------------


@pytest.mark.parametrize("values", ["defaults", "cloudnativepg-values"])
def test_migrations_run_as_a_hook_before_install_and_upgrade_from_a_secret_made_beforehand(
    values: str,
) -> None:
    docs = objects(values)
    job = named(docs, "Job", "migrate")
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    (container,) = containers(job)
    assert container["args"] == ["db", "upgrade"]
    # A pre-install hook runs before the release's own objects exist: the chart makes no Secret,
    # and the hook needs no service account of the release.
    assert of_kind(docs, "Secret") == []
    assert "serviceAccountName" not in pod_spec(job)
    expected = {
        "defaults": ("digit-knower-database", "url"),
        "cloudnativepg-values": ("digit-knower-db-app", "uri"),
    }
    for workload in [job, named(docs, "Deployment", "api"), named(docs, "Deployment", "web")]:
        (container,) = containers(workload)
        ref = env_of(container)["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == expected[values]


def test_the_cloudnativepg_example_is_the_cluster_the_values_file_expects() -> None:
    (cluster,) = [d for d in yaml.safe_load_all(CNPG_CLUSTER.read_text()) if d]
    assert (cluster["apiVersion"], cluster["kind"]) == ("postgresql.cnpg.io/v1", "Cluster")
    name = cluster["metadata"]["name"]
    values = values_of("cloudnativepg-values")
    # The operator makes `<cluster>-app`, whose `uri` is the application user's postgresql:// URL.
    assert values["database"] == {"existingSecret": f"{name}-app", "existingSecretKey": "uri"}
    assert values["networkPolicy"]["database"]["to"] == [
        {"podSelector": {"matchLabels": {"cnpg.io/cluster": name}}}
    ]
    assert cluster["spec"]["instances"] >= 2 and "initdb" in cluster["spec"]["bootstrap"]


def test_the_store_takes_the_uri_that_cloudnativepg_writes() -> None:
    """CloudNativePG's `uri` says postgresql://, which would mean psycopg2 to SQLAlchemy."""
    url = parse_url("postgresql://digitknower:pw@digit-knower-db-rw.digits:5432/digitknower")
    assert (url.drivername, url.host, url.database) == (
        "postgresql+psycopg",
        "digit-knower-db-rw.digits",
        "digitknower",
    )


# ---- networking and monitoring ------------------------------------------------------------------


@pytest.mark.parametrize("values", VALUE_SETS)
def test_network_policies_let_in_only_the_ingress_controller_and_prometheus_and_out_only_dns_and_db(
    values: str,
) -> None:
    docs = objects(values)
    merged = {**helm_defaults()["networkPolicy"], **values_of(values).get("networkPolicy", {})}
    policies = of_kind(docs, "NetworkPolicy")
    for workload in [d for d in docs if d["kind"] in WORKLOAD_KINDS]:
        labels = (
            workload["spec"]["jobTemplate"]["spec"] if workload["kind"] == "CronJob" else workload["spec"]
        )
        pod_labels = labels["template"]["metadata"]["labels"]
        selecting = [
            p for p in policies if p["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
        ]
        assert len(selecting) == 1, f"{workload['metadata']['name']}: {len(selecting)} policies"
        policy = selecting[0]["spec"]
        assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
        for rule in policy["ingress"]:
            (peer,) = rule["from"]
            assert peer in (
                {k: merged["ingressController"][k] for k in ("namespaceSelector", "podSelector")},
                {k: merged["prometheus"][k] for k in ("namespaceSelector", "podSelector")},
            )
            assert {p["port"] for p in rule["ports"]} <= {"http", "metrics"}
        egress_ports = sorted(
            {(p["port"], p["protocol"]) for rule in policy["egress"] for p in rule["ports"]}
        )
        assert egress_ports == sorted({(53, "UDP"), (53, "TCP"), (merged["database"]["port"], "TCP")})


def test_the_service_monitor_scrapes_the_metrics_port_of_the_api_and_the_page() -> None:
    docs = objects("metrics-values")
    (monitor,) = of_kind(docs, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    selector = monitor["spec"]["selector"]
    (expression,) = selector["matchExpressions"]
    selected = [
        s
        for s in of_kind(docs, "Service")
        if selector["matchLabels"].items() <= s["metadata"]["labels"].items()
        and s["metadata"]["labels"][expression["key"]] in expression["values"]
    ]
    assert {s["metadata"]["labels"]["app.kubernetes.io/component"] for s in selected} == {"api", "web"}
    assert [(e["port"], e["path"]) for e in monitor["spec"]["endpoints"]] == [("metrics", "/metrics")]
    for service in selected:
        component = service["metadata"]["labels"]["app.kubernetes.io/component"]
        (container,) = containers(named(docs, "Deployment", component))
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        setting = "DIGIT_KNOWER_METRICS_PORT" if component == "api" else "DIGIT_KNOWER_WEB_METRICS_PORT"
        assert int(env_of(container)[setting]["value"]) == ports["metrics"]
        assert {"name": "metrics", "targetPort": "metrics"}.items() <= next(
            p for p in service["spec"]["ports"] if p["name"] == "metrics"
        ).items()
    assert of_kind(objects("defaults"), "ServiceMonitor") == [], "off by default"
    # The API's port asks for the key at /metrics; the metrics port of its own, which the monitor
    # scrapes, does not: it is for Prometheus only (the network policy), so no secret is needed.
    assert all("basicAuth" not in e and "authorization" not in e for e in monitor["spec"]["endpoints"])


def test_the_retraining_job_is_off_by_default_and_shares_one_registry_with_every_pod() -> None:
    assert of_kind(objects("defaults"), "CronJob") == []
    docs = objects("retrain-values")
    (claim,) = of_kind(docs, "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    cron = named(docs, "CronJob", "retrain")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    for workload in [cron, named(docs, "Deployment", "api"), named(docs, "Deployment", "web")]:
        (container,) = containers(workload)
        registry = env_of(container)["DIGIT_KNOWER_MODEL_REGISTRY"]["value"]
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == registry]
        (volume,) = [v for v in pod_spec(workload)["volumes"] if v["name"] == mount["name"]]
        assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]


# ---- values.schema.json -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"api": {"replicaz": 3}}, "additional properties 'replicaz' not allowed"),
        ({"retrain": {"enabled": True}}, "modelRegistry/enabled"),
        ({"containerSecurityContext": {"readOnlyRootFilesystem": False}}, "readOnlyRootFilesystem"),
        ({"database": {"existingSecret": "", "existingSecretKey": "url"}}, "existingSecret"),
    ],
)
def test_the_values_schema_refuses_what_would_deploy_wrongly(values: dict, complaint: str) -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmValuesError, match=re.escape(complaint)):
        chart.render(values=values, name=RELEASE, namespace=NAMESPACE, is_install=True)


@pytest.mark.parametrize("component", ["api", "web"])
def test_the_outbox_stops_below_its_volume_and_scale_down_waits_for_it(component: str) -> None:
    """At its cap the outbox answers 503 "local storage full" instead of overflowing the emptyDir
    (which gets the pod evicted and its outbox deleted); preStop delivers the backlog within the
    grace period."""
    longer = {component: {"terminationGracePeriodSeconds": 90}}  # helm merges it into the defaults
    deployment = named(objects("defaults", longer), "Deployment", component)
    (container,) = containers(deployment)
    cap_mb = int(env_of(container)["DIGIT_KNOWER_OUTBOX_MAX_MB"]["value"])
    (state,) = [v for v in pod_spec(deployment)["volumes"] if v["name"] == "state"]
    assert state["emptyDir"]["sizeLimit"] == "1Gi" and cap_mb < 1024
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] == 90
    assert container["lifecycle"]["preStop"]["exec"]["command"] == [
        "digit-knower",
        "db",
        "flush",
        "--wait",
        "70",
    ]


def test_for_long_outages_each_pod_s_outbox_can_have_a_volume_claim_of_its_own() -> None:
    claim = {"enabled": True, "storageClassName": "local-ssd", "size": "20Gi"}
    deployment = named(
        objects("defaults", {"api": {"outboxClaim": claim, "outboxMaxMB": 18000}}), "Deployment", "api"
    )
    (state,) = [v for v in pod_spec(deployment)["volumes"] if v["name"] == "state"]
    spec = state["ephemeral"]["volumeClaimTemplate"]["spec"]
    assert "emptyDir" not in state
    assert spec["storageClassName"] == "local-ssd" and spec["resources"]["requests"]["storage"] == "20Gi"
    assert spec["accessModes"] == ["ReadWriteOnce"]
    (container,) = containers(deployment)
    assert env_of(container)["DIGIT_KNOWER_OUTBOX_MAX_MB"]["value"] == "18000"
