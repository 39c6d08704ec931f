//! A panic inside an open task (online mode) leaves the task's `ERROR` row, the
//! workflow's end row and every earlier row in the file.

mod common;

use capture_core::{Record, Status, Summary, read_jsonl};
use serde_json::json;

#[test]
fn a_panic_inside_an_open_task_leaves_its_error_row_and_all_earlier_rows() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("buffer.jsonl");
    let capture = common::start(common::settings("level-3.yaml"), &output);
    let worker = capture.clone();
    let outcome = std::thread::spawn(move || {
        let search = worker.workflow("SearchWorkflow").essential().start();
        let train = worker.task("model_train", search.id()).essential().start();
        let epochs = worker.epoch_loop(train.id(), search.id());
        for (epoch, iteration) in epochs.wrap(1..=4) {
            if epoch == 3 {
                panic!("the loss went to NaN");
            }
            iteration.end(json!({"train_loss": 1.0, "val_loss": 1.0}));
        }
        train.finish(json!({}));
        search.finish();
    })
    .join();
    assert!(outcome.is_err(), "the worker panicked");
    // Online mode: the rows are in the file before the capture finishes.
    capture.flush();
    let records = read_jsonl(&output).expect("every line is whole JSON");
    let summary = Summary::of(&records);
    assert_eq!(
        summary.rows_of("epochs_loop_iteration"),
        3,
        "epochs 1, 2 and the failed 3"
    );
    let task_end = records.iter().rev().find_map(|r| match r {
        Record::Task(t) if t.activity_id == "model_train" => Some(t),
        _ => None,
    });
    let task_end = task_end.expect("model_train has rows");
    assert_eq!(task_end.status, Some(Status::Error));
    assert!(
        task_end
            .stderr
            .as_deref()
            .unwrap_or_default()
            .contains("panicked")
    );
    let failed_epoch = records.iter().find_map(|r| match r {
        Record::Task(t)
            if t.activity_id == "epochs_loop_iteration" && t.status == Some(Status::Error) =>
        {
            Some(t)
        }
        _ => None,
    });
    assert!(
        failed_epoch.is_some(),
        "the open iteration ended with ERROR"
    );
    assert_eq!(
        records.last().and_then(Record::status),
        Some(Status::Error),
        "the workflow ended"
    );
    assert!(summary.unfinished.is_empty());
    capture.finish().unwrap();
}
