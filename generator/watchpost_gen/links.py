"""The two links every alert carries: its runbook page and the dashboard panel that shows it.

`runbook_url` is absolute (the repository's page for `docs/runbooks/<Alert>.md`, repository
read from Cargo.toml). `dashboard_url` is the path Grafana serves a single panel at,
`/d/<uid>?viewPanel=<id>`: the Grafana host differs per installation, so the Alertmanager
templates (alerts/templates/watchpost.tmpl, `watchpost.grafana_url`) put it in front, and
the link tests resolve uid and panel in dashboards/*.json.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def repository() -> str:
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    return cargo["workspace"]["package"]["repository"].rstrip("/")


def runbook_url(alert: str) -> str:
    return f"{repository()}/blob/main/docs/runbooks/{alert}.md"


def dashboard_url(uid: str, panel_id: int) -> str:
    return f"/d/{uid}?viewPanel={panel_id}"
