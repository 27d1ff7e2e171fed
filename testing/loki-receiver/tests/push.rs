//! The receiver answers pushes as Loki does: decoded from snappy+protobuf, validated
//! against Loki's default limits, with injected failures on request.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use loki_receiver::logproto::{
    EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp,
};
use loki_receiver::{Limits, Mode, Receiver, ReceiverConfig};
use prost::Message;

fn now_ts() -> Timestamp {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

fn entry(line: &str) -> EntryAdapter {
    EntryAdapter {
        timestamp: Some(now_ts()),
        line: line.to_string(),
        structured_metadata: vec![],
    }
}

fn body(streams: Vec<StreamAdapter>) -> Vec<u8> {
    let raw = PushRequest { streams }.encode_to_vec();
    snap::raw::Encoder::new().compress_vec(&raw).unwrap()
}

fn stream(labels: &str, entries: Vec<EntryAdapter>) -> StreamAdapter {
    StreamAdapter {
        labels: labels.to_string(),
        entries,
        hash: 0,
    }
}

async fn post(receiver: &Receiver, body: Vec<u8>, tenant: Option<&str>) -> (u16, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = hyper::Request::post(format!("{}/loki/api/v1/push", receiver.url()))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "snappy");
    if let Some(tenant) = tenant {
        request = request.header("x-scope-orgid", tenant);
    }
    let response = client
        .request(request.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&text).into_owned())
}

async fn start(config: ReceiverConfig) -> Receiver {
    Receiver::start(config).await.unwrap()
}

#[tokio::test]
async fn a_valid_push_is_answered_204_and_kept_with_its_metadata() {
    let receiver = start(ReceiverConfig::default()).await;
    let mut with_meta = entry("hello");
    with_meta.structured_metadata = vec![LabelPairAdapter {
        name: "trace_id".into(),
        value: "abc".into(),
    }];
    let (status, _) = post(
        &receiver,
        body(vec![stream(
            r#"{pod="p", namespace="n"}"#,
            vec![with_meta, entry("world")],
        )]),
        Some("team-a"),
    )
    .await;
    assert_eq!(status, 204);
    let entries = receiver.store().entries();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].stream, r#"{namespace="n", pod="p"}"#);
    assert_eq!(entries[0].line, "hello");
    assert_eq!(
        entries[0].metadata,
        vec![("trace_id".to_string(), "abc".to_string())]
    );
    assert_eq!(
        receiver.store().stats().last_tenant.as_deref(),
        Some("team-a")
    );
}

#[tokio::test]
async fn undecodable_bodies_are_answered_400() {
    let receiver = start(ReceiverConfig::default()).await;
    let (status, text) = post(&receiver, b"not snappy at all".to_vec(), None).await;
    assert_eq!(status, 400, "{text}");
    let garbage = snap::raw::Encoder::new().compress_vec(&[0xff; 32]).unwrap();
    let (status, text) = post(&receiver, garbage, None).await;
    assert_eq!(status, 400);
    assert!(text.contains("protobuf"), "{text}");
}

#[tokio::test]
async fn an_over_long_line_is_refused_with_400_while_its_neighbours_are_kept() {
    let receiver = start(ReceiverConfig::default()).await;
    let long = "x".repeat(256_001);
    let (status, text) = post(
        &receiver,
        body(vec![
            stream(r#"{a="1"}"#, vec![entry("short"), entry(&long)]),
            stream("{}", vec![entry("no labels")]),
        ]),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        text.contains("Max entry size '256000' bytes exceeded"),
        "{text}"
    );
    let stats = receiver.store().stats();
    assert_eq!(stats.entries, 1);
    assert_eq!(stats.rejected_entries, 2);
}

#[tokio::test]
async fn entries_older_than_a_week_are_refused() {
    let receiver = start(ReceiverConfig::default()).await;
    let mut old = entry("old");
    old.timestamp = Some(Timestamp {
        seconds: now_ts().seconds - 8 * 24 * 3600,
        nanos: 0,
    });
    let (status, text) = post(&receiver, body(vec![stream(r#"{a="1"}"#, vec![old])]), None).await;
    assert_eq!(status, 400);
    assert!(text.contains("too old"), "{text}");
}

#[tokio::test]
async fn pushes_over_the_ingestion_rate_are_answered_429_and_not_kept() {
    let limits = Limits {
        ingestion_rate_bytes: 1000.0,
        ingestion_burst_bytes: 2000.0,
        ..Limits::default()
    };
    let receiver = start(ReceiverConfig {
        limits,
        ..ReceiverConfig::default()
    })
    .await;
    let line = "y".repeat(1500);
    let push = || body(vec![stream(r#"{a="1"}"#, vec![entry(&line)])]);
    assert_eq!(post(&receiver, push(), None).await.0, 204);
    let (status, text) = post(&receiver, push(), None).await;
    assert_eq!(status, 429);
    assert!(text.contains("Ingestion rate limit exceeded"), "{text}");
    assert_eq!(receiver.store().stats().entries, 1);
}

#[tokio::test]
async fn injected_failures_last_for_the_given_count() {
    let receiver = start(ReceiverConfig::default()).await;
    receiver.set_mode(Mode::Fail {
        status: 503,
        remaining: Some(2),
    });
    let push = || body(vec![stream(r#"{a="1"}"#, vec![entry("x")])]);
    assert_eq!(post(&receiver, push(), None).await.0, 503);
    assert_eq!(post(&receiver, push(), None).await.0, 503);
    assert_eq!(post(&receiver, push(), None).await.0, 204);
    assert_eq!(receiver.store().stats().entries, 1);
}

#[tokio::test]
async fn a_stalled_receiver_holds_the_push_until_released() {
    let receiver = start(ReceiverConfig::default()).await;
    receiver.set_mode(Mode::Stall);
    let push = body(vec![stream(r#"{a="1"}"#, vec![entry("x")])]);
    let url_receiver = &receiver;
    let pending = post(url_receiver, push, None);
    tokio::pin!(pending);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut pending)
            .await
            .is_err(),
        "a stalled receiver answered"
    );
    receiver.set_mode(Mode::Accept);
    assert_eq!(pending.await.0, 204);
}

#[tokio::test]
async fn a_stopped_receiver_refuses_connections_and_restarts_on_the_same_port() {
    let mut receiver = start(ReceiverConfig::default()).await;
    let addr = receiver.addr();
    receiver.stop().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    receiver.restart().await.unwrap();
    assert_eq!(receiver.addr(), addr);
    let push = body(vec![stream(r#"{a="1"}"#, vec![entry("x")])]);
    assert_eq!(post(&receiver, push, None).await.0, 204);
}

#[tokio::test]
async fn a_tenant_is_required_when_configured() {
    let receiver = start(ReceiverConfig {
        require_tenant: true,
        ..ReceiverConfig::default()
    })
    .await;
    let push = || body(vec![stream(r#"{a="1"}"#, vec![entry("x")])]);
    assert_eq!(post(&receiver, push(), None).await.0, 401);
    assert_eq!(post(&receiver, push(), Some("t")).await.0, 204);
}

#[tokio::test]
async fn identical_entries_are_counted_as_duplicates() {
    let receiver = start(ReceiverConfig::default()).await;
    let e = entry("same");
    let push = || body(vec![stream(r#"{a="1"}"#, vec![e.clone()])]);
    assert_eq!(post(&receiver, push(), None).await.0, 204);
    assert_eq!(post(&receiver, push(), None).await.0, 204);
    let stats = receiver.store().stats();
    assert_eq!((stats.entries, stats.duplicates), (2, 1));
}

#[tokio::test]
async fn a_stream_over_its_own_rate_is_answered_429() {
    let limits = Limits {
        per_stream_rate_bytes: 1000.0,
        per_stream_burst_bytes: 2000.0,
        ..Limits::default()
    };
    let receiver = start(ReceiverConfig {
        limits,
        ..ReceiverConfig::default()
    })
    .await;
    let line = "z".repeat(1500);
    let push = |labels: &str| body(vec![stream(labels, vec![entry(&line)])]);
    assert_eq!(post(&receiver, push(r#"{a="1"}"#), None).await.0, 204);
    let (status, text) = post(&receiver, push(r#"{a="1"}"#), None).await;
    assert_eq!(status, 429);
    assert!(text.contains("Per stream rate limit exceeded"), "{text}");
    assert_eq!(
        post(&receiver, push(r#"{a="2"}"#), None).await.0,
        204,
        "other streams pass"
    );
}

#[tokio::test]
async fn streams_beyond_the_tenants_limit_are_answered_429() {
    let limits = Limits {
        max_streams_per_user: 2,
        ..Limits::default()
    };
    let receiver = start(ReceiverConfig {
        limits,
        ..ReceiverConfig::default()
    })
    .await;
    let push = |labels: &str| body(vec![stream(labels, vec![entry("x")])]);
    assert_eq!(post(&receiver, push(r#"{a="1"}"#), None).await.0, 204);
    assert_eq!(post(&receiver, push(r#"{a="2"}"#), None).await.0, 204);
    let (status, text) = post(&receiver, push(r#"{a="3"}"#), None).await;
    assert_eq!(status, 429);
    assert!(
        text.contains("Maximum active stream limit exceeded"),
        "{text}"
    );
    assert_eq!(
        post(&receiver, push(r#"{a="1"}"#), None).await.0,
        204,
        "known streams pass"
    );
}
