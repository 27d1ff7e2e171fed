//! What the receiver kept: every accepted entry per stream (unless told to only count),
//! and counters a test or the benchmark asserts on.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// One accepted entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedEntry {
    /// Canonical label set of its stream.
    pub stream: String,
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: i128,
    /// The line.
    pub line: String,
    /// Structured metadata, in the order sent.
    pub metadata: Vec<(String, String)>,
}

/// Counters over the receiver's lifetime.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    /// Responses by HTTP status.
    pub responses: BTreeMap<u16, u64>,
    /// Entries accepted (duplicates included).
    pub entries: u64,
    /// Bytes of accepted lines.
    pub line_bytes: u64,
    /// Accepted entries whose stream, timestamp and line equal an earlier one; Loki
    /// would store them once.
    pub duplicates: u64,
    /// Entries refused by a limit (answered with 400).
    pub rejected_entries: u64,
    /// Compressed request bytes received.
    pub request_bytes: u64,
    /// `X-Scope-OrgID` of the last push, if any.
    pub last_tenant: Option<String>,
    /// `Authorization` of the last push, if any.
    pub last_authorization: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    stats: Stats,
    entries: Vec<ReceivedEntry>,
    seen: HashMap<String, HashSet<(i128, u64)>>,
}

/// Shared, cloneable view of what was received.
#[derive(Clone, Debug)]
pub struct Store {
    retain: bool,
    state: Arc<Mutex<State>>,
}

impl Store {
    /// A store that keeps entries (`retain`) or only counts them (for benchmarks, where
    /// keeping gigabytes of lines would measure the harness rather than the client).
    pub fn new(retain: bool) -> Self {
        Store {
            retain,
            state: Arc::default(),
        }
    }

    /// A copy of the counters.
    pub fn stats(&self) -> Stats {
        self.state.lock().unwrap().stats.clone()
    }

    /// A copy of every entry kept so far, in arrival order.
    pub fn entries(&self) -> Vec<ReceivedEntry> {
        self.state.lock().unwrap().entries.clone()
    }

    pub(crate) fn record_response(&self, status: u16, request_bytes: usize) {
        let mut state = self.state.lock().unwrap();
        *state.stats.responses.entry(status).or_default() += 1;
        state.stats.request_bytes += request_bytes as u64;
    }

    pub(crate) fn record_headers(&self, tenant: Option<String>, authorization: Option<String>) {
        let mut state = self.state.lock().unwrap();
        state.stats.last_tenant = tenant;
        state.stats.last_authorization = authorization;
    }

    pub(crate) fn record_rejected(&self, count: u64) {
        self.state.lock().unwrap().stats.rejected_entries += count;
    }

    pub(crate) fn accept(&self, accepted: Vec<ReceivedEntry>) {
        let mut guard = self.state.lock().unwrap();
        let state = &mut *guard;
        for entry in accepted {
            state.stats.entries += 1;
            state.stats.line_bytes += entry.line.len() as u64;
            if !self.retain {
                continue;
            }
            let key = (entry.timestamp_ns, hash(&entry.line));
            let seen = state.seen.entry(entry.stream.clone()).or_default();
            if !seen.insert(key) {
                state.stats.duplicates += 1;
            }
            state.entries.push(entry);
        }
    }
}

fn hash(line: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    line.hash(&mut hasher);
    hasher.finish()
}
