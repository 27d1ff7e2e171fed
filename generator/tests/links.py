"""Every alert is complete and its links resolve; every runbook page is linked.

For each alert in alerts/generated/*.yaml and alerts/rules/*.yaml: `severity` is page,
ticket or info; `summary` and `description` are there; `runbook_url` is the repository's
docs/runbooks/<alertname>.md and that file exists; `dashboard_url` is /d/<uid>?viewPanel=<id>
and dashboards/*.json has that uid and a panel with that id. Every page in docs/runbooks/
is some alert's runbook, and the Grafana and runbook links inside the pages resolve too.

    python links.py   (from anywhere; paths are relative to the repository)
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_URL = re.compile(r"/d/([A-Za-z0-9_-]+)(?:/[^?\s)]*)?(?:\?viewPanel=(\d+))?")


def dashboards() -> dict[str, set[int]]:
    """uid -> ids of every panel, rows and panels nested in rows included."""
    result = {}
    for path in sorted((ROOT / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        ids: set[int] = set()
        stack = list(board.get("panels", []))
        while stack:
            panel = stack.pop()
            ids.add(panel["id"])
            stack.extend(panel.get("panels", []))
        result[board["uid"]] = ids
    return result


def resolve(url: str, boards: dict[str, set[int]]) -> str | None:
    """None if the Grafana link resolves, else why not."""
    match = DASHBOARD_URL.fullmatch(url.split("grafana.watchpost.example", 1)[-1])
    if not match:
        return f"{url} is not /d/<uid>?viewPanel=<id>"
    uid, panel = match.group(1), match.group(2)
    if uid not in boards:
        return f"{url}: no dashboard with uid {uid}"
    if panel is not None and int(panel) not in boards[uid]:
        return f"{url}: dashboard {uid} has no panel {panel}"
    return None


def main() -> int:
    repository = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["repository"]
    prefix = f"{repository}/blob/main/docs/runbooks/"
    boards = dashboards()
    failures: list[str] = []
    linked: set[str] = set()
    alerts = 0
    files = sorted((ROOT / "alerts" / "generated").glob("*.yaml")) + sorted((ROOT / "alerts" / "rules").glob("*.yaml"))
    for path in files:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                alerts += 1
                name = rule["alert"]
                where = f"{path.relative_to(ROOT)}: {name}"
                labels, annotations = rule.get("labels", {}), rule.get("annotations", {})
                if labels.get("severity") not in ("page", "ticket", "info"):
                    failures.append(f"{where}: severity {labels.get('severity')!r} is not page, ticket or info")
                for key in ("summary", "description", "runbook_url", "dashboard_url"):
                    if not annotations.get(key):
                        failures.append(f"{where}: no {key}")
                runbook = annotations.get("runbook_url", "")
                if runbook != f"{prefix}{name}.md":
                    failures.append(f"{where}: runbook_url {runbook} is not {prefix}{name}.md")
                elif not (ROOT / "docs" / "runbooks" / f"{name}.md").is_file():
                    failures.append(f"{where}: docs/runbooks/{name}.md does not exist")
                linked.add(f"{name}.md")
                problem = resolve(annotations.get("dashboard_url", ""), boards)
                if problem:
                    failures.append(f"{where}: {problem}")
    pages = sorted((ROOT / "docs" / "runbooks").glob("*.md"))
    for page in pages:
        if page.name not in linked:
            failures.append(f"docs/runbooks/{page.name} is no alert's runbook")
        text = page.read_text()
        for url in re.findall(r"https://grafana\.watchpost\.example[^\s)`]*", text):
            problem = resolve(url, boards)
            if problem:
                failures.append(f"docs/runbooks/{page.name}: {problem}")
        for target in re.findall(r"\]\(([A-Za-z0-9]+\.md)\)", text):
            if not (page.parent / target).is_file():
                failures.append(f"docs/runbooks/{page.name}: links to missing {target}")
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    print(f"{alerts} alerts, {len(linked)} alert names, {len(pages)} runbook pages, {len(boards)} dashboards checked")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
