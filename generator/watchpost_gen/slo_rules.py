"""Prometheus recording and alerting rules for the SLOs, in the shape Sloth generates.

Same rule names and labels as Sloth (`slo:sli_error:ratio_rate<window>`, the `slo:*:ratio`
meta rules, `sloth_id`/`sloth_service`/`sloth_slo`/`sloth_window`), same multiwindow,
multi-burn-rate alerts, plus what Sloth's users ask for in its issue tracker:

- no NaN: a window without traffic records no error ratio rather than 0/0, and a window
  without any 5xx series records 0, so the 30-day average is never poisoned;
- `slo:sli_total:rate<window>` (requests per second) for a guard: a burn alert also needs
  `MIN_BAD_EVENTS` failed requests in its long window, so a trickle cannot page;
- `for` and `keep_firing_for` on both severities, so pages neither blip nor flap;
- page and ticket share the alert name and `sloth_id`, which is what Alertmanager's
  inhibition matches on (alerts/alertmanager.yml);
- a ticket when the SLI's request series are absent, since a missing metric otherwise
  looks exactly like a perfect SLO.
"""

from __future__ import annotations

from decimal import Decimal

from . import links
from .dashboards import slo as slo_dashboard
from .slo_spec import SLO, with_window
from .windows import ABSENT_FOR, MIN_BAD_EVENTS, PERIOD_DAYS, SEVERITIES, SLI_WINDOWS, Scale, seconds


def _number(value: Decimal) -> str:
    """A decimal as PromQL reads it, without exponent or trailing zeros: 0.001, 99.9."""
    return format(value.normalize(), "f")


def _sloth_labels(slo: SLO) -> dict[str, str]:
    return {**slo.labels, "sloth_id": slo.id, "sloth_service": slo.service, "sloth_slo": slo.name}


def _indent(query: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in query.splitlines())


def _sli_rules(slo: SLO, scale: Scale) -> list[dict]:
    rules = []
    for window in SLI_WINDOWS:
        labels = {**_sloth_labels(slo), "sloth_window": window}
        errors = with_window(slo.error_query, scale(window))
        total = with_window(slo.total_query, scale(window))
        rules.append({"record": f"slo:sli_total:rate{window}", "expr": total + "\n", "labels": labels})
        rules.append(
            {
                "record": f"slo:sli_error:ratio_rate{window}",
                # Errors default to 0 where requests exist; no requests: no sample, not NaN.
                "expr": f"(\n  ({errors})\n  or\n  (0 * {total})\n)\n/\n({total} > 0)\n",
                "labels": labels,
            }
        )
    sel = slo.selector()
    period = scale(f"{PERIOD_DAYS}d")
    rules.append(
        {
            "record": f"slo:sli_error:ratio_rate{PERIOD_DAYS}d",
            "expr": (
                f"sum_over_time(slo:sli_error:ratio_rate5m{{{sel}}}[{period}])\n"
                f"/ ignoring (sloth_window)\n"
                f"count_over_time(slo:sli_error:ratio_rate5m{{{sel}}}[{period}])\n"
            ),
            "labels": {**_sloth_labels(slo), "sloth_window": f"{PERIOD_DAYS}d"},
        }
    )
    return rules


def _meta_rules(slo: SLO) -> list[dict]:
    sel = slo.selector()
    labels = _sloth_labels(slo)
    on = "on (sloth_id, sloth_service, sloth_slo) group_left"
    return [
        {"record": "slo:objective:ratio", "expr": f"vector({_number(slo.objective / 100)})", "labels": labels},
        {"record": "slo:error_budget:ratio", "expr": f"vector({_number(slo.error_budget)})", "labels": labels},
        {"record": "slo:time_period:days", "expr": f"vector({PERIOD_DAYS})", "labels": labels},
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate5m{{{sel}}}\n/ {on}\nslo:error_budget:ratio{{{sel}}}\n",
            "labels": labels,
        },
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate{PERIOD_DAYS}d{{{sel}}}\n/ {on}\nslo:error_budget:ratio{{{sel}}}\n",
            "labels": labels,
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            # A period without a single request has spent nothing: the whole budget remains.
            "expr": (
                f"(1 - slo:period_burn_rate:ratio{{{sel}}})\n"
                f"or on (sloth_id, sloth_service, sloth_slo)\n"
                f"(0 * slo:error_budget:ratio{{{sel}}} + 1)\n"
            ),
            "labels": labels,
        },
        {
            "record": "sloth_slo_info",
            "expr": "vector(1)",
            "labels": {**labels, "sloth_objective": _number(slo.objective), "sloth_spec": "prometheus/v1",
                       "sloth_version": "watchpost-gen"},
        },
    ]


def _burn_condition(slo: SLO, factor: float, window: str) -> str:
    sel = slo.selector()
    threshold = f"({factor:g} * {_number(slo.error_budget)})"
    return f"max(slo:sli_error:ratio_rate{window}{{{sel}}} > {threshold}) without (sloth_window)"


def _enough_bad_events(slo: SLO, window: str, scale: Scale) -> str:
    sel = slo.selector()
    span = seconds(scale(window))
    return (
        f"max(slo:sli_error:ratio_rate{window}{{{sel}}} * slo:sli_total:rate{window}{{{sel}}} * {span}"
        f" >= {MIN_BAD_EVENTS}) without (sloth_window)"
    )


def _alert_rules(slo: SLO, index: int, scale: Scale) -> list[dict]:
    alerting = slo.alerting
    budget = slo.error_budget * 100
    panel = slo_dashboard.burn_rate_panel_id(index)
    rules = []
    for severity in SEVERITIES:
        rows = []
        for row in severity.rows:
            rows.append(
                "(\n"
                + _indent(_burn_condition(slo, row.factor, row.short), 4)
                + "\n    and\n"
                + _indent(_burn_condition(slo, row.factor, row.long), 4)
                + "\n    and\n"
                + _indent(_enough_bad_events(slo, row.long, scale), 4)
                + "\n)"
            )
        extra = alerting.page_labels if severity.name == "page" else alerting.ticket_labels
        windows_text = " or ".join(
            f"{row.factor:g}x over {row.long} and {row.short}" for row in severity.rows
        )
        rules.append(
            {
                "alert": alerting.name,
                "expr": "\nor\n".join(rows) + "\n",
                "for": scale(severity.for_),
                "keep_firing_for": scale(severity.keep_firing_for),
                "labels": {
                    "severity": severity.name,
                    **alerting.labels,
                    **extra,
                    "sloth_severity": severity.name,
                    "service": slo.service,
                },
                "annotations": {
                    "summary": alerting.annotations.get(
                        "summary", f"{slo.service} {slo.name} SLO error budget burning too fast"
                    ),
                    "description": (
                        f"SLO {slo.id}: {slo.description} Its {PERIOD_DAYS}-day error budget of "
                        f"{_number(budget)}% burns too fast ({windows_text}); error ratio over the short window "
                        "{{ $value | humanizePercentage }}, with at least "
                        f"{MIN_BAD_EVENTS} failed requests in the long window."
                    ),
                    "runbook_url": links.runbook_url(alerting.name),
                    "dashboard_url": links.dashboard_url(slo_dashboard.UID, panel),
                },
            }
        )
    return rules


def absent_alert_name(service: str) -> str:
    return "".join(part.capitalize() for part in service.split("-")) + "SLIAbsent"


def _absent_rule(slo: SLO, index: int, scale: Scale) -> dict:
    name = absent_alert_name(slo.service)
    return {
        "alert": name,
        "expr": f"absent(slo:sli_total:rate5m{{{slo.selector()}}})\n",
        "for": scale(ABSENT_FOR),
        "labels": {"severity": "ticket", "service": slo.service, "sloth_id": slo.id, "sloth_slo": slo.name},
        "annotations": {
            "summary": f"The SLI of {slo.id} has no data: the SLO cannot see failures",
            "description": (
                f"slo:sli_total:rate5m of {slo.id} is absent for {ABSENT_FOR}: the request series its "
                "queries select do not exist (not scraped, renamed, relabelled, or no request since "
                "the last restart). Burn-rate alerts of this SLO cannot fire."
            ),
            "runbook_url": links.runbook_url(name),
            "dashboard_url": links.dashboard_url(slo_dashboard.UID, slo_dashboard.traffic_panel_id(index)),
        },
    }


def rule_groups(slos: list[SLO], scale: Scale) -> dict:
    """The whole rule file for `slos`, with windows passed through `scale`."""
    groups = []
    for index, slo in enumerate(slos):
        groups.append({"name": f"sloth-slo-sli-recordings-{slo.id}", "rules": _sli_rules(slo, scale)})
        groups.append({"name": f"sloth-slo-meta-recordings-{slo.id}", "rules": _meta_rules(slo)})
        groups.append(
            {
                "name": f"sloth-slo-alerts-{slo.id}",
                "rules": _alert_rules(slo, index, scale) + [_absent_rule(slo, index, scale)],
            }
        )
    return {"groups": groups}
