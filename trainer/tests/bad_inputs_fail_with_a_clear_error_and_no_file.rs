//! Every bad input makes the trainer exit non-zero with a message naming the problem,
//! without a panic, and before any capture file exists (so none is left that could pass
//! for a finished run). One line per case; `{dir}` in an argument is the case's scratch
//! folder, `{data}` the fixtures folder `tests/data`.

mod support;

use std::path::Path;

use support::trainer;

/// A case: what it is, its arguments (after `--run-dir {dir}/runs`, and `--out
/// {dir}/out.jsonl` unless they have an `--out`), and words the error must contain.
type Case = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Data folder.
    ("missing data folder", &["--data-dir", "{dir}/no-such-data"], &["data folder", "no-such-data", "does not exist"]),
    ("empty data folder", &["--data-dir", "{dir}/empty-data"], &["no train split", "empty-data"]),
    ("data folder is a file", &["--data-dir", "{data}/data/README.md"], &["data folder", "is not a folder"]),
    ("split file missing", &["--data-dir", "{data}/data/missing-test-split"], &["no test split", "wiki.test.tokens, test.txt"]),
    ("train split empty after subset_size", &["--workflow-params", r#"{"subset_size": 1}"#], &["train split", "no tokens", "subset_size 1"]),
    ("valid split empty after subset_size", &["--data-dir", "{data}/data/blank-valid-split", "--workflow-params", r#"{"subset_size": 3, "batch_size": 2}"#], &["valid split", "no tokens", "subset_size 3"]),
    // Sizes zero or negative.
    ("subset_size zero", &["--workflow-params", r#"{"subset_size": 0}"#], &["subset_size", "0 is not an integer >= 1"]),
    ("subset_size negative", &["--workflow-params", r#"{"subset_size": -5}"#], &["subset_size", "-5"]),
    ("batch_size zero", &["--workflow-params", r#"{"batch_size": 0}"#], &["batch_size", "0 is not an integer >= 1"]),
    ("batch_size negative", &["--workflow-params", r#"{"batch_size": -1}"#], &["batch_size", "-1"]),
    ("eval_batch_size zero", &["--workflow-params", r#"{"eval_batch_size": 0}"#], &["eval_batch_size", "0 is not an integer >= 1"]),
    ("epochs zero", &["--workflow-params", r#"{"epochs": 0}"#], &["epochs", "0 is not an integer >= 1"]),
    ("epochs negative", &["--workflow-params", r#"{"epochs": -3}"#], &["epochs", "-3"]),
    ("capture_epochs_at_every zero", &["--settings", "{data}/settings/zero-capture-epochs.yaml"], &["instrumentation.torch.capture_epochs_at_every", "0 is not an integer >= 1"]),
    ("capture_epochs_at_every negative", &["--settings", "{data}/settings/negative-capture-epochs.yaml"], &["instrumentation.torch.capture_epochs_at_every", "-2"]),
    // Batch sizes larger than the data allows.
    ("batch_size too large for the data", &["--workflow-params", r#"{"batch_size": 300}"#], &["train split", "too few for a batch size of 300"]),
    ("eval_batch_size too large for the data", &["--workflow-params", r#"{"eval_batch_size": 250}"#], &["valid split", "too few for a batch size of 250"]),
    ("batch_size the largest integer", &["--workflow-params", r#"{"batch_size": 18446744073709551615}"#], &["train split", "too few for a batch size of 18446744073709551615"]),
    // Workflow parameters.
    ("workflow params not JSON", &["--workflow-params", r#"{"epochs": 2"#], &["not valid JSON"]),
    ("workflow params not an object", &["--workflow-params", "{dir}/params-list.json"], &["params-list.json", "expected a JSON object", "found a list"]),
    ("workflow params file missing", &["--workflow-params", "{dir}/no-such-params.json"], &["--workflow-params", "no-such-params.json", "neither a JSON object nor a readable file"]),
    ("workflow params wrong type", &["--workflow-params", r#"{"epochs": "four"}"#], &["epochs", "invalid type"]),
    ("workflow params list of wrong type", &["--workflow-params", r#"{"lr": ["fast"]}"#], &["lr", "invalid type"]),
    ("workflow params unknown key", &["--workflow-params", r#"{"epoch": 2}"#], &["unknown key \"epoch\""]),
    ("dropout out of range", &["--workflow-params", r#"{"dropout": [1.5]}"#], &["dropout", "is not a probability"]),
    // Settings file.
    ("settings file missing", &["--settings", "{dir}/no-such-settings.yaml"], &["cannot read settings file", "no-such-settings.yaml"]),
    ("settings file not YAML", &["--settings", "{data}/settings/not-yaml.yaml"], &["not-yaml.yaml", "line 3"]),
    ("settings file with a wrong value", &["--settings", "{data}/settings/wrong-flush-mode.yaml"], &["project.db_flush_mode", "\"sometimes\" is not one of online, offline"]),
    // Output file.
    ("output folder missing", &["--out", "{dir}/no-such-folder/out.jsonl"], &["output folder", "no-such-folder", "does not exist"]),
    ("output folder is a file", &["--out", "{dir}/params-list.json/out.jsonl"], &["output folder", "params-list.json", "is not a folder"]),
    ("output folder not writable", &["--out", "/proc/trainer-out.jsonl"], &["output folder /proc", "is not writable"]),
    ("output is a folder", &["--out", "{dir}"], &["output file {dir} is a folder"]),
    // Command line.
    ("zero workers", &["--workers", "0"], &["--workers", "0"]),
];

#[test]
fn bad_inputs_fail_with_a_clear_error_and_no_file() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut failures = Vec::new();
    for (name, args, words) in CASES {
        let dir = tempfile::tempdir().expect("a temporary folder can be created");
        std::fs::create_dir(dir.path().join("empty-data")).expect("a folder can be created");
        std::fs::write(dir.path().join("params-list.json"), "[1, 2]\n")
            .expect("a file can be written");
        let expand = |arg: &str| {
            arg.replace("{dir}", &dir.path().display().to_string())
                .replace("{data}", &data.display().to_string())
        };
        let out = dir.path().join("out.jsonl");
        let mut command = trainer(dir.path());
        command.arg("--run-dir").arg(dir.path().join("runs"));
        if !args.contains(&"--out") {
            command.arg("--out").arg(&out);
        }
        command.args(args.iter().map(|arg| expand(arg)));
        let finished = support::run(command, &dir.path().join("logs"));

        let mut problems = Vec::new();
        if finished.succeeded() {
            problems.push("exited 0".to_owned());
        }
        if finished.stderr.contains("panicked") {
            problems.push("panicked".to_owned());
        }
        for word in *words {
            let word = expand(word);
            if !finished.stderr.contains(&word) {
                problems.push(format!("no {word:?} in the error"));
            }
        }
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("the scratch folder can be listed")
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| !["empty-data", "params-list.json", "logs"].contains(&name.as_str()))
            .collect();
        if !left.is_empty() {
            problems.push(format!("left behind: {left:?}"));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{name}: {}\n{}",
                problems.join("; "),
                finished.stderr.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n\n")
    );
}
