//! A Loki push endpoint for tests: it decodes exactly what Loki's distributor decodes and
//! answers the way Loki answers, so the agent's Loki sink can be tested without a Loki.
//!
//! What it speaks: `POST /loki/api/v1/push`, body a snappy *block* (not framed) holding a
//! protobuf `logproto.PushRequest` (schema: grafana/loki `pkg/push/push.proto`, mirrored by
//! hand in [`logproto`]). Answers: 204 when every entry was accepted; 400 for an
//! undecodable body, bad labels or entries that break a limit (the valid entries of that
//! request are still kept, as Loki's distributor does); 429 when the tenant's ingestion
//! rate, a stream's rate or the active-stream count is exceeded (nothing of that request
//! is kept); any status the test injects.
//!
//! The non-obvious decision: the limits are Loki's *defaults* ([`Limits::default`]), so a
//! client that passes here passes a stock Loki; tests that push faster than Loki's default
//! 4 MiB/s raise the rate limit explicitly.
//!
//! Beside the push path the server has `GET /stats` (JSON [`Stats`]) and
//! `POST /control/mode` (body `accept`, `stall` or `fail <status> [count]`) so a test in
//! another process (the benchmark script) can drive it.

pub mod labels;
pub mod limits;
pub mod logproto;
pub mod server;
pub mod store;
pub mod tls;

pub use limits::Limits;
pub use server::{Mode, Receiver, ReceiverConfig};
pub use store::{ReceivedEntry, Stats, Store};
