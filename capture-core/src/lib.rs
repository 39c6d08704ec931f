//! Flowcept-compatible provenance capture for Rust training loops.
//!
//! `capture-core` writes the rows [Flowcept](https://github.com/ORNL/flowcept) writes
//! when it instruments a PyTorch training: workflow rows, task rows with a `RUNNING` and a
//! `FINISHED` (or `ERROR`) line, one row per epoch or batch iteration, and rows for the
//! model's forward passes, with optional tensor facts, telemetry and host enrichment.
//! The output is a JSON-lines buffer file that Flowcept's own reader loads. The crate
//! knows no tensor library: a framework implements [`TensorFacts`] for its tensors.
//!
//! # Key types
//!
//! - [`Settings`]: `settings.yaml`, with Flowcept's keys and defaults.
//! - [`Capture`]: the handle a run opens once and shares between threads; it owns the
//!   writer (see [`writer`] for its contract: bounded queue, whole lines, full-disk
//!   handling).
//! - [`WorkflowGuard`], [`TaskGuard`]: open workflows and tasks; they write their end
//!   row when finished or dropped, also during a panic.
//! - [`LoopCapture`] and [`IterationGuard`]: epoch and batch loop iterations.
//! - [`ForwardPolicy`], [`ForwardPlan`], [`ForwardGuard`], [`ChildGuard`]: forward
//!   capture by epoch, as `instrumentation.torch` says.
//! - [`Record`] and [`read_jsonl`], [`Summary`]: the rows, read back and summarised.
//!
//! # Example
//!
//! A small training-like loop captured to a file, then read back:
//!
//! ```
//! use capture_core::{Capture, CaptureOptions, Settings, Summary, read_jsonl};
//! use serde_json::json;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let output = dir.path().join("buffer.jsonl");
//! let settings = Settings::from_yaml_str(concat!(
//!     "project: {enrich_messages: false}\n",
//!     "instrumentation:\n",
//!     "  enabled: true\n",
//!     "  torch: {what: parent_only, epoch_loop: default}\n",
//! ))?;
//! let capture = Capture::start(
//!     settings,
//!     CaptureOptions { output: Some(output.clone()), ..Default::default() },
//! )?;
//!
//! let search = capture.workflow("SearchWorkflow").essential().start();
//! let model = capture.register_workflow("TinyModel").parent(search.id()).register();
//! let train = capture
//!     .task("model_train", search.id())
//!     .used(json!({"epochs": 2, "lr": 0.1}))
//!     .essential()
//!     .start();
//! let policy = capture.forward_policy();
//! let epochs = capture.epoch_loop(train.id(), search.id());
//! let mut loss = 4.0;
//! for (epoch, iteration) in epochs.wrap(1..=2) {
//!     let plan = policy.for_epoch(epoch - 1);
//!     for _batch in 0..3 {
//!         let forward =
//!             capture.parent_forward(&model, "TinyModel", iteration.id(), &plan, true, None);
//!         loss *= 0.9; // the model's work
//!         forward.end(None);
//!     }
//!     iteration.end(json!({"train_loss": loss, "val_loss": loss + 0.5}));
//! }
//! train.finish(json!({"train_loss": loss}));
//! search.finish();
//!
//! let report = capture.finish()?;
//! assert_eq!(report.rows, 12);
//! let summary = Summary::of(&read_jsonl(&output)?);
//! assert_eq!(summary.rows_of("epochs_loop_iteration"), 2);
//! assert_eq!(summary.rows_of_subtype("parent_forward"), 6);
//! assert_eq!(summary.epoch_losses.len(), 2);
//! # Ok(())
//! # }
//! ```
//!
//! # Cargo features
//!
//! None. GPU telemetry loads NVML at run time when `telemetry_capture.gpu` is on; no CUDA
//! is needed to build.

#![deny(missing_docs)]

pub mod capture;
mod clock;
pub mod enrich;
pub mod reader;
pub mod record;
pub mod settings;
pub mod telemetry;
pub mod tensor;
pub mod writer;

pub use capture::{
    Capture, CaptureError, CaptureOptions, CapturedLoop, ChildGuard, ChildModule, ForwardGuard,
    ForwardPlan, ForwardPolicy, IterationGuard, LoopCapture, TaskBuilder, TaskGuard, TaskId,
    WorkflowBuilder, WorkflowGuard, WorkflowId,
};
pub use reader::{
    CampaignNode, EpochLoss, ReadError, RowCount, Summary, TaskNode, TolerantRead, Unfinished,
    WorkflowNode, parse_jsonl, read_jsonl, read_jsonl_tolerant, summarize,
};
pub use record::{Record, Status, TaskRecord, WorkflowRecord};
pub use settings::{
    ChildrenMode, DumpBufferSettings, FlushMode, ForwardScope, InstrumentationSettings, LoopMode,
    ProjectSettings, Settings, SettingsError, TelemetrySettings, TorchSettings,
};
pub use telemetry::TelemetryCollector;
pub use tensor::{DeviceLabel, Shape, TensorFacts, TensorInspection};
pub use writer::{WriteFailure, WriteReport};
