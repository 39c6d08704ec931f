//! The capture handle and the guards that write workflow and task rows.
//!
//! A [`Capture`] is opened once per run from [`Settings`]; it owns the writer and is
//! shared by every thread that captures (clones are cheap). Workflows and tasks are
//! opened through builders and closed by guards: the guard writes the end row when it is
//! finished explicitly, or when it is dropped (`FINISHED`, or `ERROR` with `stderr` when
//! the thread is panicking), so nothing opened is ever left without its end row while
//! the process lives.
//!
//! What is written follows the settings: with `instrumentation.enabled: false` only rows
//! marked *essential* (the campaign's own workflow and task) are written; every other
//! builder, loop and forward guard does nothing, at the cost of a branch. Without an
//! output file (`dump_buffer.enabled: false` and no [`CaptureOptions::output`]) nothing
//! at all is written.

mod forward;
pub(crate) mod ids;
mod loops;
mod task;
mod workflow;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

pub use forward::{ChildGuard, ChildModule, ForwardGuard, ForwardPlan, ForwardPolicy};
pub use ids::{TaskId, WorkflowId};
pub use loops::{CapturedLoop, IterationGuard, LoopCapture};
pub use task::{TaskBuilder, TaskGuard};
pub use workflow::{WorkflowBuilder, WorkflowGuard};

use crate::record::Record;
use crate::settings::{LoopMode, Settings, SettingsError};
use crate::telemetry::TelemetryCollector;
use crate::writer::{Enricher, InspectedForward, Row, Template, WriteFailure, WriteReport, Writer};

/// How a capture is opened, beyond what the settings say.
#[derive(Clone, Debug, Default)]
pub struct CaptureOptions {
    /// The campaign id to use; a fresh UUID when `None`.
    pub campaign_id: Option<String>,
    /// The file to write; overrides `dump_buffer.path` and turns the buffer file on.
    pub output: Option<PathBuf>,
}

/// Why a capture could not start, or what went wrong while it wrote.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The settings break a rule.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The output file could not be opened for appending.
    #[error("cannot open output file {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// `delete_previous_file` is on and the old file could not be removed.
    #[error("cannot delete previous output file {}: {source}", path.display())]
    DeletePrevious {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The writer thread could not be started.
    #[error("cannot start the provenance writer thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// Writing failed part way; the file holds whole lines up to the failure.
    #[error("{failure} ({} rows written, {} rows not written)", report.rows, report.rows_lost)]
    Write {
        /// The failure, as first seen.
        #[source]
        failure: WriteFailure,
        /// What was written before it.
        report: WriteReport,
    },
}

/// The handle every capturing thread holds. Cheap to clone (an `Arc` inside), `Send`
/// and `Sync`. The writer closes when the last clone, and the last guard made from it,
/// is dropped.
#[derive(Clone, Debug)]
pub struct Capture {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: Settings,
    campaign_id: Arc<str>,
    writer: Option<Writer>,
    flags: Flags,
    telemetry: Option<Mutex<TelemetryCollector>>,
}

/// Decisions taken once from the settings, read on every event.
#[derive(Clone, Copy, Debug)]
struct Flags {
    /// Rows go somewhere.
    writing: bool,
    /// Rows go somewhere and `instrumentation.enabled` is on.
    instrumented: bool,
    /// `project.enrich_messages` is on.
    enrich: bool,
    /// A per-task telemetry kind is on.
    telemetry: bool,
    /// `telemetry_capture.machine_info` is on.
    machine_info: bool,
    epoch_loop: Option<LoopMode>,
    batch_loop: Option<LoopMode>,
}

/// Returns the time now, in float seconds since the Unix epoch.
pub(crate) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Capture {
    /// Opens a capture: checks the settings, opens (creating or appending to) the output
    /// file and starts the writer thread.
    ///
    /// The file is `options.output` when given, else `dump_buffer.path` when
    /// `dump_buffer.enabled`; without either nothing is written. Flowcept's path options
    /// apply: `append_workflow_id_to_path` adds the campaign id to the file name (a
    /// capture opens its file before any workflow exists), `append_id_to_path` a unique
    /// `pid_thread_random` id, and `delete_previous_file` removes an existing file first
    /// (otherwise rows are appended, as Flowcept does).
    ///
    /// # Errors
    ///
    /// A settings rule broken ([`CaptureError::Settings`]), an output file that cannot
    /// be opened, for instance in a directory that does not exist or is not writable
    /// ([`CaptureError::Open`]), or a previous file that cannot be deleted.
    pub fn start(settings: Settings, options: CaptureOptions) -> Result<Capture, CaptureError> {
        settings.validate()?;
        install_panic_hook();
        let campaign_id: Arc<str> = match options.campaign_id {
            Some(id) => Arc::from(id),
            None => Arc::from(uuid::Uuid::new_v4().to_string()),
        };
        let dump = &settings.project.dump_buffer;
        let path = match options.output {
            Some(path) => Some(path),
            None if dump.enabled => Some(resolve_path(
                &dump.path,
                &campaign_id,
                dump.append_workflow_id_to_path,
                dump.append_id_to_path,
            )),
            None => None,
        };
        let writer = match &path {
            Some(path) => {
                if dump.delete_previous_file {
                    match std::fs::remove_file(path) {
                        Ok(()) => tracing::debug!(path = %path.display(), "deleted previous file"),
                        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                        Err(source) => {
                            return Err(CaptureError::DeletePrevious {
                                path: path.clone(),
                                source,
                            });
                        }
                    }
                }
                let enricher = settings.project.enrich_messages.then(|| Enricher {
                    settings_snapshot: settings.redacted_snapshot(),
                });
                let writer =
                    Writer::open(path, settings.project.db_flush_mode, &campaign_id, enricher)
                        .map_err(|source| CaptureError::Open {
                            path: path.clone(),
                            source,
                        })?;
                Some(writer)
            }
            None => {
                tracing::debug!("no buffer file configured; capture writes nothing");
                None
            }
        };
        let writing = writer.is_some();
        let instrumented = writing && settings.instrumentation.enabled;
        let kinds = settings.telemetry_capture;
        let flags = Flags {
            writing,
            instrumented,
            enrich: settings.project.enrich_messages,
            telemetry: writing && kinds.any_per_task(),
            machine_info: writing && kinds.machine_info,
            epoch_loop: settings
                .instrumentation
                .torch
                .epoch_loop
                .filter(|_| instrumented),
            batch_loop: settings
                .instrumentation
                .torch
                .batch_loop
                .filter(|_| instrumented),
        };
        let telemetry =
            (writing && kinds.any()).then(|| Mutex::new(TelemetryCollector::new(kinds)));
        tracing::debug!(?flags, campaign_id = %campaign_id, "capture started");
        Ok(Capture {
            inner: Arc::new(Inner {
                settings,
                campaign_id,
                writer,
                flags,
                telemetry,
            }),
        })
    }

    /// Returns a capture that writes nothing at all (a baseline for benches, tests).
    pub fn disabled() -> Capture {
        let flags = Flags {
            writing: false,
            instrumented: false,
            enrich: false,
            telemetry: false,
            machine_info: false,
            epoch_loop: None,
            batch_loop: None,
        };
        Capture {
            inner: Arc::new(Inner {
                settings: Settings::default(),
                campaign_id: Arc::from(uuid::Uuid::new_v4().to_string()),
                writer: None,
                flags,
                telemetry: None,
            }),
        }
    }

    /// Returns the campaign id every row carries.
    pub fn campaign_id(&self) -> &str {
        &self.inner.campaign_id
    }

    /// Returns the settings the capture runs with.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Returns the file rows are written to, when there is one.
    pub fn output_path(&self) -> Option<&Path> {
        self.inner.writer.as_ref().map(Writer::path)
    }

    /// Tells whether rows other than the essential ones are captured
    /// (`instrumentation.enabled` and an output file).
    pub fn is_instrumented(&self) -> bool {
        self.inner.flags.instrumented
    }

    /// Starts describing a workflow that writes a `RUNNING` row when started and a
    /// `FINISHED` (or `ERROR`) row when its guard ends. Call
    /// [`WorkflowBuilder::essential`] for the campaign's own workflow, written even with
    /// instrumentation off.
    pub fn workflow(&self, name: &str) -> WorkflowBuilder {
        WorkflowBuilder::new(self.clone(), name)
    }

    /// Starts describing a workflow written as a single row (the registered model);
    /// finish with [`WorkflowBuilder::register`].
    pub fn register_workflow(&self, name: &str) -> WorkflowBuilder {
        WorkflowBuilder::new(self.clone(), name)
    }

    /// Starts describing a task that writes a `RUNNING` row when started and a
    /// `FINISHED` (or `ERROR`) row when its guard ends (`model_train`).
    pub fn task(&self, activity_id: &str, workflow_id: &WorkflowId) -> TaskBuilder {
        TaskBuilder::new(self.clone(), activity_id, workflow_id)
    }

    /// Returns the epoch loop capture (`epochs_loop_iteration` rows, item `epoch`) as
    /// `instrumentation.torch.epoch_loop` says; a no-op when it is off.
    pub fn epoch_loop(&self, parent: &TaskId, workflow_id: &WorkflowId) -> LoopCapture {
        LoopCapture::new(
            self,
            self.inner.flags.epoch_loop,
            "epochs_loop",
            "epoch",
            Some(parent),
            workflow_id,
        )
    }

    /// Returns a batch loop capture (`<name>_iteration` rows, item `batch`) as
    /// `instrumentation.torch.batch_loop` says; a no-op when it is off. `parent` is the
    /// current epoch iteration, when epochs are captured.
    pub fn batch_loop(
        &self,
        name: &str,
        parent: Option<&TaskId>,
        workflow_id: &WorkflowId,
    ) -> LoopCapture {
        LoopCapture::new(
            self,
            self.inner.flags.batch_loop,
            name,
            "batch",
            parent,
            workflow_id,
        )
    }

    /// Returns a loop capture in the given mode, whatever the torch settings say (but
    /// still a no-op without instrumentation); for loops other than epochs and batches.
    pub fn custom_loop(
        &self,
        mode: LoopMode,
        loop_name: &str,
        item_name: &str,
        parent: Option<&TaskId>,
        workflow_id: &WorkflowId,
    ) -> LoopCapture {
        let mode = Some(mode).filter(|_| self.inner.flags.instrumented);
        LoopCapture::new(self, mode, loop_name, item_name, parent, workflow_id)
    }

    /// Returns the forward capture policy of these settings.
    pub fn forward_policy(&self) -> ForwardPolicy {
        ForwardPolicy::new(&self.inner.settings, self.inner.flags.instrumented)
    }

    /// Opens a parent forward row (`subtype: parent_forward`, `activity_id` the model's
    /// name, `workflow_id` the model's workflow) when `plan.parent` says so; a no-op
    /// guard otherwise. `input` is inspected when `plan.parent_tensors` is on.
    pub fn parent_forward(
        &self,
        model: &WorkflowId,
        activity: &str,
        parent: Option<&TaskId>,
        plan: &ForwardPlan,
        is_training: bool,
        input: Option<&dyn crate::TensorFacts>,
    ) -> ForwardGuard {
        ForwardGuard::open(self, model, activity, parent, plan, is_training, input)
    }

    /// Writes a record as given, for tools that replay or add rows; enrichment is added
    /// when on. The instrumentation switch does not apply; without an output file
    /// nothing is written.
    pub fn write_record(&self, record: Record) {
        self.emit(Row::Record(Box::new(record)));
    }

    /// Writes everything queued (and, offline, everything kept) to the file and syncs
    /// it; returns when done.
    pub fn flush(&self) {
        if let Some(writer) = &self.inner.writer {
            writer.flush();
        }
    }

    /// Flushes and reports what was written. The writer itself closes when the last
    /// clone of this capture is dropped; rows other clones write after this call are
    /// still written then.
    ///
    /// # Errors
    ///
    /// [`CaptureError::Write`] when a write failed (a full disk); the file then holds
    /// whole lines up to the failure, and the report says how many rows were lost.
    pub fn finish(self) -> Result<WriteReport, CaptureError> {
        let Some(writer) = &self.inner.writer else {
            return Ok(WriteReport {
                rows: 0,
                bytes: 0,
                path: None,
                rows_lost: 0,
            });
        };
        writer.flush();
        let report = writer.report();
        match writer.stats().failure() {
            Some(failure) => Err(CaptureError::Write {
                failure: failure.clone(),
                report,
            }),
            None => Ok(report),
        }
    }

    /// Returns how many rows are in the file so far (handed to the operating system).
    pub fn rows_written(&self) -> u64 {
        self.inner
            .writer
            .as_ref()
            .map_or(0, |w| w.stats().rows_written())
    }

    /// Returns how many rows were accepted but not written (after a write failure).
    pub fn rows_lost(&self) -> u64 {
        self.inner
            .writer
            .as_ref()
            .map_or(0, |w| w.stats().rows_lost())
    }

    /// Returns the write failure that stopped the writer, if one did. Capture goes on
    /// without writing after it; the caller decides how to report it.
    pub fn write_failure(&self) -> Option<WriteFailure> {
        self.inner
            .writer
            .as_ref()
            .and_then(|w| w.stats().failure().cloned())
    }

    /// Takes a per-task telemetry snapshot, when a per-task kind is on.
    pub fn telemetry_snapshot(&self) -> Option<Value> {
        if !self.inner.flags.telemetry {
            return None;
        }
        self.inner.telemetry.as_ref().map(|collector| {
            let mut collector = collector
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            collector.snapshot()
        })
    }

    fn machine_info(&self) -> Option<Value> {
        if !self.inner.flags.machine_info {
            return None;
        }
        self.inner.telemetry.as_ref().map(|collector| {
            let mut collector = collector
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            collector.machine_info()
        })
    }

    fn flags(&self) -> Flags {
        self.inner.flags
    }

    #[inline]
    fn emit(&self, row: Row) {
        if let Some(writer) = &self.inner.writer {
            writer.send(row);
        }
    }

    fn emit_forwards(&self, forwards: Vec<InspectedForward>) {
        if let Some(writer) = &self.inner.writer {
            writer.send_forwards(forwards);
        }
    }

    fn describe(&self, template: Template) {
        if let Some(writer) = &self.inner.writer {
            writer.describe(template);
        }
    }

    fn forget(&self, template: u64) {
        if let Some(writer) = &self.inner.writer {
            writer.forget(template);
        }
    }

    /// Returns the id of the writer, when there is one.
    fn writer_id(&self) -> Option<u64> {
        self.inner.writer.as_ref().map(Writer::id)
    }

    fn emit_all(&self, rows: Vec<Row>) {
        if let Some(writer) = &self.inner.writer {
            writer.send_all(rows);
        }
    }

    /// Returns the writer's stop flag: true once a write failed, so callers can skip
    /// building rows that would only be counted as lost.
    #[inline]
    fn stopped(&self) -> bool {
        self.inner
            .writer
            .as_ref()
            .is_some_and(|w| w.stats().is_stopped())
    }
}

/// Applies Flowcept's `append_workflow_id_to_path` / `append_id_to_path` to a file name.
fn resolve_path(path: &Path, id: &str, append_id_of_run: bool, append_unique: bool) -> PathBuf {
    if !append_id_of_run && !append_unique {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parts = vec![stem];
    if append_id_of_run {
        parts.push(id.to_owned());
    }
    if append_unique {
        let thread = ids::next_sequence();
        let random = uuid::Uuid::new_v4().as_u128() as u32;
        parts.push(format!("{}_{thread}_{random}", std::process::id()));
    }
    let mut name = parts.join("_");
    if let Some(ext) = path.extension() {
        name.push('.');
        name.push_str(&ext.to_string_lossy());
    }
    path.with_file_name(name)
}

thread_local! {
    /// The message of the panic this thread is unwinding from, set by the hook.
    static PANIC_MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs, once per process, a panic hook that remembers the panic's message for the
/// guards dropped while unwinding (their `ERROR` rows carry it), then runs the hook that
/// was installed before. A hook set later by the application replaces this one; the
/// rows then say only that the thread panicked.
fn install_panic_hook() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-text payload".to_owned());
            let message = match info.location() {
                Some(at) => format!("panicked at {}:{}: {text}", at.file(), at.line()),
                None => format!("panicked: {text}"),
            };
            // `try_with`: the thread-local may already be gone when a thread exits.
            let _ = PANIC_MESSAGE.try_with(|slot| *slot.borrow_mut() = Some(message));
            previous(info);
        }));
    });
}

/// Status and stderr for a guard ended by drop: `ERROR` with the panic's message while
/// the thread unwinds, `FINISHED` otherwise.
fn drop_status() -> (crate::Status, Option<String>) {
    if std::thread::panicking() {
        let message = PANIC_MESSAGE
            .try_with(|slot| slot.borrow().clone())
            .ok()
            .flatten()
            .unwrap_or_else(|| "the thread panicked while this was open".to_owned());
        (crate::Status::Error, Some(message))
    } else {
        (crate::Status::Finished, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_options_shape_the_file_name() {
        let path = Path::new("out/buffer.jsonl");
        assert_eq!(
            resolve_path(path, "c1", false, false),
            PathBuf::from("out/buffer.jsonl")
        );
        assert_eq!(
            resolve_path(path, "c1", true, false),
            PathBuf::from("out/buffer_c1.jsonl")
        );
        let unique = resolve_path(path, "c1", true, true);
        let name = unique.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("buffer_c1_") && name.ends_with(".jsonl"),
            "{name}"
        );
    }

    #[test]
    fn a_disabled_capture_writes_nothing_and_finishes_empty() {
        let capture = Capture::disabled();
        let wf = capture.workflow("W").essential().start();
        let task = capture.task("t", wf.id()).essential().start();
        task.finish(serde_json::json!({}));
        wf.finish();
        let report = capture.finish().unwrap();
        assert_eq!(report.rows, 0);
        assert_eq!(report.path, None);
    }

    #[test]
    fn an_output_in_a_missing_directory_is_an_error_naming_it() {
        let err = Capture::start(
            Settings::default(),
            CaptureOptions {
                output: Some("/no/such/dir/b.jsonl".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("/no/such/dir/b.jsonl"), "{err}");
    }
}
