//! JSON log lines: one object per line with an RFC 3339 timestamp, level, message, target,
//! the event's fields, and — on every line emitted inside a request — the request's
//! `request_id`, `trace_id` and `span_id`, so Loki can jump from a trace to its lines.
//!
//! The ids come from the request's [`Correlation`](crate::request_id::Correlation), not from
//! tracing spans, so logs stay correlated without paying for spans per request: events
//! read it from the request's task-local, and the telemetry layer hands it to the access
//! line, which is written after the request's future has left its scope.

use std::cell::{Cell, RefCell};
use std::fmt::{self, Write as _};
use std::sync::OnceLock;

use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    registry::LookupSpan,
};

use super::log_writer::LogWriter;
use crate::request_id::{self, Correlation};

/// Writes `text` as the inside of a JSON string (RFC 8259 §7 escapes).
fn write_escaped(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    if !needs_escaping(text) {
        return out.write_str(text);
    }
    let mut plain_from = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.write_str(&text[plain_from..at])?;
        if escape.is_empty() {
            write!(out, "\\u{byte:04x}")?;
        } else {
            out.write_str(escape)?;
        }
        plain_from = at + 1;
    }
    out.write_str(&text[plain_from..])
}

thread_local! {
    /// The current second as `YYYY-MM-DDTHH:MM:SS`, formatted once per second per thread.
    static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
}

/// Writes the current UTC time as RFC 3339 with microseconds: `2026-11-23T14:48:55.123456Z`.
/// Only the fraction is formatted per line; the rest is reused within the second.
fn write_timestamp(out: &mut impl fmt::Write) -> fmt::Result {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = now.as_secs();
    let prefix = SECOND.with(|cached| {
        let (second, text) = cached.get();
        if second == seconds {
            return text;
        }
        let mut text = [0u8; 19];
        let time = chrono::DateTime::from_timestamp(seconds as i64, 0).unwrap_or_default();
        let formatted = time.format("%Y-%m-%dT%H:%M:%S").to_string();
        text.copy_from_slice(&formatted.as_bytes()[..19]);
        cached.set((seconds, text));
        text
    });
    debug_assert!(prefix.is_ascii());
    // SAFETY: `prefix` is only ever written from chrono's `%Y-%m-%dT%H:%M:%S`, which is
    // ASCII digits and separators; validating it again on every line costs ~60 instructions.
    out.write_str(unsafe { std::str::from_utf8_unchecked(&prefix) })?;
    write_micros_fraction(out, now.subsec_micros())?;
    out.write_char('Z')
}

/// Writes `.dddddd`: `micros` (below one million) as a six-digit fraction of a second.
fn write_micros_fraction(out: &mut impl fmt::Write, micros: u32) -> fmt::Result {
    debug_assert!(micros < 1_000_000);
    let mut digits = itoa::Buffer::new();
    out.write_char('.')?;
    // The leading 1 zero-pads to six digits; it is cut off.
    out.write_str(&digits.format(1_000_000 + micros)[1..])
}

/// A `fmt::Write` that escapes what passes through it, for `Debug` values.
struct Escaping<'a, W>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        write_escaped(self.0, text)
    }
}

/// Writes each event field as `,"name":value` straight into the line: no map, no
/// allocation per field (this runs for every access-log line).
struct JsonFields<'a, W> {
    out: &'a mut W,
    has_message: bool,
    result: fmt::Result,
}

impl<W: fmt::Write> JsonFields<'_, W> {
    fn key(&mut self, field: &Field) -> fmt::Result {
        if field.name() == "message" {
            self.has_message = true;
        }
        self.out.write_str(",\"")?;
        write_escaped(self.out, field.name())?;
        self.out.write_str("\":")
    }

    fn raw(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| self.out.write_fmt(value));
        }
    }
}

impl<W: fmt::Write> Visit for JsonFields<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| {
                self.out.write_char('"')?;
                write_escaped(self.out, value)?;
                self.out.write_char('"')
            });
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.raw(field, format_args!("{value}"));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.raw(field, format_args!("{value}"));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.raw(field, format_args!("{value}"));
        } else {
            self.raw(field, format_args!("null"));
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw(field, format_args!("{value}"));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| {
                self.out.write_char('"')?;
                write!(Escaping(self.out), "{value:?}")?;
                self.out.write_char('"')
            });
        }
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
        let metadata = event.metadata();
        write_head(&mut writer, metadata.level())?;
        let mut fields = JsonFields {
            out: &mut writer,
            has_message: false,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        // Some libraries' events carry only fields; every line still has a message.
        if !fields.has_message {
            writer.write_str(",\"message\":\"\"")?;
        }
        write_tail(&mut writer, metadata.target())
    }
}

/// `{"timestamp":"…","level":"…"`: how every line starts.
fn write_head(out: &mut impl fmt::Write, level: &tracing::Level) -> fmt::Result {
    out.write_str("{\"timestamp\":\"")?;
    write_timestamp(out)?;
    out.write_str("\",\"level\":\"")?;
    out.write_str(level.as_str())?;
    out.write_char('"')
}

/// `,"target":"…"`, the request's ids when inside one, and the end of the line.
fn write_tail(out: &mut impl fmt::Write, target: &str) -> fmt::Result {
    out.write_str(",\"target\":\"")?;
    write_escaped(out, target)?;
    out.write_char('"')?;
    request_id::with_current(|correlation| write_ids(out, correlation)).unwrap_or(Ok(()))?;
    out.write_str("}\n")
}

/// The request's ids.
fn write_ids(out: &mut impl fmt::Write, correlation: &Correlation) -> fmt::Result {
    // Not escaped: the id comes from `request_id::resolve`, a generated UUID or a
    // caller's id that passed `is_acceptable`, whose characters need no JSON escape.
    debug_assert!(!needs_escaping(&correlation.request_id));
    out.write_str(",\"request_id\":\"")?;
    out.write_str(&correlation.request_id)?;
    out.write_char('"')?;
    if let Some(ids) = correlation.trace() {
        out.write_str(",\"trace_id\":\"")?;
        out.write_str(ids.trace_id())?;
        out.write_str("\",\"span_id\":\"")?;
        out.write_str(ids.span_id())?;
        out.write_char('"')?;
    }
    Ok(())
}

/// Where JSON access lines go directly: set when `LOG_FORMAT=json` and `RUST_LOG` lets
/// access lines through.
static ACCESS_WRITER: OnceLock<LogWriter> = OnceLock::new();

/// Lets [`write_access_line`] write JSON lines straight to `writer`.
pub fn write_access_lines_to(writer: LogWriter) {
    let _ = ACCESS_WRITER.set(writer);
}

/// The fields of an access-log line.
pub struct AccessLine<'a> {
    pub method: &'static str,
    pub route: &'static str,
    pub path: &'a str,
    pub status: u16,
    pub duration: std::time::Duration,
    pub request_bytes: u64,
    pub response_bytes: u64,
}

/// The target of access-log lines (`RUST_LOG=task_api::access=off` silences them).
pub const ACCESS_TARGET: &str = "task_api::access";

thread_local! {
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(512));
}

/// Writes the access line as JSON without going through a tracing event, whose field
/// visitor and dynamic formatting cost more than the rest of the telemetry of a cheap
/// request. Same fields and layout as [`JsonLines`] gives the event. False when no
/// line was written this way (pretty format, access lines filtered out, or no subscriber
/// installed): the caller then logs the event, which the filter decides on.
pub fn write_access_line(line: &AccessLine<'_>, correlation: &Correlation) -> bool {
    let Some(writer) = ACCESS_WRITER.get() else {
        return false;
    };
    LINE.with_borrow_mut(|out| {
        out.clear();
        if format_access_line(out, line, correlation).is_ok() {
            writer.append(out.as_bytes());
        }
    });
    true
}

fn format_access_line(
    out: &mut String,
    line: &AccessLine<'_>,
    correlation: &Correlation,
) -> fmt::Result {
    // Method and route are fixed label values (no character JSON escapes); numbers go
    // through `itoa` rather than `fmt`: this line is written for every request.
    debug_assert!(!needs_escaping(line.method) && !needs_escaping(line.route));
    let mut number = itoa::Buffer::new();
    write_head(out, &tracing::Level::INFO)?;
    out.push_str(",\"message\":\"request completed\",\"http.request.method\":\"");
    out.push_str(line.method);
    out.push_str("\",\"http.route\":\"");
    out.push_str(line.route);
    out.push_str("\",\"url.path\":\"");
    write_escaped(out, line.path)?;
    out.push_str("\",\"http.response.status_code\":");
    out.push_str(number.format(line.status));
    out.push_str(",\"duration_seconds\":");
    let micros = u64::try_from(line.duration.as_micros()).unwrap_or(u64::MAX);
    out.push_str(number.format(micros / 1_000_000));
    write_micros_fraction(out, (micros % 1_000_000) as u32)?;
    out.push_str(",\"http.request.body.size\":");
    out.push_str(number.format(line.request_bytes));
    out.push_str(",\"http.response.body.size\":");
    out.push_str(number.format(line.response_bytes));
    out.push_str(",\"target\":\"");
    out.push_str(ACCESS_TARGET);
    out.push('"');
    write_ids(out, correlation)?;
    out.push_str("}\n");
    Ok(())
}

/// Whether `text` holds a character [`write_escaped`] would escape. Most text does not;
/// checking fixed 16-byte chunks without stopping early lets the compiler use SIMD, which
/// matters because every log line runs this over its path, target and request id.
fn needs_escaping(text: &str) -> bool {
    let special = |byte: u8| (byte < 0x20) | (byte == b'"') | (byte == b'\\');
    let mut chunks = text.as_bytes().chunks_exact(16);
    let in_chunks = chunks.by_ref().any(|chunk| {
        chunk
            .iter()
            .fold(false, |found, &byte| found | special(byte))
    });
    in_chunks || chunks.remainder().iter().any(|&byte| special(byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        for _ in 0..2 {
            let before = chrono::Utc::now();
            let mut out = String::new();
            write_timestamp(&mut out).unwrap();
            let after = chrono::Utc::now();
            assert_eq!(out.len(), "2026-11-23T14:48:55.123456Z".len(), "{out}");
            let parsed = chrono::DateTime::parse_from_rfc3339(&out).unwrap();
            let micros = |t: chrono::DateTime<chrono::Utc>| t.timestamp_micros();
            assert!(micros(before) <= parsed.timestamp_micros(), "{out}");
            assert!(parsed.timestamp_micros() <= micros(after), "{out}");
        }
    }

    #[test]
    fn access_lines_are_json_with_every_field() {
        let mut out = String::new();
        format_access_line(
            &mut out,
            &AccessLine {
                method: "GET",
                route: "/api/v1/tasks/{id}",
                path: "/api/v1/tasks/\"x\"",
                status: 404,
                duration: std::time::Duration::from_micros(2_003_456),
                request_bytes: 0,
                response_bytes: 321,
            },
            &Correlation::new(
                "req-1".to_owned(),
                Some(request_id::TraceIds::new([0xab; 16], [0xcd; 8])),
            ),
        )
        .unwrap();
        assert!(
            out.ends_with("}\n") && out.matches('\n').count() == 1,
            "{out}"
        );
        let line: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "request completed");
        assert_eq!(line["target"], ACCESS_TARGET);
        assert_eq!(line["http.request.method"], "GET");
        assert_eq!(line["http.route"], "/api/v1/tasks/{id}");
        assert_eq!(line["url.path"], "/api/v1/tasks/\"x\"");
        assert_eq!(line["http.response.status_code"], 404);
        assert_eq!(line["duration_seconds"], 2.003456);
        assert_eq!(line["http.request.body.size"], 0);
        assert_eq!(line["http.response.body.size"], 321);
        assert_eq!(line["request_id"], "req-1");
        assert_eq!(line["trace_id"], "ab".repeat(16));
        assert_eq!(line["span_id"], "cd".repeat(8));
    }

    #[test]
    fn escapes_are_found_anywhere_in_long_and_short_text() {
        let plain = "/api/v1/tasks/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        assert!(!needs_escaping(plain) && !needs_escaping(""));
        for special in ['"', '\\', '\n', '\u{1f}', '\0'] {
            for at in [0, 15, 16, 17, plain.len()] {
                let mut text = plain.to_string();
                text.insert(at, special);
                assert!(needs_escaping(&text), "{special:?} at {at}");
                let mut out = String::new();
                write_escaped(&mut out, &text).unwrap();
                let parsed: String = serde_json::from_str(&format!("\"{out}\"")).unwrap();
                assert_eq!(parsed, text);
            }
        }
    }

    #[test]
    fn strings_are_escaped_as_json_requires() {
        let mut out = String::new();
        write_escaped(&mut out, "quote \" slash \\ line\n tab\t bell\u{7} é").unwrap();
        let parsed: String = serde_json::from_str(&format!("\"{out}\"")).unwrap();
        assert_eq!(parsed, "quote \" slash \\ line\n tab\t bell\u{7} é");
        assert!(!out.contains('\n'), "one event, one line");
    }
}
