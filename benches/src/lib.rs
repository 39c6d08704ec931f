//! Helpers shared by the capture benchmarks, and the report that reads their results.
//!
//! The benches themselves live beside this crate (`per_event.rs`, `writer.rs`,
//! `training.rs`) and run with `cargo bench`; criterion writes its estimates under
//! `<target dir>/criterion`, and the `bench-report` binary turns them into markdown
//! tables with [`report`].
//!
//! # Key items
//!
//! - [`FakeTensor`]: a [`capture_core::TensorFacts`] made of plain numbers, so tensor
//!   inspection is measured without a tensor library.
//! - [`ScratchFile`]: a file to capture into, removed when dropped.
//! - [`levels`]: the settings of the seven capture levels, read from `scenarios/`.
//! - [`report`]: criterion's results, read back and printed as markdown.
//! - [`criterion_dir`]: where criterion writes, found the way criterion finds it.
//!
//! # Example
//!
//! Capturing one loop iteration into a scratch file, as the per-event bench does:
//!
//! ```
//! use capture_benches::{ScratchFile, online_capture};
//!
//! let file = ScratchFile::new("doc-example");
//! let capture = online_capture(&file, "epoch_loop: default", false);
//! let group = capture.custom_loop(
//!     capture_core::LoopMode::Default,
//!     "epochs",
//!     "epoch",
//!     None,
//!     &"wf".into(),
//! );
//! group.iteration(1).end(serde_json::json!({"loss": 0.5}));
//! drop(group);
//! assert_eq!(capture.finish().expect("the scratch file is writable").rows, 1);
//! ```
//!
//! # Cargo features
//!
//! - `training` (default): the training bench, which needs the trainer (and burn).
//! - `wgpu` (default): the trainer's wgpu backend, for the training bench's wgpu cases
//!   (on a hardware adapter by themselves, on a software one with `BENCH_WGPU=1`).

#![deny(missing_docs)]

pub mod levels;
pub mod report;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use capture_core::{Capture, CaptureOptions, Settings, Shape, TensorFacts};

/// A tensor made of plain facts: what a framework's [`TensorFacts`] would report, at
/// the cost of reading a few fields.
#[derive(Clone, Debug)]
pub struct FakeTensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Fraction of non-zero elements.
    pub density: f64,
    /// Identifier reported by [`TensorFacts::id`].
    pub id: u64,
}

impl FakeTensor {
    /// Returns a tensor shaped like the tutorial's model input (`[20, 20]` tokens).
    pub fn input() -> Self {
        FakeTensor {
            shape: vec![20, 20],
            density: 0.9775,
            id: 1,
        }
    }

    /// Returns a tensor shaped like the tutorial's model output (`[20, 20, 254]`).
    pub fn output() -> Self {
        FakeTensor {
            shape: vec![20, 20, 254],
            density: 1.0,
            id: 2,
        }
    }
}

impl TensorFacts for FakeTensor {
    fn shape(&self) -> Shape {
        Shape::from(self.shape.as_slice())
    }

    fn device(&self) -> &str {
        "cpu"
    }

    fn dtype_size(&self) -> usize {
        4
    }

    fn density(&self) -> f64 {
        self.density
    }

    fn id(&self) -> u64 {
        self.id
    }
}

/// The work a benchmarked loop does per iteration, with or without capture: a short
/// dependent chain of float operations (a few nanoseconds), so that a captured loop and
/// its bare baseline differ by the capture alone.
#[inline]
pub fn work(x: f64) -> f64 {
    let mut acc = x;
    for k in 0..8 {
        acc = acc * 0.999_9 + f64::from(k) * 1e-3;
    }
    std::hint::black_box(acc)
}

/// A file to capture into, in a memory file system when the machine has one
/// (`/dev/shm`), so that the disk does not set the pace; removed when dropped.
#[derive(Debug)]
pub struct ScratchFile {
    path: PathBuf,
}

impl ScratchFile {
    /// Names a fresh file (not created yet) whose name starts with `label`.
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = scratch_dir();
        let path = dir.join(format!(
            "capture-bench-{label}-{}-{n}.jsonl",
            std::process::id()
        ));
        // A file left by an earlier run with the same pid would be appended to.
        let _ = std::fs::remove_file(&path);
        ScratchFile { path }
    }

    /// Returns the file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns the file's size in bytes (0 when it does not exist).
    pub fn len(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |m| m.len())
    }

    /// Tells whether the file is absent or empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Returns the folder scratch files go to: `/dev/shm` when it exists, else the
/// system's temporary folder.
pub fn scratch_dir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// Opens a capture that writes to `file` in online mode with instrumentation on; `torch`
/// is the YAML body of `instrumentation.torch` (one `key: value` per line) and `enrich`
/// sets `project.enrich_messages`.
///
/// # Panics
///
/// When `torch` is not valid settings or the file cannot be opened: both are mistakes
/// in the bench, not conditions to measure.
pub fn online_capture(file: &ScratchFile, torch: &str, enrich: bool) -> Capture {
    capture_with(file, torch, enrich, "online", "null")
}

/// Opens a capture like [`online_capture`], with the flush mode (`online` or `offline`)
/// and the `telemetry_capture` section (YAML, `null` for none) given.
///
/// # Panics
///
/// When the settings are invalid or the file cannot be opened (bench mistakes).
pub fn capture_with(
    file: &ScratchFile,
    torch: &str,
    enrich: bool,
    flush_mode: &str,
    telemetry: &str,
) -> Capture {
    let torch: String = torch
        .lines()
        .map(|line| format!("      {}\n", line.trim()))
        .collect();
    let yaml = format!(
        "project:\n  enrich_messages: {enrich}\n  db_flush_mode: {flush_mode}\n\
         instrumentation:\n  enabled: true\n  torch:\n{torch}\
         telemetry_capture: {telemetry}\n"
    );
    let settings = Settings::from_yaml_str(&yaml).expect("the bench's settings are valid");
    Capture::start(
        settings,
        CaptureOptions {
            output: Some(file.path().to_path_buf()),
            ..Default::default()
        },
    )
    .expect("a scratch file can be opened")
}

/// Returns a criterion configuration with this crate's output folder,
/// [`criterion_dir`], so that the benches, their summaries and the report agree on it
/// however the bench executable is started. Plots are off: the report reads the
/// estimates, and criterion's plotting panics on machines without fonts.
pub fn criterion() -> criterion::Criterion {
    criterion::Criterion::default()
        .output_directory(&criterion_dir())
        .without_plots()
}

/// Returns the folder criterion writes its results to, found as criterion finds it:
/// `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else the `criterion` folder of
/// the target directory this executable was built in, else `target/criterion`.
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    // A bench runs as <target>/<profile>/deps/<name>-<hash>; a binary as
    // <target>/<profile>/<name>.
    let exe = std::env::current_exe().ok();
    let target = exe.as_deref().and_then(|exe| {
        exe.ancestors()
            .skip(1)
            .find(|dir| dir.join("CACHEDIR.TAG").is_file())
            .map(Path::to_path_buf)
    });
    target
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("criterion")
}

/// Describes this machine in one line: CPU model, logical CPUs, operating system.
pub fn describe_machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    format!("{model}, {cpus} logical CPUs, {}", std::env::consts::OS)
}

/// Writes [`describe_machine`] to [`report::MACHINE_FILE`] in the criterion folder, for
/// the report to print; a failure is logged and otherwise ignored.
pub fn record_machine() {
    let dir = criterion_dir();
    let text = serde_json::json!({ "machine": describe_machine() }).to_string();
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join(report::MACHINE_FILE), text));
    if let Err(err) = written {
        tracing::warn!(dir = %dir.display(), error = %err, "cannot record the machine description");
    }
}

/// Prints, after a bench's group has run, the report's table of that group's results
/// written since `since` (older results, from an earlier or filtered run, are left
/// out). Prints nothing when there are none, as in criterion's `--test` mode.
pub fn print_summary(group_prefix: &str, since: std::time::SystemTime) {
    let dir = criterion_dir();
    let results = match report::read_results(&dir) {
        Ok(results) => results,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read criterion's results back");
            return;
        }
    };
    let fresh: Vec<report::BenchResult> = results
        .into_iter()
        .filter(|r| r.group.starts_with(group_prefix))
        .filter(|r| {
            std::fs::metadata(r.dir.join("new").join("estimates.json"))
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified >= since)
        })
        .collect();
    if !fresh.is_empty() {
        record_machine();
        println!("\n{}", report::render(&fresh, None));
    }
}

/// Returns the CPU time this process has used so far, all threads together (the
/// capture's writer thread included); `None` where the platform has no such clock here.
pub fn process_cpu_time() -> Option<std::time::Duration> {
    #[cfg(unix)]
    {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        let nanos = u32::try_from(now.tv_nsec).ok()?;
        Some(std::time::Duration::new(
            u64::try_from(now.tv_sec).ok()?,
            nanos,
        ))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Reads a duration in whole seconds from the environment variable `name`, or returns
/// `default` when it is unset or not a number.
pub fn env_seconds(name: &str, default: u64) -> std::time::Duration {
    std::time::Duration::from_secs(env_number(name, default))
}

/// Reads a number from the environment variable `name`, or returns `default` when it is
/// unset or not a number.
pub fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| {
            tracing::warn!(name, value = %text, default, "not a whole number; using the default");
            default
        }),
        Err(_) => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_file_is_removed_when_dropped() {
        let file = ScratchFile::new("unit");
        std::fs::write(file.path(), b"x\n").expect("the scratch folder is writable");
        let path = file.path().to_path_buf();
        assert_eq!(file.len(), 2);
        drop(file);
        assert!(!path.exists());
    }

    #[test]
    fn the_bench_settings_load_and_capture() {
        let file = ScratchFile::new("unit-settings");
        let capture = capture_with(&file, "what: parent_only", true, "offline", "{cpu: true}");
        assert!(capture.is_instrumented());
        assert!(capture.settings().telemetry_capture.cpu);
        assert!(capture.finish().is_ok());
    }

    #[test]
    fn fake_tensors_report_their_facts() {
        let inspection = capture_core::TensorInspection::of(&FakeTensor::output());
        assert_eq!(inspection.numel, 20 * 20 * 254);
        assert_eq!(inspection.nbytes, 4 * 20 * 20 * 254);
    }
}
