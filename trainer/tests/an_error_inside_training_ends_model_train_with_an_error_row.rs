//! An error inside training, here the best model's checkpoint that cannot be written: the
//! `model_train` task ends with an `ERROR` row carrying the message, the workflows end, the
//! process exits non-zero, and the rows written before the error stay as they were.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{field, fixture, rows_of, trainer, whole_lines};

/// Runs two epochs of the default config with loops captured, the best model going to
/// `run_dir`; returns the rows and what the process printed.
fn train_into(dir: &Path, run_dir: &Path) -> (Vec<Value>, support::Finished) {
    let out = dir.join("buffer.jsonl");
    let mut command = trainer(dir);
    command
        .arg("--settings")
        .arg(fixture("settings/online-loops.yaml"))
        .arg("--out")
        .arg(&out)
        .arg("--run-dir")
        .arg(run_dir)
        .args(["--workflow-params", r#"{"epochs": 2}"#]);
    let finished = support::run(command, &dir.join("logs"));
    (whole_lines(&out), finished)
}

/// Checks what every failed config leaves: exit 1 with the count of failed configs, no
/// panic, `model_train` `RUNNING` then `ERROR` with `stderr` holding `message`, the search
/// ended, and the row of the failure written after every row that preceded it.
fn assert_failed_cleanly(rows: &[Value], finished: &support::Finished, message: &str) {
    assert_eq!(finished.status.code(), Some(1), "{finished}");
    assert!(
        finished.stderr.contains("1 of 1 configs failed"),
        "{finished}"
    );
    assert!(!finished.stderr.contains("panicked"), "{finished}");
    assert!(
        finished.stdout.contains("config 0: failed: "),
        "the summary names the failed config: {finished}"
    );

    let train = rows_of(rows, "model_train");
    let statuses: Vec<&str> = train.iter().map(|r| field(r, "status")).collect();
    assert_eq!(statuses, ["RUNNING", "ERROR"]);
    let stderr = field(train[1], "stderr");
    assert!(stderr.contains(message), "{stderr:?} lacks {message:?}");
    assert_eq!(field(train[0], "task_id"), field(train[1], "task_id"));

    for workflow in ["DataPrepWorkflow", "SearchWorkflow"] {
        let statuses: Vec<&str> = rows_of(rows, workflow)
            .iter()
            .map(|r| field(r, "status"))
            .collect();
        assert_eq!(statuses, ["RUNNING", "FINISHED"], "{workflow}");
    }
    // The ERROR row comes after the RUNNING row and every loop row of the task, and the
    // search ends last.
    let at = |row: &Value| {
        rows.iter()
            .position(|r| r == row)
            .expect("the row is there")
    };
    let error_at = at(train[1]);
    assert!(at(train[0]) < error_at);
    for name in [
        "epochs_loop_iteration",
        "train_batch_iteration",
        "eval_batch_iteration",
    ] {
        assert!(rows_of(rows, name).iter().all(|row| at(row) < error_at));
    }
    assert_eq!(
        field(rows.last().expect("rows"), "name"),
        "SearchWorkflow",
        "the search ends last"
    );
}

#[test]
fn a_checkpoint_that_cannot_be_saved_fails_model_train_after_the_first_epoch() {
    let dir = tempfile::tempdir().expect("a temporary folder can be created");
    let run_dir = dir.path().join("runs");
    // A folder where the best model's file should go: saving it fails after epoch 1.
    let checkpoint = run_dir.join("config-0/best_model.bpk");
    std::fs::create_dir_all(&checkpoint).expect("the blocking folder can be created");
    let (rows, finished) = train_into(dir.path(), &run_dir);
    assert_failed_cleanly(&rows, &finished, &checkpoint.display().to_string());

    // Epoch 1 trained and was validated before the save failed: its row and its six batch
    // rows are whole, with the losses; epoch 2 never started.
    let epochs = rows_of(&rows, "epochs_loop_iteration");
    assert_eq!(epochs.len(), 1, "{epochs:?}");
    assert_eq!(field(epochs[0], "status"), "FINISHED");
    for loss in ["train_loss", "val_loss"] {
        assert!(
            epochs[0]["generated"][loss].is_f64(),
            "{loss}: {}",
            epochs[0]
        );
    }
    assert_eq!(rows_of(&rows, "train_batch_iteration").len(), 2);
    assert_eq!(rows_of(&rows, "eval_batch_iteration").len(), 4);
    assert_eq!(rows.len(), 2 + 2 + 2 + 1 + 6);
}

#[test]
fn a_run_folder_under_a_regular_file_fails_model_train_before_training() {
    let dir = tempfile::tempdir().expect("a temporary folder can be created");
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, "a regular file\n").expect("the file can be written");
    let (rows, finished) = train_into(dir.path(), &file.join("runs"));
    assert_failed_cleanly(&rows, &finished, "cannot create run folder");
    assert!(rows_of(&rows, "epochs_loop_iteration").is_empty());
    assert_eq!(rows.len(), 2 + 2 + 2);
}
