//! Filesystem sizes: mounts from `<proc>/1/mounts`, sizes from `statfs(2)`.
//!
//! Mounts come from PID 1's view (the host's, when the agent shares the host PID
//! namespace) rather than the agent's own, as node_exporter does; pseudo filesystems are
//! skipped by the configurable mount-point and fs-type patterns.

use std::collections::HashSet;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::metric::{Labels, MetricFamily, MetricKind, labels};
use crate::sources::node::config::FilesystemConfig;

/// One line of a mounts file.
#[derive(Debug, PartialEq)]
pub struct Mount {
    pub device: String,
    pub mount_point: String,
    pub fs_type: String,
    pub read_only: bool,
}

/// Parses a mounts file (`fstab` format), keeping mounts the patterns do not exclude and
/// dropping repeated (device, mount point, type) triples that would collide as series.
pub fn parse_mounts(text: &str, rootfs: &Path, config: &FilesystemConfig) -> Vec<Mount> {
    let mut seen = HashSet::new();
    let mut mounts = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.len() < 4 {
            continue;
        }
        let mount_point = strip_rootfs(&unescape(fields[1]), rootfs);
        let fs_type = fields[2].to_string();
        if config.mount_points_exclude.is_match(&mount_point)
            || config.fs_types_exclude.is_match(&fs_type)
        {
            continue;
        }
        let device = unescape(fields[0]);
        if !seen.insert((device.clone(), mount_point.clone(), fs_type.clone())) {
            continue;
        }
        let read_only = fields[3].split(',').any(|option| option == "ro");
        mounts.push(Mount {
            device,
            mount_point,
            fs_type,
            read_only,
        });
    }
    mounts
}

/// Mount files escape space, tab, newline and backslash as octal (`\040`).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            out.push(
                (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0'),
            );
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn strip_rootfs(mount_point: &str, rootfs: &Path) -> String {
    let rootfs = rootfs.to_string_lossy();
    if rootfs == "/" {
        return mount_point.to_string();
    }
    match mount_point.strip_prefix(rootfs.trim_end_matches('/')) {
        Some("") => "/".to_string(),
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        _ => mount_point.to_string(),
    }
}

/// Sizes of one filesystem, in bytes and inodes.
#[derive(Debug, PartialEq)]
pub struct Usage {
    pub size_bytes: f64,
    pub free_bytes: f64,
    pub avail_bytes: f64,
    pub files: f64,
    pub files_free: f64,
}

/// `statfs(2)` on `path`.
pub fn statfs(path: &Path) -> std::io::Result<Usage> {
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c_path is NUL-terminated and buf is a valid, writable statfs struct.
    if unsafe { libc::statfs(c_path.as_ptr(), &mut buf) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let block = buf.f_bsize as f64;
    Ok(Usage {
        size_bytes: buf.f_blocks as f64 * block,
        free_bytes: buf.f_bfree as f64 * block,
        avail_bytes: buf.f_bavail as f64 * block,
        files: buf.f_files as f64,
        files_free: buf.f_ffree as f64,
    })
}

/// Builds the `node_filesystem_*` families for `mounts`, calling `stat` for sizes.
/// A mount whose statfs fails gets `node_filesystem_device_error 1` and no sizes,
/// so one broken mount never hides the others.
pub fn families(
    mounts: &[Mount],
    mut stat: impl FnMut(&Mount) -> std::io::Result<Usage>,
) -> Vec<MetricFamily> {
    let gauge = |name: &str, help: &str| MetricFamily::new(name, help, MetricKind::Gauge);
    let mut size = gauge("node_filesystem_size_bytes", "Filesystem size in bytes.");
    let mut free = gauge(
        "node_filesystem_free_bytes",
        "Filesystem free space in bytes.",
    );
    let mut avail = gauge(
        "node_filesystem_avail_bytes",
        "Filesystem space available to non-root users in bytes.",
    );
    let mut files = gauge("node_filesystem_files", "Filesystem total file nodes.");
    let mut files_free = gauge(
        "node_filesystem_files_free",
        "Filesystem total free file nodes.",
    );
    let mut readonly = gauge("node_filesystem_readonly", "Filesystem read-only status.");
    let mut device_error = gauge(
        "node_filesystem_device_error",
        "Whether an error occurred while getting statistics for the given device.",
    );
    for mount in mounts {
        let series: Labels = labels([
            ("device", &mount.device),
            ("fstype", &mount.fs_type),
            ("mountpoint", &mount.mount_point),
        ]);
        match stat(mount) {
            Ok(usage) => {
                device_error.push(series.clone(), 0.0);
                size.push(series.clone(), usage.size_bytes);
                free.push(series.clone(), usage.free_bytes);
                avail.push(series.clone(), usage.avail_bytes);
                files.push(series.clone(), usage.files);
                files_free.push(series.clone(), usage.files_free);
                readonly.push(series, if mount.read_only { 1.0 } else { 0.0 });
            }
            Err(error) => {
                tracing::debug!(mount_point = %mount.mount_point, %error, "statfs failed");
                device_error.push(series, 1.0);
            }
        }
    }
    vec![avail, device_error, files, files_free, free, readonly, size]
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS: &str = "proc /proc proc rw,relatime 0 0\n\
/dev/vda / ext4 rw,relatime,discard 0 0\n\
tmpfs /dev/shm tmpfs rw 0 0\n\
/dev/vdb /data\\040disk xfs ro,noatime 0 0\n\
/dev/vdb /data\\040disk xfs ro,noatime 0 0\n\
cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n\
overlay /var/lib/kubelet/x overlay rw 0 0\n";

    #[test]
    fn pseudo_filesystems_and_duplicates_are_skipped() {
        let mounts = parse_mounts(MOUNTS, Path::new("/"), &FilesystemConfig::default());
        assert_eq!(
            mounts,
            [
                Mount {
                    device: "/dev/vda".into(),
                    mount_point: "/".into(),
                    fs_type: "ext4".into(),
                    read_only: false
                },
                Mount {
                    device: "/dev/vdb".into(),
                    mount_point: "/data disk".into(),
                    fs_type: "xfs".into(),
                    read_only: true
                },
            ]
        );
    }

    #[test]
    fn rootfs_prefix_is_stripped_from_mount_points() {
        let text = "/dev/vda /host/root ext4 rw 0 0\n/dev/vdb /host/root/data ext4 rw 0 0\n/dev/vdc /elsewhere ext4 rw 0 0\n";
        let points: Vec<_> =
            parse_mounts(text, Path::new("/host/root"), &FilesystemConfig::default())
                .into_iter()
                .map(|m| m.mount_point)
                .collect();
        assert_eq!(points, ["/", "/data", "/elsewhere"]);
    }

    #[test]
    fn failed_statfs_sets_device_error_and_keeps_other_mounts() {
        let mounts = parse_mounts(
            "/dev/a /a ext4 rw 0 0\n/dev/b /b ext4 ro 0 0\n",
            Path::new("/"),
            &FilesystemConfig::default(),
        );
        let families = families(&mounts, |m| {
            if m.mount_point == "/a" {
                Err(std::io::Error::other("stale"))
            } else {
                Ok(Usage {
                    size_bytes: 10.0,
                    free_bytes: 5.0,
                    avail_bytes: 4.0,
                    files: 3.0,
                    files_free: 2.0,
                })
            }
        });
        let get = |name: &str| families.iter().find(|f| f.name == name).unwrap();
        assert_eq!(
            get("node_filesystem_device_error")
                .samples
                .iter()
                .map(|s| s.value)
                .collect::<Vec<_>>(),
            [1.0, 0.0]
        );
        assert_eq!(get("node_filesystem_size_bytes").samples.len(), 1);
        assert_eq!(get("node_filesystem_readonly").samples[0].value, 1.0);
        assert_eq!(
            get("node_filesystem_avail_bytes").samples[0].labels[2],
            ("mountpoint".to_string(), "/b".to_string())
        );
    }

    #[test]
    fn statfs_of_root_reports_a_plausible_size() {
        let usage = statfs(Path::new("/")).unwrap();
        assert!(
            usage.size_bytes > 0.0
                && usage.avail_bytes <= usage.free_bytes
                && usage.free_bytes <= usage.size_bytes
        );
    }
}
