//! A lightweight loop keeps its iterations and writes them together when it ends,
//! without telemetry; a default loop writes each as it ends.

mod common;

use capture_core::{Capture, CaptureOptions, LoopMode, Record, Settings, read_jsonl};
use serde_json::json;

#[test]
fn lightweight_iterations_arrive_together_when_the_loop_ends() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("b.jsonl");
    let settings = Settings::from_yaml_str(
        "instrumentation:\n  enabled: true\n  torch:\n    epoch_loop: lightweight\n    batch_loop: default\ntelemetry_capture:\n  cpu: true\n",
    )
    .unwrap();
    let capture = Capture::start(
        settings,
        CaptureOptions {
            output: Some(output.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let wf = capture.workflow("W").essential().start();
    let train = capture.task("model_train", wf.id()).essential().start();
    {
        let epochs = capture.epoch_loop(train.id(), wf.id());
        for (_, iteration) in epochs.wrap(0..3) {
            let batches = capture.batch_loop("train_batch", iteration.id(), wf.id());
            for (_, batch) in batches.wrap(0..2) {
                batch.end(json!({"loss": 2.0}));
            }
            iteration.end(json!({"train_loss": 1.0}));
        }
        capture.flush();
        let before = read_jsonl(&output).unwrap();
        let epochs_so_far = before
            .iter()
            .filter(|r| matches!(r, Record::Task(t) if t.activity_id == "epochs_loop_iteration"))
            .count();
        assert_eq!(
            epochs_so_far, 0,
            "lightweight iterations wait for the loop to end"
        );
    }
    capture.flush();
    let records = read_jsonl(&output).unwrap();
    let epochs: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Task(t) if t.activity_id == "epochs_loop_iteration" => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(epochs.len(), 3);
    assert!(epochs.iter().all(|t| t.telemetry_at_end.is_none()));
    assert_eq!(epochs[2].used, Some(json!({"i": 2, "epoch": 2})));
    let batches: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Task(t) if t.activity_id == "train_batch_iteration" => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(batches.len(), 6);
    assert!(
        batches.iter().all(|t| t.telemetry_at_end.is_some()),
        "default loops take telemetry"
    );
    assert_eq!(
        batches[0].parent_task_id.as_deref(),
        Some(epochs[0].task_id.as_str())
    );
    let custom = capture.custom_loop(LoopMode::Default, "search", "config", None, wf.id());
    custom.iteration(7).end(json!({}));
    drop(custom);
    drop(train);
    drop(wf);
    capture.finish().unwrap();
    let records = read_jsonl(&output).unwrap();
    assert!(
        records
            .iter()
            .any(|r| matches!(r, Record::Task(t) if t.activity_id == "search_iteration"))
    );
}
