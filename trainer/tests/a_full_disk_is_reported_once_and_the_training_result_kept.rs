//! Capturing to a device with no space left (`/dev/full` answers every write with
//! `ENOSPC`): the error is reported once, capture stops while the training runs to its
//! end, the summary with the losses is still printed, and the exit code is 1 because the
//! provenance is incomplete.

mod support;

use std::path::Path;

use support::{fixture, trainer};

#[test]
fn a_full_disk_is_reported_once_and_the_training_result_kept() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        eprintln!("skipped: /dev/full does not exist here");
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary folder can be created");
    let mut command = trainer(dir.path());
    command
        .arg("--settings")
        .arg(fixture("settings/online-loops.yaml"))
        .arg("--out")
        .arg(full)
        .arg("--run-dir")
        .arg(dir.path().join("runs"))
        .args(["--workflow-params", r#"{"epochs": 2}"#]);
    let finished = support::run(command, &dir.path().join("logs"));

    assert_eq!(finished.status.code(), Some(1), "{finished}");
    assert!(!finished.stderr.contains("panicked"), "{finished}");
    let reported = finished.stderr.matches("No space left on device").count();
    assert_eq!(reported, 1, "the disk error is reported once: {finished}");
    assert!(
        finished.stderr.contains("provenance") && finished.stderr.contains("incomplete"),
        "the final error says the provenance is incomplete: {finished}"
    );
    // Training went on: the config's losses are printed, and its best model saved.
    let result = finished
        .stdout
        .lines()
        .find(|line| line.starts_with("config 0: "))
        .unwrap_or_else(|| panic!("no result line: {finished}"));
    for key in ["train_loss", "val_loss", "test_loss"] {
        assert!(result.contains(key), "{result}");
    }
    assert!(dir.path().join("runs/config-0/best_model.bpk").exists());
    assert!(
        finished.stdout.contains("0 rows written"),
        "the summary says what reached the file: {finished}"
    );
}
