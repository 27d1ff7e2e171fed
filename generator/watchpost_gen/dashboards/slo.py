"""The SLO dashboard: per SLO its error budget left, burn rate per alert window, SLI against
the objective, traffic, and whether its alerts fire. Reads only the recording rules of
slo_rules.py, so it costs nothing to render over 30 days.

Each SLO gets a row at a fixed id block (`_BLOCK` ids per SLO, in slos.yaml order); the
burn-rate alerts link to `burn_rate_panel_id`, the SLI-absent ticket to `traffic_panel_id`.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from .. import links
from ..slo_spec import SLO
from ..windows import PERIOD_DAYS
from .common import datasource_variable, new_dashboard, promql, runbook_link, stat_panel, timeseries_panel

UID = "watchpost-slo"
ALERTS_FIRING = 1
_BLOCK = 10
_BURN_WINDOWS = ("5m", "30m", "1h", "6h", "1d", "3d")


def _base(index: int) -> int:
    return _BLOCK * (index + 1)


def burn_rate_panel_id(index: int) -> int:
    return _base(index) + 2


def traffic_panel_id(index: int) -> int:
    return _base(index) + 4


def build(slos: list[SLO]) -> dash.Dashboard:
    board = new_dashboard(
        UID,
        "Task API / SLOs",
        f"Error budgets and burn rates of the task API's SLOs (alerts/slos.yaml), over {PERIOD_DAYS} days. "
        "Page: 14.4x over 1h and 5m, or 6x over 6h and 30m. Ticket: 3x over 1d and 2h, or 1x over 3d and 6h.",
    ).with_variable(datasource_variable("prometheus"))
    board = board.with_panel(
        timeseries_panel(
            ALERTS_FIRING,
            "Alerts firing by severity",
            "Every firing alert of Prometheus by severity; the always-firing Watchdog (info) proves "
            "the rule pipeline evaluates.",
            "short",
            [promql('sum by (severity) (ALERTS{alertstate="firing"})', "{{severity}}")],
            width=24,
            height=6,
        )
    )
    seen_alerts: set[str] = set()
    for slo in slos:
        if slo.alerting.name not in seen_alerts:
            seen_alerts.add(slo.alerting.name)
            board = board.link(runbook_link(f"Runbook: {slo.alerting.name}", links.runbook_url(slo.alerting.name)))
    for index, slo in enumerate(slos):
        sel = slo.selector()
        base = _base(index)
        board = board.with_row(dash.Row(f"{slo.name}: {slo.description}").id(base))
        board = board.with_panel(
            stat_panel(
                base + 1,
                "Error budget remaining",
                f"Share of the {PERIOD_DAYS}-day error budget of {slo.id} not yet spent "
                "(1 = untouched, 0 = spent, negative = objective missed).",
                "percentunit",
                [promql(f"slo:period_error_budget_remaining:ratio{{{sel}}}", "remaining")],
                width=4,
                height=8,
                decimals=1,
            )
        )
        board = board.with_panel(
            timeseries_panel(
                base + 2,
                "Burn rate per window",
                f"How fast {slo.id} spends its budget (1 = exactly the whole budget in {PERIOD_DAYS} days). "
                "Pages at 14.4 (1h with 5m) and 6 (6h with 30m); tickets at 3 (1d with 2h) and 1 (3d with 6h).",
                "short",
                [
                    promql(
                        f"slo:sli_error:ratio_rate{window}{{{sel}}}\n"
                        f"/ on (sloth_id, sloth_service, sloth_slo) group_left\n"
                        f"slo:error_budget:ratio{{{sel}}}",
                        window,
                    )
                    for window in _BURN_WINDOWS
                ],
                width=8,
                height=8,
            )
        )
        board = board.with_panel(
            timeseries_panel(
                base + 3,
                "SLI against objective",
                f"Share of good requests over 5m and 1h for {slo.id}, with the objective "
                f"({slo.objective}%) as the line not to cross.",
                "percentunit",
                [
                    promql(f"1 - slo:sli_error:ratio_rate5m{{{sel}}}", "good 5m"),
                    promql(f"1 - slo:sli_error:ratio_rate1h{{{sel}}}", "good 1h"),
                    promql(f"slo:objective:ratio{{{sel}}}", "objective"),
                ],
                width=6,
                height=8,
            )
        )
        board = board.with_panel(
            timeseries_panel(
                base + 4,
                "Requests the SLI counts",
                f"Requests per second selected by the SLI of {slo.id}. No line at all: the series are "
                "absent, and the SLO cannot see failures.",
                "reqps",
                [promql(f"slo:sli_total:rate5m{{{sel}}}", "requests/s")],
                width=3,
                height=8,
            )
        )
        board = board.with_panel(
            stat_panel(
                base + 5,
                "Alerts firing",
                f"Firing burn-rate and SLI alerts of {slo.id} (page and ticket).",
                "short",
                [promql(f'sum(ALERTS{{sloth_id="{slo.id}", alertstate="firing"}}) or vector(0)', "firing")],
                width=3,
                height=8,
            )
        )
    return board
