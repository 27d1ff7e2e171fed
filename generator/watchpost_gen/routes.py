"""The task API's routes, and which of them an SLO's queries select.

The route table mirrors the API's OpenAPI document (`GET /api/v1/openapi.json`); the
end-to-end test compares the two, so a new route cannot silently fall outside every SLO
group. An SLO selects routes with matchers on `http_request_method` and `http_route`,
applied here as Prometheus applies them (regular expressions anchored at both ends).
"""

from __future__ import annotations

import re

from .slo_spec import SLO, SpecError

API_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/api/v1/tasks"),
    ("POST", "/api/v1/tasks"),
    ("GET", "/api/v1/tasks/{id}"),
    ("PATCH", "/api/v1/tasks/{id}"),
    ("DELETE", "/api/v1/tasks/{id}"),
    ("GET", "/api/v1/openapi.json"),
)

_MATCHER = re.compile(r'(http_request_method|http_route)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def _matches(op: str, pattern: str, value: str) -> bool:
    pattern = pattern.encode().decode("unicode_escape")
    if op in ("=", "!="):
        hit = value == pattern
    else:
        hit = re.fullmatch(pattern, value) is not None
    return hit if op in ("=", "=~") else not hit


def selected_routes(query: str) -> list[str]:
    """`METHOD route` of every API route the query's method and route matchers select."""
    matchers = _MATCHER.findall(query)
    selected = []
    for method, route in API_ROUTES:
        values = {"http_request_method": method, "http_route": route}
        if all(_matches(op, pattern, values[label]) for label, op, pattern in matchers):
            selected.append(f"{method} {route}")
    return selected


def slo_groups(slos: list[SLO]) -> dict[str, list[str]]:
    """Group name -> routes; every SLO of a group must select the same routes."""
    groups: dict[str, list[str]] = {}
    for slo in slos:
        routes = selected_routes(slo.total_query)
        if not routes:
            raise SpecError(f"slo {slo.name}: its total query selects none of the API's routes")
        if slo.group in groups and groups[slo.group] != routes:
            raise SpecError(
                f"slo {slo.name}: group {slo.group} selects {routes} here but {groups[slo.group]} elsewhere"
            )
        groups[slo.group] = routes
    return groups
