//! The default campaign on the CPU writes exactly the rows of SPEC §4 at levels 1, 3, 6
//! and 7: `lines` as Flowcept writes them, `tutorial_rows` with each workflow once.

use capture_core::{
    Capture, CaptureOptions, ChildrenMode, FlushMode, ForwardScope, LoopMode, Record, Settings,
    Status, Summary, TaskRecord, read_jsonl,
};
use serde_json::json;
use trainer::campaign::{CampaignOptions, NoProgress, run_campaign};

/// Runs the default campaign with `settings`; returns the rows and their summary.
fn run(settings: Settings) -> (Vec<Record>, Summary) {
    let dir = tempfile::tempdir().expect("a temporary folder can be created");
    let output = dir.path().join("flowcept_buffer.jsonl");
    let capture = Capture::start(
        settings,
        CaptureOptions {
            output: Some(output.clone()),
            ..CaptureOptions::default()
        },
    )
    .expect("the capture starts");
    let options = CampaignOptions {
        run_dir: dir.path().join("runs"),
        ..CampaignOptions::default()
    };
    let outcome = run_campaign(&options, &capture, &NoProgress).expect("the campaign runs");
    assert_eq!(outcome.results.len(), 1);
    let result = outcome.results[0]
        .result
        .as_ref()
        .expect("the config trains");
    assert!(result.test_loss.is_finite() && result.checkpoint.is_file());
    capture.finish().expect("the rows are written");
    let records = read_jsonl(&output).expect("the file reads back");
    let summary = Summary::of(&records);
    (records, summary)
}

fn offline(mut settings: Settings, enrich: bool) -> Settings {
    settings.project.enrich_messages = enrich;
    settings.project.db_flush_mode = FlushMode::Offline;
    settings.project.dump_buffer.enabled = true;
    settings
}

fn tasks(records: &[Record]) -> impl Iterator<Item = &TaskRecord> {
    records.iter().filter_map(|r| match r {
        Record::Task(t) => Some(t),
        Record::Workflow(_) => None,
    })
}

fn shape(value: &Option<serde_json::Value>) -> serde_json::Value {
    value
        .as_ref()
        .map_or(json!(null), |v| v["tensor"]["shape"].clone())
}

#[test]
fn level_1_writes_the_search_workflow_and_model_train_only() {
    let mut settings = offline(Settings::default(), true);
    settings.instrumentation.enabled = false;
    let (records, summary) = run(settings);
    assert_eq!((summary.lines, summary.tutorial_rows), (4, 3));
    let train: Vec<_> = tasks(&records).collect();
    assert_eq!(train.len(), 2);
    assert_eq!(train[0].status, Some(Status::Running));
    assert_eq!(train[1].status, Some(Status::Finished));
    let generated = train[1]
        .generated
        .as_ref()
        .expect("model_train has results");
    for key in [
        "test_loss",
        "train_loss",
        "val_loss",
        "training_time",
        "best_model_path",
    ] {
        assert!(generated.get(key).is_some(), "generated lacks {key}");
    }
    assert_eq!(train[0].used.as_ref().unwrap()["ntokens"], json!(254));
}

#[test]
fn level_3_adds_the_data_prep_workflow_and_four_epochs() {
    let mut settings = offline(Settings::default(), false);
    settings.instrumentation.enabled = true;
    settings.instrumentation.torch.epoch_loop = Some(LoopMode::Default);
    let (records, summary) = run(settings);
    assert_eq!((summary.lines, summary.tutorial_rows), (10, 8));
    assert_eq!(summary.rows_of("epochs_loop_iteration"), 4);
    let dataprep = records
        .iter()
        .find_map(|r| match r {
            Record::Workflow(w) if w.name == "DataPrepWorkflow" => Some(w),
            _ => None,
        })
        .expect("a DataPrepWorkflow row");
    let used = dataprep.used.as_ref().unwrap();
    assert_eq!(used["ntokens"], json!(254));
    assert_eq!(used["train_data_shape"], json!([27, 20]));
    assert_eq!(
        (
            used["train_n_batches"].clone(),
            used["val_n_batches"].clone()
        ),
        (json!(2), json!(4))
    );
    let epoch = tasks(&records)
        .find(|t| t.activity_id == "epochs_loop_iteration")
        .unwrap();
    assert_eq!(epoch.used, Some(json!({"i": 0, "epoch": 1})));
    let losses = epoch.generated.as_ref().unwrap();
    assert!(losses["train_loss"].is_f64() && losses["val_loss"].is_f64());
}

#[test]
fn level_6_adds_parent_forwards_and_first_epoch_children_with_tensors() {
    let mut settings = offline(Settings::default(), false);
    settings.instrumentation.enabled = true;
    let torch = &mut settings.instrumentation.torch;
    torch.what = Some(ForwardScope::ParentAndChildren);
    torch.children_mode = Some(ChildrenMode::TensorInspection);
    torch.epoch_loop = Some(LoopMode::Default);
    torch.capture_epochs_at_every = 1;
    torch.register_workflow = true;
    let (records, summary) = run(settings);
    assert_eq!((summary.lines, summary.tutorial_rows), (59, 57));
    assert_eq!(summary.rows_of_subtype("parent_forward"), 24);
    assert_eq!(summary.rows_of_subtype("child_forward"), 24);

    let model = records
        .iter()
        .find_map(|r| match r {
            Record::Workflow(w) if w.name == "TransformerModel" => Some(w),
            _ => None,
        })
        .expect("the model workflow row");
    let profile = &model.custom_metadata.as_ref().unwrap()["model_profile"];
    assert_eq!(profile["params"], json!(585_854));
    for key in ["max_width", "n_modules", "modules", "model_repr"] {
        assert!(profile.get(key).is_some(), "model_profile lacks {key}");
    }

    let first_parent = tasks(&records)
        .find(|t| t.subtype.as_deref() == Some("parent_forward"))
        .unwrap();
    assert_eq!(shape(&first_parent.used), json!([20, 20]));
    assert_eq!(shape(&first_parent.generated), json!([20, 20, 254]));
    assert_eq!(first_parent.workflow_id, model.workflow_id);
    let children: Vec<&TaskRecord> = tasks(&records)
        .filter(|t| t.parent_task_id.as_deref() == Some(first_parent.task_id.as_str()))
        .collect();
    let names: Vec<&str> = children.iter().map(|t| t.activity_id.as_str()).collect();
    assert_eq!(
        names,
        [
            "Embedding",
            "PositionalEncoding",
            "TransformerEncoder",
            "Linear"
        ]
    );
    assert_eq!(shape(&children[0].generated), json!([20, 20, 200]));
    assert_eq!(shape(&children[3].generated), json!([20, 20, 254]));
    assert_eq!(
        children[0].used.as_ref().unwrap()["tensor"]["density"],
        json!(0.9775)
    );
    // As in Flowcept's level-6 file: the module's sizes and the training mode in `used`.
    let used = |child: &TaskRecord, key: &str| child.used.as_ref().unwrap()[key].clone();
    assert_eq!(used(children[0], "num_embeddings"), json!(254));
    assert_eq!(used(children[0], "embedding_dim"), json!(200));
    assert_eq!(used(children[2], "num_layers"), json!(2));
    assert_eq!(used(children[3], "in_features"), json!(200));
    assert_eq!(used(children[3], "out_features"), json!(254));
    for child in tasks(&records).filter(|t| t.subtype.as_deref() == Some("child_forward")) {
        assert_eq!(used(child, "first_level_child"), json!(true));
        let parent = tasks(&records)
            .find(|t| Some(t.task_id.as_str()) == child.parent_task_id.as_deref())
            .expect("a child's parent row");
        assert_eq!(
            used(child, "training"),
            parent.custom_metadata.as_ref().unwrap()["is_training"]
        );
    }
    let training = |flag: bool| {
        tasks(&records)
            .filter(|t| t.subtype.as_deref() == Some("child_forward"))
            .filter(|t| used(t, "training") == json!(flag))
            .count()
    };
    assert_eq!((training(true), training(false)), (8, 16));
    // Only the first epoch's forwards carry tensors.
    let with_tensors = tasks(&records)
        .filter(|t| t.subtype.as_deref() == Some("parent_forward") && t.used.is_some())
        .count();
    assert_eq!(with_tensors, 6);
}

#[test]
fn level_7_has_the_rows_of_level_6_without_children_and_telemetry() {
    let mut settings = offline(Settings::default(), true);
    settings.instrumentation.enabled = true;
    let torch = &mut settings.instrumentation.torch;
    torch.what = Some(ForwardScope::ParentOnly);
    torch.epoch_loop = Some(LoopMode::Default);
    torch.capture_epochs_at_every = 1;
    torch.register_workflow = true;
    settings.telemetry_capture.cpu = true;
    let (records, summary) = run(settings);
    assert_eq!((summary.lines, summary.tutorial_rows), (35, 33));
    let forward = tasks(&records)
        .find(|t| t.subtype.as_deref() == Some("parent_forward"))
        .unwrap();
    assert!(forward.telemetry_at_end.is_some());
    assert!(forward.hostname.is_some());
    let search = records
        .iter()
        .find_map(|r| match r {
            Record::Workflow(w) if w.name == "SearchWorkflow" => Some(w),
            _ => None,
        })
        .unwrap();
    let machine_info = search
        .machine_info
        .as_ref()
        .expect("the search records its backend");
    assert_eq!(machine_info["backend"]["backend"], json!("cpu"));
}
