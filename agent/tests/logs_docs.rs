//! The configuration documented in docs/logs.md is accepted by the real binary.

use std::process::Command;

#[test]
fn the_documented_logs_configuration_passes_check_config() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/logs.md")).unwrap();
    let start = doc.find("```yaml\n").expect("a yaml block in docs/logs.md") + "```yaml\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let dir = std::env::temp_dir().join(format!("logs-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("logs.yaml");
    std::fs::write(&config, &doc[start..end]).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_node-agent"))
        .arg("--check-config")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let effective = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}{}",
        effective,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(effective.contains("kubernetes_logs:"), "{effective}");
    assert!(
        effective.contains("positions_sync_interval_seconds: 0.1"),
        "{effective}"
    );
}
