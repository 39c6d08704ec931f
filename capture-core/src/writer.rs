//! The JSONL writer: rows leave the capturing threads through a bounded queue and a
//! writer thread turns them into lines of the buffer file.
//!
//! # Contract
//!
//! - **Off the hot path.** Capturing threads only move a row into the queue; the writer
//!   thread serialises it, adds the enrichment facts and does the I/O.
//! - **Bound.** The queue holds at most [`QUEUE_ROWS`] rows. When it is full a capturing
//!   thread blocks until the writer has taken a row (back-pressure); no row is ever
//!   dropped silently.
//! - **Online mode** (`db_flush_mode: online`) writes whenever the queue runs empty, and
//!   at least every [`BATCH_BYTES`] bytes. The writer polls its queue, pausing up to
//!   [`IDLE_MAX`] while it stays empty, so that producing a row never costs a wake-up
//!   system call; a row reaches the operating system within about [`IDLE_MAX`] of being
//!   produced. A row is in the file once its `write` returned; a
//!   `SIGKILL` of the process (not a power loss: the file is synced at flushes) loses only
//!   the rows in flight: at most [`QUEUE_ROWS`] queued messages (a message is one row,
//!   the iterations of a lightweight loop, sent together when the loop ends, or the
//!   child forwards of a model forward, sent with the parent's row), plus the
//!   batch the writer thread holds (under [`BATCH_BYTES`] bytes of lines plus the rows of
//!   the last message taken). Everything before is in the file, in whole lines. Not yet
//!   accepted, and lost with the process: rows a lightweight loop keeps until it ends,
//!   child forwards whose parent forward is still running, and those of threads blocked
//!   on a full queue. A kill that lands inside a `write`
//!   call spanning several pages can, rarely, leave its last line cut short; every line
//!   before it is whole.
//! - **Offline mode** keeps the rows in memory, as Flowcept does, and serialises and
//!   writes them when the capture is flushed or finished; a crash loses them all.
//! - **Whole lines only.** Lines are written in batches that end with a newline. If a
//!   write fails (a full disk, `ENOSPC`), the file is truncated back to the end of the
//!   last whole batch, the error is logged once with `tracing::error!`, and writing
//!   stops for good: later rows are counted as lost, never written after a torn line.
//!   Capturing goes on at near-zero cost; the error is reported by
//!   [`crate::Capture::write_failure`] and by [`crate::Capture::finish`].
//! - **Counting.** [`WriteReport::rows`] counts rows on disk (handed to the operating
//!   system), [`WriteReport::rows_lost`] rows accepted but not written (after a failure,
//!   or sent after the writer stopped). Every row accepted is in one of the two.
//! - **Closing.** A flush ([`crate::Capture::flush`], [`crate::Capture::finish`]) writes
//!   everything queued or kept and syncs the file to disk. When the last handle of a
//!   capture is dropped (also during a panic), the writer drains the queue, writes,
//!   syncs and its thread ends.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use crate::capture::ids::{TaskId, WorkflowId};
use crate::clock::Stamp;
use crate::enrich::{ADAPTER_ID, HostFacts};
use crate::record::{Record, Status};
use crate::settings::FlushMode;
use crate::tensor::TensorInspection;

/// Most rows the queue between capturing threads and the writer holds.
pub const QUEUE_ROWS: usize = 16_384;

/// Most bytes of lines the writer serialises before writing them out in online mode.
pub const BATCH_BYTES: usize = 256 * 1024;

/// Shortest pause of the writer when its queue is empty.
const IDLE_MIN: Duration = Duration::from_micros(50);

/// Longest pause of the writer when its queue stays empty: the most a row waits in the
/// queue before the writer takes it.
pub const IDLE_MAX: Duration = Duration::from_millis(2);

/// Bytes of lines serialised from kept offline rows before they are written.
const CHUNK_BYTES: usize = 1 << 20;

/// What a writer wrote, as [`crate::Capture::finish`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteReport {
    /// Rows written to the file.
    pub rows: u64,
    /// Bytes written to the file.
    pub bytes: u64,
    /// The file, when one was written.
    pub path: Option<PathBuf>,
    /// Rows accepted but not written (after a write failure).
    pub rows_lost: u64,
}

/// A write that failed; writing stopped at the last whole line before it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("writing {} failed: {message}", path.display())]
pub struct WriteFailure {
    /// The file being written.
    pub path: PathBuf,
    /// The kind of I/O error (`StorageFull` for a full disk).
    pub kind: io::ErrorKind,
    /// What the operating system said.
    pub message: String,
}

/// Counters shared by the writer thread and the capture handles.
#[derive(Debug, Default)]
pub(crate) struct WriterStats {
    rows_written: AtomicU64,
    bytes_written: AtomicU64,
    rows_lost: AtomicU64,
    /// Set once a write failed; rows are counted as lost from then on.
    stopped: AtomicBool,
    failure: OnceLock<WriteFailure>,
}

impl WriterStats {
    pub(crate) fn rows_written(&self) -> u64 {
        self.rows_written.load(Ordering::Acquire)
    }

    pub(crate) fn rows_lost(&self) -> u64 {
        self.rows_lost.load(Ordering::Acquire)
    }

    pub(crate) fn failure(&self) -> Option<&WriteFailure> {
        self.failure.get()
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    fn lose(&self, rows: u64) {
        self.rows_lost.fetch_add(rows, Ordering::AcqRel);
    }
}

/// What the enrichment adds to rows on the writer thread. The host facts
/// ([`HostFacts::get`]) are looked up there too: the first lookup in a process runs
/// `git` and reads the user and network tables, tens of milliseconds that the thread
/// opening the capture does not wait for.
#[derive(Clone, Debug)]
pub(crate) struct Enricher {
    pub(crate) settings_snapshot: Value,
}

/// A row on its way to the file. The hot kinds hold shared ids and are serialised on
/// the writer thread without first being turned into a [`Record`].
#[derive(Debug)]
pub(crate) enum Row {
    Record(Box<Record>),
    Iteration(IterationRow),
    Forward(ForwardRow),
}

/// The fields a run of hot rows shares: a loop's iterations, or the forwards of one
/// module of one model. A capture describes it to the writer once
/// ([`Writer::describe`]) and its rows name it by id: a shared pointer in every row
/// would have the capturing and the writer thread bump one reference count in turn, a
/// cache line moving between cores on every row.
#[derive(Debug)]
pub(crate) enum Template {
    /// What a loop's iterations share.
    Loop(LoopMeta),
    /// What the forwards of one module share.
    Forward(ForwardMeta),
}

/// Returns an id for a [`Template`], unique within the process.
pub(crate) fn next_template_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// What the iterations of one loop share.
#[derive(Debug)]
pub(crate) struct LoopMeta {
    pub(crate) id: u64,
    pub(crate) workflow_id: WorkflowId,
    pub(crate) activity_id: String,
    pub(crate) parent_task_id: Option<TaskId>,
    pub(crate) group_id: TaskId,
    pub(crate) item_name: String,
}

/// What the forwards of one module (the model, or one of its children) share.
#[derive(Debug)]
pub(crate) struct ForwardMeta {
    pub(crate) id: u64,
    /// The model's workflow.
    pub(crate) workflow_id: WorkflowId,
    /// The module's name.
    pub(crate) activity_id: String,
    pub(crate) kind: ForwardKind,
    /// What a child's rows write under `used` beside its tensor and `training` (the
    /// module's sizes and options); empty for a parent.
    pub(crate) attributes: serde_json::Map<String, Value>,
}

/// A model's forward, or a first-level child's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ForwardKind {
    Parent,
    Child,
}

impl ForwardKind {
    fn subtype(self) -> &'static str {
        match self {
            ForwardKind::Parent => "parent_forward",
            ForwardKind::Child => "child_forward",
        }
    }
}

/// A template as the writer keeps it: its fields serialised once.
enum Prepared {
    Loop {
        /// `,"workflow_id":…,"activity_id":…[,"parent_task_id":…],"group_id":…`.
        fields: Vec<u8>,
        /// The item's key, quoted.
        item_key: Vec<u8>,
    },
    Forward(PreparedForward),
}

/// What the forwards of one module take from its template, serialised once.
struct PreparedForward {
    /// `,"workflow_id":…`.
    workflow: Vec<u8>,
    /// `,"activity_id":…,"subtype":…`.
    activity: Vec<u8>,
    /// Whether the rows are a child's: `training` and the attributes go under `used`
    /// (a parent's `is_training` goes under `custom_metadata`).
    child: bool,
    /// A child's attributes as `,"key":value` pairs, to close its `used` object.
    attributes: Vec<u8>,
}

/// What a hot row rarely carries, boxed so that rows stay small in the queue.
#[derive(Debug, Default)]
pub(crate) struct RowExtras {
    pub(crate) stderr: Option<String>,
    pub(crate) telemetry_at_end: Option<Value>,
}

impl RowExtras {
    /// Boxes the extras when there are any.
    #[inline]
    pub(crate) fn of(
        stderr: Option<String>,
        telemetry_at_end: Option<Value>,
    ) -> Option<Box<RowExtras>> {
        (stderr.is_some() || telemetry_at_end.is_some()).then(|| {
            Box::new(RowExtras {
                stderr,
                telemetry_at_end,
            })
        })
    }
}

/// What an iteration ended with, its `generated`.
#[derive(Debug)]
pub(crate) enum Outputs {
    /// Ended by drop: no `generated`.
    Nothing,
    /// Any JSON value.
    Value(Value),
    /// Named numbers, kept inline: the common case of losses costs no allocation (one
    /// made on the capturing thread and freed on the writer's is slow with most
    /// allocators).
    Numbers(NumberOutputs),
}

/// Up to [`NumberOutputs::INLINE`] named numbers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NumberOutputs {
    len: u8,
    entries: [(&'static str, f64); NumberOutputs::INLINE],
}

impl NumberOutputs {
    /// Most numbers kept inline.
    pub(crate) const INLINE: usize = 2;

    /// Keeps the outputs inline when there are few enough.
    pub(crate) fn of(outputs: &[(&'static str, f64)]) -> Option<NumberOutputs> {
        let mut entries = [("", 0.0); NumberOutputs::INLINE];
        entries.get_mut(..outputs.len())?.copy_from_slice(outputs);
        Some(NumberOutputs {
            len: outputs.len() as u8,
            entries,
        })
    }

    fn entries(&self) -> &[(&'static str, f64)] {
        &self.entries[..usize::from(self.len)]
    }
}

/// One loop iteration (`epochs_loop_iteration`, `train_batch_iteration`, …).
#[derive(Debug)]
pub(crate) struct IterationRow {
    /// The id of its loop's [`LoopMeta`].
    pub(crate) template: u64,
    /// Its task id, as the number of [`TaskId::of_sequence`].
    pub(crate) task: u64,
    pub(crate) i: u64,
    pub(crate) item: Value,
    pub(crate) generated: Outputs,
    pub(crate) status: Status,
    pub(crate) started_at: Stamp,
    pub(crate) ended_at: Stamp,
    pub(crate) extras: Option<Box<RowExtras>>,
}

/// One parent or child forward.
#[derive(Debug)]
pub(crate) struct ForwardRow {
    /// The id of its module's [`ForwardMeta`].
    pub(crate) template: u64,
    /// Its task id, as the number of [`TaskId::of_sequence`].
    pub(crate) task: u64,
    pub(crate) parent_task_id: Option<TaskId>,
    pub(crate) is_training: Option<bool>,
    /// The tensor inspections. Capturing threads leave this empty and hand inspected
    /// forwards over as [`InspectedForward`]s; the writer thread boxes the inspections
    /// here. Inline they would double the size of every row in the queue, and a box
    /// made on the capturing thread would be freed on the writer's (slow).
    pub(crate) tensors: Option<Box<Inspections>>,
    pub(crate) status: Status,
    pub(crate) started_at: Stamp,
    pub(crate) ended_at: Stamp,
    pub(crate) extras: Option<Box<RowExtras>>,
}

/// The tensors a forward inspected: its input (`used`) and output (`generated`).
#[derive(Debug, Default)]
pub(crate) struct Inspections {
    pub(crate) used: Option<TensorInspection>,
    pub(crate) generated: Option<TensorInspection>,
}

/// A forward row with the tensors it inspected, as a capturing thread hands it over:
/// in a batch ([`Writer::send_forwards`]) with the child forwards of the same parent,
/// so that one queue message carries a whole model forward. Only batches hold
/// inspections inline, and the queue's slots stay the size of a plain row.
#[derive(Debug)]
pub(crate) struct InspectedForward {
    pub(crate) row: ForwardRow,
    pub(crate) used: Option<TensorInspection>,
    pub(crate) generated: Option<TensorInspection>,
}

impl InspectedForward {
    /// Returns the row, its inspections attached (boxed here, on the writer thread).
    fn into_row(self) -> Row {
        let InspectedForward {
            mut row,
            used,
            generated,
        } = self;
        if used.is_some() || generated.is_some() {
            row.tensors = Some(Box::new(Inspections { used, generated }));
        }
        Row::Forward(row)
    }
}

/// What the writer adds to every hot row, prepared once per writer.
pub(crate) struct RowContext {
    /// `,"campaign_id":"…"`.
    campaign: Vec<u8>,
    /// The enrichment fields of task rows, when enrichment is on.
    host: Option<Vec<u8>>,
    /// The whole seconds of the last time written, as text.
    times: json::TimeCache,
}

impl RowContext {
    pub(crate) fn new(campaign_id: &str, enricher: Option<&Enricher>) -> RowContext {
        let mut campaign = Vec::new();
        json::key(&mut campaign, "campaign_id");
        json::string(&mut campaign, campaign_id);
        RowContext {
            campaign,
            host: enricher.map(|_| json::host_fields(HostFacts::get())),
            times: json::TimeCache::default(),
        }
    }
}

impl Template {
    fn id(&self) -> u64 {
        match self {
            Template::Loop(meta) => meta.id,
            Template::Forward(meta) => meta.id,
        }
    }

    /// Serialises the fields the template's rows share, once.
    fn prepare(&self) -> Prepared {
        match self {
            Template::Loop(meta) => {
                let mut fields = Vec::with_capacity(192);
                json::key(&mut fields, "workflow_id");
                json::string(&mut fields, meta.workflow_id.as_str());
                json::key(&mut fields, "activity_id");
                json::string(&mut fields, &meta.activity_id);
                if let Some(parent) = &meta.parent_task_id {
                    json::key(&mut fields, "parent_task_id");
                    json::string(&mut fields, parent.as_str());
                }
                json::key(&mut fields, "group_id");
                json::string(&mut fields, meta.group_id.as_str());
                let mut item_key = Vec::with_capacity(meta.item_name.len() + 2);
                json::string(&mut item_key, &meta.item_name);
                Prepared::Loop { fields, item_key }
            }
            Template::Forward(meta) => {
                let mut workflow = Vec::with_capacity(64);
                json::key(&mut workflow, "workflow_id");
                json::string(&mut workflow, meta.workflow_id.as_str());
                let mut activity = Vec::with_capacity(64);
                json::key(&mut activity, "activity_id");
                json::string(&mut activity, &meta.activity_id);
                json::key(&mut activity, "subtype");
                json::string(&mut activity, meta.kind.subtype());
                let mut attributes = Vec::new();
                for (key, value) in &meta.attributes {
                    attributes.push(b',');
                    json::string(&mut attributes, key);
                    attributes.push(b':');
                    json::value(&mut attributes, value)
                        .expect("a JSON value serialises into memory");
                }
                Prepared::Forward(PreparedForward {
                    workflow,
                    activity,
                    child: meta.kind == ForwardKind::Child,
                    attributes,
                })
            }
        }
    }
}

/// Serialises a hot row of a template the writer knows, as the reader will see it.
#[cfg(test)]
fn hot_row_to_record(template: &Template, row: Row) -> Record {
    let mut writer = TemplateTable::default();
    writer.describe(template);
    let mut line = Vec::new();
    let mut context = RowContext::new("c", None);
    writer
        .write_hot(&mut line, &row, &mut context)
        .expect("rows always serialise");
    serde_json::from_slice(&line).expect("a serialised row reads back")
}

/// The templates a writer knows, by id.
#[derive(Default)]
struct TemplateTable {
    known: HashMap<u64, Prepared>,
}

impl TemplateTable {
    fn describe(&mut self, template: &Template) {
        self.known.insert(template.id(), template.prepare());
    }

    fn forget(&mut self, id: u64) {
        self.known.remove(&id);
    }

    /// Appends a hot row as one JSON object (no newline).
    fn write_hot(
        &self,
        out: &mut Vec<u8>,
        row: &Row,
        context: &mut RowContext,
    ) -> serde_json::Result<()> {
        match row {
            Row::Iteration(row) => match self.known.get(&row.template) {
                Some(Prepared::Loop { fields, item_key }) => {
                    row.write_json(out, fields, item_key, context)
                }
                _ => Err(unknown_template(row.template)),
            },
            Row::Forward(row) => match self.known.get(&row.template) {
                Some(Prepared::Forward(module)) => row.write_json(out, module, context),
                _ => Err(unknown_template(row.template)),
            },
            Row::Record(record) => serde_json::to_writer(out, &**record),
        }
    }
}

fn unknown_template(id: u64) -> serde_json::Error {
    serde::ser::Error::custom(format!("a row of template {id}, which was never described"))
}

impl IterationRow {
    /// Appends the row as one JSON object (no newline), with the host facts when given.
    fn write_json(
        &self,
        out: &mut Vec<u8>,
        fields: &[u8],
        item_key: &[u8],
        context: &mut RowContext,
    ) -> serde_json::Result<()> {
        out.reserve(512);
        out.extend_from_slice(b"{\"type\":\"task\",\"task_id\":");
        json::id(out, &TaskId::of_sequence(self.task));
        out.extend_from_slice(fields);
        out.extend_from_slice(&context.campaign);
        out.extend_from_slice(b",\"used\":{\"i\":");
        json::value(out, &self.i)?;
        out.push(b',');
        out.extend_from_slice(item_key);
        out.push(b':');
        json::value(out, &self.item)?;
        out.push(b'}');
        match &self.generated {
            Outputs::Nothing => {}
            Outputs::Value(generated) => {
                json::key(out, "generated");
                json::value(out, generated)?;
            }
            Outputs::Numbers(numbers) => {
                json::key(out, "generated");
                out.push(b'{');
                for (n, (name, number)) in numbers.entries().iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    json::string(out, name);
                    out.push(b':');
                    // As `Value::from` has it: a number JSON cannot hold is null.
                    json::value(out, &Value::from(*number))?;
                }
                out.push(b'}');
            }
        }
        json::end(
            out,
            context,
            self.status,
            self.extras.as_deref(),
            self.started_at,
            self.ended_at,
        )
    }
}

impl ForwardRow {
    /// Appends the row as one JSON object (no newline), with the host facts when given.
    ///
    /// A child's `used` holds its input tensor, `training` and its module's attributes,
    /// as Flowcept writes them; a parent's holds the tensor alone and its `is_training`
    /// goes under `custom_metadata`.
    fn write_json(
        &self,
        out: &mut Vec<u8>,
        module: &PreparedForward,
        context: &mut RowContext,
    ) -> serde_json::Result<()> {
        out.reserve(512 + module.attributes.len());
        out.extend_from_slice(b"{\"type\":\"task\",\"task_id\":");
        json::id(out, &TaskId::of_sequence(self.task));
        out.extend_from_slice(&module.workflow);
        out.extend_from_slice(&context.campaign);
        out.extend_from_slice(&module.activity);
        if let Some(parent) = &self.parent_task_id {
            json::key(out, "parent_task_id");
            json::id(out, parent);
        }
        let tensors = self.tensors.as_deref();
        let used = tensors.and_then(|t| t.used.as_ref());
        if module.child {
            // `{` then every member with a leading comma: the first one's is dropped.
            let start = out.len();
            out.extend_from_slice(b",\"used\":{");
            let members = out.len();
            if let Some(used) = used {
                json::key(out, "tensor");
                json::value(out, used)?;
            }
            if let Some(training) = self.is_training {
                json::key(out, "training");
                out.extend_from_slice(if training { b"true" } else { b"false" });
            }
            out.extend_from_slice(&module.attributes);
            if out.len() == members {
                out.truncate(start);
            } else {
                out.remove(members);
                out.push(b'}');
            }
        } else if let Some(used) = used {
            out.extend_from_slice(b",\"used\":{\"tensor\":");
            json::value(out, used)?;
            out.push(b'}');
        }
        if let Some(generated) = tensors.and_then(|t| t.generated.as_ref()) {
            out.extend_from_slice(b",\"generated\":{\"tensor\":");
            json::value(out, generated)?;
            out.push(b'}');
        }
        match self.is_training.filter(|_| !module.child) {
            Some(true) => out.extend_from_slice(b",\"custom_metadata\":{\"is_training\":true}"),
            Some(false) => out.extend_from_slice(b",\"custom_metadata\":{\"is_training\":false}"),
            None => {}
        }
        json::end(
            out,
            context,
            self.status,
            self.extras.as_deref(),
            self.started_at,
            self.ended_at,
        )
    }
}

/// Hand-written JSON for the hot rows: the same text serde would write for the same
/// fields, without its per-byte escaping of strings that need none (ids, keys).
mod json {
    use super::Status;

    /// Tells whether a string can be written between quotes as it is (no control
    /// character, quote or backslash), eight bytes at a time.
    #[inline]
    fn is_plain(bytes: &[u8]) -> bool {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGHS: u64 = 0x8080_8080_8080_8080;
        let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
        let mut chunks = bytes.chunks_exact(8);
        let mut bad = 0u64;
        for chunk in &mut chunks {
            let x = u64::from_le_bytes(chunk.try_into().expect("chunks are 8 bytes"));
            // Bytes below 0x20, equal to '"' (0x22) or to '\\' (0x5c).
            bad |= x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
            bad |= has_zero(x ^ (ONES * 0x22));
            bad |= has_zero(x ^ (ONES * 0x5c));
        }
        bad == 0
            && chunks
                .remainder()
                .iter()
                .all(|&b| b >= 0x20 && b != b'"' && b != b'\\')
    }

    #[inline]
    pub(super) fn string(out: &mut Vec<u8>, text: &str) {
        if is_plain(text.as_bytes()) {
            out.push(b'"');
            out.extend_from_slice(text.as_bytes());
            out.push(b'"');
        } else {
            serde_json::to_writer(&mut *out, text).expect("a string serialises to memory");
        }
    }

    /// Writes a task id, whose text is valid UTF-8 by construction.
    #[inline]
    pub(super) fn id(out: &mut Vec<u8>, id: &crate::TaskId) {
        let bytes = id.text_bytes();
        if is_plain(bytes) {
            out.push(b'"');
            out.extend_from_slice(bytes);
            out.push(b'"');
        } else {
            string(out, id.as_str());
        }
    }

    /// Writes a time as seconds with six decimals (the clock's useful precision),
    /// falling back to serde's shortest form outside the usual range. The whole seconds
    /// are formatted once per second and kept in `cache`.
    pub(super) fn time(
        out: &mut Vec<u8>,
        cache: &mut TimeCache,
        seconds: f64,
    ) -> serde_json::Result<()> {
        if !(0.0..1e11).contains(&seconds) {
            return value(out, &seconds);
        }
        let micros = (seconds * 1e6).round() as u64;
        let whole = micros / 1_000_000;
        if cache.len == 0 || cache.whole != whole {
            *cache = TimeCache::of(whole);
        }
        out.extend_from_slice(&cache.text[..cache.len]);
        let fraction = (micros % 1_000_000) as u32;
        let mut digits = *b".000000";
        let pairs = [fraction / 10_000, fraction / 100 % 100, fraction % 100];
        for (i, pair) in pairs.into_iter().enumerate() {
            digits[1 + 2 * i] = b'0' + (pair / 10) as u8;
            digits[2 + 2 * i] = b'0' + (pair % 10) as u8;
        }
        out.extend_from_slice(&digits);
        Ok(())
    }

    /// The text of the whole seconds of the last time written.
    #[derive(Default)]
    pub(super) struct TimeCache {
        whole: u64,
        text: [u8; 20],
        len: usize,
    }

    impl TimeCache {
        fn of(whole: u64) -> TimeCache {
            let text = whole.to_string();
            let mut cache = TimeCache {
                whole,
                text: [0; 20],
                len: text.len(),
            };
            cache.text[..text.len()].copy_from_slice(text.as_bytes());
            cache
        }
    }

    /// Writes `,"key":`; keys are plain identifiers.
    #[inline]
    pub(super) fn key(out: &mut Vec<u8>, key: &'static str) {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
    }

    pub(super) fn value<T: serde::Serialize + ?Sized>(
        out: &mut Vec<u8>,
        value: &T,
    ) -> serde_json::Result<()> {
        serde_json::to_writer(&mut *out, value)
    }

    /// Writes what ends every hot row: status, stderr, times, telemetry, the enrichment
    /// fields (prepared once per writer) and the closing brace.
    pub(super) fn end(
        out: &mut Vec<u8>,
        context: &mut super::RowContext,
        status: Status,
        extras: Option<&super::RowExtras>,
        started_at: super::Stamp,
        ended_at: super::Stamp,
    ) -> serde_json::Result<()> {
        let ended_at = ended_at.unix_seconds();
        key(out, "status");
        string(out, status.as_str());
        if let Some(stderr) = extras.and_then(|e| e.stderr.as_deref()) {
            key(out, "stderr");
            string(out, stderr);
        }
        key(out, "started_at");
        time(out, &mut context.times, started_at.unix_seconds())?;
        key(out, "ended_at");
        time(out, &mut context.times, ended_at)?;
        if let Some(telemetry) = extras.and_then(|e| e.telemetry_at_end.as_ref()) {
            key(out, "telemetry_at_end");
            value(out, telemetry)?;
        }
        if let Some(host) = &context.host {
            key(out, "utc_timestamp");
            time(out, &mut context.times, ended_at)?;
            out.extend_from_slice(host);
        }
        out.push(b'}');
        Ok(())
    }

    /// Serialises the host facts as `,"hostname":…,"adapter_id":…`.
    pub(super) fn host_fields(facts: &crate::enrich::HostFacts) -> Vec<u8> {
        let mut out = Vec::new();
        key(&mut out, "hostname");
        string(&mut out, &facts.hostname);
        key(&mut out, "login_name");
        string(&mut out, &facts.login_name);
        key(&mut out, "node_name");
        string(&mut out, &facts.node_name);
        if let Some(ip) = &facts.private_ip {
            key(&mut out, "private_ip");
            string(&mut out, ip);
        }
        key(&mut out, "adapter_id");
        string(&mut out, crate::enrich::ADAPTER_ID);
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn times_keep_microseconds() {
            let mut cache = TimeCache::default();
            for (t, text) in [
                (1.0, "1.000000"),
                (1796312495.087412, "1796312495.087412"),
                (1796312495.5, "1796312495.500000"),
                (0.5, "0.500000"),
                (12.000_001, "12.000001"),
            ] {
                let mut out = Vec::new();
                time(&mut out, &mut cache, t).unwrap();
                assert_eq!(String::from_utf8(out).unwrap(), text);
            }
            let mut out = Vec::new();
            time(&mut out, &mut cache, f64::NAN).unwrap();
            assert_eq!(out, b"null");
        }

        #[test]
        fn strings_that_need_escaping_are_escaped_like_serde_does() {
            for text in [
                "0123456789abcdef-0123\"",
                "0123456789abcdef\\0123",
                "\u{1}2345678",
                "plain-id-17",
                "quote\"d",
                "back\\slash",
                "tab\tnew\nline",
                "é ✓ \u{7f}",
            ] {
                let mut out = Vec::new();
                string(&mut out, text);
                assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
            }
        }
    }
}

/// Where lines go: a file, or a test double that fails on demand.
pub(crate) trait LineSink: Send + 'static {
    /// Writes all bytes or fails; on failure a prefix may have been written.
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Cuts the output back to `len` bytes.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// Makes written bytes durable.
    fn sync(&mut self) -> io::Result<()>;
}

impl LineSink for File {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        Write::write_all(self, bytes)
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        // Only a file that grew past `len` needs cutting; devices such as /dev/full
        // cannot be cut, and hold nothing to cut.
        if self.metadata()?.len() > len {
            self.set_len(len)
        } else {
            Ok(())
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
}

// Rows travel inline: the queue's slots are allocated once (about 4 MiB for
// `QUEUE_ROWS` rows), where boxing would cost an allocation per row.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Row(Row),
    Rows(Vec<Row>),
    /// The child forwards of one parent, in the order they opened, with their
    /// inspections; the parent's own row last once it has ended.
    Forwards(Vec<InspectedForward>),
    /// A template whose rows follow.
    Describe(Box<Template>),
    /// A template none of whose rows follow.
    Forget(u64),
    Flush(SyncSender<()>),
}

/// The capturing side of a writer: cheap to use from any thread.
#[derive(Debug)]
pub(crate) struct Writer {
    tx: Option<SyncSender<Msg>>,
    stats: Arc<WriterStats>,
    thread: Mutex<Option<JoinHandle<()>>>,
    path: PathBuf,
    /// Unique within the process, unlike an address that a later writer may reuse.
    id: u64,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

impl Writer {
    /// Opens (creating or appending to) `path` and starts the writer thread.
    pub(crate) fn open(
        path: &Path,
        mode: FlushMode,
        campaign_id: &str,
        enricher: Option<Enricher>,
    ) -> io::Result<Writer> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let start_len = file.metadata()?.len();
        Writer::start(
            file,
            start_len,
            path.to_path_buf(),
            mode,
            campaign_id,
            enricher,
        )
    }

    pub(crate) fn start<S: LineSink>(
        sink: S,
        start_len: u64,
        path: PathBuf,
        mode: FlushMode,
        campaign_id: &str,
        enricher: Option<Enricher>,
    ) -> io::Result<Writer> {
        let (tx, rx) = mpsc::sync_channel(QUEUE_ROWS);
        let stats = Arc::new(WriterStats::default());
        let worker = WriterThread {
            // Made on the writer thread, which looks the host facts up.
            context: RowContext::new(campaign_id, None),
            sink,
            rx,
            stats: Arc::clone(&stats),
            mode,
            enricher,
            buf: Vec::with_capacity(BATCH_BYTES + 4096),
            buf_rows: 0,
            kept: Vec::new(),
            templates: TemplateTable::default(),
            forgotten: Vec::new(),
            committed: start_len,
            path: path.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("capture-writer".into())
            .spawn(move || worker.run())?;
        static NEXT_WRITER: AtomicU64 = AtomicU64::new(0);
        Ok(Writer {
            tx: Some(tx),
            stats,
            thread: Mutex::new(Some(thread)),
            path,
            id: NEXT_WRITER.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Queues a row; blocks while the queue is full.
    #[inline]
    pub(crate) fn send(&self, row: Row) {
        self.send_msg(Msg::Row(row), 1);
    }

    /// Queues several rows as one message (a lightweight loop's iterations).
    pub(crate) fn send_all(&self, rows: Vec<Row>) {
        let n = rows.len() as u64;
        if n > 0 {
            self.send_msg(Msg::Rows(rows), n);
        }
    }

    /// Queues a batch of forwards as one message.
    pub(crate) fn send_forwards(&self, forwards: Vec<InspectedForward>) {
        let n = forwards.len() as u64;
        if n > 0 {
            self.send_msg(Msg::Forwards(forwards), n);
        }
    }

    /// Tells the writer about a template before its first row.
    pub(crate) fn describe(&self, template: Template) {
        self.send_msg(Msg::Describe(Box::new(template)), 0);
    }

    /// Tells the writer that no row of a template follows, so it can forget it.
    pub(crate) fn forget(&self, id: u64) {
        self.send_msg(Msg::Forget(id), 0);
    }

    /// Returns an id that tells this writer apart from every other of the process.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    #[inline]
    fn send_msg(&self, msg: Msg, rows: u64) {
        if self.stats.is_stopped() {
            self.stats.lose(rows);
            return;
        }
        let sent = self
            .tx
            .as_ref()
            .map(|tx| tx.send(msg).is_ok())
            .unwrap_or(false);
        if !sent {
            self.stats.lose(rows);
            self.stop_with(io::Error::other("the writer thread is gone"));
        }
    }

    fn stop_with(&self, err: io::Error) {
        self.stats.stopped.store(true, Ordering::Relaxed);
        let failure = WriteFailure {
            path: self.path.clone(),
            kind: err.kind(),
            message: err.to_string(),
        };
        if self.stats.failure.set(failure).is_ok() {
            tracing::error!(path = %self.path.display(), error = %err, "provenance writer stopped");
        }
    }

    /// Writes everything queued or kept and syncs the file; returns when done.
    pub(crate) fn flush(&self) {
        let Some(tx) = self.tx.as_ref() else { return };
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        if tx.send(Msg::Flush(reply_tx)).is_ok() {
            // An error means the thread ended, which writes everything itself.
            let _ = reply_rx.recv();
        }
    }

    pub(crate) fn report(&self) -> WriteReport {
        WriteReport {
            rows: self.stats.rows_written(),
            bytes: self.stats.bytes_written.load(Ordering::Acquire),
            path: Some(self.path.clone()),
            rows_lost: self.stats.rows_lost(),
        }
    }

    pub(crate) fn stats(&self) -> &WriterStats {
        &self.stats
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Writer {
    /// Closes the queue, lets the thread write what is left, and waits for it.
    fn drop(&mut self) {
        drop(self.tx.take());
        let thread = self
            .thread
            .lock()
            .map(|mut slot| slot.take())
            .unwrap_or_else(|p| {
                // A poisoned lock still holds the handle; nothing else touches it.
                p.into_inner().take()
            });
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!(path = %self.path.display(), "provenance writer thread panicked");
        }
    }
}

struct WriterThread<S: LineSink> {
    sink: S,
    rx: Receiver<Msg>,
    stats: Arc<WriterStats>,
    mode: FlushMode,
    enricher: Option<Enricher>,
    /// Serialised whole lines not yet written.
    buf: Vec<u8>,
    /// Number of lines in `buf`.
    buf_rows: u64,
    /// Rows kept in offline mode until a flush.
    kept: Vec<Row>,
    /// The templates whose rows may still come or be kept.
    templates: TemplateTable,
    /// Templates forgotten while their rows are kept (offline), dropped after the next
    /// write.
    forgotten: Vec<u64>,
    /// What every hot row gets from the writer.
    context: RowContext,
    /// Length of the file up to the last whole line written.
    committed: u64,
    path: PathBuf,
}

impl<S: LineSink> WriterThread<S> {
    fn run(mut self) {
        // The hot rows' clock is calibrated here, once per process (a few milliseconds of
        // busy work: 9.4 M instructions under callgrind), while the capturing thread goes
        // on with what precedes its first loop or forward, such as data preparation. A
        // stamp taken before it is done waits for it.
        crate::clock::warm_up();
        if self.enricher.is_some() {
            self.context.host = Some(json::host_fields(HostFacts::get()));
        }
        // The writer polls rather than blocking in `recv`: a receiver asleep in `recv`
        // must be woken by a system call on every send, which would cost the capturing
        // thread microseconds per row. Polling keeps a send to a few atomic operations;
        // the price is a row waiting at most `IDLE_MAX` before it is written.
        let mut idle = IDLE_MIN;
        loop {
            let mut received = false;
            loop {
                match self.rx.try_recv() {
                    Ok(msg) => {
                        received = true;
                        self.handle(msg);
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.write_out();
                        self.sync();
                        return;
                    }
                }
                if self.buf.len() >= BATCH_BYTES {
                    self.write_buf();
                }
            }
            if received {
                // The queue ran empty: hand what we have to the operating system.
                if self.mode == FlushMode::Online {
                    self.write_buf();
                }
                idle = IDLE_MIN;
            } else {
                std::thread::sleep(idle);
                idle = (idle * 2).min(IDLE_MAX);
            }
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Row(row) => self.accept(row),
            Msg::Rows(rows) => rows.into_iter().for_each(|row| self.accept(row)),
            Msg::Forwards(forwards) => forwards
                .into_iter()
                .for_each(|forward| self.accept(forward.into_row())),
            Msg::Describe(template) => self.templates.describe(&template),
            Msg::Forget(id) => match self.mode {
                FlushMode::Online => self.templates.forget(id),
                FlushMode::Offline => self.forgotten.push(id),
            },
            Msg::Flush(reply) => {
                self.write_out();
                self.sync();
                let _ = reply.send(());
            }
        }
    }

    fn accept(&mut self, row: Row) {
        if self.stats.is_stopped() {
            self.stats.lose(1);
            return;
        }
        match self.mode {
            FlushMode::Online => self.serialise(row),
            FlushMode::Offline => self.kept.push(row),
        }
    }

    fn serialise(&mut self, row: Row) {
        let start = self.buf.len();
        let result = match row {
            Row::Record(mut record) => {
                if let Some(enricher) = &self.enricher {
                    enrich(&mut record, enricher);
                }
                serde_json::to_writer(&mut self.buf, &*record)
            }
            hot => self
                .templates
                .write_hot(&mut self.buf, &hot, &mut self.context),
        };
        match result {
            Ok(()) => {
                self.buf.push(b'\n');
                self.buf_rows += 1;
            }
            Err(err) => {
                // Serialising to memory fails only for values JSON cannot hold; the
                // partial line is cut and the row counted as lost.
                self.buf.truncate(start);
                self.stats.lose(1);
                tracing::warn!(error = %err, "a provenance row could not be serialised");
            }
        }
    }

    /// Writes everything accepted: offline rows are serialised here, a chunk at a
    /// time, so memory holds rows rather than both rows and lines.
    fn write_out(&mut self) {
        if !self.kept.is_empty() {
            for row in std::mem::take(&mut self.kept) {
                if self.stats.is_stopped() {
                    self.stats.lose(1);
                    continue;
                }
                self.serialise(row);
                if self.buf.len() >= CHUNK_BYTES {
                    self.write_buf();
                }
            }
        }
        for id in self.forgotten.drain(..) {
            self.templates.forget(id);
        }
        self.write_buf();
    }

    /// Writes the buffered lines (which always end on a line) in one call; on failure
    /// cuts the file back to the last whole batch and stops writing.
    fn write_buf(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let rows = std::mem::take(&mut self.buf_rows);
        if self.stats.is_stopped() {
            self.stats.lose(rows);
        } else {
            match self.sink.write_all(&self.buf) {
                Ok(()) => {
                    let len = self.buf.len() as u64;
                    self.committed += len;
                    self.stats.bytes_written.fetch_add(len, Ordering::AcqRel);
                    self.stats.rows_written.fetch_add(rows, Ordering::AcqRel);
                }
                Err(err) => {
                    self.fail(err);
                    self.stats.lose(rows);
                }
            }
        }
        self.buf.clear();
    }

    fn fail(&mut self, err: io::Error) {
        self.stats.stopped.store(true, Ordering::Relaxed);
        let failure = WriteFailure {
            path: self.path.clone(),
            kind: err.kind(),
            message: err.to_string(),
        };
        let first = self.stats.failure.set(failure).is_ok();
        if first {
            tracing::error!(
                path = %self.path.display(),
                error = %err,
                "provenance writer stopped: writing failed; rows after this are not written"
            );
        }
        if let Err(cut) = self.sink.truncate(self.committed) {
            tracing::error!(
                path = %self.path.display(),
                error = %cut,
                "could not cut the file back to its last whole line"
            );
        }
    }

    fn sync(&mut self) {
        if self.stats.is_stopped() {
            return;
        }
        if let Err(err) = self.sink.sync() {
            // Devices such as pipes cannot sync; the bytes were still handed over.
            tracing::debug!(error = %err, "could not sync the provenance file");
        }
    }
}

fn enrich(record: &mut Record, enricher: &Enricher) {
    let facts = HostFacts::get();
    match record {
        Record::Task(task) => {
            task.hostname
                .get_or_insert_with(|| facts.hostname.to_string());
            task.login_name
                .get_or_insert_with(|| facts.login_name.to_string());
            task.node_name
                .get_or_insert_with(|| facts.node_name.to_string());
            if task.private_ip.is_none() {
                task.private_ip = facts.private_ip.as_deref().map(str::to_owned);
            }
            task.adapter_id.get_or_insert_with(|| ADAPTER_ID.to_owned());
        }
        Record::Workflow(workflow) => {
            workflow
                .user
                .get_or_insert_with(|| facts.login_name.to_string());
            workflow
                .sys_name
                .get_or_insert_with(|| facts.sys_name.to_string());
            if workflow.code_repository.is_none() {
                workflow.code_repository = facts.code_repository.clone();
            }
            workflow
                .extra_metadata
                .get_or_insert_with(HostFacts::extra_metadata);
            workflow
                .flowcept_settings
                .get_or_insert_with(|| enricher.settings_snapshot.clone());
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::record::TaskRecord;

    /// A sink that keeps bytes in memory and fails once `capacity` bytes are reached,
    /// after writing the part that fits (as a full disk does).
    pub(crate) struct FullDisk {
        pub(crate) bytes: Arc<Mutex<Vec<u8>>>,
        pub(crate) capacity: usize,
    }

    impl LineSink for FullDisk {
        fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
            let mut out = self.bytes.lock().unwrap();
            let room = self.capacity.saturating_sub(out.len());
            out.extend_from_slice(&bytes[..room.min(bytes.len())]);
            if room < bytes.len() {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "no space left on device",
                ));
            }
            Ok(())
        }
        fn truncate(&mut self, len: u64) -> io::Result<()> {
            self.bytes.lock().unwrap().truncate(len as usize);
            Ok(())
        }
        fn sync(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn task(n: usize) -> Row {
        Row::Record(Box::new(Record::Task(TaskRecord {
            task_id: format!("t{n}"),
            workflow_id: "w".into(),
            campaign_id: "c".into(),
            activity_id: "a".into(),
            status: Some(Status::Finished),
            ..TaskRecord::default()
        })))
    }

    #[test]
    fn a_full_disk_leaves_whole_lines_and_counts_the_rest() {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let sink = FullDisk {
            bytes: Arc::clone(&bytes),
            capacity: 1000,
        };
        let writer =
            Writer::start(sink, 0, "full.jsonl".into(), FlushMode::Online, "c", None).unwrap();
        for n in 0..200 {
            writer.send(task(n));
            if n % 10 == 0 {
                writer.flush();
            }
        }
        writer.flush();
        let report = writer.report();
        let failure = writer
            .stats()
            .failure()
            .cloned()
            .expect("the disk filled up");
        assert_eq!(failure.kind, io::ErrorKind::StorageFull);
        drop(writer);
        let text = String::from_utf8(bytes.lock().unwrap().clone()).unwrap();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "a torn line is left: {text:?}"
        );
        let lines = text.lines().count() as u64;
        for line in text.lines() {
            serde_json::from_str::<Record>(line).expect("every line left is whole JSON");
        }
        assert_eq!(report.rows, lines);
        assert_eq!(report.rows + report.rows_lost, 200);
    }

    /// A sink whose first write past `fail_at` bytes fails after writing part of it, and
    /// which takes every later write (space came back); its cut fails when `cut_fails`.
    struct FlakyDisk {
        bytes: Arc<Mutex<Vec<u8>>>,
        fail_at: usize,
        failed: bool,
        cut_fails: bool,
    }

    impl LineSink for FlakyDisk {
        fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
            let mut out = self.bytes.lock().unwrap();
            if !self.failed && out.len() + bytes.len() > self.fail_at {
                self.failed = true;
                let room = self.fail_at.saturating_sub(out.len());
                out.extend_from_slice(&bytes[..room]);
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            out.extend_from_slice(bytes);
            Ok(())
        }
        fn truncate(&mut self, len: u64) -> io::Result<()> {
            if self.cut_fails {
                return Err(io::Error::other("cannot cut"));
            }
            self.bytes.lock().unwrap().truncate(len as usize);
            Ok(())
        }
        fn sync(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_is_never_followed_by_more_rows() {
        for cut_fails in [false, true] {
            let bytes = Arc::new(Mutex::new(Vec::new()));
            let sink = FlakyDisk {
                bytes: Arc::clone(&bytes),
                fail_at: 1000,
                failed: false,
                cut_fails,
            };
            let writer =
                Writer::start(sink, 0, "flaky.jsonl".into(), FlushMode::Online, "c", None).unwrap();
            for n in 0..100 {
                writer.send(task(n));
                writer.flush();
            }
            let report = writer.report();
            assert!(writer.stats().failure().is_some());
            drop(writer);
            let text = String::from_utf8(bytes.lock().unwrap().clone()).unwrap();
            let whole = text.rfind('\n').map_or(0, |at| at + 1);
            assert_eq!(report.rows, text[..whole].lines().count() as u64);
            assert_eq!(report.rows + report.rows_lost, 100);
            for line in text[..whole].lines() {
                serde_json::from_str::<Record>(line).expect("every line before is whole");
            }
            if cut_fails {
                // The torn piece stays (nothing could cut it) but nothing follows it.
                assert!(text.len() == 1000 && !text.ends_with('\n'), "{text:?}");
            } else {
                assert_eq!(whole, text.len(), "the torn piece was cut: {text:?}");
            }
        }
    }

    #[test]
    fn offline_rows_wait_for_the_flush() {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let sink = FullDisk {
            bytes: Arc::clone(&bytes),
            capacity: usize::MAX,
        };
        let writer =
            Writer::start(sink, 0, "off.jsonl".into(), FlushMode::Offline, "c", None).unwrap();
        for n in 0..5 {
            writer.send(task(n));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(
            bytes.lock().unwrap().is_empty(),
            "offline mode wrote before the end"
        );
        writer.flush();
        assert_eq!(writer.report().rows, 5);
        let lines = bytes
            .lock()
            .unwrap()
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        assert_eq!(lines, 5);
    }

    #[test]
    fn hot_rows_read_back_as_task_records() {
        let task_number = crate::capture::ids::next_sequence();
        let looped = Template::Loop(LoopMeta {
            id: next_template_id(),
            workflow_id: "w".into(),
            activity_id: "epochs_loop_iteration".into(),
            parent_task_id: Some("p".into()),
            group_id: "g".into(),
            item_name: "epoch".into(),
        });
        let (started, ended) = (Stamp::now(), Stamp::now());
        let iteration = Row::Iteration(IterationRow {
            template: looped.id(),
            task: task_number,
            i: 3,
            item: Value::from(4),
            generated: Outputs::Numbers(
                NumberOutputs::of(&[("train_loss", 1.5), ("val_loss", f64::NAN)]).unwrap(),
            ),
            status: Status::Finished,
            started_at: started,
            ended_at: ended,
            extras: None,
        });
        let Record::Task(task) = hot_row_to_record(&looped, iteration) else {
            panic!("an iteration is a task")
        };
        assert_eq!(task.task_id, TaskId::of_sequence(task_number).as_str());
        assert_eq!(task.workflow_id, "w");
        assert_eq!(task.activity_id, "epochs_loop_iteration");
        assert_eq!(task.used, Some(serde_json::json!({"i": 3, "epoch": 4})));
        assert_eq!(
            task.generated,
            Some(serde_json::json!({"train_loss": 1.5, "val_loss": f64::NAN}))
        );
        assert_eq!(task.group_id.as_deref(), Some("g"));
        assert_eq!(task.parent_task_id.as_deref(), Some("p"));
        assert_eq!(task.status, Some(Status::Finished));
        assert_eq!(
            (task.stderr.as_deref(), task.telemetry_at_end.as_ref()),
            (None, None)
        );
        // Times are written to the microsecond.
        let written = |stamp: Stamp| (stamp.unix_seconds() * 1e6).round() / 1e6;
        assert_eq!(
            (task.started_at, task.ended_at),
            (Some(written(started)), Some(written(ended)))
        );
        assert!(task.extra.is_empty(), "no unknown keys: {:?}", task.extra);

        let tensor = inspection(1, 2, 0.5);
        let module = Template::Forward(ForwardMeta {
            id: next_template_id(),
            workflow_id: "m".into(),
            activity_id: "Model".into(),
            kind: ForwardKind::Parent,
            attributes: serde_json::Map::new(),
        });
        let forward = Row::Forward(ForwardRow {
            template: module.id(),
            task: task_number + 1,
            parent_task_id: Some("t".into()),
            is_training: Some(false),
            tensors: Some(Box::new(Inspections {
                used: Some(tensor.clone()),
                generated: None,
            })),
            status: Status::Error,
            started_at: started,
            ended_at: ended,
            extras: RowExtras::of(Some("boom".into()), Some(serde_json::json!({"cpu": {}}))),
        });
        let Record::Task(task) = hot_row_to_record(&module, forward) else {
            panic!("a forward is a task")
        };
        assert_eq!(task.workflow_id, "m");
        assert_eq!(task.activity_id, "Model");
        assert_eq!(task.subtype.as_deref(), Some("parent_forward"));
        assert_eq!(task.parent_task_id.as_deref(), Some("t"));
        assert_eq!(task.used, Some(tensor.to_json()));
        assert_eq!(
            task.custom_metadata,
            Some(serde_json::json!({"is_training": false}))
        );
        assert_eq!(task.stderr.as_deref(), Some("boom"));
        assert_eq!(task.telemetry_at_end, Some(serde_json::json!({"cpu": {}})));
        assert_eq!(task.status, Some(Status::Error));
        assert!(task.extra.is_empty(), "no unknown keys: {:?}", task.extra);
    }

    /// An inspection of a one-dimensional `f32` tensor of `numel` elements.
    fn inspection(id: u64, numel: u64, density: f64) -> TensorInspection {
        TensorInspection {
            id,
            is_sparse: false,
            shape: [numel as usize].into(),
            device: "cpu".into(),
            nbytes: 4 * numel,
            numel,
            density,
        }
    }

    #[test]
    fn child_rows_carry_training_and_their_module_attributes_under_used() {
        let attributes = serde_json::json!({"in_features": 200, "odd \"key\"": [1, null]});
        let child = Template::Forward(ForwardMeta {
            id: next_template_id(),
            workflow_id: "m".into(),
            activity_id: "Linear".into(),
            kind: ForwardKind::Child,
            attributes: attributes.as_object().unwrap().clone(),
        });
        let tensor = inspection(7, 3, 1.0);
        let row = |template: &Template, is_training, used: Option<TensorInspection>| {
            Row::Forward(ForwardRow {
                template: template.id(),
                task: crate::capture::ids::next_sequence(),
                parent_task_id: Some("p".into()),
                is_training,
                tensors: used.map(|used| {
                    Box::new(Inspections {
                        used: Some(used),
                        generated: None,
                    })
                }),
                status: Status::Finished,
                started_at: Stamp::now(),
                ended_at: Stamp::now(),
                extras: None,
            })
        };
        let used_of = |row| match hot_row_to_record(&child, row) {
            Record::Task(task) => {
                assert_eq!(task.subtype.as_deref(), Some("child_forward"));
                assert_eq!(task.custom_metadata, None, "a child's training is in used");
                task.used
            }
            Record::Workflow(_) => panic!("a forward is a task"),
        };
        let mut expected =
            serde_json::json!({"tensor": tensor.to_json()["tensor"], "training": true});
        expected
            .as_object_mut()
            .unwrap()
            .extend(attributes.as_object().unwrap().clone());
        assert_eq!(
            used_of(row(&child, Some(true), Some(tensor.clone()))),
            Some(expected)
        );

        let mut expected = serde_json::json!({"training": false});
        expected
            .as_object_mut()
            .unwrap()
            .extend(attributes.as_object().unwrap().clone());
        assert_eq!(used_of(row(&child, Some(false), None)), Some(expected));

        let bare = Template::Forward(ForwardMeta {
            id: next_template_id(),
            workflow_id: "m".into(),
            activity_id: "Dropout".into(),
            kind: ForwardKind::Child,
            attributes: serde_json::Map::new(),
        });
        let Record::Task(task) = hot_row_to_record(&bare, row(&bare, None, None)) else {
            panic!("a forward is a task")
        };
        assert_eq!(task.used, None, "nothing to say leaves used out");
    }

    #[test]
    fn a_row_of_an_unknown_template_is_lost_not_written() {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let sink = FullDisk {
            bytes: Arc::clone(&bytes),
            capacity: usize::MAX,
        };
        let writer =
            Writer::start(sink, 0, "t.jsonl".into(), FlushMode::Online, "c", None).unwrap();
        writer.send(Row::Iteration(IterationRow {
            template: next_template_id(),
            task: 1,
            i: 0,
            item: Value::Null,
            generated: Outputs::Nothing,
            status: Status::Finished,
            started_at: Stamp::now(),
            ended_at: Stamp::now(),
            extras: None,
        }));
        writer.send(task(1));
        writer.flush();
        let report = writer.report();
        assert_eq!((report.rows, report.rows_lost), (1, 1));
        assert_eq!(
            bytes
                .lock()
                .unwrap()
                .iter()
                .filter(|b| **b == b'\n')
                .count(),
            1
        );
    }
}
