//! A settings file holding passwords, tokens, API keys and a URI with credentials (in the
//! mq, kv_db and databases sections, and at the top): with enrichment on, the settings are
//! copied into the workflow rows, yet none of those values appears in the output file.

mod support;

use support::{fixture, trainer, whole_lines};

/// Every secret value of `tests/data/settings/with-secrets.yaml`.
const SECRETS: &[&str] = &[
    "top-level-api-key-0a1b",
    "mq-password-2c3d",
    "mq-user-4e5f",
    "mq-token-6a7b",
    "kv-password-8c9d",
    "kv-token-0e1f",
    "mongo-admin-2a3b",
    "mongo-pass-4c5d",
    "mongo-password-6e7f",
    "mongo-api-key-8a9b",
    "lmdb-secret-0c1d",
];

#[test]
fn no_secret_of_the_settings_file_reaches_the_output() {
    let settings = fixture("settings/with-secrets.yaml");
    let text = std::fs::read_to_string(&settings).expect("the fixture reads");
    for secret in SECRETS {
        assert!(text.contains(secret), "the fixture holds {secret}");
    }
    let dir = tempfile::tempdir().expect("a temporary folder can be created");
    let out = dir.path().join("buffer.jsonl");
    let mut command = trainer(dir.path());
    command
        .arg("--settings")
        .arg(&settings)
        .arg("--out")
        .arg(&out)
        .arg("--run-dir")
        .arg(dir.path().join("runs"))
        .args(["--workflow-params", r#"{"epochs": 1}"#]);
    let finished = support::run(command, &dir.path().join("logs"));
    assert!(finished.succeeded(), "{finished}");

    let rows = whole_lines(&out);
    let snapshots: Vec<_> = rows
        .iter()
        .filter_map(|row| row.get("flowcept_settings"))
        .collect();
    assert!(!snapshots.is_empty(), "enrichment copies the settings");
    assert!(
        snapshots.iter().all(|s| s["mq"]["host"] == "localhost"),
        "the harmless keys of the sections are kept"
    );
    let written = std::fs::read_to_string(&out).expect("the file reads");
    let leaked: Vec<&str> = SECRETS
        .iter()
        .copied()
        .filter(|secret| written.contains(secret))
        .collect();
    assert!(leaked.is_empty(), "secrets in the output: {leaked:?}");
    for printed in [&finished.stdout, &finished.stderr] {
        for secret in SECRETS {
            assert!(!printed.contains(secret), "{secret} printed by the run");
        }
    }
}
