//! Property: every record written through a capture's writer reads back equal.

use capture_core::{
    Capture, CaptureOptions, Record, Settings, Status, TaskRecord, WorkflowRecord, read_jsonl,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        // Floats with a short exact decimal form, as losses and times are written.
        any::<i32>().prop_map(|n| Value::from(f64::from(n) / 64.0)),
        ".{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z_]{1,8}", json_value(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn extra() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("x_[a-z]{1,6}", json_value(), 0..2)
        .prop_map(|m| m.into_iter().collect())
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Submitted),
        Just(Status::Waiting),
        Just(Status::Running),
        Just(Status::Finished),
        Just(Status::Error),
    ]
}

fn time() -> impl Strategy<Value = f64> {
    (0u64..4_000_000_000_000_000).prop_map(|micros| micros as f64 / 1e6)
}

prop_compose! {
    fn task()(
        ids in (".{0,20}", ".{0,20}", ".{0,20}", ".{0,20}"),
        subtype in proptest::option::of(".{0,10}"),
        parent in proptest::option::of(".{0,10}"),
        used in proptest::option::of(json_object()),
        generated in proptest::option::of(json_object()),
        status in proptest::option::of(status()),
        times in (proptest::option::of(time()), proptest::option::of(time())),
        telemetry in proptest::option::of(json_object()),
        stderr in proptest::option::of(".{0,30}"),
        host in proptest::option::of("[a-z0-9.-]{1,12}"),
        tags in proptest::option::of(prop::collection::vec(".{0,5}", 0..3)),
        extra in extra(),
    ) -> Record {
        Record::Task(TaskRecord {
            task_id: ids.0, workflow_id: ids.1, campaign_id: ids.2, activity_id: ids.3,
            subtype, parent_task_id: parent, used, generated, status,
            started_at: times.0, ended_at: times.1, telemetry_at_end: telemetry, stderr,
            hostname: host, tags, extra,
            ..TaskRecord::default()
        })
    }
}

prop_compose! {
    fn workflow()(
        ids in (".{0,20}", ".{0,20}", ".{0,20}"),
        parent in proptest::option::of(".{0,10}"),
        used in proptest::option::of(json_object()),
        custom in proptest::option::of(json_object()),
        status in proptest::option::of(status()),
        started in proptest::option::of(time()),
        user in proptest::option::of(".{0,8}"),
        extra in extra(),
    ) -> Record {
        Record::Workflow(WorkflowRecord {
            workflow_id: ids.0, campaign_id: ids.1, name: ids.2, parent_workflow_id: parent,
            used, custom_metadata: custom, status, started_at: started, user, extra,
            ..WorkflowRecord::default()
        })
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_record_round_trips(
        records in prop::collection::vec(prop_oneof![task(), workflow()], 0..20),
        offline in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("b.jsonl");
        let mut settings = Settings::default();
        settings.project.enrich_messages = false;
        if offline {
            settings.project.db_flush_mode = capture_core::FlushMode::Offline;
        }
        let capture = Capture::start(
            settings,
            CaptureOptions { output: Some(output.clone()), ..Default::default() },
        ).unwrap();
        for record in &records {
            capture.write_record(record.clone());
        }
        let report = capture.finish().unwrap();
        prop_assert_eq!(report.rows, records.len() as u64);
        let back = read_jsonl(&output).unwrap();
        prop_assert_eq!(back, records);
    }
}
