//! The HTTP side: routes, failure injection, and stop/restart on the same port so a test
//! can take "Loki" away (connections refused) and bring it back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::labels;
use crate::limits::{Limits, RateLimiter, structured_metadata_size};
use crate::logproto::PushRequest;
use crate::store::{ReceivedEntry, Store};
use crate::tls::TlsMaterial;

/// Largest decompressed push accepted, as Loki's default `max_recv_msg_size` (100 MiB).
const MAX_DECOMPRESSED_BYTES: usize = 100 << 20;

/// How the receiver answers pushes right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Decode, validate, store, answer as Loki.
    Accept,
    /// Hold every push unanswered until the mode changes (a wedged Loki).
    Stall,
    /// Answer `status` without looking at the body, for `remaining` pushes (None: until
    /// the mode changes), then go back to accepting.
    Fail { status: u16, remaining: Option<u64> },
}

impl std::str::FromStr for Mode {
    type Err = String;

    /// `accept`, `stall`, `fail <status> [count]`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            ["accept"] => Ok(Mode::Accept),
            ["stall"] => Ok(Mode::Stall),
            ["fail", status, rest @ ..] if rest.len() <= 1 => {
                let status = status.parse().map_err(|_| format!("bad status {status}"))?;
                let remaining = match rest.first() {
                    Some(n) => Some(n.parse().map_err(|_| format!("bad count {n}"))?),
                    None => None,
                };
                Ok(Mode::Fail { status, remaining })
            }
            _ => Err(format!(
                "unknown mode {text:?}: expected accept, stall or fail <status> [count]"
            )),
        }
    }
}

/// How to run a receiver.
#[derive(Clone, Debug)]
pub struct ReceiverConfig {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Limits to enforce.
    pub limits: Limits,
    /// Keep every entry (tests) or only count (benchmarks).
    pub retain: bool,
    /// Answer 401 to pushes without `X-Scope-OrgID`, as Loki with `auth_enabled: true`.
    pub require_tenant: bool,
    /// Serve HTTPS with a fresh self-signed certificate ([`Receiver::ca_pem`]).
    pub tls: bool,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            limits: Limits::default(),
            retain: true,
            require_tenant: false,
            tls: false,
        }
    }
}

struct Shared {
    config: ReceiverConfig,
    store: Store,
    mode: watch::Sender<Mode>,
    limiter: Mutex<RateLimiter>,
    /// Per-stream buckets; their keys are also the tenant's active streams.
    streams: Mutex<HashMap<String, RateLimiter>>,
}

/// A running (or stopped) receiver.
pub struct Receiver {
    addr: SocketAddr,
    tls: Option<TlsMaterial>,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Binds and starts serving.
    pub async fn start(config: ReceiverConfig) -> std::io::Result<Receiver> {
        let limiter = RateLimiter::new(
            config.limits.ingestion_rate_bytes,
            config.limits.ingestion_burst_bytes,
        );
        let shared = Arc::new(Shared {
            store: Store::new(config.retain),
            mode: watch::channel(Mode::Accept).0,
            limiter: Mutex::new(limiter),
            streams: Mutex::default(),
            config,
        });
        let tls = if shared.config.tls {
            Some(TlsMaterial::self_signed().map_err(std::io::Error::other)?)
        } else {
            None
        };
        let listener = TcpListener::bind(shared.config.listen).await?;
        let addr = listener.local_addr()?;
        let mut receiver = Receiver {
            addr,
            tls,
            shared,
            task: None,
        };
        receiver.serve(listener);
        Ok(receiver)
    }

    fn serve(&mut self, listener: TcpListener) {
        let router = Router::new()
            .route("/loki/api/v1/push", post(push))
            .route("/ready", get(|| async { "ready\n" }))
            .route("/stats", get(stats))
            .route("/control/mode", post(control_mode))
            .layer(DefaultBodyLimit::max(MAX_DECOMPRESSED_BYTES))
            .with_state(self.shared.clone());
        self.task = Some(match &self.tls {
            Some(tls) => {
                let listener = tls.listener(listener);
                tokio::spawn(async move {
                    let _ = axum::serve(listener, router).await;
                })
            }
            None => {
                // Loki is written in Go, whose TCP connections have Nagle off by default;
                // with it on, small responses wait on delayed ACKs.
                let listener = listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                tokio::spawn(async move {
                    let _ = axum::serve(listener, router).await;
                })
            }
        });
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (`https://` when serving TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The certificate to trust, PEM, when serving TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// What was received.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// Changes how pushes are answered; stalled pushes proceed under the new mode.
    pub fn set_mode(&self, mode: Mode) {
        self.shared.mode.send_replace(mode);
    }

    /// How pushes are answered now (a `Fail` with a count returns to `Accept` by itself).
    pub fn mode(&self) -> Mode {
        self.shared.mode.borrow().clone()
    }

    /// Stops listening and drops every open connection: clients see connection errors.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same address, keeping what was received.
    pub async fn restart(&mut self) -> std::io::Result<()> {
        self.stop().await;
        let listener = TcpListener::bind(self.addr).await?;
        self.serve(listener);
        Ok(())
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body + "\n",
    )
        .into_response()
}

async fn push(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let mut mode = shared.mode.subscribe();
    let _ = mode.wait_for(|m| *m != Mode::Stall).await;
    let mut injected = None;
    shared.mode.send_if_modified(|m| match m {
        Mode::Fail { status, remaining } => {
            injected = Some(*status);
            if let Some(n) = remaining {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    *m = Mode::Accept;
                }
            }
            true
        }
        _ => false,
    });
    let response = match injected {
        Some(status) => text(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "injected failure".to_string(),
        ),
        None => handle_push(&shared, &headers, &body),
    };
    shared
        .store
        .record_response(response.status().as_u16(), body.len());
    response
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn handle_push(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let tenant = header_text(headers, "x-scope-orgid");
    shared
        .store
        .record_headers(tenant.clone(), header_text(headers, "authorization"));
    if shared.config.require_tenant && tenant.is_none() {
        return text(StatusCode::UNAUTHORIZED, "no org id".to_string());
    }
    let content_type = header_text(headers, "content-type").unwrap_or_default();
    if content_type.starts_with("application/json") {
        // Loki also takes JSON; this harness exists to check the protobuf path.
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "this receiver decodes protobuf pushes only".to_string(),
        );
    }
    let request = match decode(body) {
        Ok(request) => request,
        Err(why) => return text(StatusCode::BAD_REQUEST, why),
    };

    let now = SystemTime::now();
    let limits = &shared.config.limits;
    let mut accepted = Vec::new();
    let mut accepted_bytes = 0usize;
    let mut first_error = None;
    let mut rejected = 0u64;
    for stream in request.streams {
        let set = match labels::parse(&stream.labels)
            .map_err(|e| e.0)
            .and_then(|set| limits.validate_labels(&stream.labels, &set).map(|()| set))
        {
            Ok(set) => set,
            Err(why) => {
                rejected += stream.entries.len() as u64;
                first_error.get_or_insert(why);
                continue;
            }
        };
        let name = labels::canonical(&set);
        for entry in stream.entries {
            if let Err(why) = limits.validate_entry(&name, &entry, now) {
                rejected += 1;
                first_error.get_or_insert(why);
                continue;
            }
            accepted_bytes += entry.line.len() + structured_metadata_size(&entry);
            accepted.push(ReceivedEntry {
                stream: name.clone(),
                timestamp_ns: entry.timestamp.map(|t| t.unix_nanos()).unwrap_or(0),
                line: entry.line,
                metadata: entry
                    .structured_metadata
                    .into_iter()
                    .map(|p| (p.name, p.value))
                    .collect(),
            });
        }
    }
    if !accepted.is_empty() && !shared.limiter.lock().unwrap().allow(accepted_bytes) {
        return text(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Ingestion rate limit exceeded for user {} (limit: {} bytes/sec) while attempting to ingest '{}' lines totaling '{}' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased",
                tenant.as_deref().unwrap_or("fake"),
                limits.ingestion_rate_bytes as u64,
                accepted.len(),
                accepted_bytes
            ),
        );
    }
    if let Some(refusal) = check_streams(shared, &accepted) {
        return text(StatusCode::TOO_MANY_REQUESTS, refusal);
    }
    shared.store.accept(accepted);
    shared.store.record_rejected(rejected);
    match first_error {
        // Like Loki: the valid entries are kept, the first problem is reported.
        Some(why) => text(StatusCode::BAD_REQUEST, why),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

/// The ingester's limits: active streams per tenant, and each stream's own rate. Both
/// answer 429; this harness then keeps nothing of the request (Loki may keep the other
/// streams' entries, so a retrying client can only cause duplicates, which it collapses).
fn check_streams(shared: &Shared, accepted: &[ReceivedEntry]) -> Option<String> {
    let limits = &shared.config.limits;
    let mut per_stream: HashMap<&str, usize> = HashMap::new();
    for entry in accepted {
        *per_stream.entry(entry.stream.as_str()).or_default() += entry.line.len();
    }
    let mut streams = shared.streams.lock().unwrap();
    let new = per_stream
        .keys()
        .filter(|s| !streams.contains_key(**s))
        .count();
    if streams.len() + new > limits.max_streams_per_user {
        return Some(format!(
            "Maximum active stream limit exceeded, reduce the number of active streams (reduce labels or reduce label values), or contact your Loki administrator to see if the limit can be increased, user: 'fake' (limit: {})",
            limits.max_streams_per_user
        ));
    }
    for (stream, bytes) in per_stream {
        let bucket = streams.entry(stream.to_string()).or_insert_with(|| {
            RateLimiter::new(limits.per_stream_rate_bytes, limits.per_stream_burst_bytes)
        });
        if !bucket.allow(bytes) {
            return Some(format!(
                "Per stream rate limit exceeded (limit: {} bytes/sec) while attempting to ingest for stream '{stream}' totaling {bytes} bytes, consider splitting a stream via additional labels or contact your Loki administrator to see if the limit can be increased",
                limits.per_stream_rate_bytes as u64
            ));
        }
    }
    None
}

/// Snappy block → protobuf, refusing bodies that would inflate past Loki's message limit.
pub fn decode(body: &[u8]) -> Result<PushRequest, String> {
    let len = snap::raw::decompress_len(body).map_err(|e| format!("snappy: {e}"))?;
    if len > MAX_DECOMPRESSED_BYTES {
        return Err(format!(
            "message size {len} exceeds limit {MAX_DECOMPRESSED_BYTES}"
        ));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("snappy: {e}"))?;
    PushRequest::decode(raw.as_slice()).map_err(|e| format!("protobuf: {e}"))
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let body = serde_json::to_string(&shared.store.stats()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn control_mode(State(shared): State<Arc<Shared>>, body: String) -> Response {
    match body.trim().parse::<Mode>() {
        Ok(mode) => {
            shared.mode.send_replace(mode);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(why) => text(StatusCode::BAD_REQUEST, why),
    }
}
