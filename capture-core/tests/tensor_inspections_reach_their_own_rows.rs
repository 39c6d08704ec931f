//! Tensor inspections travel to the writer with their forward rows, a model forward's
//! children batched with it; however the messages of several threads interleave, and
//! however many children a forward has, each row carries its own forward's
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

/// More children under one forward than one hand-over to the writer holds, two of them
/// open at a time: each child row keeps its own input and output, and names its parent,
/// whose row comes after all of them.
#[test]
fn many_children_of_one_forward_keep_their_own_tensors() {
    const PAIRS: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("children.jsonl");
    let capture = start(settings("online"), &path);
    let model = WorkflowId::from("model");
    let plan = capture.forward_policy().for_epoch(0);
    let forward = capture.parent_forward(&model, "Model", None, &plan, true, None);
    for n in 1..=PAIRS {
        // The outer child opens first and ends last.
        let outer = forward.child("Outer", Some(&FakeTensor(vec![n, 1])));
        let inner = forward.child("Inner", Some(&FakeTensor(vec![n, 2])));
        inner.end(Some(&FakeTensor(vec![2, n])));
        outer.end(Some(&FakeTensor(vec![1, n])));
    }
    let parent_id = forward.id().cloned().expect("the forward is captured");
    forward.end(None);
    let report = capture.finish().expect("the file takes every row");
    assert_eq!(report.rows, 2 * PAIRS as u64 + 1);

    let records = read_jsonl(&path).expect("the file reads back");
    let (last, children) = records.split_last().expect("rows were written");
    let Record::Task(parent) = last else {
        panic!("the last row is the parent forward: {last:?}")
    };
    assert_eq!(parent.subtype.as_deref(), Some("parent_forward"));
    assert_eq!(parent.task_id, parent_id.as_str());
    let mut seen = std::collections::BTreeSet::new();
    for record in children {
        let Record::Task(child) = record else {
            panic!("only forward rows were written: {record:?}")
        };
        assert_eq!(child.subtype.as_deref(), Some("child_forward"));
        assert_eq!(child.parent_task_id.as_deref(), Some(parent_id.as_str()));
        let used = &child.used.as_ref().expect("an inspected input")["tensor"]["shape"];
        let generated = &child.generated.as_ref().expect("an inspected output")["tensor"]["shape"];
        assert_eq!(
            *generated,
            json!([used[1], used[0]]),
            "{}",
            child.activity_id
        );
        let width = if child.activity_id == "Outer" { 1 } else { 2 };
        assert_eq!(used[1], width, "{}", child.activity_id);
        assert!(seen.insert((child.activity_id.clone(), used[0].as_u64())));
    }
    assert_eq!(seen.len(), 2 * PAIRS);
}
