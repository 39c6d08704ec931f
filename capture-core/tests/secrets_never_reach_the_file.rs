//! Passwords and tokens in a settings file never appear in the output, with enrichment on.

mod common;

use serde_json::json;

#[test]
fn no_secret_of_the_settings_file_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("b.jsonl");
    let settings = common::settings("with-secrets.yaml");
    let capture = common::start(settings, &output);
    let search = capture.workflow("SearchWorkflow").essential().start();
    let train = capture.task("model_train", search.id()).essential().start();
    train.finish(json!({}));
    search.finish();
    capture.finish().unwrap();
    let text = std::fs::read_to_string(&output).unwrap();
    assert!(
        text.contains("flowcept_settings"),
        "the snapshot is written"
    );
    assert!(text.contains("localhost"), "harmless keys stay");
    for secret in [
        "mq-password-123",
        "mq-user-xyz",
        "kv-secret-456",
        "kv-token-789",
        "mongo-pass-000",
        "mongo-api-key-111",
    ] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
}
