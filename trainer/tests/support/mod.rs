//! Helpers shared by the tests that run the `trainer` binary: a command in a scratch
//! folder with no settings leaking in from the environment, a time limit, and readers that
//! insist on whole JSON lines.

#![allow(dead_code)] // Each test binary uses a part.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Longest a run of the binary may take before the test fails (a default campaign takes
/// about a second; a loaded machine may take a few times that).
pub const RUN_LIMIT: Duration = Duration::from_secs(120);

/// Returns the path of a fixture under `tests/data`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Returns a `trainer` command that runs in `dir`, with the settings and log variables of
/// the environment removed so that only the arguments decide.
pub fn trainer(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trainer"));
    command
        .current_dir(dir)
        .env_remove("FLOWCEPT_SETTINGS_PATH")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    command
}

/// What a finished run printed.
#[derive(Debug)]
pub struct Finished {
    /// How it exited.
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Finished {
    /// Tells whether the process ended with exit code 0.
    pub fn succeeded(&self) -> bool {
        self.status.success()
    }
}

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `command` to the end, its output captured in files under `logs` (pipes could fill
/// up), and kills it if it runs past [`RUN_LIMIT`].
pub fn run(mut command: Command, logs: &Path) -> Finished {
    std::fs::create_dir_all(logs).expect("the log folder can be created");
    let out_path = logs.join("stdout.txt");
    let err_path = logs.join("stderr.txt");
    let stdout = std::fs::File::create(&out_path).expect("the stdout file can be created");
    let stderr = std::fs::File::create(&err_path).expect("the stderr file can be created");
    let mut child = command
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("the trainer binary starts");
    let status = wait_or_kill(&mut child, RUN_LIMIT);
    Finished {
        status,
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

/// Waits for `child` to exit; kills it and fails the test after `limit`.
pub fn wait_or_kill(child: &mut Child, limit: Duration) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("the child can be waited on") {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the trainer ran longer than {limit:?} and was killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Parses every line of a JSONL file, failing the test on a line that is not a whole JSON
/// object or a file that does not end with a newline.
pub fn whole_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} cannot be read: {e}", path.display()));
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{} ends in the middle of a line: {:?}",
        path.display(),
        &text[text.len().saturating_sub(200)..]
    );
    text.lines()
        .enumerate()
        .map(|(index, line)| {
            let value: Value = serde_json::from_str(line).unwrap_or_else(|e| {
                panic!(
                    "{}:{}: not whole JSON ({e}): {line}",
                    path.display(),
                    index + 1
                )
            });
            assert!(value.is_object(), "line {} is not an object", index + 1);
            value
        })
        .collect()
}

/// Returns a row's string field, or `""`.
pub fn field<'a>(row: &'a Value, key: &str) -> &'a str {
    row.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Returns the rows whose `activity_id` (tasks) or `name` (workflows) is `name`.
pub fn rows_of<'a>(rows: &'a [Value], name: &str) -> Vec<&'a Value> {
    rows.iter()
        .filter(|row| field(row, "activity_id") == name || field(row, "name") == name)
        .collect()
}
