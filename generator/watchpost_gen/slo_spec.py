"""Reads a Sloth `prometheus/v1` SLO spec (https://sloth.dev/specs/prometheus/v1).

Only what the generator uses is modelled; anything Sloth would reject is rejected here too
(missing fields, objectives outside (0, 100), a query without `{{.window}}`), with the
SLO's name in the message. Our two conventions on top of Sloth's format are checked as
well: every SLO names its `slo_group` and `sli_type`, and a latency SLO its `latency_le`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

WINDOW_PLACEHOLDER = re.compile(r"\{\{\s*\.window\s*\}\}")
SLI_TYPES = ("availability", "latency")


class SpecError(ValueError):
    """The SLO file is not a valid spec; the message names the SLO and the field."""


@dataclass(frozen=True)
class Alerting:
    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    page_labels: dict[str, str]
    ticket_labels: dict[str, str]


@dataclass(frozen=True)
class SLO:
    service: str
    name: str
    objective: Decimal  # percent, e.g. 99.9
    description: str
    labels: dict[str, str]  # service-wide labels, then the SLO's own
    error_query: str
    total_query: str
    alerting: Alerting

    @property
    def id(self) -> str:
        return f"{self.service}-{self.name}"

    @property
    def error_budget(self) -> Decimal:
        """Share of events allowed to fail, e.g. 0.001 for 99.9%."""
        return (Decimal(100) - self.objective) / Decimal(100)

    @property
    def group(self) -> str:
        return self.labels["slo_group"]

    @property
    def sli_type(self) -> str:
        return self.labels["sli_type"]

    @property
    def latency_le(self) -> Decimal:
        return Decimal(self.labels["latency_le"])

    def selector(self) -> str:
        """The label matchers that pick this SLO's series out of every recording rule."""
        return f'sloth_id="{self.id}", sloth_service="{self.service}", sloth_slo="{self.name}"'


def _str_map(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError(f"{where}: must be a map")
    return {str(k): str(v) for k, v in value.items()}


def _required(mapping: dict, key: str, where: str):
    if key not in mapping or mapping[key] in (None, ""):
        raise SpecError(f"{where}: `{key}` is required")
    return mapping[key]


def load(path: Path) -> list[SLO]:
    """Parses and validates the spec at `path`, returning its SLOs in file order."""
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict) or doc.get("version") != "prometheus/v1":
        raise SpecError(f"{path}: `version` must be prometheus/v1")
    service = str(_required(doc, "service", str(path)))
    service_labels = _str_map(doc.get("labels"), f"{path}: labels")
    slos: list[SLO] = []
    seen: set[str] = set()
    for raw in doc.get("slos") or []:
        name = str(_required(raw, "name", f"{path}: slo"))
        where = f"{path}: slo {name}"
        if name in seen:
            raise SpecError(f"{where}: duplicate name")
        seen.add(name)
        objective = Decimal(str(_required(raw, "objective", where)))
        if not Decimal(0) < objective < Decimal(100):
            raise SpecError(f"{where}: objective must be in (0, 100), got {objective}")
        events = _required(_required(raw, "sli", where), "events", f"{where}: sli")
        queries = {}
        for key in ("error_query", "total_query"):
            query = str(_required(events, key, f"{where}: sli.events")).strip()
            if not WINDOW_PLACEHOLDER.search(query):
                raise SpecError(f"{where}: sli.events.{key} has no {{{{.window}}}}")
            queries[key] = query
        labels = {**service_labels, **_str_map(raw.get("labels"), f"{where}: labels")}
        for key in ("slo_group", "sli_type"):
            _required(labels, key, f"{where}: labels")
        if labels["sli_type"] not in SLI_TYPES:
            raise SpecError(f"{where}: labels.sli_type must be one of {SLI_TYPES}")
        if labels["sli_type"] == "latency":
            le = str(_required(labels, "latency_le", f"{where}: labels"))
            if f'le="{le}"' not in queries["error_query"]:
                raise SpecError(f'{where}: the error query does not use the bucket le="{le}"')
        alerting = _required(raw, "alerting", where)
        slos.append(
            SLO(
                service=service,
                name=name,
                objective=objective,
                description=str(raw.get("description", "")),
                labels=labels,
                error_query=queries["error_query"],
                total_query=queries["total_query"],
                alerting=Alerting(
                    name=str(_required(alerting, "name", f"{where}: alerting")),
                    labels=_str_map(alerting.get("labels"), f"{where}: alerting.labels"),
                    annotations=_str_map(alerting.get("annotations"), f"{where}: alerting.annotations"),
                    page_labels=_str_map((alerting.get("page_alert") or {}).get("labels"), f"{where}: page_alert"),
                    ticket_labels=_str_map((alerting.get("ticket_alert") or {}).get("labels"), f"{where}: ticket_alert"),
                ),
            )
        )
    if not slos:
        raise SpecError(f"{path}: no SLOs")
    return slos


def with_window(query: str, window: str) -> str:
    return WINDOW_PLACEHOLDER.sub(window, query)
