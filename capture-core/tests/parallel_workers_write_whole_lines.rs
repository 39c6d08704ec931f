//! Several worker threads writing through one capture: every row arrives, whole, with
//! a unique id (also as a property over worker and row counts, flush modes, and epoch
//! loops that send each row as it ends or all of them together).

mod common;

use std::collections::HashSet;

use capture_core::{LoopMode, Record, Status, read_jsonl};
use proptest::prelude::*;
use serde_json::json;

fn run(workers: usize, epochs: usize, offline: bool, lightweight: bool) {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("b.jsonl");
    let mut settings = common::settings("level-6.yaml");
    if offline {
        settings.project.db_flush_mode = capture_core::FlushMode::Offline;
    }
    if lightweight {
        settings.instrumentation.torch.epoch_loop = Some(LoopMode::Lightweight);
    }
    let capture = common::start(settings, &output);
    let search = capture.workflow("SearchWorkflow").essential().start();
    std::thread::scope(|scope| {
        for worker in 0..workers {
            let capture = capture.clone();
            let search = search.id().clone();
            scope.spawn(move || {
                let train = capture
                    .task("model_train", &search)
                    .essential()
                    .used(json!({"worker": worker}))
                    .start();
                let epoch_loop = capture.epoch_loop(train.id(), &search);
                for (_, iteration) in epoch_loop.wrap(0..epochs) {
                    iteration.end(json!({"train_loss": 1.0}));
                }
                train.finish(json!({}));
            });
        }
    });
    search.finish();
    let report = capture.finish().unwrap();
    let expected = 2 + workers * (2 + epochs);
    assert_eq!(report.rows, expected as u64);
    let text = std::fs::read_to_string(&output).unwrap();
    assert!(text.ends_with('\n'));
    let records = read_jsonl(&output).expect("no line is torn or interleaved");
    assert_eq!(records.len(), expected);
    let mut ids = HashSet::new();
    for record in &records {
        if let Record::Task(task) = record
            && task.status != Some(Status::Running)
        {
            assert!(
                ids.insert(task.task_id.clone()),
                "duplicate id {}",
                task.task_id
            );
        }
    }
}

#[test]
fn four_workers_write_every_row_once() {
    run(4, 500, false, false);
}

#[test]
fn lightweight_loops_of_four_workers_write_every_row_once() {
    run(4, 300, false, true);
}

#[test]
fn offline_workers_write_every_row_at_the_end() {
    run(3, 100, true, false);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn any_number_of_workers_and_rows(
        workers in 1usize..6,
        epochs in 0usize..200,
        offline in any::<bool>(),
        lightweight in any::<bool>(),
    ) {
        run(workers, epochs, offline, lightweight);
    }
}
