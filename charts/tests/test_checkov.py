"""checkov's policies on the rendered manifests (every values scenario of test_charts.py)
and on terraform/: no failed check, and every skipped check carries a written reason."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import pytest
import yaml

from charts import REPO, render
from test_charts import SCENARIOS

CHECKOV = os.environ.get("CHECKOV", str(REPO / ".tools/checkov/bin/checkov"))


def checkov(directory, framework):
    result = subprocess.run(
        [CHECKOV, "-d", str(directory), "--framework", framework, "--skip-download", "-o", "json"],
        capture_output=True, text=True, env={**os.environ, "LOG_LEVEL": "ERROR"},
    )
    assert result.returncode in (0, 1), result.stderr
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return [r for r in reports if r.get("check_type") == framework]


def failures_and_unjustified_skips(reports):
    failed, unjustified, passed = [], [], 0
    assert reports and all(not r["results"].get("parsing_errors") for r in reports), "checkov found nothing to check or could not parse"
    for report in reports:
        passed += report["summary"]["passed"]
        for check in report["results"]["failed_checks"]:
            failed.append(f"{check['check_id']} {check['resource']} ({check['file_path']}): {check['check_name']}")
        for check in report["results"]["skipped_checks"]:
            reason = (check["check_result"].get("suppress_comment") or "").strip()
            if len(reason) < 20:
                unjustified.append(f"{check['check_id']} {check['resource']}: {reason!r}")
    return failed, unjustified, passed


def test_rendered_manifests_pass_checkov(tmp_path):
    for name, (chart, values) in SCENARIOS.items():
        (tmp_path / f"{name.replace(' ', '_')}.yaml").write_text(yaml.safe_dump_all(render(chart, values).objects))
    failed, unjustified, passed = failures_and_unjustified_skips(checkov(tmp_path, "kubernetes"))
    assert failed == [] and unjustified == []
    assert passed > 300


def test_terraform_passes_checkov():
    failed, unjustified, passed = failures_and_unjustified_skips(checkov(REPO / "terraform", "terraform"))
    assert failed == [] and unjustified == []
    assert passed > 150
