//! The `sources.node` section.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::types::{ConfigError, Pattern, Seconds};

/// Mount points node_exporter 1.5 (as Debian ships it) skips: pseudo and runtime mounts.
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// Filesystem types node_exporter 1.5 skips: pseudo filesystems whose sizes mean nothing.
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";
/// Block devices node_exporter 1.5 skips: partitions (counted in their disk) and ram/loop/floppy.
pub const DEFAULT_DISK_DEVICE_EXCLUDE: &str = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";
/// Network devices skipped by default: loopback, as Debian's node_exporter does.
pub const DEFAULT_NETDEV_DEVICE_EXCLUDE: &str = "^lo$";

/// Node stats collection.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// Whether node stats are collected at all.
    pub enabled: bool,
    /// How often to collect; `/metrics` serves the latest collection.
    pub collect_interval_seconds: Seconds,
    /// Where the host's procfs is mounted (`/host/proc` in a DaemonSet).
    pub proc_path: PathBuf,
    /// Where the host's root filesystem is mounted (`/host/root` in a DaemonSet); mount
    /// points are reported relative to it, as node_exporter's `--path.rootfs` does.
    pub rootfs_path: PathBuf,
    /// Filesystem selection.
    pub filesystem: FilesystemConfig,
    /// Block device selection.
    pub diskstats: DiskstatsConfig,
    /// Network device selection.
    pub netdev: NetdevConfig,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            enabled: true,
            collect_interval_seconds: Seconds(10.0),
            proc_path: PathBuf::from("/proc"),
            rootfs_path: PathBuf::from("/"),
            filesystem: FilesystemConfig::default(),
            diskstats: DiskstatsConfig::default(),
            netdev: NetdevConfig::default(),
        }
    }
}

impl NodeConfig {
    /// Checks ranges; `key` is this section's path.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        self.collect_interval_seconds.check_range(
            &format!("{key}.collect_interval_seconds"),
            0.1,
            3600.0,
        )?;
        for (name, path) in [
            ("proc_path", &self.proc_path),
            ("rootfs_path", &self.rootfs_path),
        ] {
            if !path.is_absolute() {
                return Err(ConfigError::invalid(
                    &format!("{key}.{name}"),
                    format!("must be an absolute path, got {}", path.display()),
                ));
            }
        }
        Ok(())
    }
}

/// Which mounts get `node_filesystem_*` series.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesystemConfig {
    /// Mount points matching this are skipped.
    pub mount_points_exclude: Pattern,
    /// Filesystem types matching this are skipped.
    pub fs_types_exclude: Pattern,
}

impl Default for FilesystemConfig {
    fn default() -> Self {
        FilesystemConfig {
            mount_points_exclude: Pattern::builtin(DEFAULT_MOUNT_POINTS_EXCLUDE),
            fs_types_exclude: Pattern::builtin(DEFAULT_FS_TYPES_EXCLUDE),
        }
    }
}

/// Which block devices get `node_disk_*` series.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiskstatsConfig {
    /// Devices matching this are skipped.
    pub device_exclude: Pattern,
}

impl Default for DiskstatsConfig {
    fn default() -> Self {
        DiskstatsConfig {
            device_exclude: Pattern::builtin(DEFAULT_DISK_DEVICE_EXCLUDE),
        }
    }
}

/// Which network devices get `node_network_*` series.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetdevConfig {
    /// Devices matching this are skipped.
    pub device_exclude: Pattern,
}

impl Default for NetdevConfig {
    fn default() -> Self {
        NetdevConfig {
            device_exclude: Pattern::builtin(DEFAULT_NETDEV_DEVICE_EXCLUDE),
        }
    }
}
