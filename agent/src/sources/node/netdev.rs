//! `/proc/net/dev`: traffic counters per network device.

use crate::config::types::Pattern;
use crate::metric::{MetricFamily, MetricKind, labels};

const RECEIVE: [&str; 8] = [
    "bytes",
    "packets",
    "errs",
    "drop",
    "fifo",
    "frame",
    "compressed",
    "multicast",
];
const TRANSMIT: [&str; 8] = [
    "bytes",
    "packets",
    "errs",
    "drop",
    "fifo",
    "colls",
    "carrier",
    "compressed",
];

/// Turns `/proc/net/dev` text into `node_network_{receive,transmit}_*_total`, skipping
/// devices matching `exclude`.
pub fn parse(text: &str, exclude: &Pattern) -> Result<Vec<MetricFamily>, String> {
    let mut families: Vec<MetricFamily> = RECEIVE
        .iter()
        .map(|c| ("receive", c))
        .chain(TRANSMIT.iter().map(|c| ("transmit", c)))
        .map(|(direction, column)| {
            MetricFamily::new(
                format!("node_network_{direction}_{column}_total"),
                format!("Network device statistic {direction}_{column}."),
                MetricKind::Counter,
            )
        })
        .collect();
    // The first two lines are column headers.
    for line in text.lines().skip(2) {
        let Some((device, counters)) = line.split_once(':') else {
            continue;
        };
        let device = device.trim();
        if exclude.is_match(device) {
            continue;
        }
        let values: Vec<f64> = counters
            .split_ascii_whitespace()
            .map(|v| v.parse::<f64>().map_err(|e| format!("{device}: {e}")))
            .collect::<Result<_, _>>()?;
        if values.len() != families.len() {
            return Err(format!(
                "{device}: expected {} counters, found {}",
                families.len(),
                values.len()
            ));
        }
        for (family, value) in families.iter_mut().zip(values) {
            family.push(labels([("device", device)]), value);
        }
    }
    Ok(families)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NETDEV: &str = "Inter-|   Receive                                                |  Transmit\n \
face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
lo:   62930      62    0    0    0     0          0         0    62930      62    0    0    0     0       0          0\n  \
eth0: 170544370    7239    1    2    3     4          5         6   497230    4224    7    8    9    10       11          12\n";

    #[test]
    fn counters_per_device_and_loopback_excluded() {
        let families = parse(NETDEV, &Pattern::builtin("^lo$")).unwrap();
        let get = |name: &str| {
            let f = families.iter().find(|f| f.name == name).unwrap();
            assert_eq!(f.samples.len(), 1);
            assert_eq!(f.samples[0].labels, labels([("device", "eth0")]));
            f.samples[0].value
        };
        assert_eq!(get("node_network_receive_bytes_total"), 170544370.0);
        assert_eq!(get("node_network_receive_multicast_total"), 6.0);
        assert_eq!(get("node_network_transmit_bytes_total"), 497230.0);
        assert_eq!(get("node_network_transmit_colls_total"), 10.0);
        assert_eq!(get("node_network_transmit_compressed_total"), 12.0);
    }

    #[test]
    fn short_line_is_an_error() {
        let text = "h\nh\neth0: 1 2 3\n";
        assert_eq!(
            parse(text, &Pattern::builtin("^lo$")).unwrap_err(),
            "eth0: expected 16 counters, found 3"
        );
    }
}
