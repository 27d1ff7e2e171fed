//! Container log line formats and the reassembly of lines the runtime split.
//!
//! - CRI (containerd, CRI-O): `<RFC3339Nano> <stdout|stderr> <P|F> <message>`; `P` marks
//!   a piece of a longer line (runtimes split at 16 KiB), `F` the final piece.
//!   Spec: kubernetes/cri-api, "CRI container logging" design (`pkg/kubelet/kuberuntime/logs`).
//! - Docker json-file: `{"log":"...\n","stream":"stdout","time":"..."}`; a `log` value
//!   without the trailing newline is a piece of a longer line.
//! - Plain: the whole line is the message, timestamped when read.
//!
//! Pieces are reassembled per file *and* per stream, because stdout and stderr pieces
//! interleave in one file. A reassembled line is capped at the maximum line length: the
//! rest of it is dropped and a marker appended, so one runaway line cannot hold memory.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// Appended to a line that was cut at the maximum length.
pub const TRUNCATION_MARKER: &str = " [truncated by node-agent]";

/// How a file's lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Decided per file from its first line: CRI, else Docker json-file, else plain.
    #[default]
    Auto,
    /// CRI logging format.
    Cri,
    /// Docker json-file.
    Docker,
    /// One message per line, no metadata.
    Plain,
}

/// Which output stream of the container a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StdStream {
    Stdout,
    Stderr,
}

impl StdStream {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            StdStream::Stdout => "stdout",
            StdStream::Stderr => "stderr",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One decoded line (or piece of one).
#[derive(Debug, PartialEq)]
pub struct Parsed<'a> {
    pub timestamp_ns: i64,
    pub stream: StdStream,
    /// A piece to be joined with what follows on the same stream.
    pub partial: bool,
    pub message: Cow<'a, [u8]>,
}

/// Parses a CRI line; `None` if it is not one.
pub fn parse_cri(line: &[u8]) -> Option<Parsed<'_>> {
    let mut fields = line.splitn(4, |b| *b == b' ');
    let timestamp_ns = parse_rfc3339_nanos(fields.next()?)?;
    let stream = match fields.next()? {
        b"stdout" => StdStream::Stdout,
        b"stderr" => StdStream::Stderr,
        _ => return None,
    };
    // The tag may carry more flags after ':' in future runtimes; the first says P or F.
    let tag = fields.next()?;
    let partial = match tag.split(|b| *b == b':').next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    let message = fields.next().unwrap_or(b"");
    Some(Parsed {
        timestamp_ns,
        stream,
        partial,
        message: Cow::Borrowed(message),
    })
}

#[derive(Deserialize)]
struct DockerLine<'a> {
    #[serde(borrow)]
    log: Cow<'a, str>,
    #[serde(borrow, default)]
    stream: Cow<'a, str>,
    #[serde(borrow, default)]
    time: Cow<'a, str>,
}

/// Parses a Docker json-file line; `None` if it is not one.
pub fn parse_docker(line: &[u8]) -> Option<Parsed<'_>> {
    if line.first() != Some(&b'{') {
        return None;
    }
    let parsed: DockerLine<'_> = serde_json::from_slice(line).ok()?;
    let stream = match parsed.stream.as_ref() {
        "stderr" => StdStream::Stderr,
        _ => StdStream::Stdout,
    };
    let timestamp_ns = parse_rfc3339_nanos(parsed.time.as_bytes())?;
    let (partial, message) = match parsed.log {
        Cow::Borrowed(s) => match s.strip_suffix('\n') {
            Some(s) => (false, Cow::Borrowed(s.as_bytes())),
            None => (true, Cow::Borrowed(s.as_bytes())),
        },
        Cow::Owned(mut s) => {
            let partial = !s.ends_with('\n');
            if !partial {
                s.pop();
            }
            (partial, Cow::Owned(s.into_bytes()))
        }
    };
    Some(Parsed {
        timestamp_ns,
        stream,
        partial,
        message,
    })
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` to nanoseconds since the Unix epoch.
/// Hand-written because it runs once per line and a general date library costs more than
/// the rest of the line's handling.
pub fn parse_rfc3339_nanos(s: &[u8]) -> Option<i64> {
    fn digits(s: &[u8]) -> Option<i64> {
        let mut value = 0i64;
        for b in s {
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(b - b'0');
        }
        Some(value)
    }
    if s.len() < 20 || s[4] != b'-' || s[7] != b'-' || !matches!(s[10], b'T' | b't' | b' ') {
        return None;
    }
    if s[13] != b':' || s[16] != b':' {
        return None;
    }
    let year = digits(&s[0..4])?;
    let month = digits(&s[5..7])?;
    let day = digits(&s[8..10])?;
    let hour = digits(&s[11..13])?;
    let minute = digits(&s[14..16])?;
    let second = digits(&s[17..19])?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos = 0i64;
    if rest.first() == Some(&b'.') {
        let end = rest[1..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map_or(rest.len(), |p| p + 1);
        let fraction = &rest[1..end];
        if fraction.is_empty() {
            return None;
        }
        for (i, b) in fraction.iter().take(9).enumerate() {
            nanos += i64::from(b - b'0') * 10i64.pow(8 - i as u32);
        }
        rest = &rest[end..];
    }
    let offset_seconds = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let value = digits(&[*h1, *h2])? * 3600 + digits(&[*m1, *m2])? * 60;
            if *sign == b'+' { value } else { -value }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    seconds.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A complete line, ready to ship. Its text borrows the bytes read whenever they are
/// valid UTF-8 and within the limit, which is nearly always: copying happens once, into
/// the hand-off to the sink.
#[derive(Debug, PartialEq)]
pub struct Line<'a> {
    pub timestamp_ns: i64,
    /// `None` for plain lines.
    pub stream: Option<StdStream>,
    pub text: Cow<'a, str>,
    /// The line was cut at the maximum length.
    pub truncated: bool,
}

impl Line<'_> {
    /// The same line, owning its text.
    pub fn into_owned(self) -> Line<'static> {
        Line {
            timestamp_ns: self.timestamp_ns,
            stream: self.stream,
            text: Cow::Owned(self.text.into_owned()),
            truncated: self.truncated,
        }
    }
}

#[derive(Debug)]
struct Pending {
    start: u64,
    timestamp_ns: i64,
    bytes: Vec<u8>,
    truncated: bool,
}

/// Per-file state that turns raw lines into complete [`Line`]s.
#[derive(Debug)]
pub struct Assembler {
    format: Format,
    max_bytes: usize,
    pending: [Option<Pending>; 2],
}

impl Assembler {
    /// An assembler for a file of `format` whose lines are capped at `max_bytes`.
    pub fn new(format: Format, max_bytes: usize) -> Self {
        Assembler {
            format,
            max_bytes,
            pending: [None, None],
        }
    }

    /// The format in use (resolved from `Auto` after the first line).
    pub fn format(&self) -> Format {
        self.format
    }

    /// Offset of the first byte of the oldest unfinished piece: the file may only be
    /// checkpointed up to here, or a crash would lose the pieces already read.
    pub fn oldest_pending_start(&self) -> Option<u64> {
        self.pending.iter().flatten().map(|p| p.start).min()
    }

    /// Handles one raw line (without its newline) that started at byte `start`;
    /// `raw_truncated` says the reader already cut it. Complete lines go to `out`.
    pub fn push(
        &mut self,
        raw: &[u8],
        raw_truncated: bool,
        start: u64,
        now_ns: i64,
        out: &mut impl FnMut(Line<'_>),
    ) {
        if self.format == Format::Auto {
            self.format = if parse_cri(raw).is_some() {
                Format::Cri
            } else if parse_docker(raw).is_some() {
                Format::Docker
            } else {
                Format::Plain
            };
        }
        let parsed = match self.format {
            Format::Cri => parse_cri(raw),
            Format::Docker if !raw_truncated => parse_docker(raw),
            _ => None,
        };
        let Some(parsed) = parsed else {
            // Plain files, and lines that do not fit their file's format (or a JSON line
            // cut by the reader), are kept whole rather than dropped.
            out(finish(self.max_bytes, now_ns, None, raw, raw_truncated));
            return;
        };
        let slot = &mut self.pending[parsed.stream.index()];
        let max = self.max_bytes;
        match (slot.as_mut(), parsed.partial) {
            (None, false) => {
                out(finish(
                    max,
                    parsed.timestamp_ns,
                    Some(parsed.stream),
                    &parsed.message,
                    raw_truncated,
                ));
            }
            (None, true) => {
                let mut pending = Pending {
                    start,
                    timestamp_ns: parsed.timestamp_ns,
                    bytes: Vec::new(),
                    truncated: raw_truncated,
                };
                append_capped(
                    &mut pending.bytes,
                    &mut pending.truncated,
                    &parsed.message,
                    max,
                );
                *slot = Some(pending);
            }
            (Some(pending), partial) => {
                append_capped(
                    &mut pending.bytes,
                    &mut pending.truncated,
                    &parsed.message,
                    max,
                );
                pending.truncated |= raw_truncated;
                if !partial {
                    let pending = slot.take().expect("pending piece");
                    out(finish(
                        max,
                        pending.timestamp_ns,
                        Some(parsed.stream),
                        &pending.bytes,
                        pending.truncated,
                    ));
                }
            }
        }
    }

    /// Emits unfinished pieces as lines: the file is closing and they will never end.
    pub fn flush(&mut self, out: &mut impl FnMut(Line<'_>)) {
        for index in 0..self.pending.len() {
            if let Some(pending) = self.pending[index].take() {
                let stream = if index == 0 {
                    StdStream::Stdout
                } else {
                    StdStream::Stderr
                };
                out(finish(
                    self.max_bytes,
                    pending.timestamp_ns,
                    Some(stream),
                    &pending.bytes,
                    pending.truncated,
                ));
            }
        }
    }

    /// Forgets unfinished pieces (the file was truncated under us).
    pub fn reset(&mut self) {
        self.pending = [None, None];
    }
}

fn finish(
    max_bytes: usize,
    timestamp_ns: i64,
    stream: Option<StdStream>,
    message: &[u8],
    truncated: bool,
) -> Line<'_> {
    // `from_utf8` validates ASCII a word at a time; the lossy path walks byte by byte and
    // is only needed for the rare invalid line.
    let mut text = match std::str::from_utf8(message) {
        Ok(valid) => Cow::Borrowed(valid),
        Err(_) => String::from_utf8_lossy(message),
    };
    let truncated = truncated || text.len() > max_bytes;
    if truncated {
        let text = text.to_mut();
        let mut keep = max_bytes
            .saturating_sub(TRUNCATION_MARKER.len())
            .min(text.len());
        while !text.is_char_boundary(keep) {
            keep -= 1;
        }
        text.truncate(keep);
        text.push_str(TRUNCATION_MARKER);
    }
    Line {
        timestamp_ns,
        stream,
        text,
        truncated,
    }
}

fn append_capped(buffer: &mut Vec<u8>, truncated: &mut bool, piece: &[u8], max: usize) {
    let room = max.saturating_sub(buffer.len());
    if piece.len() > room {
        *truncated = true;
    }
    buffer.extend_from_slice(&piece[..piece.len().min(room)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: &str = "2026-11-23T12:34:56.123456789Z";
    const TS_NS: i64 = 1_795_437_296_123_456_789;

    fn collect(assembler: &mut Assembler, lines: &[&[u8]]) -> Vec<Line<'static>> {
        let mut out = Vec::new();
        for (i, raw) in lines.iter().enumerate() {
            assembler.push(raw, false, i as u64 * 100, 7, &mut |l| {
                out.push(l.into_owned())
            });
        }
        out
    }

    #[test]
    fn rfc3339_timestamps_with_fractions_and_offsets_parse() {
        assert_eq!(parse_rfc3339_nanos(TS.as_bytes()), Some(TS_NS));
        assert_eq!(parse_rfc3339_nanos(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_nanos(b"1970-01-01T01:00:00.5+01:00"),
            Some(500_000_000)
        );
        assert_eq!(
            parse_rfc3339_nanos(b"2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000_000_000)
        );
        assert_eq!(parse_rfc3339_nanos(b"2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_nanos(b"not a time at all!!"), None);
        assert_eq!(parse_rfc3339_nanos(b"2024-01-01T00:00:00"), None);
    }

    #[test]
    fn cri_lines_parse_into_stream_tag_and_message() {
        let line = format!("{TS} stderr F hello world");
        let parsed = parse_cri(line.as_bytes()).unwrap();
        assert_eq!(parsed.timestamp_ns, TS_NS);
        assert_eq!(parsed.stream, StdStream::Stderr);
        assert!(!parsed.partial);
        assert_eq!(&*parsed.message, b"hello world");
        assert!(parse_cri(format!("{TS} stdout X msg").as_bytes()).is_none());
        assert_eq!(
            &*parse_cri(format!("{TS} stdout F").as_bytes())
                .unwrap()
                .message,
            b""
        );
    }

    #[test]
    fn docker_lines_parse_and_unescape() {
        let line = format!(r#"{{"log":"say \"hi\"\n","stream":"stderr","time":"{TS}"}}"#);
        let parsed = parse_docker(line.as_bytes()).unwrap();
        assert_eq!(&*parsed.message, b"say \"hi\"");
        assert_eq!(parsed.stream, StdStream::Stderr);
        assert!(!parsed.partial);
        let piece = format!(r#"{{"log":"part","stream":"stdout","time":"{TS}"}}"#);
        assert!(parse_docker(piece.as_bytes()).unwrap().partial);
    }

    #[test]
    fn cri_partials_are_joined_per_stream_even_when_interleaved() {
        let mut assembler = Assembler::new(Format::Auto, 1000);
        let raw = [
            format!("{TS} stdout P out-1 "),
            format!("{TS} stderr P err-1 "),
            format!("{TS} stdout F out-2"),
            format!("{TS} stderr F err-2"),
        ];
        let raws: Vec<&[u8]> = raw.iter().map(|s| s.as_bytes()).collect();
        let mut out = Vec::new();
        for (i, r) in raws.iter().enumerate() {
            assembler.push(r, false, i as u64 * 100, 0, &mut |l| {
                out.push(l.into_owned())
            });
            if i == 1 {
                assert_eq!(assembler.oldest_pending_start(), Some(0));
            }
        }
        assert_eq!(assembler.format(), Format::Cri);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].text, "out-1 out-2");
        assert_eq!(out[0].stream, Some(StdStream::Stdout));
        assert_eq!(out[1].text, "err-1 err-2");
        assert_eq!(assembler.oldest_pending_start(), None);
    }

    #[test]
    fn reassembled_lines_are_capped_with_a_marker() {
        let mut assembler = Assembler::new(Format::Cri, 64);
        let piece = format!("{TS} stdout P {}", "a".repeat(50));
        let last = format!("{TS} stdout F {}", "b".repeat(50));
        let out = collect(
            &mut assembler,
            &[piece.as_bytes(), piece.as_bytes(), last.as_bytes()],
        );
        assert_eq!(out.len(), 1);
        assert!(out[0].truncated);
        assert_eq!(out[0].text.len(), 64);
        assert!(out[0].text.ends_with(TRUNCATION_MARKER));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let mut assembler = Assembler::new(Format::Plain, 100);
        let out = collect(&mut assembler, &[b"ok \xff\xfe end"]);
        assert_eq!(out[0].text, "ok \u{fffd}\u{fffd} end");
        assert_eq!(out[0].timestamp_ns, 7, "plain lines get the read time");
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        let mut assembler = Assembler::new(Format::Plain, TRUNCATION_MARKER.len() + 5);
        let out = collect(&mut assembler, &["é".repeat(20).as_bytes()]);
        assert_eq!(out[0].text, format!("éé{TRUNCATION_MARKER}"));
    }

    #[test]
    fn unfinished_pieces_are_flushed_when_the_file_closes() {
        let mut assembler = Assembler::new(Format::Cri, 100);
        let piece = format!("{TS} stdout P dangling");
        assert!(collect(&mut assembler, &[piece.as_bytes()]).is_empty());
        let mut out = Vec::new();
        assembler.flush(&mut |l| out.push(l.into_owned()));
        assert_eq!(out[0].text, "dangling");
    }

    #[test]
    fn lines_not_in_the_files_format_are_kept_as_plain() {
        let mut assembler = Assembler::new(Format::Cri, 100);
        let out = collect(&mut assembler, &[b"garbage line"]);
        assert_eq!(out[0].text, "garbage line");
        assert_eq!(out[0].stream, None);
    }
}
