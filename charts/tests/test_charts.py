"""The Helm charts, rendered by Helm's engine, checked against the Kubernetes schemas, the
node agent's own config validation, and what docs/api.md and docs/agent.md require."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import tempfile

import helm_python
import pytest
import yaml

import make_schemas
from charts import CHARTS, REPO, containers, deep_merge, pod_spec, render, render_error, values_files

PRODUCTION = ("values-production.yaml", "ci/production-secrets-values.yaml")
SIDECAR_WITH_LOGS = {"logFile": {"enabled": True}, "agentSidecar": {"logs": {"enabled": True}}}
AGENT_EVERYTHING_ON = {
    "serviceAccount": {"roleArn": "arn:aws:iam::123456789012:role/watchpost-prod-node-agent"},
    "config": {
        "identity": {"cluster": "watchpost-prod"},
        "sources": {"kubernetes_logs": {"enabled": True}},
        "sinks": {"cloudwatch": {"enabled": True}, "loki": {"enabled": True}},
    },
}

# Every values combination the tests render: (chart, user values).
SCENARIOS = {
    "task-api default": ("task-api", {}),
    "task-api production": ("task-api", values_files("task-api", *PRODUCTION)),
    "task-api sidecar": ("task-api", values_files("task-api", "values-sidecar.yaml")),
    "task-api sidecar with logs": ("task-api", deep_merge(values_files("task-api", "values-sidecar.yaml"), SIDECAR_WITH_LOGS)),
    "node-agent default": ("node-agent", {}),
    "node-agent everything on": ("node-agent", AGENT_EVERYTHING_ON),
    "observability default": ("watchpost-observability", {"prometheusRules": {"labels": {"release": "kube-prometheus-stack"}}}),
}
WORKLOADS = [name for name, (chart, _) in SCENARIOS.items() if chart != "watchpost-observability"]
TASK_API = [name for name, (chart, _) in SCENARIOS.items() if chart == "task-api"]
BUILTIN_API_GROUPS = ("v1", "apps/", "autoscaling/", "policy/", "networking.k8s.io/")


@pytest.fixture(scope="module")
def rendered():
    return {name: render(chart, values) for name, (chart, values) in SCENARIOS.items()}


# --- helm lint and the schema -------------------------------------------------------------


@pytest.mark.parametrize("chart", ["task-api", "node-agent", "watchpost-observability"])
def test_helm_lint_finds_no_warning_or_error(chart):
    report = helm_python.lint(CHARTS / chart, strict=True, namespace="watchpost")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("chart,files", [("task-api", PRODUCTION), ("task-api", ("values-sidecar.yaml",))])
def test_helm_lint_passes_with_the_shipped_values_files(chart, files):
    report = helm_python.lint(CHARTS / chart, values_files(chart, *files), strict=True)
    assert report["errors"] == [] and [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("chart", ["task-api", "node-agent", "watchpost-observability"])
def test_committed_schema_is_the_generated_one(chart):
    committed = (CHARTS / chart / "values.schema.json").read_text()
    assert committed == make_schemas.render(chart), "run charts/tests/make_schemas.py"


@pytest.mark.parametrize(
    "chart,values,message",
    [
        ("task-api", {"replicaCount": 0}, "at '/replicaCount': minimum: got 0, want 1"),
        ("task-api", {"replicaCuont": 3}, "additional properties 'replicaCuont' not allowed"),
        ("task-api", {"securityContext": {"privileged": True}}, "at '/securityContext/privileged'"),
        ("task-api", {"auth": {"jwtSecret": "too-short"}}, "at '/auth/jwtSecret'"),
        ("task-api", {"database": {"url": "mysql://x"}}, "at '/database/url'"),
        ("task-api", {"shutdown": {"timeoutSeconds": "20s"}}, "at '/shutdown/timeoutSeconds': got string, want integer"),
        ("task-api", {"agentSidecar": {"cloudwatch": {"namespace": "AWS/EC2"}}}, "at '/agentSidecar/cloudwatch/namespace'"),
        ("task-api", {"resources": {"limits": None}}, "missing property 'limits'"),
        ("node-agent", {"config": {"server": {"listen_address": "0.0.0.0:1"}}}, "at '/config/server'"),
        ("node-agent", {"serviceAccount": {"roleArn": "my-role"}}, "at '/serviceAccount/roleArn'"),
    ],
)
def test_invalid_values_are_refused_naming_the_value(chart, values, message):
    assert message in render_error(chart, values)


def test_production_without_a_jwt_secret_is_refused():
    values = values_files("task-api", "values-production.yaml")
    assert "auth.required is true: set auth.existingSecret" in render_error("task-api", values)


def test_production_without_a_database_secret_is_refused():
    values = deep_merge(values_files("task-api", "values-production.yaml"), {"auth": {"existingSecret": "jwt"}})
    assert "database.embeddedSqlite is false: set database.existingSecret" in render_error("task-api", values)


def test_sidecar_logs_without_the_api_log_file_are_refused():
    values = deep_merge(values_files("task-api", "values-sidecar.yaml"), {"agentSidecar": {"logs": {"enabled": True}}})
    assert "agentSidecar.logs.enabled needs logFile.enabled" in render_error("task-api", values)


# --- Kubernetes schemas ---------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.29.0", "1.31.0"])
def test_every_builtin_object_validates_strictly_against_kubernetes(rendered, version):
    binary = os.environ.get("KUBERNETES_VALIDATE", str(REPO / ".tools/kubernetes-validate/bin/kubernetes-validate"))
    with tempfile.TemporaryDirectory() as scratch:
        files = []
        for scenario, objects in rendered.items():
            for index, obj in enumerate(objects.objects):
                if obj["apiVersion"].startswith(BUILTIN_API_GROUPS):
                    path = pathlib.Path(scratch, f"{scenario.replace(' ', '_')}-{index}-{obj['kind']}.yaml")
                    path.write_text(yaml.safe_dump(obj))
                    files.append(str(path))
        result = subprocess.run([binary, "--strict", "--quiet", "-k", version, *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(files) > 30


def test_only_known_kinds_are_rendered(rendered):
    known = {"ConfigMap", "Secret", "ServiceAccount", "Service", "Deployment", "DaemonSet",
             "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor", "PodMonitor", "PrometheusRule"}
    for scenario, objects in rendered.items():
        assert objects.kinds() <= known, scenario


# --- labels, selectors, names ---------------------------------------------------------------


@pytest.mark.parametrize("scenario", WORKLOADS)
def test_selectors_are_name_and_instance_only_and_match_the_pods(rendered, scenario):
    objects = rendered[scenario]
    workload = (objects.of_kind("Deployment") + objects.of_kind("DaemonSet"))[0]
    selector = workload["spec"]["selector"]["matchLabels"]
    assert set(selector) == {"app.kubernetes.io/name", "app.kubernetes.io/instance"}
    pod_labels = workload["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    for kind in ("Service", "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor", "PodMonitor"):
        for obj in objects.of_kind(kind):
            spec = obj["spec"]
            chosen = spec.get("selector") if kind == "Service" else (spec.get("podSelector") or spec["selector"])["matchLabels"]
            assert chosen == selector, f"{kind} selects {chosen}"
    for obj in objects.objects:
        assert obj["metadata"]["namespace"] == "watchpost"
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"


def test_selector_does_not_change_with_values_or_version_labels():
    first = render("task-api", {})
    second = render("task-api", {"commonLabels": {"team": "tasks"}, "podLabels": {"extra": "x"}, "image": {"tag": "9.9.9"}})
    assert first.one("Deployment")["spec"]["selector"] == second.one("Deployment")["spec"]["selector"]


def test_monitors_scrape_ports_that_exist(rendered):
    api = rendered["task-api production"]
    service_ports = {p["name"] for p in api.one("Service")["spec"]["ports"]}
    assert [e["port"] for e in api.one("ServiceMonitor")["spec"]["endpoints"]] == ["admin"]
    assert "admin" in service_ports
    assert api.one("ServiceMonitor")["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    agent = rendered["node-agent default"]
    ports = {p["name"] for p in containers(agent.one("DaemonSet"))[0]["ports"]}
    assert agent.one("PodMonitor")["spec"]["podMetricsEndpoints"][0]["port"] in ports
    sidecar = rendered["task-api sidecar"]
    sidecar_ports = {p["name"] for c in containers(sidecar.one("Deployment")) for p in c.get("ports", [])}
    assert sidecar.one("PodMonitor")["spec"]["podMetricsEndpoints"][0]["port"] == "agent-metrics" in sidecar_ports


def test_monitors_give_the_jobs_the_rules_and_dashboards_select(rendered):
    """Every job="..." in alerts/ and dashboards/ is a job some monitor of the charts sets."""
    sources = [*REPO.glob("alerts/rules/*.yaml"), *REPO.glob("alerts/generated/*.yaml"), *REPO.glob("dashboards/*.json")]
    selected = {job for path in sources for job in re.findall(r'job=\\?"([a-z-]+)\\?"', path.read_text())}
    jobs = set()
    for objects in rendered.values():
        for monitor in objects.of_kind("ServiceMonitor") + objects.of_kind("PodMonitor"):
            for endpoint in monitor["spec"].get("endpoints", []) + monitor["spec"].get("podMetricsEndpoints", []):
                jobs |= {r["replacement"] for r in endpoint["relabelings"] if r["targetLabel"] == "job"}
    assert selected and selected <= jobs, f"rules select {selected}, monitors set {jobs}"


# --- security -------------------------------------------------------------------------------


def api_config(objects):
    """The task API's environment ConfigMap (not the sidecar agent's)."""
    (config_map,) = [c for c in objects.of_kind("ConfigMap") if "node-agent.yaml" not in c["data"]]
    return config_map["data"]


def assert_restricted_container(container):
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False, container["name"]
    assert context["readOnlyRootFilesystem"] is True, container["name"]
    assert context["capabilities"]["drop"] == ["ALL"], container["name"]
    assert "add" not in context["capabilities"]
    assert context.get("privileged", False) is False


@pytest.mark.parametrize("scenario", TASK_API)
def test_task_api_pods_meet_the_restricted_pod_security_standard(rendered, scenario):
    deployment = rendered[scenario].one("Deployment")
    spec = pod_spec(deployment)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] >= 10000
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
    assert all("hostPath" not in v for v in spec["volumes"])
    for container in containers(deployment):
        assert_restricted_container(container)


def test_node_agent_has_host_access_read_only_and_nothing_else(rendered):
    daemonset = rendered["node-agent everything on"].one("DaemonSet")
    spec = pod_spec(daemonset)
    assert spec["hostNetwork"] is True and spec["hostPID"] is True
    assert spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    (container,) = containers(daemonset)
    assert_restricted_container(container)
    host_paths = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    assert host_paths == {"proc": "/proc", "root": "/", "pod-logs": "/var/log/pods", "state": "/var/lib/node-agent"}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    for name in ("proc", "root", "pod-logs"):
        assert mounts[name]["readOnly"] is True, name
    assert not mounts["state"].get("readOnly", False)
    config = yaml.safe_load(rendered["node-agent everything on"].one("ConfigMap")["data"]["node-agent.yaml"])
    assert (mounts["proc"]["mountPath"], mounts["root"]["mountPath"]) == (
        config["sources"]["node"]["proc_path"], config["sources"]["node"]["rootfs_path"])
    assert config["sources"]["kubernetes_logs"]["positions_path"].startswith(mounts["state"]["mountPath"] + "/")
    # No RBAC: the agent never calls the Kubernetes API.
    assert not rendered["node-agent everything on"].kinds() & {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}


def test_node_agent_runs_on_every_linux_node_but_fargate(rendered):
    spec = pod_spec(rendered["node-agent default"].one("DaemonSet"))
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    (term,) = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert term["matchExpressions"] == [{"key": "eks.amazonaws.com/compute-type", "operator": "NotIn", "values": ["fargate"]}]
    assert {"operator": "Exists"} in spec["tolerations"]
    assert spec["priorityClassName"] == "system-node-critical"
    env = {e["name"]: e for e in containers(rendered["node-agent default"].one("DaemonSet"))[0]["env"]}
    assert env["NODE_AGENT__IDENTITY__NODE"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_container_has_cpu_and_memory_requests_and_limits(rendered, scenario):
    objects = rendered[scenario]
    for workload in objects.of_kind("Deployment") + objects.of_kind("DaemonSet"):
        for container in containers(workload):
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), (container["name"], bound)


def test_irsa_role_is_annotated_on_the_service_accounts(rendered):
    for scenario in ("task-api production", "node-agent everything on"):
        account = rendered[scenario].one("ServiceAccount")
        assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
        assert account["automountServiceAccountToken"] is False


# --- the API's probes, drain and configuration ----------------------------------------------


def test_probes_use_the_admin_port_and_the_api_health_routes(rendered):
    deployment = rendered["task-api production"].one("Deployment")
    api = pod_spec(deployment)["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    assert ports == {"http": 8080, "admin": 9464}
    assert api["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "admin"}
    assert api["startupProbe"]["httpGet"] == {"path": "/livez", "port": "admin"}
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    config = api_config(rendered["task-api production"])
    assert config["ADMIN_LISTEN_ADDR"] == "0.0.0.0:9464" and config["LISTEN_ADDR"] == "0.0.0.0:8080"


@pytest.mark.parametrize("shutdown", [{}, {"preStopSleepSeconds": 10, "drainDelaySeconds": 15, "timeoutSeconds": 60}])
def test_grace_period_covers_prestop_drain_and_shutdown_timeout(shutdown):
    objects = render("task-api", {"shutdown": shutdown})
    spec = pod_spec(objects.one("Deployment"))
    config = api_config(objects)
    pre_stop = spec["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = int(config["SHUTDOWN_DRAIN_DELAY"].rstrip("s"))
    timeout = int(config["SHUTDOWN_TIMEOUT"].rstrip("s"))
    assert spec["terminationGracePeriodSeconds"] > pre_stop + drain + timeout
    assert (drain, timeout) == (shutdown.get("drainDelaySeconds", 5), shutdown.get("timeoutSeconds", 20))


def test_rollout_never_drops_below_the_wanted_count_and_spreads_over_zones(rendered):
    spec = rendered["task-api production"].one("Deployment")["spec"]
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert "replicas" not in spec  # the HPA owns the count
    hpa = rendered["task-api production"].one("HorizontalPodAutoscaler")["spec"]
    assert hpa["minReplicas"] == 3 and hpa["scaleTargetRef"]["name"] == rendered["task-api production"].one("Deployment")["metadata"]["name"]
    zone = [c for c in spec["template"]["spec"]["topologySpreadConstraints"] if c["topologyKey"] == "topology.kubernetes.io/zone"]
    assert zone and zone[0]["whenUnsatisfiable"] == "DoNotSchedule"
    assert render("task-api", {"autoscaling": {"enabled": False}}).one("Deployment")["spec"]["replicas"] == 3


def test_config_and_secret_changes_roll_the_pods():
    def checksums(values):
        return render("task-api", values).one("Deployment")["spec"]["template"]["metadata"]["annotations"]

    base = checksums({"database": {"url": "postgres://a@db/tasks"}})
    assert checksums({"database": {"url": "postgres://b@db/tasks"}})["checksum/secret"] != base["checksum/secret"]
    assert checksums({"database": {"url": "postgres://a@db/tasks"}, "log": {"level": "debug"}})["checksum/config"] != base["checksum/config"]
    assert checksums({"database": {"url": "postgres://a@db/tasks"}}) == base


def test_production_reads_every_secret_from_the_named_secrets_and_renders_none(rendered):
    objects = rendered["task-api production"]
    assert objects.of_kind("Secret") == []
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in pod_spec(objects.one("Deployment"))["containers"][0]["env"]}
    assert env == {"DATABASE_URL": {"name": "task-api-db", "key": "database-url"},
                   "AUTH_JWT_SECRET": {"name": "task-api-jwt", "key": "jwt-key"}}
    config = api_config(objects)
    assert config["AUTH_REQUIRED"] == "true" and "DATABASE_URL" not in config


def test_inline_rs256_key_goes_to_the_chart_secret_as_a_public_key():
    objects = render("task-api", {"auth": {"jwtPublicKey": "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"}})
    env = {e["name"] for e in pod_spec(objects.one("Deployment"))["containers"][0]["env"]}
    assert env == {"AUTH_JWT_PUBLIC_KEY"}
    assert set(objects.one("Secret")["data"]) == {"jwt-key"}


def test_every_api_setting_the_chart_sets_is_one_the_api_reads():
    settings = (REPO / "api/src/config.rs").read_text()
    objects = render("task-api", deep_merge(values_files("task-api", "values-sidecar.yaml"), SIDECAR_WITH_LOGS))
    for name in api_config(objects):
        assert f'name: "{name}"' in settings, name


def test_admin_port_is_open_only_to_the_monitoring_namespace(rendered):
    policy = rendered["task-api sidecar"].one("NetworkPolicy")["spec"]
    public, admin = policy["ingress"]
    assert [p["port"] for p in public["ports"]] == ["http"] and {"namespaceSelector": {}} in public["from"]
    assert [p["port"] for p in admin["ports"]] == ["admin", "agent-metrics"]
    assert admin["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]


# --- sidecar mode ---------------------------------------------------------------------------


def test_sidecar_is_a_native_sidecar_scraping_the_api_on_localhost(rendered):
    objects = rendered["task-api sidecar"]
    (agent,) = pod_spec(objects.one("Deployment"))["initContainers"]
    assert agent["restartPolicy"] == "Always"
    config = yaml.safe_load(next(c for c in objects.of_kind("ConfigMap") if c["metadata"]["name"].endswith("-agent"))["data"]["node-agent.yaml"])
    assert config["sources"]["prometheus_scrape"]["targets"] == [{"name": "task-api", "url": "http://127.0.0.1:9464/metrics"}]
    assert config["sources"]["node"]["enabled"] is False
    assert config["sinks"]["cloudwatch"]["enabled"] is True and "loki" not in config["sinks"]


def test_sidecar_with_logs_shares_the_log_directory_read_only(rendered):
    deployment = rendered["task-api sidecar with logs"].one("Deployment")
    agent, api = containers(deployment)
    api_mount = next(m for m in api["volumeMounts"] if m["name"] == "logs")
    agent_mount = next(m for m in agent["volumeMounts"] if m["name"] == "logs")
    assert api_mount["mountPath"] == agent_mount["mountPath"] == "/var/log/task-api" and agent_mount["readOnly"] is True
    config = api_config(rendered["task-api sidecar with logs"])
    assert config["LOG_FILE"] == "/var/log/task-api/task-api.log"
    volume = next(v for v in pod_spec(deployment)["volumes"] if v["name"] == "logs")
    assert "emptyDir" in volume


def agent_configs(rendered):
    for scenario, objects in rendered.items():
        for config_map in objects.of_kind("ConfigMap"):
            if "node-agent.yaml" in config_map["data"]:
                yield scenario, config_map["data"]["node-agent.yaml"]


def test_the_node_agent_accepts_every_rendered_configuration(rendered):
    binary = os.environ.get("NODE_AGENT_BIN", str(REPO / "target/debug/node-agent"))
    assert os.access(binary, os.X_OK), f"{binary} missing: cargo build -p node-agent, or set NODE_AGENT_BIN"
    checked = 0
    with tempfile.TemporaryDirectory() as scratch:
        for scenario, text in agent_configs(rendered):
            path = pathlib.Path(scratch, "node-agent.yaml")
            path.write_text(text)
            env = {"PATH": os.environ.get("PATH", ""), "AWS_REGION": "eu-west-1", "NODE_AGENT__IDENTITY__NODE": "ip-10-0-1-1"}
            result = subprocess.run([binary, "--config", str(path), "--check-config"], capture_output=True, text=True, env=env)
            assert result.returncode == 0, f"{scenario}: {result.stderr}"
            checked += 1
    assert checked == 4


@pytest.mark.parametrize("chart", ["task-api", "node-agent", "watchpost-observability"])
def test_readme_lists_every_value(chart):
    import make_readme

    assert (CHARTS / chart / "README.md").read_text() == make_readme.updated_readme(chart), "run charts/tests/make_readme.py"


def test_notes_warn_about_development_mode_only_outside_production():
    with helm_python.Chart.load(CHARTS / "task-api") as chart:
        development = chart.render({}, name="w", namespace="w")["task-api/templates/NOTES.txt"]
        production = chart.render(values_files("task-api", *PRODUCTION), name="w", namespace="w")["task-api/templates/NOTES.txt"]
    assert "single-owner" in development and "own SQLite" in development
    assert "WARNING" not in production


def effective_agent_config(text):
    """The configuration node-agent itself resolves (defaults included), by --check-config."""
    binary = os.environ.get("NODE_AGENT_BIN", str(REPO / "target/debug/node-agent"))
    with tempfile.TemporaryDirectory() as scratch:
        path = pathlib.Path(scratch, "node-agent.yaml")
        path.write_text(text)
        env = {"PATH": os.environ.get("PATH", ""), "AWS_REGION": "eu-west-1"}
        result = subprocess.run([binary, "--config", str(path), "--check-config"], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_cloudwatch_alarms_query_what_the_agents_ship(rendered):
    """terraform/modules/cloudwatch alarms on metric names, namespaces and dimensions that
    the charts' agents actually push (as node-agent resolves their configuration)."""
    alarms = (REPO / "terraform/modules/cloudwatch/main.tf").read_text()
    variables = (REPO / "terraform/modules/cloudwatch/variables.tf").read_text()
    iam = (REPO / "terraform/modules/watchpost/main.tf").read_text()

    node = effective_agent_config(dict(agent_configs({"n": rendered["node-agent everything on"]}))["n"])["sinks"]["cloudwatch"]
    node_names = {rule.get("name") or re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", rule["selector"]).group() for rule in node["metrics"]}
    # Each node alarm is a row of local.node_alarms whose `select` goes into one
    # "SELECT <select> FROM ${local.nodes}" query.
    assert 'expression  = "SELECT ${each.value.select} FROM ${local.nodes}"' in alarms
    node_alarms = alarms[alarms.index("node_alarms = {"):alarms.index("task_api_alarms =")]
    queried = set(re.findall(r'select\s*=\s*"\w+\((\w+)\)"', node_alarms))
    assert len(queried) >= 3 and queried <= node_names, queried - node_names
    assert f'default     = "{node["namespace"]}"' in variables
    assert node["dimensions"] == ["cluster", "node"]  # SCHEMA(..., ClusterName, NodeName)

    sidecar = effective_agent_config(dict(agent_configs({"s": rendered["task-api sidecar"]}))["s"])["sinks"]["cloudwatch"]
    sidecar_names = {rule["name"] for rule in sidecar["metrics"]}
    assert set(re.findall(r'"(TaskApi\w+)"', alarms)) == sidecar_names
    assert f'"{sidecar["namespace"]}"' in iam and sidecar["dimensions"] == ["cluster"]


def test_irsa_trust_names_the_service_accounts_the_documented_releases_create():
    """terraform/modules/iam trusts <namespace>/<name>; the releases of docs/deploy.md
    (node-agent in monitoring, task-api in watchpost) create exactly those accounts."""
    variables = (REPO / "terraform/modules/iam/variables.tf").read_text()
    for chart, namespace in (("node-agent", "monitoring"), ("task-api", "watchpost")):
        account = render(chart, {}, release=chart, namespace=namespace).one("ServiceAccount")["metadata"]["name"]
        assert f'default = {{ namespace = "{namespace}", name = "{account}" }}' in variables, chart
