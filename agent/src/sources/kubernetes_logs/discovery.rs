//! Which files to tail, and the labels their path gives them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::parser::StdStream;

/// Expands the include globs, minus excludes and compressed rotations, sorted.
pub fn scan(include: &[glob::Pattern], exclude: &[glob::Pattern]) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for pattern in include {
        let Ok(entries) = glob::glob(pattern.as_str()) else {
            continue;
        };
        for path in entries.flatten() {
            if is_compressed(&path) || exclude.iter().any(|p| p.matches_path(&path)) {
                continue;
            }
            paths.push(path);
        }
    }
    paths.sort();
    paths.dedup();
    paths
}

/// Gzipped rotations are never tailed: their content was already read as plain text.
pub fn is_compressed(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

/// The Loki label sets of one file, one per output stream, rendered once.
#[derive(Clone, Debug)]
pub struct FileLabels {
    stdout: Arc<str>,
    stderr: Arc<str>,
    plain: Arc<str>,
}

impl FileLabels {
    /// Labels for `path`: `namespace`, `pod`, `container` from the kubelet layout
    /// `.../<namespace>_<pod>_<uid>/<container>/<n>.log`, else `filename`; plus `node`.
    pub fn for_path(path: &Path, node: &str) -> FileLabels {
        let mut base: Vec<(&str, String)> = match kubelet_parts(path) {
            Some((namespace, pod, container)) => vec![
                ("container", container),
                ("namespace", namespace),
                ("pod", pod),
            ],
            None => vec![("filename", path.to_string_lossy().into_owned())],
        };
        if !node.is_empty() {
            base.push(("node", node.to_string()));
        }
        let render = |stream: Option<StdStream>| -> Arc<str> {
            let mut pairs = base.clone();
            if let Some(stream) = stream {
                pairs.push(("stream", stream.as_str().to_string()));
            }
            pairs.sort();
            Arc::from(render_labels(&pairs))
        };
        FileLabels {
            stdout: render(Some(StdStream::Stdout)),
            stderr: render(Some(StdStream::Stderr)),
            plain: render(None),
        }
    }

    /// The label set of a line from `stream`.
    pub fn get(&self, stream: Option<StdStream>) -> &Arc<str> {
        match stream {
            Some(StdStream::Stdout) => &self.stdout,
            Some(StdStream::Stderr) => &self.stderr,
            None => &self.plain,
        }
    }
}

fn kubelet_parts(path: &Path) -> Option<(String, String, String)> {
    let container_dir = path.parent()?;
    let container = container_dir.file_name()?.to_str()?;
    let pod_dir = container_dir.parent()?.file_name()?.to_str()?;
    // Namespaces and pod names cannot contain '_', the pod UID can't either: split from
    // the left for the namespace and from the right for the UID.
    let (namespace, rest) = pod_dir.split_once('_')?;
    let (pod, _uid) = rest.rsplit_once('_')?;
    if namespace.is_empty() || pod.is_empty() || container.is_empty() {
        return None;
    }
    Some((
        namespace.to_string(),
        pod.to_string(),
        container.to_string(),
    ))
}

/// `{a="1", b="2"}` with Prometheus escaping, the form Loki parses stream labels in.
pub fn render_labels(pairs: &[(&str, String)]) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        out.push_str("=\"");
        crate::metric::escape_label_value(&mut out, value);
        out.push('"');
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelet_paths_give_namespace_pod_and_container() {
        let labels = FileLabels::for_path(
            Path::new(
                "/var/log/pods/kube-system_coredns-5d78c9869d-abcde_0b1c2d3e-1111-2222-3333-444455556666/coredns/0.log",
            ),
            "node-1",
        );
        assert_eq!(
            &**labels.get(Some(StdStream::Stderr)),
            r#"{container="coredns", namespace="kube-system", node="node-1", pod="coredns-5d78c9869d-abcde", stream="stderr"}"#
        );
    }

    #[test]
    fn other_paths_fall_back_to_the_file_name() {
        let labels = FileLabels::for_path(Path::new("/tmp/app \"x\".log"), "");
        assert_eq!(&**labels.get(None), r#"{filename="/tmp/app \"x\".log"}"#);
    }

    #[test]
    fn scan_expands_globs_and_skips_excluded_and_gzipped_files() {
        let dir = std::env::temp_dir().join(format!("wp-scan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let container = dir.join("ns_pod_uid/app");
        std::fs::create_dir_all(&container).unwrap();
        for name in ["0.log", "1.log", "0.log.20261123-120000.gz", "skip.log"] {
            std::fs::write(container.join(name), b"x\n").unwrap();
        }
        let include = vec![glob::Pattern::new(&format!("{}/*/*/*.log*", dir.display())).unwrap()];
        let exclude = vec![glob::Pattern::new("**/skip.log").unwrap()];
        let found = scan(&include, &exclude);
        assert_eq!(
            found,
            vec![container.join("0.log"), container.join("1.log")]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
