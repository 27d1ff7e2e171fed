//! Loki sink: ships log lines with Loki's push API and, only once Loki answered, moves
//! the checkpoint.
//!
//! Speaks `POST /loki/api/v1/push` with a protobuf `logproto.PushRequest` compressed as a
//! snappy block (<https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs>,
//! schema `pkg/push/push.proto`), optional `X-Scope-OrgID`, basic or bearer auth.
//!
//! Batches close at `batch_max_bytes` or after `batch_wait_seconds`; entries of a stream
//! are sorted by timestamp within the batch. JSON lines' `request_id`/`trace_id` go as
//! structured metadata ([`metadata`]).
//!
//! The non-obvious decision: up to `max_in_flight_requests` pushes run at once (one push
//! at a time leaves the agent idle while Loki decodes), but their acknowledgements are
//! applied strictly in batch order: a batch Loki answered early waits for every batch
//! before it. So a checkpoint is simply the last offset acknowledged in order, and a
//! crash can never skip lines of a batch still in flight. At most one more batch than
//! there are slots is out (encoded, next in line); then the sink takes no new lines,
//! which turns a slow or absent Loki into backpressure on the reader instead of memory
//! growth. Retries (429, 5xx, network) never give up by themselves; other 4xx drop the
//! batch, counted and logged, and the checkpoint moves past it, since sending it again
//! would be refused again.

mod batch;
pub mod config;
mod delivery;
pub mod logproto;
pub mod metadata;
pub mod service;
pub mod sink;
