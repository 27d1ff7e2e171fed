//! JSON log lines: one object per line with an RFC 3339 timestamp, level, message, target,
//! the event's fields, and — on every line emitted inside a request — the request's
//! `request_id`, `trace_id` and `span_id`, so Loki can jump from a trace to its lines.

use std::fmt;

use serde_json::{Map, Value};
use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
    span,
};
use tracing_subscriber::{
    Layer,
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    layer::Context,
    registry::LookupSpan,
};

/// The correlation fields a request span carries.
#[derive(Clone, Debug, Default)]
struct Correlation {
    request_id: Option<String>,
    trace_id: Option<String>,
    span_id: Option<String>,
}

impl Visit for Correlation {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "request_id" => self.request_id = Some(value.to_owned()),
            "trace_id" => self.trace_id = Some(value.to_owned()),
            "span_id" => self.span_id = Some(value.to_owned()),
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if matches!(field.name(), "request_id" | "trace_id" | "span_id") {
            self.record_str(field, format!("{value:?}").trim_matches('"'));
        }
    }
}

/// Keeps each span's correlation fields in its extensions for [`JsonLines`] to read.
pub struct CorrelationLayer;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for CorrelationLayer {
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut correlation = Correlation::default();
        attrs.record(&mut correlation);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(correlation);
        }
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            if let Some(correlation) = extensions.get_mut::<Correlation>() {
                values.record(correlation);
            }
        }
    }
}

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
        ctx: &FmtContext<'_, S, N>,
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
        if let Some(scope) = ctx.event_scope() {
            // The innermost span with correlation fields wins (its span id is the most precise).
            for span in scope {
                if let Some(c) = span.extensions().get::<Correlation>() {
                    if c.trace_id.is_some() || c.request_id.is_some() {
                        for (key, value) in [
                            ("request_id", &c.request_id),
                            ("trace_id", &c.trace_id),
                            ("span_id", &c.span_id),
                        ] {
                            if let Some(value) = value {
                                line.entry(key)
                                    .or_insert_with(|| Value::from(value.as_str()));
                            }
                        }
                        break;
                    }
                }
            }
        }
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}
