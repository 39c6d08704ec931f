//! Tensor inspections travel to the writer ahead of their forward rows; however the
//! messages of several threads interleave, each row carries its own forward's
//! inspections, online and offline.

mod common;

use capture_core::{Record, Settings, WorkflowId, read_jsonl};
use common::{FakeTensor, start};
use serde_json::json;

/// Forwards per thread.
const FORWARDS: usize = 300;

fn settings(flush_mode: &str) -> Settings {
    Settings::from_yaml_str(&format!(
        "project: {{db_flush_mode: {flush_mode}}}\ninstrumentation:\n  enabled: true\n  \
         torch: {{what: parent_and_children, children_mode: tensor_inspection}}\n"
    ))
    .expect("the settings are valid")
}

#[test]
fn every_forward_row_carries_the_tensors_of_its_own_forward() {
    for flush_mode in ["online", "offline"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tensors.jsonl");
        let capture = start(settings(flush_mode), &path);
        let model = WorkflowId::from("model");
        // Thread t's forward n reads a [t + 1, n + 1] tensor and writes [n + 1, t + 1];
        // its child reads [t + 1, n + 1, 3] and writes nothing inspected.
        std::thread::scope(|scope| {
            for thread in 0..3usize {
                let (capture, model) = (&capture, &model);
                scope.spawn(move || {
                    let plan = capture.forward_policy().for_epoch(0);
                    for n in 0..FORWARDS {
                        let input = FakeTensor(vec![thread + 1, n + 1]);
                        let forward =
                            capture.parent_forward(model, "Model", None, &plan, true, Some(&input));
                        let child_input = FakeTensor(vec![thread + 1, n + 1, 3]);
                        forward.child("Linear", Some(&child_input)).end(None);
                        forward.end(Some(&FakeTensor(vec![n + 1, thread + 1])));
                    }
                });
            }
        });
        let report = capture.finish().expect("the file takes every row");
        assert_eq!(report.rows, 2 * 3 * FORWARDS as u64, "{flush_mode}");

        let records = read_jsonl(&path).expect("the file reads back");
        let shape = |side: &Option<serde_json::Value>| {
            side.as_ref().map(|value| value["tensor"]["shape"].clone())
        };
        let mut parents = std::collections::HashMap::new();
        let mut children = Vec::new();
        for record in &records {
            let Record::Task(task) = record else {
                panic!("only forward rows were written: {record:?}")
            };
            let used = shape(&task.used).expect("every forward inspected its input");
            match task.subtype.as_deref() {
                Some("parent_forward") => {
                    let reversed = json!([used[1], used[0]]);
                    assert_eq!(shape(&task.generated), Some(reversed), "{flush_mode}");
                    parents.insert(task.task_id.clone(), used);
                }
                Some("child_forward") => {
                    assert_eq!(task.generated, None, "{flush_mode}");
                    children.push((task.parent_task_id.clone().unwrap(), used));
                }
                other => panic!("unexpected subtype {other:?}"),
            }
        }
        assert_eq!(children.len(), 3 * FORWARDS, "{flush_mode}");
        for (parent, used) in children {
            let parent_used = &parents[&parent];
            assert_eq!(
                used,
                json!([parent_used[0], parent_used[1], 3]),
                "{flush_mode}"
            );
        }
        assert_eq!(parents.len(), 3 * FORWARDS, "{flush_mode}");
    }
}
