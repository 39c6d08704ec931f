//! Task rows with a life cycle (`model_train`): opened by a builder, closed by a guard.

use serde_json::Value;

use super::{Capture, TaskId, WorkflowId, drop_status, now};
use crate::record::{Record, Status, TaskRecord};
use crate::writer::Row;

/// Describes a task before it starts.
#[must_use = "a task builder writes nothing until `start` is called"]
#[derive(Debug)]
pub struct TaskBuilder {
    capture: Capture,
    activity_id: String,
    workflow_id: WorkflowId,
    id: Option<TaskId>,
    parent: Option<TaskId>,
    used: Option<Value>,
    custom_metadata: Option<Value>,
    subtype: Option<String>,
    essential: bool,
}

impl TaskBuilder {
    pub(super) fn new(capture: Capture, activity_id: &str, workflow_id: &WorkflowId) -> Self {
        TaskBuilder {
            capture,
            activity_id: activity_id.to_owned(),
            workflow_id: workflow_id.clone(),
            id: None,
            parent: None,
            used: None,
            custom_metadata: None,
            subtype: None,
            essential: false,
        }
    }

    /// Uses this id instead of a fresh one.
    pub fn id(mut self, id: TaskId) -> Self {
        self.id = Some(id);
        self
    }

    /// Sets the inputs (a JSON object, `model_train`'s config).
    pub fn used(mut self, used: Value) -> Self {
        self.used = Some(used);
        self
    }

    /// Sets the enclosing task.
    pub fn parent(mut self, parent: &TaskId) -> Self {
        self.parent = Some(parent.clone());
        self
    }

    /// Sets free-form metadata (a JSON object).
    pub fn custom_metadata(mut self, metadata: Value) -> Self {
        self.custom_metadata = Some(metadata);
        self
    }

    /// Sets the subtype.
    pub fn subtype(mut self, subtype: &str) -> Self {
        self.subtype = Some(subtype.to_owned());
        self
    }

    /// Marks the task as the campaign's own: written even when
    /// `instrumentation.enabled` is false.
    pub fn essential(mut self) -> Self {
        self.essential = true;
        self
    }

    /// Writes the `RUNNING` row (with `telemetry_at_start` when telemetry is on) and
    /// returns the guard that writes the end row.
    pub fn start(self) -> TaskGuard {
        let id = self.id.unwrap_or_else(TaskId::fresh);
        let flags = self.capture.flags();
        let writes = if self.essential {
            flags.writing
        } else {
            flags.instrumented
        };
        if !writes {
            return TaskGuard {
                capture: None,
                record: None,
                id,
            };
        }
        let started = now();
        let record = TaskRecord {
            task_id: id.as_str().to_owned(),
            workflow_id: self.workflow_id.as_str().to_owned(),
            campaign_id: self.capture.campaign_id().to_owned(),
            activity_id: self.activity_id,
            subtype: self.subtype,
            parent_task_id: self.parent.map(|p| p.as_str().to_owned()),
            used: self.used,
            status: Some(Status::Running),
            started_at: Some(started),
            utc_timestamp: flags.enrich.then_some(started),
            custom_metadata: self.custom_metadata,
            ..TaskRecord::default()
        };
        let mut running = record.clone();
        running.telemetry_at_start = self.capture.telemetry_snapshot();
        self.capture
            .emit(Row::Record(Box::new(Record::Task(running))));
        TaskGuard {
            capture: Some(self.capture),
            record: Some(record),
            id,
        }
    }
}

/// An open task. Ends with [`TaskGuard::finish`] or [`TaskGuard::fail`]; dropped without
/// either, it writes `FINISHED`, or `ERROR` with `stderr` when the thread is panicking.
#[must_use = "dropping the guard ends the task at once"]
#[derive(Debug)]
pub struct TaskGuard {
    capture: Option<Capture>,
    record: Option<TaskRecord>,
    id: TaskId,
}

impl TaskGuard {
    /// Returns the task's id (there is one even when nothing is written).
    pub fn id(&self) -> &TaskId {
        &self.id
    }

    /// Sets the outputs written on the end row, for a guard that ends by drop.
    pub fn set_generated(&mut self, generated: Value) {
        if let Some(record) = &mut self.record {
            record.generated = Some(generated);
        }
    }

    /// Ends the task with `FINISHED` and its outputs.
    pub fn finish(mut self, generated: Value) {
        self.set_generated(generated);
        self.end(Status::Finished, None);
    }

    /// Ends the task with `ERROR` and the message as `stderr`.
    pub fn fail(mut self, message: &str) {
        self.end(Status::Error, Some(message));
    }

    fn end(&mut self, status: Status, stderr: Option<&str>) {
        let (Some(capture), Some(mut record)) = (self.capture.take(), self.record.take()) else {
            return;
        };
        let ended = now();
        record.ended_at = Some(ended);
        record.status = Some(status);
        record.stderr = stderr.map(str::to_owned);
        if record.utc_timestamp.is_some() {
            record.utc_timestamp = Some(ended);
        }
        record.telemetry_at_end = capture.telemetry_snapshot();
        capture.emit(Row::Record(Box::new(Record::Task(record))));
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.record.is_some() {
            let (status, stderr) = drop_status();
            self.end(status, stderr.as_deref());
        }
    }
}
