"""Nodes: utilisation, saturation and errors (USE) of every node, from the agent's
node_exporter-named series (docs/agent.md), with the node-mixin's ratios.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from .common import SELECTOR, promql, scraped_dashboard, timeseries_panel, with_panels

UID = "watchpost-nodes"

CPU = 1
LOAD = 2
MEMORY = 3
FILESYSTEM = 4
DISK_IO = 5
NETWORK = 6
NETWORK_ERRORS = 7
CLOCK = 8
FILE_DESCRIPTORS = 9

_FS = f'{SELECTOR}, fstype!="", mountpoint!=""'


def build() -> dash.Dashboard:
    board = scraped_dashboard(
        UID,
        "Nodes / USE",
        "CPU, memory, filesystems, disks, network and clock of every node, from the node agent.",
        "node_uname_info",
    )
    panels = [
        timeseries_panel(
            CPU, "CPU utilisation",
            "Share of CPU time not idle, averaged over the node's CPUs.",
            "percentunit",
            [promql(f'1 - avg by (instance) (rate(node_cpu_seconds_total{{{SELECTOR}, mode="idle"}}[$__rate_interval]))', "{{instance}}")],
        ),
        timeseries_panel(
            LOAD, "Load per CPU (saturation)",
            "1-minute load average divided by the number of CPUs; above 1 tasks wait for a CPU.",
            "short",
            [promql(f'node_load1{{{SELECTOR}}} / on (instance) count by (instance) (node_cpu_seconds_total{{{SELECTOR}, mode="idle"}})', "{{instance}}")],
        ),
        timeseries_panel(
            MEMORY, "Memory utilisation",
            "Share of memory not available to new processes (1 - MemAvailable / MemTotal).",
            "percentunit",
            [promql(f"1 - node_memory_MemAvailable_bytes{{{SELECTOR}}} / node_memory_MemTotal_bytes{{{SELECTOR}}}", "{{instance}}")],
        ),
        timeseries_panel(
            FILESYSTEM, "Filesystem space used",
            "Share of each filesystem's space not available to unprivileged users.",
            "percentunit",
            [promql(f"1 - node_filesystem_avail_bytes{{{_FS}}} / node_filesystem_size_bytes{{{_FS}}}", "{{instance}} {{mountpoint}}")],
        ),
        timeseries_panel(
            DISK_IO, "Disk busy time",
            "Share of time each disk had I/O in flight (node_disk_io_time_seconds_total).",
            "percentunit",
            [promql(f"rate(node_disk_io_time_seconds_total{{{SELECTOR}}}[$__rate_interval])", "{{instance}} {{device}}")],
        ),
        timeseries_panel(
            NETWORK, "Network traffic",
            "Bytes per second received (positive) and transmitted (negative) per device.",
            "Bps",
            [
                promql(f"rate(node_network_receive_bytes_total{{{SELECTOR}}}[$__rate_interval])", "{{instance}} {{device}} in", "A"),
                promql(f"-rate(node_network_transmit_bytes_total{{{SELECTOR}}}[$__rate_interval])", "{{instance}} {{device}} out", "B"),
            ],
        ),
        timeseries_panel(
            NETWORK_ERRORS, "Network errors",
            "Receive and transmit errors per second per device; any sustained value is a faulty link or driver.",
            "pps",
            [
                promql(f"rate(node_network_receive_errs_total{{{SELECTOR}}}[$__rate_interval])", "{{instance}} {{device}} receive"),
                promql(f"rate(node_network_transmit_errs_total{{{SELECTOR}}}[$__rate_interval])", "{{instance}} {{device}} transmit"),
            ],
        ),
        timeseries_panel(
            CLOCK, "Clock offset from Prometheus",
            "The node's clock (node_time_seconds) minus the time Prometheus scraped it. The agent reads "
            "the clock once per collection, so the line sags by up to one collection interval between "
            "collections; its peaks are the clock's offset. Beyond 50 ms, log and trace timestamps "
            "disagree between nodes.",
            "s",
            [promql(f"node_time_seconds{{{SELECTOR}}} - timestamp(node_time_seconds{{{SELECTOR}}})", "{{instance}}")],
        ),
        timeseries_panel(
            FILE_DESCRIPTORS, "File descriptors allocated",
            "Share of the kernel's file handle limit in use.",
            "percentunit",
            [promql(f"node_filefd_allocated{{{SELECTOR}}} / node_filefd_maximum{{{SELECTOR}}}", "{{instance}}")],
        ),
    ]
    return with_panels(board, panels)
