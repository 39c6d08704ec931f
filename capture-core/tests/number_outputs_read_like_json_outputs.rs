//! `IterationGuard::end_numbers` writes the rows `end(json!({...}))` would, for any
//! number of outputs (inline up to two, an object beyond), in both loop modes.

mod common;

use capture_core::{Record, Settings, TaskId, WorkflowId, read_jsonl};
use serde_json::{Value, json};

/// The `generated` of every epoch iteration of the file, in row order.
fn generated_of_epochs(path: &std::path::Path) -> Vec<Option<Value>> {
    read_jsonl(path)
        .unwrap()
        .into_iter()
        .filter_map(|record| match record {
            Record::Task(task) if task.activity_id == "epochs_loop_iteration" => {
                Some(task.generated)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn numbers_and_json_objects_read_back_the_same() {
    let cases: [&[(&'static str, f64)]; 5] = [
        &[],
        &[("loss", 2.5)],
        &[("train_loss", 1.25), ("val_loss", f64::INFINITY)],
        &[("a", 1.0), ("b", -0.0), ("c", 3e-300)],
        &[("loss", f64::NAN)],
    ];
    for mode in ["default", "lightweight"] {
        let dir = tempfile::tempdir().unwrap();
        let (numbers_file, json_file) = (dir.path().join("n.jsonl"), dir.path().join("j.jsonl"));
        let yaml = format!("instrumentation:\n  enabled: true\n  torch:\n    epoch_loop: {mode}\n");
        for (path, as_numbers) in [(&numbers_file, true), (&json_file, false)] {
            let capture = common::start(Settings::from_yaml_str(&yaml).unwrap(), path);
            let (workflow, task) = (WorkflowId::from("w"), TaskId::from("t"));
            let epochs = capture.epoch_loop(&task, &workflow);
            for outputs in cases {
                let iteration = epochs.iteration(0);
                if as_numbers {
                    iteration.end_numbers(outputs);
                } else {
                    let object: serde_json::Map<String, Value> = outputs
                        .iter()
                        .map(|&(name, x)| (name.to_owned(), json!(x)))
                        .collect();
                    iteration.end(Value::Object(object));
                }
            }
            drop(epochs);
            capture.finish().unwrap();
        }
        let from_numbers = generated_of_epochs(&numbers_file);
        assert_eq!(from_numbers.len(), cases.len(), "{mode}");
        assert_eq!(from_numbers, generated_of_epochs(&json_file), "{mode}");
        assert_eq!(
            from_numbers[2],
            Some(json!({"train_loss": 1.25, "val_loss": null})),
            "{mode}: a number JSON cannot hold is null"
        );
        assert_eq!(from_numbers[0], Some(json!({})), "{mode}");
    }
}
