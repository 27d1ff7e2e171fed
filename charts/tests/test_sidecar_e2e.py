"""Sidecar mode end to end with the real binaries: the task API started with the
environment the chart renders, the node agent with the sidecar configuration the chart
renders, scraping the API over loopback and pushing to a CloudWatch emulator (ministack,
spoken to with the AWS SDK), then SIGTERM within the pod's terminationGracePeriodSeconds.
Only ports and endpoints are overridden, all on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import yaml

from charts import REPO, deep_merge, pod_spec, render, values_files

TARGET = os.environ.get("CARGO_TARGET_DIR", str(REPO / "target"))
API_BIN = os.environ.get("TASK_API_BIN", f"{TARGET}/debug/task-api")
AGENT_BIN = os.environ.get("NODE_AGENT_BIN", f"{TARGET}/debug/node-agent")
MINISTACK = os.environ.get("MINISTACK", str(REPO / ".tools/ministack/bin/ministack"))

READ_BACK = """
import json, sys, datetime, botocore.session
client = botocore.session.get_session().create_client(
    "cloudwatch", region_name="eu-west-1", endpoint_url=sys.argv[1],
    aws_access_key_id="test", aws_secret_access_key="test")
now = datetime.datetime.now(datetime.timezone.utc)
out = {}
for metric in client.list_metrics(Namespace="Watchpost/TaskApi")["Metrics"]:
    stats = client.get_metric_statistics(
        Namespace="Watchpost/TaskApi", MetricName=metric["MetricName"], Dimensions=metric["Dimensions"],
        StartTime=now - datetime.timedelta(minutes=10), EndTime=now + datetime.timedelta(minutes=1),
        Period=60, Statistics=["Sum"])
    out[metric["MetricName"]] = {"dimensions": metric["Dimensions"], "sum": sum(p["Sum"] for p in stats["Datapoints"])}
print(json.dumps(out))
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return None, ""


def wait_for(what, check, attempts=300):
    """Polls check() every 0.1 s, at most `attempts` times; the last value is the error."""
    for _ in range(attempts):
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def rendered_configs(objects):
    """The API's environment and the sidecar agent's configuration, as the chart renders them."""
    api_env, agent_yaml = {}, None
    for config_map in objects.of_kind("ConfigMap"):
        if "node-agent.yaml" in config_map["data"]:
            agent_yaml = config_map["data"]["node-agent.yaml"]
        else:
            api_env = dict(config_map["data"])
    return api_env, agent_yaml


@pytest.fixture
def processes():
    started = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sidecar_pushes_the_apis_request_counts_and_the_pod_stops_within_its_grace_period(processes, tmp_path):
    for binary in (API_BIN, AGENT_BIN, MINISTACK):
        assert os.access(binary, os.X_OK), f"{binary} missing (cargo build; venv_install ministack ministack cbor2)"
    public, admin, agent_port, cloudwatch = (free_port() for _ in range(4))
    values = deep_merge(values_files("task-api", "values-sidecar.yaml"),
                        {"service": {"port": public, "adminPort": admin}, "agentSidecar": {"port": agent_port}})
    objects = render("task-api", values)
    api_env, agent_yaml = rendered_configs(objects)
    grace = pod_spec(objects.one("Deployment"))["terminationGracePeriodSeconds"]
    cluster = values["agentSidecar"]["cluster"]

    # The API with the rendered environment; listeners on loopback, SQLite in the test's directory.
    api_env.update(LISTEN_ADDR=f"127.0.0.1:{public}", ADMIN_LISTEN_ADDR=f"127.0.0.1:{admin}",
                   DATABASE_URL=f"sqlite://{tmp_path}/tasks.db", RUST_LOG="warn")
    api_log = open(tmp_path / "api.log", "w")
    api = subprocess.Popen([API_BIN], env={"PATH": os.environ["PATH"], **api_env}, stdout=api_log, stderr=subprocess.STDOUT)
    processes.append(api)
    wait_for("the API's /readyz", lambda: get(f"http://127.0.0.1:{admin}/readyz")[0] == 200)

    emulator = subprocess.Popen([MINISTACK], env={**os.environ, "GATEWAY_PORT": str(cloudwatch), "BIND_HOST": "127.0.0.1"},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(emulator)
    wait_for("ministack", lambda: get(f"http://127.0.0.1:{cloudwatch}/_ministack/health")[0] == 200)

    config = tmp_path / "node-agent.yaml"
    config.write_text(agent_yaml)
    agent_env = {
        "PATH": os.environ["PATH"], "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "NODE_AGENT__IDENTITY__NODE": "fargate-ip-10-0-1-1.eu-west-1.compute.internal",
        "NODE_AGENT__SERVER__LISTEN_ADDRESS": f"127.0.0.1:{agent_port}",
        "NODE_AGENT__SINKS__CLOUDWATCH__ENDPOINT": f"http://127.0.0.1:{cloudwatch}",
        "NODE_AGENT__SINKS__CLOUDWATCH__PUSH_INTERVAL_SECONDS": "1",
        "NODE_AGENT__SOURCES__PROMETHEUS_SCRAPE__SCRAPE_INTERVAL_SECONDS": "0.5",
    }
    agent_log = open(tmp_path / "agent.log", "w")
    agent = subprocess.Popen([AGENT_BIN, "--config", str(config)], env=agent_env, stdout=agent_log, stderr=subprocess.STDOUT)
    processes.append(agent)

    def scrapes():
        status, text = get(f"http://127.0.0.1:{agent_port}/metrics")
        counts = [line.rsplit(" ", 1)[1] for line in text.splitlines()
                  if line.startswith('node_agent_scrape_duration_seconds_count{target="task-api"}')]
        return int(float(counts[0])) if status == 200 and counts else 0

    # A counter's first sight is its baseline (no increase, as PromQL's increase): one
    # request creates the series, two scrapes later its value is the baseline.
    assert get(f"http://127.0.0.1:{public}/api/v1/tasks")[0] == 200
    baseline = scrapes()
    wait_for("two scrapes after the first request", lambda: scrapes() >= baseline + 2)
    for _ in range(7):
        assert get(f"http://127.0.0.1:{public}/api/v1/tasks")[0] == 200

    python = os.path.join(os.path.dirname(MINISTACK), "python")

    def delivered():
        result = subprocess.run([python, "-c", READ_BACK, f"http://127.0.0.1:{cloudwatch}"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        metrics = json.loads(result.stdout)
        if metrics.get("TaskApiRequests", {}).get("sum", 0) >= 7:
            return metrics
        time.sleep(0.4)
        return None

    try:
        metrics = wait_for("7 requests in CloudWatch", delivered, attempts=30)
    except AssertionError:
        # What the agent says about its pushes, and its log, say why.
        telemetry = [line for line in get(f"http://127.0.0.1:{agent_port}/metrics")[1].splitlines()
                     if line.startswith(("node_agent_sink_requests_total", "node_agent_sink_dropped", "node_agent_scrape_errors"))]
        raise AssertionError("\n".join(telemetry) + "\n" + (tmp_path / "agent.log").read_text()[-3000:])
    assert metrics["TaskApiRequests"]["sum"] == 7
    assert metrics["TaskApiRequests"]["dimensions"] == [{"Name": "ClusterName", "Value": cluster}]
    assert metrics["TaskApiRequestsUnder500ms"]["sum"] == 7
    assert "TaskApiServerErrors" not in metrics  # no 5xx: no series, no datum

    # The kubelet's stop: SIGTERM to both, then SIGKILL after the grace period.
    started = time.monotonic()
    api.send_signal(signal.SIGTERM)
    agent.send_signal(signal.SIGTERM)
    assert api.wait(timeout=grace) == 0
    assert agent.wait(timeout=grace - (time.monotonic() - started)) == 0
    assert '"level":"ERROR"' not in (tmp_path / "api.log").read_text()


RECEIVER_BIN = os.environ.get("LOKI_RECEIVER_BIN", f"{TARGET}/debug/loki-receiver")


def test_sidecar_ships_the_apis_log_file_across_its_rotations_to_loki(processes, tmp_path):
    for binary in (API_BIN, AGENT_BIN, RECEIVER_BIN):
        assert os.access(binary, os.X_OK), f"{binary} missing (cargo build --workspace)"
    public, admin, agent_port, loki = (free_port() for _ in range(4))
    logs = tmp_path / "shared-emptydir"
    logs.mkdir()
    values = deep_merge(
        values_files("task-api", "values-sidecar.yaml"),
        {
            "service": {"port": public, "adminPort": admin},
            "agentSidecar": {"port": agent_port, "logs": {"enabled": True, "lokiEndpoint": f"http://127.0.0.1:{loki}"}},
            "logFile": {"enabled": True, "directory": str(logs), "maxFiles": 2},
        },
    )
    objects = render("task-api", values)
    api_env, agent_yaml = rendered_configs(objects)
    assert api_env["LOG_FILE"].startswith(str(logs)), api_env

    receiver = subprocess.Popen([RECEIVER_BIN, "--listen", f"127.0.0.1:{loki}", "--rate-mib", "64"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(receiver)
    wait_for("loki-receiver", lambda: get(f"http://127.0.0.1:{loki}/ready")[0] == 200)

    # Small files (the chart's schema allows 1 MiB at least), so a few hundred requests
    # rotate the log several times.
    api_env.update(LISTEN_ADDR=f"127.0.0.1:{public}", ADMIN_LISTEN_ADDR=f"127.0.0.1:{admin}",
                   DATABASE_URL=f"sqlite://{tmp_path}/tasks.db", RUST_LOG="info", LOG_FILE_MAX_BYTES="8192")
    stdout = open(tmp_path / "api.stdout", "w")
    api = subprocess.Popen([API_BIN], env={"PATH": os.environ["PATH"], **api_env}, stdout=stdout, stderr=subprocess.DEVNULL)
    processes.append(api)
    wait_for("the API's /readyz", lambda: get(f"http://127.0.0.1:{admin}/readyz")[0] == 200)

    config = tmp_path / "node-agent.yaml"
    config.write_text(agent_yaml)
    agent_env = {
        "PATH": os.environ["PATH"],
        "NODE_AGENT__IDENTITY__NODE": "fargate-ip-10-0-1-1.eu-west-1.compute.internal",
        "NODE_AGENT__SERVER__LISTEN_ADDRESS": f"127.0.0.1:{agent_port}",
        "NODE_AGENT__SOURCES__KUBERNETES_LOGS__POSITIONS_PATH": str(tmp_path / "state/positions.json"),
        "NODE_AGENT__SINKS__CLOUDWATCH__ENABLED": "false",
        "NODE_AGENT__SOURCES__PROMETHEUS_SCRAPE__ENABLED": "false",
    }
    agent = subprocess.Popen([AGENT_BIN, "--config", str(config)], env=agent_env,
                             stdout=open(tmp_path / "agent.log", "w"), stderr=subprocess.STDOUT)
    processes.append(agent)
    wait_for("the agent's /metrics", lambda: get(f"http://127.0.0.1:{agent_port}/metrics")[0] == 200)

    for _ in range(300):
        assert get(f"http://127.0.0.1:{public}/api/v1/tasks")[0] == 200
    # The pod's stop: the API exits first (its writer flushes the last lines to both
    # outputs); the agent ships what remains, then stops.
    api.send_signal(signal.SIGTERM)
    assert api.wait(timeout=30) == 0
    written = [line for line in (tmp_path / "api.stdout").read_text().splitlines() if line.startswith("{")]
    rotated = sorted(p.name for p in logs.iterdir())
    assert len(rotated) == 3, rotated  # the live file and LOG_FILE_MAX_FILES rotations

    def received():
        stats = json.loads(get(f"http://127.0.0.1:{loki}/stats")[1] or "{}")
        return stats if stats.get("entries", 0) >= len(written) else None

    try:
        stats = wait_for(f"{len(written)} log lines in Loki", received, attempts=200)
    except AssertionError:
        raise AssertionError(get(f"http://127.0.0.1:{loki}/stats")[1] + "\n" + (tmp_path / "agent.log").read_text()[-3000:])
    # Every line the API wrote (stdout holds the same lines as the file), each once.
    assert stats["entries"] == len(written) and stats["duplicates"] == 0, (stats, len(written))
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(timeout=30) == 0
