//! A config that cannot be built (nhead 3 does not divide emsize 200) ends its
//! `model_train` task with an `ERROR` row naming the problem; the other config trains.

use capture_core::{Capture, CaptureOptions, LoopMode, Record, Settings, Status, read_jsonl};
use trainer::campaign::{CampaignOptions, NoProgress, run_campaign};
use trainer::params::WorkflowParams;

#[test]
fn a_failing_config_writes_an_error_row_and_the_others_finish() {
    let dir = tempfile::tempdir().expect("a temporary folder can be created");
    let output = dir.path().join("buffer.jsonl");
    let mut settings = Settings::tutorial_default();
    settings.project.enrich_messages = false;
    settings.instrumentation.enabled = true;
    settings.instrumentation.torch.epoch_loop = Some(LoopMode::Default);
    let capture = Capture::start(
        settings,
        CaptureOptions {
            output: Some(output.clone()),
            ..CaptureOptions::default()
        },
    )
    .expect("the capture starts");
    let options = CampaignOptions {
        params: WorkflowParams::from_json(r#"{"nhead": [3, 2], "epochs": 2}"#).unwrap(),
        workers: 2,
        run_dir: dir.path().join("runs"),
        ..CampaignOptions::default()
    };
    let outcome = run_campaign(&options, &capture, &NoProgress).expect("the campaign runs");
    capture.finish().expect("the rows are written");

    assert_eq!(outcome.failed(), 1);
    let error = outcome.results[0].result.as_ref().unwrap_err();
    assert_eq!(error, "invalid config: nhead 3 does not divide emsize 200");
    assert!(outcome.results[1].result.is_ok());

    let records = read_jsonl(&output).expect("the file reads back");
    let train_rows: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Task(t) if t.activity_id == "model_train" => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(train_rows.len(), 4);
    let failed = train_rows
        .iter()
        .find(|t| t.status == Some(Status::Error))
        .expect("an ERROR row");
    assert_eq!(failed.stderr.as_deref(), Some(error.as_str()));
    assert_eq!(failed.used.as_ref().unwrap()["nhead"], 3);
    assert_eq!(
        train_rows
            .iter()
            .filter(|t| t.status == Some(Status::Finished))
            .count(),
        1
    );
    // Only the config that trained has epochs.
    let epochs = records
        .iter()
        .filter(|r| matches!(r, Record::Task(t) if t.activity_id == "epochs_loop_iteration"))
        .count();
    assert_eq!(epochs, 2);
}
