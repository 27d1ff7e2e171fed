#!/usr/bin/env python3
"""Copies the observability sources into this chart's files/: alerts/ and dashboards/ stay
the one place they are edited, the chart ships copies of them.

    charts/watchpost-observability/sync.py           # copy
    charts/watchpost-observability/sync.py --check   # exit 1 and list the drift

Sources: alerts/generated/*.yaml and alerts/rules/*.yaml (Prometheus rule files),
alerts/alertmanager.yml and alerts/templates/*.tmpl, dashboards/*.json. A source directory
that does not exist is reported and left out.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

CHART = pathlib.Path(__file__).resolve().parent
REPO = CHART.parent.parent
FILES = CHART / "files"

# (source glob relative to the repository, destination directory relative to files/)
SOURCES = [
    ("alerts/generated/*.yaml", "rules"),
    ("alerts/rules/*.yaml", "rules"),
    ("alerts/alertmanager.yml", "alertmanager"),
    ("alerts/templates/*.tmpl", "alertmanager"),
    ("dashboards/*.json", "dashboards"),
]


def wanted() -> tuple[dict[pathlib.Path, bytes], list[str]]:
    """What files/ should hold, and which sources are missing."""
    files: dict[pathlib.Path, bytes] = {}
    missing = []
    for pattern, destination in SOURCES:
        directory = REPO / pattern.rsplit("/", 1)[0]
        if not directory.is_dir():
            missing.append(pattern)
            continue
        matches = sorted(REPO.glob(pattern))
        if not matches:
            missing.append(pattern)
        for source in matches:
            target = FILES / destination / source.name
            if target in files:
                raise SystemExit(f"two sources would be copied to {target.relative_to(REPO)}")
            files[target] = source.read_bytes()
    return files, missing


def drift(files: dict[pathlib.Path, bytes]) -> list[str]:
    present = {p for p in FILES.rglob("*") if p.is_file()}
    problems = [f"stale: {p.relative_to(REPO)}" for p in sorted(present - files.keys())]
    for target, content in sorted(files.items()):
        if not target.is_file():
            problems.append(f"missing: {target.relative_to(REPO)}")
        elif target.read_bytes() != content:
            problems.append(f"differs: {target.relative_to(REPO)}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report drift instead of copying")
    args = parser.parse_args()
    files, missing = wanted()
    for pattern in missing:
        print(f"source not present yet, left out: {pattern}", file=sys.stderr)
    problems = drift(files)
    if args.check:
        for problem in problems:
            print(problem)
        if problems:
            print(f"{len(problems)} file(s) out of sync: run {pathlib.Path(__file__).relative_to(REPO)}", file=sys.stderr)
        return 1 if problems else 0
    for stale in [p for p in FILES.rglob("*") if p.is_file() and p not in files]:
        stale.unlink()
    for target, content in files.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    print(f"{len(files)} file(s) in {FILES.relative_to(REPO)}, {len(problems)} changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
