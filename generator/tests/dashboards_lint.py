"""The dashboard lint rules of issue 16, on every dashboards/*.json (Grafana has no linter here).

- exactly one data source variable, named `datasource`, and every panel and target uses it
  (no hard-coded data source);
- every PromQL `rate`, `irate` and `increase` range is `$__rate_interval`;
- every panel has a unit and a description; panel ids are unique; uids are unique;
- provisioning files name the data sources the dashboards' links rely on.

    python dashboards_lint.py            lint, exit 1 on any problem
    python dashboards_lint.py --logql    print every LogQL target as JSON [{where, expr}],
                                         variables replaced by values a user could pick
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RANGE_FUNCTION = re.compile(r"\b(rate|irate|increase)\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\)")


def panels(board: dict):
    stack = list(board.get("panels", []))
    while stack:
        panel = stack.pop(0)
        yield panel
        stack.extend(panel.get("panels", []))


def lint(path: Path, board: dict) -> list[str]:
    name = path.name
    problems = []
    variables = board.get("templating", {}).get("list", [])
    sources = [v for v in variables if v.get("type") == "datasource"]
    if [v.get("name") for v in sources] != ["datasource"]:
        problems.append(f"{name}: needs exactly one data source variable named `datasource`, has {[v.get('name') for v in sources]}")
    for variable in variables:
        if "datasource" in variable and variable["datasource"].get("uid") != "${datasource}":
            problems.append(f"{name}: variable {variable['name']} does not use ${{datasource}}")
    ids = []
    for panel in panels(board):
        ids.append(panel.get("id"))
        if panel.get("type") == "row":
            continue
        where = f"{name}: panel {panel.get('id')} {panel.get('title')!r}"
        if (panel.get("datasource") or {}).get("uid") != "${datasource}":
            problems.append(f"{where}: data source is not ${{datasource}}")
        if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            problems.append(f"{where}: no unit")
        if not panel.get("description"):
            problems.append(f"{where}: no description")
        if not panel.get("targets"):
            problems.append(f"{where}: no query")
        for target in panel.get("targets", []):
            if (target.get("datasource") or {}).get("uid") != "${datasource}":
                problems.append(f"{where}: target {target.get('refId')} data source is not ${{datasource}}")
            if target.get("datasource", {}).get("type") == "prometheus":
                for function, argument in RANGE_FUNCTION.findall(target.get("expr", "")):
                    if not argument.rstrip().endswith("[$__rate_interval]"):
                        problems.append(f"{where}: {function}(...) without [$__rate_interval]")
    if len(ids) != len(set(ids)):
        problems.append(f"{name}: duplicate panel ids {sorted(i for i in ids if ids.count(i) > 1)}")
    return problems


def lint_provisioning() -> list[str]:
    """Every data source another one links to is provisioned, with the uid it is linked by."""
    import yaml

    path = ROOT / "dashboards" / "provisioning" / "datasources" / "watchpost.yaml"
    sources = yaml.safe_load(path.read_text())["datasources"]
    by_type = {source["type"]: source for source in sources}
    uids = {source["uid"] for source in sources}
    problems = [f"{path.name}: no {kind} data source" for kind in ("prometheus", "loki", "tempo") if kind not in by_type]
    links = [d["datasourceUid"] for d in by_type.get("prometheus", {}).get("jsonData", {}).get("exemplarTraceIdDestinations", [])]
    links += [d["datasourceUid"] for d in by_type.get("loki", {}).get("jsonData", {}).get("derivedFields", [])]
    links += [by_type.get("tempo", {}).get("jsonData", {}).get("tracesToLogsV2", {}).get("datasourceUid")]
    if not links or any(link not in uids for link in links):
        problems.append(f"{path.name}: links to data sources {links}, provisioned are {sorted(uids)}")
    if by_type.get("tempo", {}).get("uid") not in links or by_type.get("loki", {}).get("uid") not in links:
        problems.append(f"{path.name}: exemplars and log lines must link to Tempo, Tempo to Loki")
    return problems


LOGQL_VARIABLES = {"$namespace": ".+", "$request_id": "", "$trace_id": "", "$__auto": "1m"}


def logql_targets() -> list[dict]:
    targets = []
    for path in sorted((ROOT / "dashboards").glob("*.json")):
        for panel in panels(json.loads(path.read_text())):
            for target in panel.get("targets", []):
                if (target.get("datasource") or {}).get("type") == "loki":
                    expr = target["expr"]
                    for variable, value in LOGQL_VARIABLES.items():
                        expr = expr.replace(variable, value)
                    targets.append({"where": f"{path.name} panel {panel['id']} {target['refId']}", "expr": expr})
    return targets


def main() -> int:
    if sys.argv[1:] == ["--logql"]:
        print(json.dumps(logql_targets()))
        return 0
    problems = lint_provisioning()
    uids = {}
    boards = sorted((ROOT / "dashboards").glob("*.json"))
    for path in boards:
        board = json.loads(path.read_text())
        if board.get("uid") in uids:
            problems.append(f"{path.name}: uid {board.get('uid')} also used by {uids[board['uid']]}")
        uids[board.get("uid")] = path.name
        problems += lint(path, board)
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    print(f"{len(boards)} dashboards, {sum(1 for p in boards for _ in panels(json.loads(p.read_text())))} panels linted")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
