"""Routing and inhibition of alerts/alertmanager.yml, with the real amtool and Alertmanager.

Routing: `amtool config routes test --verify.receivers` for every severity and the Watchdog,
plus one deliberate mismatch that must fail (so the check itself is shown to bite).
Templates: `amtool template render` of the title and text every receiver uses must carry
the summary, the runbook link and the dashboard link joined to the Grafana host.
Inhibition: amtool cannot evaluate inhibit rules, so a real Alertmanager runs the same
route tree and inhibit rules (receivers emptied: nothing leaves loopback), alerts are
posted to its API, and each target alert must be inhibited by exactly the expected source,
while look-alikes that differ in the `equal` labels stay active.

    python alertmanager_routes.py AMTOOL CONFIG  (ALERTMANAGER from the environment or PATH)
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROUTES = [
    ({"alertname": "TaskApiReadAvailabilityBurn", "severity": "page", "service": "task-api"}, "pager"),
    ({"alertname": "TaskApiReadAvailabilityBurn", "severity": "ticket", "service": "task-api"}, "chat-and-email"),
    ({"alertname": "NodeCPUHighUsage", "severity": "info"}, "blackhole"),
    ({"alertname": "SomethingWithoutSeverity"}, "blackhole"),
    ({"alertname": "Watchdog", "severity": "info"}, "deadmans-switch"),
]


def amtool_routes(amtool: str, config: str, labels: dict[str, str], receiver: str) -> bool:
    args = [amtool, "config", "routes", "test", f"--config.file={config}", f"--verify.receivers={receiver}"]
    args += [f"{k}={v}" for k, v in labels.items()]
    return subprocess.run(args, capture_output=True, text=True).returncode == 0


TEMPLATE_ALERT = {
    "status": "firing",
    "labels": {"alertname": "TaskApiDown", "severity": "page", "service": "task-api", "instance": "a:9464"},
    "annotations": {
        "summary": "Task API instance a:9464 does not answer scrapes",
        "description": "Prometheus could not scrape a:9464 for 2 minutes.",
        "runbook_url": "https://github.com/watchpost/watchpost/blob/main/docs/runbooks/TaskApiDown.md",
        "dashboard_url": "/d/watchpost-service-red?viewPanel=1",
    },
    "startsAt": "2026-12-02T13:00:00Z",
    "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "http://prometheus/graph",
    "fingerprint": "0123456789abcdef",
}
EXPECTED_TEXT = [
    "[FIRING:1] TaskApiDown (task-api) page",
    "Task API instance a:9464 does not answer scrapes",
    "Prometheus could not scrape a:9464 for 2 minutes.",
    "Runbook: https://github.com/watchpost/watchpost/blob/main/docs/runbooks/TaskApiDown.md",
    "Dashboard: https://grafana.watchpost.example/d/watchpost-service-red?viewPanel=1",
]


def check_templates(amtool: str, config: str) -> list[str]:
    data = {
        "receiver": "pager",
        "status": "firing",
        "alerts": [TEMPLATE_ALERT],
        "groupLabels": {"alertname": "TaskApiDown", "service": "task-api"},
        "commonLabels": TEMPLATE_ALERT["labels"],
        "commonAnnotations": TEMPLATE_ALERT["annotations"],
        "externalURL": "http://alertmanager",
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(data, file)
        file.flush()
        rendered = subprocess.run(
            [amtool, "template", "render", f"--template.glob={Path(config).parent}/templates/*.tmpl",
             "--template.text={{ template \"watchpost.title\" . }}\n{{ template \"watchpost.text\" . }}",
             f"--template.data={file.name}"],
            capture_output=True, text=True,
        )
    lines = rendered.stdout.splitlines()
    missing = [line for line in EXPECTED_TEXT if line not in lines]
    if rendered.returncode or missing:
        return [f"template: missing {missing} in:\n{rendered.stdout}{rendered.stderr}"]
    print("ok   template: title, summary, description, runbook and Grafana panel link rendered")
    return []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url: str, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as response:
        return json.loads(response.read() or b"null")


def alert(**labels: str) -> dict:
    return {"labels": labels, "annotations": {"summary": "test"}}


# (name in the test, labels) and which test alerts each must be inhibited by (empty: active).
INHIBITION_ALERTS = {
    "read-page": alert(alertname="TaskApiReadAvailabilityBurn", severity="page", service="task-api",
                       sloth_id="task-api-read-availability"),
    "read-ticket": alert(alertname="TaskApiReadAvailabilityBurn", severity="ticket", service="task-api",
                         sloth_id="task-api-read-availability"),
    "write-ticket": alert(alertname="TaskApiWriteAvailabilityBurn", severity="ticket", service="task-api",
                          sloth_id="task-api-write-availability"),
    "node-down": alert(alertname="NodeNotReady", severity="page", node="n1"),
    "pod-on-n1": alert(alertname="TaskApiCrashLooping", severity="ticket", service="task-api", pod="task-api-a",
                       node="n1"),
    "pod-on-n2": alert(alertname="TaskApiNotReady", severity="ticket", service="task-api", pod="task-api-b",
                       node="n2"),
    "api-down": alert(alertname="TaskApiDown", severity="page", service="task-api", instance="a"),
    "sli-absent": alert(alertname="TaskApiSLIAbsent", severity="ticket", service="task-api",
                        sloth_id="task-api-read-latency"),
}
EXPECTED_INHIBITORS = {
    "read-page": set(),
    "read-ticket": {"read-page"},
    "write-ticket": set(),
    "node-down": set(),
    "pod-on-n1": {"node-down"},
    "pod-on-n2": set(),
    "api-down": set(),
    "sli-absent": {"api-down"},
}


def check_inhibitions(config: str) -> list[str]:
    binary = os.environ.get("ALERTMANAGER") or shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not binary:
        return ["alertmanager binary not found (set ALERTMANAGER)"]
    cfg = yaml.safe_load(Path(config).read_text())
    cfg["receivers"] = [{"name": r["name"]} for r in cfg["receivers"]]
    cfg.pop("templates", None)
    cfg["global"] = {"resolve_timeout": "5m"}
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "alertmanager.yml"
        path.write_text(yaml.safe_dump(cfg))
        port = free_port()
        process = subprocess.Popen(
            [binary, f"--config.file={path}", f"--storage.path={tmp}/data", f"--web.listen-address=127.0.0.1:{port}",
             "--cluster.listen-address=", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            base = f"http://127.0.0.1:{port}/api/v2"
            for _ in range(100):
                try:
                    request(f"{base}/status")
                    break
                except OSError:
                    time.sleep(0.1)
            request(f"{base}/alerts", list(INHIBITION_ALERTS.values()))
            fingerprints: dict[str, str] = {}
            got: dict[str, set[str]] = {}
            for _ in range(50):
                listed = request(f"{base}/alerts")
                fingerprints = {}
                for name, posted in INHIBITION_ALERTS.items():
                    for item in listed:
                        if item["labels"] == posted["labels"]:
                            fingerprints[item["fingerprint"]] = name
                            got[name] = set(item["status"]["inhibitedBy"])
                if len(got) == len(INHIBITION_ALERTS) and all(
                    {fingerprints.get(f, f) for f in got[n]} == e for n, e in EXPECTED_INHIBITORS.items()
                ):
                    break
                time.sleep(0.1)
            for name, expected in EXPECTED_INHIBITORS.items():
                actual = {fingerprints.get(f, f) for f in got.get(name, {"<missing>"})}
                if actual != expected:
                    failures.append(f"inhibition: {name} inhibited by {sorted(actual)}, expected {sorted(expected)}")
                else:
                    print(f"ok   inhibition: {name} inhibited by {sorted(expected) or 'nothing'}")
        finally:
            process.terminate()
            process.wait(timeout=10)
    return failures


def main(amtool: str, config: str) -> int:
    failures = []
    for labels, receiver in ROUTES:
        if amtool_routes(amtool, config, labels, receiver):
            print(f"ok   route: {labels} -> {receiver}")
        else:
            failures.append(f"route: {labels} does not reach {receiver}")
    if amtool_routes(amtool, config, {"alertname": "X", "severity": "ticket"}, "pager"):
        failures.append("route: amtool accepted a ticket reaching the pager; the route check cannot fail")
    failures += check_templates(amtool, config)
    failures += check_inhibitions(config)
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
