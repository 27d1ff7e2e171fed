"""Log pipeline: the agent's own telemetry (docs/logs.md, docs/agent.md): lines read and
shipped, lag, retries, drops, sink requests (Loki and CloudWatch), targets scraped.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from .common import SELECTOR, promql, scraped_dashboard, timeseries_panel, up_panel, with_panels

UID = "watchpost-log-pipeline"

AGENTS_UP = 1
LINES = 2
LAG_BYTES = 3
LAG_SECONDS = 4
RETRIES = 5
DROPS = 6
SINK_REQUESTS = 7
FILES_WATCHED = 8
QUEUE = 9
SCRAPE_ERRORS = 10
POSITIONS = 11


def build() -> dash.Dashboard:
    board = scraped_dashboard(
        UID,
        "Node agent / Log pipeline",
        "What the node agent reads from pod logs and ships to Loki, what it pushes to CloudWatch, "
        "and where it retries or drops.",
        "node_agent_build_info",
    )
    panels = [
        up_panel(AGENTS_UP, "Agents up", "Agents Prometheus scraped successfully, out of those it knows."),
        timeseries_panel(
            LINES, "Lines read and shipped",
            "Log lines per second read from files and acknowledged by Loki; a gap that persists is lag.",
            "short",
            [
                promql(f"sum by (instance) (rate(node_agent_logs_read_lines_total{{{SELECTOR}}}[$__rate_interval]))", "{{instance}} read"),
                promql(f'sum by (instance) (rate(node_agent_sink_sent_events_total{{{SELECTOR}, sink="loki"}}[$__rate_interval]))', "{{instance}} shipped"),
            ],
            width=10, height=8,
        ),
        timeseries_panel(
            LAG_BYTES, "Lag (bytes not yet in Loki)",
            "Bytes in watched files not yet acknowledged by Loki; growing means shipping is slower than writing.",
            "bytes",
            [promql(f"node_agent_logs_lag_bytes{{{SELECTOR}}}", "{{instance}}")],
            width=10, height=8,
        ),
        timeseries_panel(
            LAG_SECONDS, "Lag (age of newest acknowledged line)",
            "While lagging: how old the newest line Loki acknowledged is; 0 when caught up.",
            "s",
            [promql(f"node_agent_logs_lag_seconds{{{SELECTOR}}}", "{{instance}}")],
            width=8,
        ),
        timeseries_panel(
            RETRIES, "Sink retries",
            "Failed attempts that are retried (429, 5xx, timeouts, connection errors) per second, by sink.",
            "short",
            [promql(f"sum by (instance, sink) (rate(node_agent_sink_retries_total{{{SELECTOR}}}[$__rate_interval]))", "{{instance}} {{sink}}")],
            width=8,
        ),
        timeseries_panel(
            DROPS, "Events dropped",
            "Lines or datums given up per second by sink and reason (rejected 4xx, queue_full, shutdown), "
            "and batches refused by a full pipeline channel. Anything above 0 is lost data.",
            "short",
            [
                promql(f"sum by (instance, sink, reason) (rate(node_agent_sink_dropped_events_total{{{SELECTOR}}}[$__rate_interval]))", "{{instance}} {{sink}} {{reason}}", "A"),
                promql(f"sum by (instance, source) (rate(node_agent_pipeline_dropped_batches_total{{{SELECTOR}}}[$__rate_interval]))", "{{instance}} {{source}} batches", "B"),
            ],
            width=8,
        ),
        timeseries_panel(
            SINK_REQUESTS, "Sink requests by outcome",
            "Finished requests per second by sink (loki, cloudwatch) and outcome (success, rejected).",
            "reqps",
            [promql(f"sum by (sink, outcome) (rate(node_agent_sink_requests_total{{{SELECTOR}}}[$__rate_interval]))", "{{sink}} {{outcome}}")],
            width=8,
        ),
        timeseries_panel(
            FILES_WATCHED, "Files watched",
            "Open log files per agent, draining ones included.",
            "short",
            [promql(f"node_agent_logs_files_watched{{{SELECTOR}}}", "{{instance}}")],
            width=8,
        ),
        timeseries_panel(
            QUEUE, "Sink queue",
            "Requests waiting or in flight per sink; at capacity the oldest is dropped (queue_full).",
            "short",
            [promql(f"node_agent_sink_queue_requests{{{SELECTOR}}}", "{{instance}} {{sink}}")],
            width=8,
        ),
        timeseries_panel(
            POSITIONS, "Checkpoints: time since the positions file was written",
            "Seconds since the agent last recorded acknowledged offsets. It grows while nothing is acknowledged; "
            "growing while Loki accepts lines means checkpoints are not recorded (a restart would re-send them).",
            "s",
            [promql(f"time() - node_agent_logs_positions_last_write_timestamp_seconds{{{SELECTOR}}}", "{{instance}}")],
            width=8,
        ),
    ]
    return with_panels(board, panels)
