//! ministack (a real CloudWatch emulator speaking the current CBOR protocol), an SDK
//! client that reads back from it, and a fault-injecting proxy in front of it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use aws_sdk_cloudwatch::Client;
use aws_smithy_http_client::tls;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;

use super::{ChildGuard, free_port, http_get, require_tool, wait_for};

/// Static test credentials in the environment, before anything reads it: every test in
/// a binary that talks to AWS calls this first, so the one `set_var` happens before any
/// other thread of the test could read the environment.
pub fn test_credentials() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: runs once, before any test of this binary starts other threads that
        // read the environment (each test calls this as its first statement).
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", "test");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
            std::env::set_var("AWS_REGION", "us-east-1");
            std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        }
    });
}

/// A running ministack on a free loopback port.
pub struct Ministack {
    pub port: u16,
    _child: ChildGuard,
}

impl Ministack {
    /// Starts ministack from `$MINISTACK` and waits until it is healthy.
    pub async fn start() -> Ministack {
        let binary = require_tool("MINISTACK");
        let port = free_port();
        let port_text = port.to_string();
        let child = ChildGuard::spawn(
            &binary,
            &[],
            &[("GATEWAY_PORT", &port_text), ("BIND_HOST", "127.0.0.1")],
        );
        let health = format!("http://127.0.0.1:{port}/_ministack/health");
        wait_for(
            "ministack to become healthy",
            Duration::from_secs(30),
            || async {
                http_get(&health)
                    .await
                    .ok()
                    .filter(|(status, _, _)| *status == 200)
            },
        )
        .await;
        Ministack {
            port,
            _child: child,
        }
    }

    /// Its endpoint URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An SDK client talking to it directly (not through the agent's code).
    pub async fn client(&self) -> Client {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http)
            .endpoint_url(self.url())
            .region(aws_config::Region::new("us-east-1"))
            .load()
            .await;
        Client::new(&config)
    }
}

/// What the proxy does with the next PutMetricData call.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// 400 with CloudWatch's `Throttling` error code, as the real service sends it.
    Throttle,
    /// A bare 503.
    Unavailable,
    /// A bare 500.
    InternalError,
    /// 400 `InvalidParameterValue`: the request itself is wrong.
    InvalidParameter,
}

/// Forwards to ministack, injecting faults into PutMetricData calls on request.
#[derive(Clone)]
pub struct FaultProxy {
    pub port: u16,
    state: Arc<ProxyState>,
}

struct ProxyState {
    upstream: String,
    script: Mutex<VecDeque<Fault>>,
    always: Mutex<Option<Fault>>,
    puts: AtomicUsize,
    forwarded_puts: AtomicUsize,
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `upstream`.
    pub async fn start(upstream: String) -> FaultProxy {
        let state = Arc::new(ProxyState {
            upstream,
            script: Mutex::new(VecDeque::new()),
            always: Mutex::new(None),
            puts: AtomicUsize::new(0),
            forwarded_puts: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FaultProxy { port, state }
    }

    /// The URL to give the agent as `endpoint`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The next PutMetricData calls fail with `faults`, in order.
    pub fn fail_next(&self, faults: &[Fault]) {
        self.state
            .script
            .lock()
            .unwrap()
            .extend(faults.iter().copied());
    }

    /// Every PutMetricData call fails with `fault` until set to `None`.
    pub fn fail_always(&self, fault: Option<Fault>) {
        *self.state.always.lock().unwrap() = fault;
    }

    /// PutMetricData calls received (failed or forwarded).
    pub fn puts(&self) -> usize {
        self.state.puts.load(Ordering::SeqCst)
    }

    /// PutMetricData calls forwarded to ministack.
    pub fn forwarded_puts(&self) -> usize {
        self.state.forwarded_puts.load(Ordering::SeqCst)
    }
}

/// CBOR for `{"__type": "Throttling", "message": "Rate exceeded"}`, written out by hand
/// so the fault does not depend on the encoder under test.
const THROTTLING_BODY: &[u8] = b"\xa2\x66__type\x6aThrottling\x67message\x6dRate exceeded";
/// CBOR for `{"__type": "InvalidParameterValue", "message": "bad"}`.
const INVALID_PARAMETER_BODY: &[u8] = b"\xa2\x66__type\x75InvalidParameterValue\x67message\x63bad";

async fn handle(State(state): State<Arc<ProxyState>>, request: Request) -> Response {
    let is_put = request.uri().path().ends_with("/PutMetricData");
    if is_put {
        state.puts.fetch_add(1, Ordering::SeqCst);
        let fault = state
            .script
            .lock()
            .unwrap()
            .pop_front()
            .or(*state.always.lock().unwrap());
        if let Some(fault) = fault {
            return fault_response(fault);
        }
        state.forwarded_puts.fetch_add(1, Ordering::SeqCst);
    }
    let (parts, body) = request.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let uri = format!(
        "{}{}",
        state.upstream,
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut forward = hyper::Request::builder().method(parts.method).uri(uri);
    for (name, value) in &parts.headers {
        forward = forward.header(name, value);
    }
    let client = HttpClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let response = client
        .request(forward.body(Full::new(body)).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Response::from_parts(parts, Body::from(body))
}

fn fault_response(fault: Fault) -> Response {
    let cbor_error = |body: &'static [u8], query_error: &'static str| {
        let mut r = Response::new(Body::from(body));
        *r.status_mut() = StatusCode::BAD_REQUEST;
        let headers = r.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("application/cbor"));
        headers.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
        headers.insert("x-amzn-query-error", HeaderValue::from_static(query_error));
        r
    };
    let bare = |status| {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = status;
        r
    };
    match fault {
        Fault::Throttle => cbor_error(THROTTLING_BODY, "Throttling;Sender"),
        Fault::InvalidParameter => {
            cbor_error(INVALID_PARAMETER_BODY, "InvalidParameterValue;Sender")
        }
        Fault::Unavailable => bare(StatusCode::SERVICE_UNAVAILABLE),
        Fault::InternalError => bare(StatusCode::INTERNAL_SERVER_ERROR),
    }
}
