"""The observability chart: its files/ are exact copies of alerts/ and dashboards/ (sync.py
--check), and every rendered object carries its source's content: rule groups that
promtool accepts, dashboard JSON, and an Alertmanager configuration amtool accepts."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

from charts import CHARTS, REPO, render

CHART = CHARTS / "watchpost-observability"
SOURCES_PRESENT = (REPO / "alerts").is_dir() and (REPO / "dashboards").is_dir()
needs_sources = pytest.mark.skipif(not SOURCES_PRESENT, reason="alerts/ or dashboards/ does not exist yet: nothing to sync")


def tool(variable, name):
    path = os.environ.get(variable) or shutil.which(name)
    assert path, f"{name} not found: apt-get install {'prometheus' if name == 'promtool' else 'prometheus-alertmanager'} or set {variable}"
    return path


@pytest.fixture(scope="module")
def objects():
    return render("watchpost-observability", {"prometheusRules": {"labels": {"release": "kube-prometheus-stack"}}}, namespace="monitoring")


@needs_sources
def test_files_are_in_sync_with_alerts_and_dashboards():
    result = subprocess.run([sys.executable, str(CHART / "sync.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sync_check_fails_on_drift(tmp_path):
    copy = tmp_path / "repo"
    (copy / "charts").mkdir(parents=True)
    shutil.copytree(CHART, copy / "charts" / CHART.name)
    (copy / "dashboards").mkdir()
    (copy / "dashboards" / "new.json").write_text("{}")
    sync = copy / "charts" / CHART.name / "sync.py"
    result = subprocess.run([sys.executable, str(sync), "--check"], capture_output=True, text=True)
    assert result.returncode == 1
    assert "missing: charts/watchpost-observability/files/dashboards/new.json" in result.stdout
    assert "stale: charts/watchpost-observability/files/dashboards/" in result.stdout
    assert "source not present yet, left out: alerts/generated/*.yaml" in result.stderr
    assert subprocess.run([sys.executable, str(sync)], capture_output=True).returncode == 0
    assert subprocess.run([sys.executable, str(sync), "--check"], capture_output=True).returncode == 0


@needs_sources
def test_one_prometheus_rule_per_rule_file_with_its_groups(objects):
    rules = {r["metadata"]["annotations"]["watchpost.dev/source"]: r for r in objects.of_kind("PrometheusRule")}
    sources = sorted(REPO.glob("alerts/generated/*.yaml")) + sorted(REPO.glob("alerts/rules/*.yaml"))
    assert sorted(rules) == sorted(p.name for p in sources) and rules
    for source in sources:
        rule = rules[source.name]
        assert rule["spec"]["groups"] == yaml.safe_load(source.read_text())["groups"], source.name
        assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"


@needs_sources
def test_rendered_rules_pass_promtool(objects, tmp_path):
    promtool = tool("PROMTOOL", "promtool")
    files = []
    for rule in objects.of_kind("PrometheusRule"):
        path = tmp_path / f"{rule['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
        files.append(str(path))
    result = subprocess.run([promtool, "check", "rules", *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_sources
def test_dashboards_are_configmaps_for_the_grafana_sidecar(objects):
    maps = [c for c in objects.of_kind("ConfigMap") if c["metadata"]["labels"].get("grafana_dashboard") == "1"]
    sources = sorted(REPO.glob("dashboards/*.json"))
    assert len(maps) == len(sources) and maps
    by_key = {key: (config_map, value) for config_map in maps for key, value in config_map["data"].items()}
    for source in sources:
        config_map, value = by_key[source.name]
        assert json.loads(value) == json.loads(source.read_text())
        assert config_map["metadata"]["annotations"]["grafana_folder"] == "Watchpost"
        assert len(value.encode()) < 1_000_000  # a ConfigMap holds at most 1 MiB


@needs_sources
def test_alertmanager_secret_is_the_source_config_with_only_the_mount_paths_rewritten(objects, tmp_path):
    (secret,) = objects.of_kind("Secret")
    data = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    source = (REPO / "alerts/alertmanager.yml").read_text()
    expected = source.replace("  - templates/*.tmpl", "  - /etc/alertmanager/config/*.tmpl").replace(
        "/etc/alertmanager/secrets/", "/etc/alertmanager/secrets/alertmanager-watchpost-receivers/")
    assert data["alertmanager.yaml"] == expected
    assert "/etc/alertmanager/config/*.tmpl" in data["alertmanager.yaml"]
    for template in REPO.glob("alerts/templates/*.tmpl"):
        assert data[template.name] == template.read_text()
    config = tmp_path / "alertmanager.yaml"
    config.write_text(data["alertmanager.yaml"])
    result = subprocess.run([tool("AMTOOL", "amtool"), "check-config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
