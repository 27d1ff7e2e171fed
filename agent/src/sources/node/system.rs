//! Facts about the running system: `node_time_seconds` and `node_uname_info`.

use std::ffi::CStr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::metric::{MetricFamily, MetricKind, labels};

/// The wall clock, so clock skew between nodes can be alerted on.
pub fn time() -> MetricFamily {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    MetricFamily::single(
        "node_time_seconds",
        "System time in seconds since epoch (1970).",
        MetricKind::Gauge,
        now,
    )
}

/// `uname(2)` as an info series (value 1, facts in labels).
pub fn uname() -> std::io::Result<MetricFamily> {
    let mut buf: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: buf is a valid, writable utsname struct.
    if unsafe { libc::uname(&mut buf) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let field = |raw: &[libc::c_char]| {
        // SAFETY: uname NUL-terminates every field within its fixed-size array.
        unsafe { CStr::from_ptr(raw.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    let mut family = MetricFamily::new(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
        MetricKind::Gauge,
    );
    family.push(
        labels([
            ("domainname", &field(&buf.domainname)),
            ("machine", &field(&buf.machine)),
            ("nodename", &field(&buf.nodename)),
            ("release", &field(&buf.release)),
            ("sysname", &field(&buf.sysname)),
            ("version", &field(&buf.version)),
        ]),
        1.0,
    );
    Ok(family)
}
