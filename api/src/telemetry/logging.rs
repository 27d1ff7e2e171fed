//! JSON log lines: one object per line with an RFC 3339 timestamp, level, message, target,
//! the event's fields, and — on every line emitted inside a request — the request's
//! `request_id`, `trace_id` and `span_id`, so Loki can jump from a trace to its lines.
//!
//! The ids come from the request's task-local [`Correlation`](crate::request_id::Correlation),
//! not from tracing spans: logs stay correlated without paying for spans per request.

use std::fmt;

use serde_json::{Map, Value};
use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    registry::LookupSpan,
};

use crate::request_id;

/// Event fields as JSON values; `message` is the event's message.
struct JsonFields<'a>(&'a mut Map<String, Value>);

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::from(format!("{value:?}")));
    }
}

/// The JSON line format.
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::from(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        line.insert(
            "level".into(),
            Value::from(event.metadata().level().as_str()),
        );
        event.record(&mut JsonFields(&mut line));
        // Some libraries' events carry only fields; every line still has a message.
        line.entry("message").or_insert_with(|| Value::from(""));
        line.insert("target".into(), Value::from(event.metadata().target()));
        request_id::with_current(|correlation| {
            line.insert(
                "request_id".into(),
                Value::from(correlation.request_id.as_str()),
            );
            if let Some(ids) = correlation.trace() {
                line.insert("trace_id".into(), Value::from(ids.trace_id.as_str()));
                line.insert("span_id".into(), Value::from(ids.span_id.as_str()));
            }
        });
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}
