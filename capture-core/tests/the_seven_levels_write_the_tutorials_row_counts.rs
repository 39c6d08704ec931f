//! Runs the tutorial's campaign shape at each of SPEC §4's seven levels and checks the
//! `lines` and `tutorial_rows` figures of its table.

mod common;

use capture_core::{Record, Summary, read_jsonl};

fn run_level(level: u32) -> (Summary, Vec<Record>) {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("buffer.jsonl");
    let capture = common::start(common::settings(&format!("level-{level}.yaml")), &output);
    common::tutorial_run(&capture, 4);
    capture
        .finish()
        .expect("nothing fails writing to a temp dir");
    let records = read_jsonl(&output).expect("the file reads back");
    (Summary::of(&records), records)
}

#[test]
fn each_level_writes_the_lines_and_tutorial_rows_of_the_spec() {
    let expected = [
        (1, 4, 3),
        (2, 6, 4),
        (3, 10, 8),
        (4, 16, 14),
        (5, 17, 15),
        (6, 59, 57),
        (7, 35, 33),
    ];
    for (level, lines, tutorial_rows) in expected {
        let (summary, _) = run_level(level);
        assert_eq!(
            (summary.lines, summary.tutorial_rows),
            (lines, tutorial_rows),
            "level {level}"
        );
        assert!(
            summary.unfinished.is_empty(),
            "level {level}: {:?}",
            summary.unfinished
        );
    }
}

#[test]
fn every_row_has_a_type_a_campaign_and_a_workflow_row_of_that_campaign() {
    for level in 1..=7 {
        let (_, records) = run_level(level);
        let campaign = records[0].campaign_id().to_owned();
        let workflows: Vec<&str> = records
            .iter()
            .filter_map(|r| match r {
                Record::Workflow(w) => Some(w.workflow_id.as_str()),
                Record::Task(_) => None,
            })
            .collect();
        for record in &records {
            assert_eq!(record.campaign_id(), campaign, "level {level}");
            assert!(
                workflows.contains(&record.workflow_id()),
                "level {level}: {record:?}"
            );
        }
        let mut ids: Vec<&str> = records
            .iter()
            .filter_map(|r| match r {
                Record::Task(t) if t.status != Some(capture_core::Status::Running) => {
                    Some(t.task_id.as_str())
                }
                _ => None,
            })
            .collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "level {level}: task ids repeat");
    }
}

#[test]
fn level_six_inspects_tensors_in_the_first_epoch_only() {
    let (summary, records) = run_level(6);
    assert_eq!(summary.rows_of_subtype("child_forward"), 24);
    let parents: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Task(t) if t.subtype.as_deref() == Some("parent_forward") => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(parents.len(), 24);
    let inspected = parents.iter().filter(|t| t.used.is_some()).count();
    assert_eq!(inspected, 6);
    let first = &parents[0];
    assert_eq!(
        first.used.as_ref().unwrap()["tensor"]["shape"],
        serde_json::json!([20, 20])
    );
    assert_eq!(
        first.generated.as_ref().unwrap()["tensor"]["nbytes"],
        serde_json::json!(20 * 20 * 254 * 4)
    );
    assert_eq!(
        first.custom_metadata.as_ref().unwrap()["is_training"],
        serde_json::json!(true)
    );
}

#[test]
fn level_seven_carries_cpu_telemetry_and_enrichment() {
    let (_, records) = run_level(7);
    for record in &records {
        let Record::Task(task) = record else { continue };
        assert!(
            task.hostname.is_some() && task.login_name.is_some(),
            "{task:?}"
        );
        let telemetry = match task.status {
            Some(capture_core::Status::Running) => task.telemetry_at_start.as_ref(),
            _ => task.telemetry_at_end.as_ref(),
        };
        let cpu = &telemetry.expect("every task row of level 7 has telemetry")["cpu"];
        assert!(cpu["percent_all"].is_number() && cpu["frequency"].is_number());
    }
    let Record::Workflow(search) = records.iter().find(|r| r.kind() == "workflow").unwrap() else {
        unreachable!()
    };
    assert!(search.flowcept_settings.is_some() && search.user.is_some());
}

#[test]
fn epoch_losses_are_summarised_per_epoch() {
    let (summary, _) = run_level(3);
    let epochs: Vec<u64> = summary.epoch_losses.iter().map(|e| e.epoch).collect();
    assert_eq!(epochs, [0, 1, 2, 3]);
    assert_eq!(summary.epoch_losses[1].train_loss, Some(3.0));
}
