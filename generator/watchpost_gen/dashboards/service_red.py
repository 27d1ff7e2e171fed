"""Service RED: the task API's rate, errors and duration per route, in-flight requests, the
database pool, and uptime. The duration panels ask for exemplars: a dot opens the request's
trace (datasource provisioning maps `trace_id` to Tempo), whose logs are one more click.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import heatmap
from grafana_foundation_sdk.models import heatmap as heatmap_models
from grafana_foundation_sdk.models import prometheus as prometheus_models

from .common import PROMETHEUS, SELECTOR, promql, quantile, query_variable, scraped_dashboard, timeseries_panel
from .common import up_panel, with_panels

UID = "watchpost-service-red"

# Panel ids the hand-written alerts in alerts/rules/ link to.
UP = 1
REQUEST_RATE = 2
ERROR_RATIO = 3
DURATION = 4
HEATMAP = 5
STATUS = 6
IN_FLIGHT = 7
DB_POOL = 8
DB_WAIT = 9
DB_OPERATIONS = 10
UPTIME = 11

_HTTP_SEL = f'{SELECTOR}, http_route=~"$route"'
_HTTP = f"http_server_request_duration_seconds_count{{{_HTTP_SEL}}}"
_BUCKET = f"http_server_request_duration_seconds_bucket{{{_HTTP_SEL}}}"
_BY = "http_request_method, http_route"


def build() -> dash.Dashboard:
    board = scraped_dashboard(
        UID,
        "Task API / Service RED",
        "Requests, errors and duration of the task API per route, from its own /metrics "
        "(docs/telemetry.md). Exemplar dots on the duration panels open the request's trace.",
        "http_server_request_duration_seconds_count",
    ).with_variable(
        query_variable(
            "route",
            "Route",
            f"label_values(http_server_request_duration_seconds_count{{{SELECTOR}}}, http_route)",
        )
    )
    panels = [
        up_panel(UP, "Instances up", "Task API instances Prometheus scraped successfully, out of those it knows."),
        timeseries_panel(
            REQUEST_RATE, "Requests per route",
            "Requests per second by method and route template (unmatched paths share `unmatched`).",
            "reqps",
            [promql(f"sum by ({_BY}) (rate({_HTTP}[$__rate_interval]))", "{{http_request_method}} {{http_route}}")],
            width=10, height=8,
        ),
        timeseries_panel(
            ERROR_RATIO, "Server error ratio per route",
            "Share of responses with status 5xx by route; 4xx are the client's and not counted. "
            "0 when the route answered no 5xx.",
            "percentunit",
            [
                promql(
                    f"(\n  sum by ({_BY}) (rate(http_server_request_duration_seconds_count{{{_HTTP_SEL}, "
                    f'http_response_status_code=~"5.."}}[$__rate_interval]))\n'
                    f"  or\n  0 * sum by ({_BY}) (rate({_HTTP}[$__rate_interval]))\n)\n"
                    f"/\nsum by ({_BY}) (rate({_HTTP}[$__rate_interval]))",
                    "{{http_request_method}} {{http_route}}",
                )
            ],
            width=10, height=8,
        ),
        timeseries_panel(
            DURATION, "Duration percentiles",
            "p50, p95 and p99 of the time to the response head over the routes picked in `route`, and p99 per route. "
            "Exemplars (dots) link to the trace of a request in that bucket.",
            "s",
            [
                *(promql(quantile(q, "le", _BUCKET), f"p{round(q * 100)}", exemplar=True) for q in (0.5, 0.95, 0.99)),
                promql(quantile(0.99, f"le, {_BY}", _BUCKET), "p99 {{http_request_method}} {{http_route}}"),
            ],
            width=12, height=9,
        ),
        heatmap.Panel()
        .id(HEATMAP)
        .title("Duration heatmap")
        .description("Requests per duration bucket over time for the routes picked in `route`; exemplars link to traces.")
        .unit("s")
        .datasource(PROMETHEUS)
        .calculate(False)
        .color(heatmap.HeatmapColorOptions().mode(heatmap_models.HeatmapColorMode.SCHEME).scheme("Oranges").steps(64))
        .exemplars_color("rgba(255,0,255,0.7)")
        .with_target(
            promql(f"sum by (le) (rate({_BUCKET}[$__rate_interval]))", "{{le}}", exemplar=True)
            .format(prometheus_models.PromQueryFormat.HEATMAP)
            .ref_id("A")
        )
        .span(12)
        .height(9),
        timeseries_panel(
            STATUS, "Responses by status code",
            "Responses per second by HTTP status code, over the routes picked in `route`.",
            "reqps",
            [promql(f"sum by (http_response_status_code) (rate({_HTTP}[$__rate_interval]))", "{{http_response_status_code}}")],
            width=8, stack=True,
        ),
        timeseries_panel(
            IN_FLIGHT, "Requests in flight",
            "Requests being served now; near CONCURRENCY_LIMIT the API starts shedding load with 503.",
            "short",
            [promql(f"sum by (http_request_method) (http_server_active_requests{{{SELECTOR}}})", "{{http_request_method}}")],
            width=8,
        ),
        timeseries_panel(
            UPTIME, "Process uptime",
            "Seconds since each instance started; a saw-tooth near zero is a crash loop.",
            "s",
            [promql(f"time() - process_start_time_seconds{{{SELECTOR}}}", "{{instance}}")],
            width=8,
        ),
        timeseries_panel(
            DB_POOL, "Database pool connections",
            "Pooled connections in use and idle, against the pool's maximum (DATABASE_MAX_CONNECTIONS).",
            "short",
            [
                promql(f"sum by (db_client_connection_state) (db_client_connections_usage{{{SELECTOR}}})", "{{db_client_connection_state}}"),
                promql(f"sum(db_client_connection_max{{{SELECTOR}}})", "max"),
            ],
            width=8,
        ),
        timeseries_panel(
            DB_WAIT, "Database connection wait p99",
            "p99 time a request waited for a pooled connection; rising while operations stay fast "
            "means the pool is too small or connections leak.",
            "s",
            [
                promql(
                    quantile(0.99, "le, db_client_connection_pool_name", f"db_client_connection_wait_time_seconds_bucket{{{SELECTOR}}}"),
                    "{{db_client_connection_pool_name}}",
                )
            ],
            width=8,
        ),
        timeseries_panel(
            DB_OPERATIONS, "Database operation p99",
            "p99 time of one database operation (wait for a connection included), by operation.",
            "s",
            [
                promql(
                    quantile(0.99, "le, db_operation_name", f"db_client_operation_duration_seconds_bucket{{{SELECTOR}}}"),
                    "{{db_operation_name}}",
                )
            ],
            width=8,
        ),
    ]
    return with_panels(board, panels)
