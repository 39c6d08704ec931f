//! Loop capture: one task row per iteration of an epoch or batch loop.
//!
//! Every iteration row has `activity_id` `<loop_name>_iteration`, `used` `{"i": n,
//! "<item_name>": item}`, the `generated` given to [`IterationGuard::end`], a `group_id`
//! shared by the loop's iterations and the enclosing task as `parent_task_id`.
//! In [`LoopMode::Default`] a row is queued when its iteration ends (with
//! `telemetry_at_end` when telemetry is on); in [`LoopMode::Lightweight`] the rows are
//! kept and queued together, without telemetry, when the loop and all its guards are
//! gone. A loop that is off hands out empty guards and costs a branch per iteration.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;
use serde_json::Value;

use super::ids::next_sequence;
use super::{Capture, TaskId, WorkflowId, drop_status};
use crate::clock::Stamp;
use crate::record::Status;
use crate::settings::LoopMode;
use crate::writer::{
    IterationRow, LoopMeta, NumberOutputs, Outputs, Row, RowExtras, Template, next_template_id,
};

/// Captures the iterations of one loop. Make one per loop run (per epoch for batches).
/// A lightweight loop writes its iterations when this and every guard it handed out are
/// dropped.
#[must_use = "a loop capture does nothing unless iterations are opened on it"]
#[derive(Debug)]
pub struct LoopCapture {
    state: Option<Arc<LoopState>>,
}

#[derive(Debug)]
struct LoopState {
    capture: Capture,
    /// The id the writer knows the loop's shared fields by.
    id: u64,
    group_id: TaskId,
    mode: LoopMode,
    telemetry: bool,
    next_index: AtomicU64,
    /// Iterations of a lightweight loop, queued when the state is dropped.
    kept: Mutex<Vec<Row>>,
}

impl Drop for LoopState {
    fn drop(&mut self) {
        let kept = std::mem::take(self.kept.get_mut().unwrap_or_else(|p| p.into_inner()));
        if !kept.is_empty() {
            self.capture.emit_all(kept);
        }
        // Every row of the loop is queued by now: each guard holds the state.
        self.capture.forget(self.id);
    }
}

impl LoopCapture {
    pub(super) fn new(
        capture: &Capture,
        mode: Option<LoopMode>,
        loop_name: &str,
        item_name: &str,
        parent: Option<&TaskId>,
        workflow_id: &WorkflowId,
    ) -> LoopCapture {
        let Some(mode) = mode.filter(|_| capture.flags().instrumented) else {
            return LoopCapture { state: None };
        };
        let id = next_template_id();
        let group_id = TaskId::fresh();
        capture.describe(Template::Loop(LoopMeta {
            id,
            workflow_id: workflow_id.clone(),
            activity_id: format!("{loop_name}_iteration"),
            parent_task_id: parent.cloned(),
            group_id: group_id.clone(),
            item_name: item_name.to_owned(),
        }));
        let state = LoopState {
            capture: capture.clone(),
            id,
            group_id,
            mode,
            telemetry: mode == LoopMode::Default && capture.flags().telemetry,
            next_index: AtomicU64::new(0),
            kept: Mutex::new(Vec::new()),
        };
        LoopCapture {
            state: Some(Arc::new(state)),
        }
    }

    /// Tells whether iterations are captured.
    pub fn is_active(&self) -> bool {
        self.state.is_some()
    }

    /// Returns the id shared by the loop's iterations, when captured.
    pub fn group_id(&self) -> Option<&TaskId> {
        self.state.as_ref().map(|s| &s.group_id)
    }

    /// Opens the next iteration (`used.i` counts from 0) with `item` as its item.
    pub fn iteration(&self, item: impl Into<Value>) -> IterationGuard {
        match &self.state {
            Some(state) => IterationGuard::open(state, item.into()),
            None => IterationGuard { state: None },
        }
    }

    /// Wraps an iterator so that each item comes with the guard of its iteration.
    pub fn wrap<I>(&self, items: I) -> CapturedLoop<I::IntoIter>
    where
        I: IntoIterator,
        I::Item: Serialize,
    {
        CapturedLoop {
            items: items.into_iter(),
            state: self.state.clone(),
        }
    }
}

/// An iterator over `(item, guard)`, from [`LoopCapture::wrap`].
#[must_use = "iterators do nothing unless consumed"]
#[derive(Debug)]
pub struct CapturedLoop<I> {
    items: I,
    state: Option<Arc<LoopState>>,
}

impl<I> Iterator for CapturedLoop<I>
where
    I: Iterator,
    I::Item: Serialize,
{
    type Item = (I::Item, IterationGuard);

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.items.next()?;
        let guard = match &self.state {
            Some(state) => {
                let value = serde_json::to_value(&item).unwrap_or(Value::Null);
                IterationGuard::open(state, value)
            }
            None => IterationGuard { state: None },
        };
        Some((item, guard))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

impl<I> ExactSizeIterator for CapturedLoop<I>
where
    I: ExactSizeIterator,
    I::Item: Serialize,
{
}

/// One open iteration. Ends with [`IterationGuard::end`]; dropped without it, the row is
/// still written (without `generated`), with `ERROR` when the thread is panicking.
#[must_use = "dropping the guard ends the iteration at once"]
#[derive(Debug)]
pub struct IterationGuard {
    state: Option<IterationState>,
}

#[derive(Debug)]
struct IterationState {
    lp: Arc<LoopState>,
    /// The number of the task id; the id's text is made only when asked for.
    task: u64,
    task_id: OnceLock<TaskId>,
    i: u64,
    item: Value,
    started_at: Stamp,
}

impl IterationGuard {
    fn open(lp: &Arc<LoopState>, item: Value) -> IterationGuard {
        IterationGuard {
            state: Some(IterationState {
                lp: Arc::clone(lp),
                task: next_sequence(),
                task_id: OnceLock::new(),
                i: lp.next_index.fetch_add(1, Ordering::Relaxed),
                item,
                started_at: Stamp::now(),
            }),
        }
    }

    /// Returns the iteration's task id, when captured (the parent of nested rows).
    pub fn id(&self) -> Option<&TaskId> {
        self.state
            .as_ref()
            .map(|s| s.task_id.get_or_init(|| TaskId::of_sequence(s.task)))
    }

    /// Ends the iteration with its outputs (`train_loss`/`val_loss`, `loss`).
    pub fn end(mut self, generated: Value) {
        if let Some(state) = self.state.take() {
            state.emit(Outputs::Value(generated), Status::Finished, None);
        }
    }

    /// Ends the iteration with named numbers as its outputs: `end_numbers(&[("loss",
    /// x)])` writes the row `end(json!({"loss": x}))` would, in the order given, without
    /// allocating for up to two numbers (the losses of an epoch or a batch).
    pub fn end_numbers(mut self, outputs: &[(&'static str, f64)]) {
        if let Some(state) = self.state.take() {
            let generated = match NumberOutputs::of(outputs) {
                Some(numbers) => Outputs::Numbers(numbers),
                None => Outputs::Value(Value::Object(
                    outputs
                        .iter()
                        .map(|&(name, number)| (name.to_owned(), Value::from(number)))
                        .collect(),
                )),
            };
            state.emit(generated, Status::Finished, None);
        }
    }
}

impl IterationState {
    fn emit(self, generated: Outputs, status: Status, stderr: Option<String>) {
        let lp = self.lp;
        // After a write failure the row is only counted, so telemetry is not taken.
        let telemetry_at_end = if lp.telemetry && !lp.capture.stopped() {
            lp.capture.telemetry_snapshot()
        } else {
            None
        };
        let row = Row::Iteration(IterationRow {
            template: lp.id,
            task: self.task,
            i: self.i,
            item: self.item,
            generated,
            status,
            started_at: self.started_at,
            ended_at: Stamp::now(),
            extras: RowExtras::of(stderr, telemetry_at_end),
        });
        match lp.mode {
            LoopMode::Default => lp.capture.emit(row),
            LoopMode::Lightweight => {
                lp.kept.lock().unwrap_or_else(|p| p.into_inner()).push(row);
            }
        }
    }
}

impl Drop for IterationGuard {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            let (status, stderr) = drop_status();
            state.emit(Outputs::Nothing, status, stderr);
        }
    }
}
