"""End to end, with the real binaries: a fault in the task API pages, and the page resolves.

The task API (SQLite, fault injection on), the node agent (node metrics, the API's log
shipped to loki-receiver), a real Prometheus loading the SLO rules made by the same
generator with windows divided by 60 (an hour becomes a minute) plus alerts/rules/, and a
real Alertmanager running alerts/alertmanager.yml with every receiver pointed at a webhook
inside this test. Steps:

1. the API's OpenAPI routes equal the generator's route table (no route outside every SLO),
   and the always-firing Watchdog reaches the dead man's switch receiver;
2. clean traffic, then 10% injected 500s and 300 ms added to every request: an availability
   page and the read-latency page (250 ms) reach the `pager` receiver, each carrying a
   runbook_url whose page exists and a dashboard_url whose uid and panel exist, while
   write-latency (500 ms) stays quiet;
3. the fault cleared: the page resolves;
4. the buckets the latency SLOs count against exist; every PromQL target of
   dashboards/*.json (variables and $__rate_interval substituted) returns data from this
   Prometheus; the duration histogram has exemplars whose trace ids are in the API's log
   lines, and the agent shipped those lines to Loki (loki-receiver).

    python e2e_page.py TARGET_DIR   (PROMETHEUS, ALERTMANAGER from the environment or PATH)
"""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from links import resolve as resolve_dashboard_url  # noqa: E402
from links import dashboards as load_dashboards  # noqa: E402
from watchpost_gen import routes, slo_spec  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TIME_SCALE = 60
FAULT = {"error_ratio": 0.1, "latency_seconds": 0.3}
AVAILABILITY_PAGES = {"TaskApiReadAvailabilityBurn", "TaskApiWriteAvailabilityBurn"}
LATENCY_PAGE = "TaskApiReadLatencyBurn"
QUIET_LATENCY = "TaskApiWriteLatencyBurn"
POD_UID = "6f1d2c3b-0000-4000-8000-000000000016"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, method: str = "GET", body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as response:
        return json.loads(response.read() or b"null")


def wait_until(what: str, predicate, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = predicate()
        except OSError:
            result = None
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Webhook:
    """Alertmanager's webhook receiver: keeps every notification with its receiver."""

    def __init__(self):
        self.notifications: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.notifications.append(body)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def summary(self) -> list[tuple[str, str, str]]:
        with self.lock:
            return sorted({(n["receiver"], a["labels"]["alertname"], a["status"]) for n in self.notifications for a in n["alerts"]})

    def alerts(self, receiver: str, status: str) -> list[dict]:
        with self.lock:
            return [
                alert
                for n in self.notifications
                if n["receiver"] == receiver
                for alert in n["alerts"]
                if alert["status"] == status
            ]


class Traffic:
    """A steady mix of task reads and writes (2 reads, 3 writes per round), until stopped."""

    def __init__(self, port: int, workers: int = 4):
        self.port = port
        self.stop = threading.Event()
        self.counts = {"requests": 0, "5xx": 0}
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(workers)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def _call(self, conn, method, path, body=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        data = response.read()
        with self.lock:
            self.counts["requests"] += 1
            self.counts["5xx"] += response.status >= 500
        return response.status, data

    def _run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self.stop.is_set():
            try:
                status, data = self._call(conn, "POST", "/api/v1/tasks", {"title": f"e2e {random.random()}"})
                self._call(conn, "GET", "/api/v1/tasks?limit=5")
                if status == 201:
                    task = json.loads(data)["id"]
                    self._call(conn, "GET", f"/api/v1/tasks/{task}")
                    self._call(conn, "PATCH", f"/api/v1/tasks/{task}", {"status": "done"})
                    self._call(conn, "DELETE", f"/api/v1/tasks/{task}")
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            time.sleep(0.2)
        conn.close()


class Stack:
    """Starts the processes in a scratch directory and stops every one of them."""

    def __init__(self, target: Path, scratch: Path):
        self.target = target
        self.scratch = scratch
        self.processes: list[subprocess.Popen] = []
        self.ports = {name: free_port() for name in ("api", "admin", "loki", "agent", "prometheus", "alertmanager")}

    def spawn(self, name: str, args: list[str], env: dict | None = None, stdout=None) -> subprocess.Popen:
        log = open(self.scratch / f"{name}.log", "wb")
        process = subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=stdout or log, stderr=log)
        self.processes.append(process)
        return process

    def stop(self):
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    def start_api(self):
        pod_dir = self.scratch / "pods" / f"watchpost_task-api-0_{POD_UID}" / "task-api"
        pod_dir.mkdir(parents=True)
        api = self.spawn(
            "task-api",
            [str(self.target / "task-api")],
            env={
                "LISTEN_ADDR": f"127.0.0.1:{self.ports['api']}",
                "ADMIN_LISTEN_ADDR": f"127.0.0.1:{self.ports['admin']}",
                "DATABASE_URL": f"sqlite://{self.scratch / 'tasks.db'}",
                "FAULT_INJECTION_ENABLED": "true",
                "LOG_FORMAT": "json",
                "RUST_LOG": "info",
            },
            stdout=subprocess.PIPE,
        )

        def kubelet():
            # What the kubelet does with a container's stdout: CRI lines in /var/log/pods.
            with open(pod_dir / "0.log", "ab", buffering=0) as out:
                for line in api.stdout:
                    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000000000Z"
                    out.write(f"{stamp} stdout F ".encode() + line)

        threading.Thread(target=kubelet, daemon=True).start()

    def start_agent(self):
        self.spawn("loki-receiver", [str(self.target / "loki-receiver"), "--listen", f"127.0.0.1:{self.ports['loki']}"])
        config = {
            "server": {"listen_address": f"127.0.0.1:{self.ports['agent']}"},
            "log": {"level": "warn"},
            "identity": {"cluster": "e2e", "node": "e2e-node"},
            "sources": {
                "node": {"enabled": True, "collect_interval_seconds": 1},
                "kubernetes_logs": {
                    "enabled": True,
                    "include": [f"{self.scratch}/pods/*/*/*.log"],
                    "positions_path": str(self.scratch / "positions.json"),
                },
            },
            "sinks": {"loki": {"enabled": True, "endpoint": f"http://127.0.0.1:{self.ports['loki']}", "batch_wait_seconds": 0.2}},
        }
        path = self.scratch / "agent.yaml"
        path.write_text(yaml.safe_dump(config))
        self.spawn("node-agent", [str(self.target / "node-agent"), "--config", str(path)])

    def start_alertmanager(self, webhook_port: int):
        config = yaml.safe_load((ROOT / "alerts" / "alertmanager.yml").read_text())
        # The real route tree and inhibitions; receivers become this test's webhook, and
        # waits shrink from minutes to a second.
        config["receivers"] = [
            {"name": r["name"], "webhook_configs": [{"url": f"http://127.0.0.1:{webhook_port}/{r['name']}", "send_resolved": True}]}
            for r in config["receivers"]
        ]
        config["global"] = {"resolve_timeout": "5m"}
        stack = [config["route"]]
        while stack:
            route = stack.pop()
            for key, value in (("group_wait", "1s"), ("group_interval", "1s"), ("repeat_interval", "1h")):
                if key in route:
                    route[key] = value
            stack.extend(route.get("routes", []))
        shutil.copytree(ROOT / "alerts" / "templates", self.scratch / "templates")
        path = self.scratch / "alertmanager.yml"
        path.write_text(yaml.safe_dump(config))
        binary = os.environ.get("ALERTMANAGER") or shutil.which("prometheus-alertmanager") or "alertmanager"
        self.spawn(
            "alertmanager",
            [binary, f"--config.file={path}", f"--storage.path={self.scratch / 'am'}",
             f"--web.listen-address=127.0.0.1:{self.ports['alertmanager']}", "--cluster.listen-address="],
        )

    def start_prometheus(self):
        rules = self.scratch / "rules"
        subprocess.run(
            [sys.executable, "-m", "watchpost_gen", "--rules-out", str(rules), "--time-scale", str(TIME_SCALE)],
            cwd=ROOT / "generator", check=True, stdout=subprocess.DEVNULL,
        )
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules / "*.yaml"), str(ROOT / "alerts" / "rules" / "*.yaml")],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{self.ports['alertmanager']}"]}]}]},
            "scrape_configs": [
                {"job_name": "task-api", "static_configs": [{"targets": [f"127.0.0.1:{self.ports['admin']}"]}]},
                {"job_name": "node-agent", "static_configs": [{"targets": [f"127.0.0.1:{self.ports['agent']}"]}]},
            ],
        }
        path = self.scratch / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        binary = os.environ.get("PROMETHEUS") or shutil.which("prometheus") or "prometheus"
        self.spawn(
            "prometheus",
            [binary, f"--config.file={path}", f"--storage.tsdb.path={self.scratch / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.ports['prometheus']}", "--enable-feature=exemplar-storage",
             # Alerts that fired before Alertmanager was discovered go out at the next resend.
             "--rules.alert.resend-delay=1s"],
        )

    def url(self, name: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}{path}"


def check_routes(stack: Stack):
    spec = get_json(stack.url("api", "/api/v1/openapi.json"))
    served = {f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item
              if method in ("get", "post", "put", "patch", "delete")}
    # The document describes every route but the one that serves it.
    table = {f"{method} {route}" for method, route in routes.API_ROUTES} - {"GET /api/v1/openapi.json"}
    assert served == table, f"the API serves {sorted(served)}, the generator's route table says {sorted(table)}"
    print(f"ok   the generator's route table matches the API's {len(served)} documented routes")


def check_links(alert: dict):
    name = alert["labels"]["alertname"]
    runbook = alert["annotations"]["runbook_url"]
    page = ROOT / "docs" / "runbooks" / runbook.rsplit("/", 1)[-1]
    assert runbook.endswith(f"/docs/runbooks/{name}.md") and page.is_file(), f"runbook {runbook} does not exist"
    problem = resolve_dashboard_url(alert["annotations"]["dashboard_url"], load_dashboards())
    assert problem is None, problem
    print(f"ok   {name}: runbook {page.relative_to(ROOT)} exists, {alert['annotations']['dashboard_url']} resolves")


def substitute(expr: str) -> str:
    for variable, value in (("$__rate_interval", "10s"), ("$job", ".*"), ("$instance", ".*"), ("$route", ".*")):
        expr = expr.replace(variable, value)
    return expr


def check_dashboard_queries(stack: Stack) -> None:
    empty = []
    queries = 0
    for path in sorted((ROOT / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        stack_panels = list(board.get("panels", []))
        while stack_panels:
            panel = stack_panels.pop()
            stack_panels.extend(panel.get("panels", []))
            for target in panel.get("targets", []):
                if (target.get("datasource") or {}).get("type") != "prometheus":
                    continue
                queries += 1
                query = urllib.parse.urlencode({"query": substitute(target["expr"])})
                answer = get_json(stack.url("prometheus", f"/api/v1/query?{query}"))
                if not answer["data"]["result"]:
                    empty.append(f"{path.name} panel {panel['id']} {panel['title']!r} {target['refId']}")
    assert not empty, "dashboard queries without data:\n  " + "\n  ".join(empty)
    print(f"ok   all {queries} PromQL targets of the dashboards return data")
    end = time.time()
    query = urllib.parse.urlencode({"query": "http_server_request_duration_seconds_bucket", "start": end - 300, "end": end})
    exemplars = get_json(stack.url("prometheus", f"/api/v1/query_exemplars?{query}"))["data"]
    trace_ids = {e["labels"].get("trace_id") for series in exemplars for e in series["exemplars"]}
    assert any(len(t or "") == 32 for t in trace_ids), f"no exemplar with a trace_id: {exemplars[:1]}"
    print(f"ok   {len(trace_ids)} exemplars with trace ids on the duration histogram")
    check_trace_to_logs(stack, {t for t in trace_ids if t})


def _has_trace_id(value, trace_id: str) -> bool:
    if isinstance(value, dict):
        return value.get("trace_id") == trace_id or any(_has_trace_id(v, trace_id) for v in value.values())
    return False


def check_trace_to_logs(stack: Stack, trace_ids: set[str]) -> None:
    """The last hop: an exemplar's trace id finds its request's lines in the shipped pod log."""
    log = next((stack.scratch / "pods").glob("*/task-api/0.log"))
    lines = log.read_text(errors="replace").splitlines()
    found = set()
    for line in lines:
        payload = line.split(" ", 3)[-1]
        if '"trace_id"' not in payload:
            continue
        try:
            record = json.loads(payload)
        except ValueError:
            continue
        found |= {t for t in trace_ids if _has_trace_id(record, t)}
    assert found, f"no log line carries any of {len(trace_ids)} exemplar trace ids"
    shipped = wait_until(
        f"the agent to ship the {len(lines)} lines written so far",
        lambda: (lambda st: st["entries"] - st["duplicates"] if st["entries"] - st["duplicates"] >= len(lines) else None)(
            get_json(stack.url("loki", "/stats"))
        ),
        30,
    )
    print(f"ok   {len(found)} exemplar trace ids found in the API's log lines; the agent shipped all "
          f"{len(lines)} of them (and {shipped - len(lines)} since) to Loki")


def check_latency_buckets(stack: Stack) -> None:
    """A latency SLO's bucket must exist: without it its error query silently reads 0."""
    for slo in slo_spec.load(ROOT / "alerts" / "slos.yaml"):
        if slo.sli_type != "latency":
            continue
        query = urllib.parse.urlencode(
            {"query": f'http_server_request_duration_seconds_bucket{{job="task-api", le="{slo.labels["latency_le"]}"}}'}
        )
        result = get_json(stack.url("prometheus", f"/api/v1/query?{query}"))["data"]["result"]
        assert result, f"{slo.id}: the API exposes no bucket le=\"{slo.labels['latency_le']}\""
        print(f"ok   {slo.id}: bucket le=\"{slo.labels['latency_le']}\" exists ({len(result)} series)")


# Alerts that must stay quiet on this healthy agent whatever machine the test runs on
# (filesystem, memory and CPU alerts depend on the machine, so they are not listed).
QUIET_ON_A_HEALTHY_AGENT = ("NodeAgentDown", "NodeAgentLogsNotShipping", "NodeAgentLogsLagging",
                            "NodeAgentEventsDropped", "NodeAgentCloudWatchPushesFailing", "NodeClockSkewDetected")


def check_no_false_alarms(stack: Stack) -> None:
    active = get_json(stack.url("prometheus", "/api/v1/alerts"))["data"]["alerts"]
    noisy = sorted({a["labels"]["alertname"] for a in active if a["labels"]["alertname"] in QUIET_ON_A_HEALTHY_AGENT})
    assert not noisy, f"pending or firing on a healthy agent: {noisy}"
    print(f"ok   none of {len(QUIET_ON_A_HEALTHY_AGENT)} agent and clock alerts is pending on the healthy agent")


def main(target: Path) -> int:
    webhook = Webhook()
    with tempfile.TemporaryDirectory(prefix="watchpost-e2e-") as tmp:
        scratch = Path(tmp)
        stack = Stack(target, scratch)
        traffic = None
        started = time.monotonic()
        try:
            stack.start_api()
            stack.start_agent()
            stack.start_alertmanager(webhook.port)
            stack.start_prometheus()
            wait_until("the task API", lambda: urllib.request.urlopen(stack.url("admin", "/readyz"), timeout=2).status == 200, 30)
            wait_until("Prometheus", lambda: urllib.request.urlopen(stack.url("prometheus", "/-/ready"), timeout=2).status == 200, 30)
            wait_until("Alertmanager", lambda: urllib.request.urlopen(stack.url("alertmanager", "/-/ready"), timeout=2).status == 200, 30)
            check_routes(stack)

            traffic = Traffic(stack.ports["api"])
            traffic.start()
            time.sleep(20)
            assert not webhook.alerts("pager", "firing"), f"paged before any fault: {webhook.alerts('pager', 'firing')}"
            watchdog = [a for a in webhook.alerts("deadmans-switch", "firing") if a["labels"]["alertname"] == "Watchdog"]
            assert watchdog, f"the Watchdog did not reach the dead man's switch receiver; got {webhook.summary()}"
            print("ok   the Watchdog reached the dead man's switch receiver")
            print(f"ok   20 s of clean traffic ({traffic.counts['requests']} requests): no page")

            get_json(stack.url("admin", "/fault"), "PUT", FAULT)
            fault_on = time.monotonic()

            def pages():
                firing = webhook.alerts("pager", "firing")
                names = {a["labels"]["alertname"] for a in firing}
                return firing if LATENCY_PAGE in names and names & AVAILABILITY_PAGES else None

            paged = wait_until("an availability page and the read-latency page", pages, 120)
            print(f"ok   paged {time.monotonic() - fault_on:.0f} s after 10% errors and +300 ms began: "
                  f"{sorted({a['labels']['alertname'] for a in paged})}")
            for alert in {a["labels"]["alertname"]: a for a in paged}.values():
                assert alert["labels"]["severity"] == "page", alert["labels"]
                check_links(alert)
            assert QUIET_LATENCY not in {a["labels"]["alertname"] for a in paged}, "write-latency paged below 500 ms"

            get_json(stack.url("admin", "/fault"), "DELETE")
            fault_off = time.monotonic()
            names = {a["labels"]["alertname"] for a in paged}
            wait_until(
                "the pages to resolve",
                lambda: names <= {a["labels"]["alertname"] for a in webhook.alerts("pager", "resolved")},
                180,
            )
            print(f"ok   pages resolved {time.monotonic() - fault_off:.0f} s after the fault stopped")
            assert QUIET_LATENCY not in {a["labels"]["alertname"] for a in webhook.alerts("pager", "firing")}, (
                "write-latency paged with 300 ms added, below its 500 ms boundary"
            )
            print("ok   write-latency (500 ms) never paged at +300 ms")

            check_no_false_alarms(stack)
            check_latency_buckets(stack)
            check_dashboard_queries(stack)
            print(f"ok   end to end in {time.monotonic() - started:.0f} s, {traffic.counts['requests']} requests, "
                  f"{traffic.counts['5xx']} 5xx")
            return 0
        except AssertionError as failure:
            print(f"FAIL {failure}", file=sys.stderr)
            for name in ("prometheus", "alertmanager", "node-agent"):
                log = scratch / f"{name}.log"
                if log.exists():
                    print(f"--- last lines of {name}.log", file=sys.stderr)
                    print("\n".join(log.read_text(errors="replace").splitlines()[-15:]), file=sys.stderr)
            return 1
        finally:
            if traffic:
                traffic.stop.set()
                for thread in traffic.threads:
                    thread.join(timeout=15)
            stack.stop()
            webhook.server.shutdown()


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
