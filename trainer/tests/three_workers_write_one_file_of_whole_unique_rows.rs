//! Three configs trained at once on three workers, all writing one file: the file holds
//! exactly the rows the configs produce, each on a line of its own (nothing interleaved or
//! cut), and no id is used twice for the same status.

mod support;

use std::collections::{HashMap, HashSet};

use support::{field, fixture, rows_of, trainer, whole_lines};

const CONFIGS: usize = 3;
const EPOCHS: usize = 2;
/// Train and eval steps per epoch on the default data (SPEC §1).
const TRAIN_STEPS: usize = 2;
const EVAL_STEPS: usize = 4;

#[test]
fn three_workers_write_one_file_of_whole_unique_rows() {
    let dir = tempfile::tempdir().expect("a temporary folder can be created");
    let out = dir.path().join("parallel.jsonl");
    let mut command = trainer(dir.path());
    command
        .arg("--settings")
        .arg(fixture("settings/parallel-workers.yaml"))
        .arg("--out")
        .arg(&out)
        .arg("--run-dir")
        .arg(dir.path().join("runs"))
        .args(["--workers", &CONFIGS.to_string()])
        .args([
            "--workflow-params",
            &format!(r#"{{"lr": [0.1, 0.01, 0.001], "epochs": {EPOCHS}}}"#),
        ]);
    let finished = support::run(command, &dir.path().join("logs"));
    assert!(finished.succeeded(), "{finished}");

    let rows = whole_lines(&out);
    let steps = TRAIN_STEPS + EVAL_STEPS;
    // Per config: model_train RUNNING and FINISHED, the model's workflow row, and per
    // epoch one epoch row, a batch row and a parent forward per step.
    let per_config = 2 + 1 + EPOCHS * (1 + 2 * steps);
    let workflows = 2 + 2; // DataPrepWorkflow and SearchWorkflow, RUNNING and FINISHED
    assert_eq!(rows.len(), workflows + CONFIGS * per_config);

    let train = rows_of(&rows, "model_train");
    assert_eq!(train.len(), 2 * CONFIGS);
    assert_eq!(
        train
            .iter()
            .filter(|r| field(r, "status") == "FINISHED")
            .count(),
        CONFIGS
    );
    let lrs: HashSet<String> = train.iter().map(|r| r["used"]["lr"].to_string()).collect();
    assert_eq!(lrs.len(), CONFIGS, "each config ran once: {lrs:?}");
    assert_eq!(
        rows_of(&rows, "TransformerModel").len(),
        CONFIGS * (1 + EPOCHS * steps)
    );

    // Ids: one row per (id, status), and every task's parent is a task of the file.
    let mut seen = HashSet::new();
    for row in &rows {
        let id = match field(row, "type") {
            "task" => field(row, "task_id"),
            _ => field(row, "workflow_id"),
        };
        assert!(!id.is_empty(), "a row without an id: {row}");
        assert!(
            seen.insert((id, field(row, "status"))),
            "id {id} appears twice with status {}",
            field(row, "status")
        );
    }
    let tasks: HashMap<&str, &str> = rows
        .iter()
        .filter(|r| field(r, "type") == "task")
        .map(|r| (field(r, "task_id"), field(r, "activity_id")))
        .collect();
    for row in rows.iter().filter(|r| field(r, "type") == "task") {
        if let Some(parent) = row.get("parent_task_id").and_then(|p| p.as_str()) {
            assert!(
                tasks.contains_key(parent),
                "parent {parent} has no row: {row}"
            );
        }
    }
    // Each config's epochs hang under its own model_train.
    for task in train.iter().filter(|r| field(r, "status") == "FINISHED") {
        let id = field(task, "task_id");
        let epochs = rows_of(&rows, "epochs_loop_iteration")
            .into_iter()
            .filter(|r| field(r, "parent_task_id") == id)
            .count();
        assert_eq!(epochs, EPOCHS, "epochs of {id}");
    }
}
