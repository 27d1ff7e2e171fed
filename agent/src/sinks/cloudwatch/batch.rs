//! Splits datums into PutMetricData requests within the API's limits (1,000 datums and
//! 1 MB per call). The byte size is estimated conservatively from the strings and a fixed
//! per-datum overhead for the CBOR keys and numbers, so a request never exceeds the limit.

use crate::sinks::cloudwatch::aggregate::Datum;

/// Upper bound on what a datum adds to a request besides its strings (keys, statistic
/// values, unit, timestamp, resolution, CBOR framing).
const DATUM_OVERHEAD_BYTES: usize = 256;
const DIMENSION_OVERHEAD_BYTES: usize = 24;

/// Estimated encoded size of one datum.
pub fn estimated_bytes(datum: &Datum) -> usize {
    DATUM_OVERHEAD_BYTES
        + datum.name.len()
        + datum
            .dimensions
            .iter()
            .map(|(k, v)| k.len() + v.len() + DIMENSION_OVERHEAD_BYTES)
            .sum::<usize>()
}

/// Splits `datums` into requests of at most `max_datums` datums and `max_bytes` bytes.
pub fn split(datums: Vec<Datum>, max_datums: usize, max_bytes: usize) -> Vec<Vec<Datum>> {
    let mut requests = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for datum in datums {
        let size = estimated_bytes(&datum);
        if !current.is_empty() && (current.len() == max_datums || bytes + size > max_bytes) {
            requests.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(datum);
    }
    if !current.is_empty() {
        requests.push(current);
    }
    requests
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::cloudwatch::aggregate::Unit;
    use std::time::SystemTime;

    fn datum(i: usize, dimension_len: usize) -> Datum {
        Datum {
            name: format!("m{i}"),
            dimensions: vec![("d".into(), "x".repeat(dimension_len))],
            unit: Unit::None,
            sample_count: 1.0,
            sum: 1.0,
            minimum: 1.0,
            maximum: 1.0,
            timestamp: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn over_a_thousand_datums_are_split_at_the_count_limit() {
        let sizes: Vec<usize> = split((0..2500).map(|i| datum(i, 1)).collect(), 1000, 1_000_000)
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, [1000, 1000, 500]);
    }

    #[test]
    fn large_datums_are_split_at_the_byte_limit() {
        let requests = split((0..100).map(|i| datum(i, 250)).collect(), 1000, 10_000);
        assert!(requests.len() > 1);
        for request in &requests {
            assert!(request.iter().map(estimated_bytes).sum::<usize>() <= 10_000);
        }
        assert_eq!(
            requests.iter().map(Vec::len).sum::<usize>(),
            100,
            "nothing lost"
        );
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(split(Vec::new(), 1000, 1_000_000).is_empty());
    }
}
