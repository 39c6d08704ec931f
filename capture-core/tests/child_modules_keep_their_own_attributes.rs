//! Child forward rows carry their module's attributes and the parent's training mode
//! under `used`. Two modules of one type name keep their own attributes, from several
//! threads at once; a child opened by name alone carries `training` only.

mod common;

use capture_core::{ChildModule, Record, Settings, WorkflowId, read_jsonl};
use common::{FakeTensor, start};
use serde_json::{Map, Value, json};

/// Forwards per thread.
const FORWARDS: usize = 50;

fn attributes(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn each_child_row_carries_its_own_modules_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("children.jsonl");
    let settings = Settings::from_yaml_str(
        "instrumentation:\n  enabled: true\n  \
         torch: {what: parent_and_children, children_mode: tensor_inspection}\n",
    )
    .expect("the settings are valid");
    let capture = start(settings, &path);
    let model = WorkflowId::from("model");
    let first = ChildModule::new(
        "Linear",
        attributes(json!({"in_features": 2, "out_features": 3})),
    );
    let second = ChildModule::new(
        "Linear",
        attributes(json!({"in_features": 3, "out_features": 5})),
    );
    std::thread::scope(|scope| {
        for thread in 0..3 {
            let (capture, model, first, second) = (&capture, &model, &first, &second);
            scope.spawn(move || {
                let plan = capture.forward_policy().for_epoch(0);
                for n in 0..FORWARDS {
                    // Threads alternate training and evaluation forwards.
                    let is_training = (thread + n) % 2 == 0;
                    let input = FakeTensor(vec![4, 2]);
                    let forward = capture.parent_forward(
                        model,
                        "Model",
                        None,
                        &plan,
                        is_training,
                        Some(&input),
                    );
                    forward.child_module(first, Some(&input)).end(None);
                    forward
                        .child_module(second, Some(&FakeTensor(vec![4, 3])))
                        .end(None);
                    forward.child("Dropout", None).end(None);
                    forward.end(None);
                }
            });
        }
    });
    capture.finish().expect("the file takes every row");

    let records = read_jsonl(&path).expect("the file reads back");
    let mut training_of_parent = std::collections::HashMap::new();
    for record in &records {
        if let Record::Task(task) = record
            && task.subtype.as_deref() == Some("parent_forward")
        {
            let training = task.custom_metadata.as_ref().unwrap()["is_training"].clone();
            training_of_parent.insert(task.task_id.clone(), training);
        }
    }
    assert_eq!(training_of_parent.len(), 3 * FORWARDS);

    let mut seen = [0usize; 3];
    for record in &records {
        let Record::Task(task) = record else { continue };
        if task.subtype.as_deref() != Some("child_forward") {
            continue;
        }
        assert_eq!(task.custom_metadata, None);
        let used = task.used.as_ref().expect("a child row has used");
        let parent = task.parent_task_id.as_ref().expect("a child has a parent");
        assert_eq!(used["training"], training_of_parent[parent], "{used}");
        let shape = used.get("tensor").map(|t| t["shape"].clone());
        let expected = match (task.activity_id.as_str(), shape) {
            ("Linear", Some(shape)) if shape == json!([4, 2]) => {
                seen[0] += 1;
                json!({"in_features": 2, "out_features": 3})
            }
            ("Linear", Some(shape)) if shape == json!([4, 3]) => {
                seen[1] += 1;
                json!({"in_features": 3, "out_features": 5})
            }
            ("Dropout", None) => {
                seen[2] += 1;
                json!({})
            }
            other => panic!("an unexpected child row: {other:?} {used}"),
        };
        let mut rest = used.as_object().unwrap().clone();
        rest.remove("tensor");
        rest.remove("training");
        assert_eq!(Value::Object(rest), expected);
    }
    assert_eq!(seen, [3 * FORWARDS; 3]);
}
