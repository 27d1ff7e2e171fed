//! The agent's node stats against the real node_exporter on the same machine: same names,
//! same label sets, values that agree (counters bracketed in time, sizes exact).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use node_agent::metric::{MetricFamily, MetricKind};
use node_agent::sources::node::config::{
    DEFAULT_DISK_DEVICE_EXCLUDE, DEFAULT_FS_TYPES_EXCLUDE, DEFAULT_MOUNT_POINTS_EXCLUDE,
    DEFAULT_NETDEV_DEVICE_EXCLUDE,
};
use support::{ChildGuard, TestAgent, free_port, require_tool, scrape, value, wait_for};

/// Families the issue names; both sides must have every one of them.
const REQUIRED: &[&str] = &[
    "node_cpu_seconds_total",
    "node_memory_MemTotal_bytes",
    "node_memory_MemAvailable_bytes",
    "node_memory_MemFree_bytes",
    "node_memory_Buffers_bytes",
    "node_memory_Cached_bytes",
    "node_memory_SwapTotal_bytes",
    "node_memory_SwapFree_bytes",
    "node_filesystem_size_bytes",
    "node_filesystem_free_bytes",
    "node_filesystem_avail_bytes",
    "node_filesystem_files",
    "node_filesystem_files_free",
    "node_filesystem_readonly",
    "node_disk_reads_completed_total",
    "node_disk_read_bytes_total",
    "node_disk_written_bytes_total",
    "node_disk_io_time_seconds_total",
    "node_network_receive_bytes_total",
    "node_network_transmit_bytes_total",
    "node_network_receive_packets_total",
    "node_network_receive_errs_total",
    "node_network_receive_drop_total",
    "node_load1",
    "node_load5",
    "node_load15",
    "node_filefd_allocated",
    "node_filefd_maximum",
    "node_boot_time_seconds",
    "node_time_seconds",
    "node_context_switches_total",
    "node_uname_info",
];

/// Values that cannot change while the machine runs: must be identical.
const EXACT: &[&str] = &[
    "node_memory_MemTotal_bytes",
    "node_memory_SwapTotal_bytes",
    "node_filesystem_size_bytes",
    "node_filesystem_files",
    "node_filesystem_readonly",
    "node_filefd_maximum",
    "node_boot_time_seconds",
    "node_uname_info",
];

type Series = BTreeMap<(String, Vec<(String, String)>), (MetricKind, f64)>;

fn series(families: &[MetricFamily]) -> Series {
    let mut out = Series::new();
    for family in families
        .iter()
        .filter(|f| f.name.starts_with("node_") && !f.name.starts_with("node_agent_"))
    {
        for sample in &family.samples {
            let mut labels = sample.labels.clone();
            labels.sort();
            out.insert((family.name.clone(), labels), (family.kind, sample.value));
        }
    }
    out
}

/// How far a changing gauge may move between two reads a fraction of a second apart on a
/// machine that is busy compiling: generous, but far below the size of a wrong unit.
fn gauge_slack(name: &str, reference: f64) -> f64 {
    if name.starts_with("node_memory_") {
        (512.0 * 1024.0 * 1024.0_f64).max(reference.abs() * 0.05)
    } else if name.starts_with("node_filesystem_") {
        2.0 * 1024.0 * 1024.0 * 1024.0
    } else if name.starts_with("node_load") {
        1.0
    } else {
        (reference.abs() * 0.10).max(64.0)
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test]
async fn node_stats_match_node_exporter_series_for_series() {
    let node_exporter = require_tool("NODE_EXPORTER");
    let port = free_port();
    let _exporter = ChildGuard::spawn(
        &node_exporter,
        &[
            format!("--web.listen-address=127.0.0.1:{port}"),
            format!("--collector.filesystem.mount-points-exclude={DEFAULT_MOUNT_POINTS_EXCLUDE}"),
            format!("--collector.filesystem.fs-types-exclude={DEFAULT_FS_TYPES_EXCLUDE}"),
            format!("--collector.diskstats.device-exclude={DEFAULT_DISK_DEVICE_EXCLUDE}"),
            format!("--collector.netdev.device-exclude={DEFAULT_NETDEV_DEVICE_EXCLUDE}"),
        ],
        &[],
    );
    let exporter_url = format!("http://127.0.0.1:{port}/metrics");
    let agent = TestAgent::start("sources:\n  node:\n    collect_interval_seconds: 0.2\n").await;

    wait_for(
        "node_exporter to serve",
        Duration::from_secs(15),
        || async {
            support::http_get(&exporter_url)
                .await
                .ok()
                .filter(|(status, _, _)| *status == 200)
        },
    )
    .await;

    // Bracket one agent collection between two node_exporter scrapes: a counter read by the
    // agent must lie between the two, whatever the machine is doing.
    let before = scrape(&exporter_url).await;
    let before_done = now();
    let agent_families = wait_for(
        "an agent collection newer than the first scrape",
        Duration::from_secs(10),
        || async {
            let families = scrape(&agent.metrics_url()).await;
            value(&families, "node_time_seconds", &[])
                .filter(|t| *t > before_done)
                .map(|_| families)
        },
    )
    .await;
    let after = scrape(&exporter_url).await;

    let (before, ours, after) = (series(&before), series(&agent_families), series(&after));
    let names = |s: &Series| s.keys().map(|(n, _)| n.clone()).collect::<BTreeSet<_>>();
    for name in REQUIRED {
        assert!(names(&ours).contains(*name), "agent lacks {name}");
        assert!(names(&after).contains(*name), "node_exporter lacks {name}");
    }

    let mut problems = Vec::new();
    // Same label sets per family, in both directions.
    for name in names(&ours) {
        let label_sets = |s: &Series| {
            s.keys()
                .filter(|(n, _)| *n == name)
                .map(|(_, l)| l.clone())
                .collect::<BTreeSet<_>>()
        };
        let (mine, theirs) = (label_sets(&ours), label_sets(&after));
        if mine != theirs {
            problems.push(format!(
                "{name}: label sets differ\n  agent only: {:?}\n  node_exporter only: {:?}",
                mine.difference(&theirs).collect::<Vec<_>>(),
                theirs.difference(&mine).collect::<Vec<_>>()
            ));
        }
    }
    let mut compared = 0;
    for (key, (kind, mine)) in &ours {
        let (Some((_, low)), Some((_, high))) = (before.get(key), after.get(key)) else {
            continue;
        };
        let name = key.0.as_str();
        let (low, high) = (low.min(*high), low.max(*high));
        let ok = if EXACT.contains(&name) {
            *mine == low && *mine == high
        } else if *kind == MetricKind::Counter || name == "node_time_seconds" {
            // Float noise only: node_exporter multiplies where we divide.
            let eps = 1e-6 * high.abs().max(1.0);
            *mine >= low - eps && *mine <= high + eps
        } else {
            let slack = gauge_slack(name, high);
            *mine >= low - slack && *mine <= high + slack
        };
        if !ok {
            problems.push(format!(
                "{name}{:?}: agent {mine}, node_exporter {low}..{high}",
                key.1
            ));
        }
        compared += 1;
    }
    assert!(
        problems.is_empty(),
        "{} of {compared} series disagree:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(compared > 100, "only {compared} series compared");
    agent.stop().await;
}
