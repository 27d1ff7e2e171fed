"""Logs: the task API's JSON log lines in Loki, narrowed by request_id or trace_id.

The agent sends `request_id` and `trace_id` as structured metadata; the line filters below
find them in the line itself, which works with empty variables too. A trace_id in a line
links to its trace through the Loki datasource's derived field (dashboards/provisioning).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import logs as logs_panel
from grafana_foundation_sdk.builders import timeseries
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models

from .common import LOKI, datasource_variable, logql, new_dashboard, runbooks_link

UID = "watchpost-logs"

LINES = 1
ERRORS = 2

_STREAM = '{namespace=~"$namespace", container="task-api"}'
_FILTER = '|= "$request_id" |= "$trace_id"'


def _textbox(name: str, label: str, description: str) -> dash.TextBoxVariable:
    return dash.TextBoxVariable(name).label(label).description(description).default_value("")


def build() -> dash.Dashboard:
    board = (
        new_dashboard(
            UID,
            "Task API / Logs",
            "The task API's log lines from Loki. Paste a request_id (X-Request-Id, problem+json "
            "`request_id`) or a trace_id (X-Trace-Id, an exemplar) to see that request's lines.",
        )
        .with_variable(datasource_variable("loki"))
        .with_variable(
            dash.QueryVariable("namespace")
            .label("Namespace")
            .datasource(LOKI)
            .query({"label": "namespace", "stream": '{container="task-api"}', "type": 1})
            .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .include_all(True)
            .all_value(".+")
            .current(models.VariableOption(selected=True, text="All", value="$__all"))
        )
        .with_variable(_textbox("request_id", "request_id", "Only lines of this request (X-Request-Id)."))
        .with_variable(_textbox("trace_id", "trace_id", "Only lines of this trace (32 hex digits)."))
        .link(runbooks_link())
    )
    board = board.with_panel(
        timeseries.Panel()
        .id(ERRORS)
        .title("Error lines")
        .description("Lines at level ERROR per pod, with the same request/trace filter.")
        .unit("short")
        .datasource(LOKI)
        .with_target(logql(f'sum by (pod) (count_over_time({_STREAM} {_FILTER} | json | level="ERROR" [$__auto]))'))
        .span(24)
        .height(6)
    )
    board = board.with_panel(
        logs_panel.Panel()
        .id(LINES)
        .title("Log lines")
        .description("The lines themselves, newest first; expand one for its fields and the trace link.")
        .unit("none")
        .datasource(LOKI)
        .with_target(logql(f"{_STREAM} {_FILTER}"))
        .show_time(True)
        .wrap_log_message(True)
        .enable_log_details(True)
        .sort_order(common_models.LogsSortOrder.DESCENDING)
        .span(24)
        .height(16)
    )
    return board
