"""Rendering the charts with Helm's own engine (helm-python-sdk) for the tests."""

from __future__ import annotations

import copy
import pathlib
from dataclasses import dataclass

import helm_python
import yaml

CHARTS = pathlib.Path(__file__).resolve().parent.parent
REPO = CHARTS.parent


def deep_merge(base: dict, override: dict) -> dict:
    """Helm's -f layering: maps merge key by key, anything else is replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def values_files(chart: str, *names: str) -> dict:
    """The user values of `helm -f a.yaml -f b.yaml`, relative to the chart directory."""
    values: dict = {}
    for name in names:
        values = deep_merge(values, yaml.safe_load((CHARTS / chart / name).read_text()) or {})
    return values


@dataclass
class Rendered:
    """The objects of one render, by kind and name."""

    objects: list[dict]

    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str) -> dict:
        found = self.of_kind(kind)
        assert len(found) == 1, f"expected one {kind}, rendered {len(found)}"
        return found[0]

    def kinds(self) -> set[str]:
        return {o["kind"] for o in self.objects}


def render(chart: str, values: dict | None = None, *, release: str = "watchpost", namespace: str = "watchpost") -> Rendered:
    """Renders as `helm template` does: defaults coalesced with values, schema applied."""
    with helm_python.Chart.load(CHARTS / chart) as loaded:
        manifests = loaded.render(values or {}, name=release, namespace=namespace, is_install=True)
    objects = []
    for path, text in manifests.items():
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return Rendered(objects)


def render_error(chart: str, values: dict) -> str:
    """The message Helm refuses these values with; fails if it accepts them."""
    try:
        render(chart, values)
    except helm_python.HelmError as error:
        return str(error)
    raise AssertionError(f"{chart} rendered with values it should refuse: {values}")


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def containers(workload: dict) -> list[dict]:
    spec = pod_spec(workload)
    return spec.get("initContainers", []) + spec["containers"]
