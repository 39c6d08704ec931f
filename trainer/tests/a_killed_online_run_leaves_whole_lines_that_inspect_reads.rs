//! A `SIGKILL` in the middle of an online run: every row already in the file stays, every
//! line is whole JSON, and `trainer inspect` reads the file and lists the workflow and the
//! task the kill left without an end row.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{field, fixture, rows_of, trainer, whole_lines};

/// Epoch rows to wait for before the kill: enough to be well inside the training.
const EPOCHS_BEFORE_KILL: usize = 3;

#[test]
fn a_killed_online_run_leaves_whole_lines_that_inspect_reads() {
    let dir = tempfile::tempdir().expect("a temporary folder can be created");
    let out = dir.path().join("killed.jsonl");
    let mut command = trainer(dir.path());
    command
        .arg("--settings")
        .arg(fixture("settings/online-loops.yaml"))
        .arg("--out")
        .arg(&out)
        .arg("--run-dir")
        .arg(dir.path().join("runs"))
        .args(["--workflow-params", r#"{"epochs": 200}"#])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = command.spawn().expect("the trainer binary starts");

    // Watch the file grow; keep the whole lines seen last before the kill.
    let started = Instant::now();
    let seen = loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let whole = &text[..text.rfind('\n').map_or(0, |at| at + 1)];
        if whole.matches("\"epochs_loop_iteration\"").count() >= EPOCHS_BEFORE_KILL {
            break whole.to_owned();
        }
        if let Some(status) = child.try_wait().expect("the child can be waited on") {
            panic!("the run ended ({status}) before {EPOCHS_BEFORE_KILL} epochs were written");
        }
        if started.elapsed() > support::RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "no {EPOCHS_BEFORE_KILL} epoch rows within {:?}",
                support::RUN_LIMIT
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    child.kill().expect("SIGKILL is sent");
    let status = child.wait().expect("the killed child is reaped");
    assert!(!status.success(), "a killed run cannot succeed: {status}");

    // Every row seen before the kill is still there, in the same place.
    let after = std::fs::read_to_string(&out).expect("the file is still there");
    assert!(
        after.starts_with(&seen),
        "rows seen before the kill changed or vanished"
    );
    let rows = whole_lines(&out);
    assert!(rows.len() >= seen.lines().count());

    // The kill left the search and its model_train open; data prep had ended.
    let search = rows_of(&rows, "SearchWorkflow");
    assert_eq!(search.len(), 1, "only the RUNNING row of the search");
    assert_eq!(field(search[0], "status"), "RUNNING");
    let train = rows_of(&rows, "model_train");
    assert_eq!(train.len(), 1, "only the RUNNING row of model_train");
    assert_eq!(field(train[0], "status"), "RUNNING");
    assert_eq!(rows_of(&rows, "DataPrepWorkflow").len(), 2);
    assert!(rows_of(&rows, "epochs_loop_iteration").len() >= EPOCHS_BEFORE_KILL);
    assert!(
        rows_of(&rows, "epochs_loop_iteration").len() < 200,
        "the run was killed long before its end"
    );

    let logs = dir.path().join("inspect");
    let mut inspect = trainer(dir.path());
    inspect.arg("inspect").arg(&out);
    let inspected = support::run(inspect, &logs);
    assert!(
        inspected.succeeded(),
        "inspect fails on the file: {inspected}"
    );
    let report = &inspected.stdout;
    let unfinished = report
        .split_once("\nunfinished: ")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("no unfinished section: {report}"));
    assert!(
        unfinished.starts_with("2 left without an end row"),
        "{unfinished}"
    );
    let search_id = field(search[0], "workflow_id");
    let train_id = field(train[0], "task_id");
    for (name, id) in [("SearchWorkflow", search_id), ("model_train", train_id)] {
        assert!(
            unfinished
                .lines()
                .any(|line| line.contains(name) && line.contains(id)),
            "{name} {id} is not listed as unfinished: {unfinished}"
        );
    }
}
