//! Workflow rows: opened by a builder, closed by a guard.

use serde_json::{Map, Value, json};

use super::{Capture, WorkflowId, drop_status, now};
use crate::record::{Record, Status, WorkflowRecord};
use crate::writer::Row;

/// Describes a workflow before it is started or registered.
#[must_use = "a workflow builder writes nothing until `start` or `register` is called"]
#[derive(Debug)]
pub struct WorkflowBuilder {
    capture: Capture,
    name: String,
    id: Option<WorkflowId>,
    parent: Option<WorkflowId>,
    used: Option<Value>,
    custom_metadata: Option<Value>,
    machine_info: Option<Value>,
    subtype: Option<String>,
    essential: bool,
}

impl WorkflowBuilder {
    pub(super) fn new(capture: Capture, name: &str) -> Self {
        WorkflowBuilder {
            capture,
            name: name.to_owned(),
            id: None,
            parent: None,
            used: None,
            custom_metadata: None,
            machine_info: None,
            subtype: None,
            essential: false,
        }
    }

    /// Uses this id instead of a fresh one.
    pub fn id(mut self, id: WorkflowId) -> Self {
        self.id = Some(id);
        self
    }

    /// Sets the workflow this one is part of.
    pub fn parent(mut self, parent: &WorkflowId) -> Self {
        self.parent = Some(parent.clone());
        self
    }

    /// Sets the inputs (a JSON object).
    pub fn used(mut self, used: Value) -> Self {
        self.used = Some(used);
        self
    }

    /// Sets free-form metadata (a JSON object).
    pub fn custom_metadata(mut self, metadata: Value) -> Self {
        self.custom_metadata = Some(metadata);
        self
    }

    /// Adds facts about the machine (the backend, the adapter); merged over the
    /// telemetry's `machine_info` when that kind is on.
    pub fn machine_info(mut self, info: Value) -> Self {
        self.machine_info = Some(info);
        self
    }

    /// Sets the subtype.
    pub fn subtype(mut self, subtype: &str) -> Self {
        self.subtype = Some(subtype.to_owned());
        self
    }

    /// Marks the workflow as the campaign's own: written even when
    /// `instrumentation.enabled` is false.
    pub fn essential(mut self) -> Self {
        self.essential = true;
        self
    }

    fn writes(&self) -> bool {
        let flags = self.capture.flags();
        if self.essential {
            flags.writing
        } else {
            flags.instrumented
        }
    }

    fn record(&mut self, id: &WorkflowId) -> WorkflowRecord {
        let machine_info = match (self.capture.machine_info(), self.machine_info.take()) {
            (Some(Value::Object(mut base)), Some(Value::Object(extra))) => {
                base.extend(extra);
                Some(Value::Object(base))
            }
            (base, extra) => extra.or(base),
        };
        WorkflowRecord {
            workflow_id: id.as_str().to_owned(),
            campaign_id: self.capture.campaign_id().to_owned(),
            name: std::mem::take(&mut self.name),
            parent_workflow_id: self.parent.as_ref().map(|p| p.as_str().to_owned()),
            used: self.used.take(),
            custom_metadata: self.custom_metadata.take(),
            subtype: self.subtype.take(),
            machine_info,
            utc_timestamp: self.capture.flags().enrich.then(now),
            ..WorkflowRecord::default()
        }
    }

    /// Writes the `RUNNING` row (when this workflow is captured) and returns the guard
    /// that writes the end row.
    pub fn start(mut self) -> WorkflowGuard {
        let id = self.id.take().unwrap_or_else(WorkflowId::fresh);
        if !self.writes() {
            return WorkflowGuard {
                capture: None,
                record: None,
                id,
            };
        }
        let mut record = self.record(&id);
        record.started_at = Some(now());
        record.status = Some(Status::Running);
        self.capture
            .emit(Row::Record(Box::new(Record::Workflow(record.clone()))));
        WorkflowGuard {
            capture: Some(self.capture),
            record: Some(record),
            id,
        }
    }

    /// Writes the workflow as a single row (a registered model) and returns its id.
    ///
    /// The row is written when instrumentation is on and
    /// `instrumentation.torch.register_workflow` is true; `used.capture_at_every` is set
    /// from `capture_epochs_at_every`. When no row is written the id returned is the
    /// parent's (when one was given), so rows that point to it still point to a
    /// workflow row of the campaign; otherwise a fresh id.
    pub fn register(mut self) -> WorkflowId {
        let settings = self.capture.settings();
        let registers =
            self.capture.flags().instrumented && settings.instrumentation.torch.register_workflow;
        if !registers {
            return self
                .id
                .take()
                .or(self.parent.take())
                .unwrap_or_else(WorkflowId::fresh);
        }
        let every = settings.instrumentation.torch.capture_epochs_at_every;
        let mut used = match self.used.take() {
            Some(Value::Object(map)) => map,
            Some(other) => Map::from_iter([("value".to_owned(), other)]),
            None => Map::new(),
        };
        used.entry("capture_at_every").or_insert(json!(every));
        self.used = Some(Value::Object(used));
        let id = self.id.take().unwrap_or_else(WorkflowId::fresh);
        let record = self.record(&id);
        self.capture
            .emit(Row::Record(Box::new(Record::Workflow(record))));
        id
    }
}

/// An open workflow. Ends with [`WorkflowGuard::finish`] or [`WorkflowGuard::fail`];
/// dropped without either, it writes `FINISHED`, or `ERROR` when the thread is panicking.
#[must_use = "dropping the guard ends the workflow at once"]
#[derive(Debug)]
pub struct WorkflowGuard {
    capture: Option<Capture>,
    record: Option<WorkflowRecord>,
    id: WorkflowId,
}

impl WorkflowGuard {
    /// Returns the workflow's id (there is one even when nothing is written).
    pub fn id(&self) -> &WorkflowId {
        &self.id
    }

    /// Sets the outputs written on the end row.
    pub fn set_generated(&mut self, generated: Value) {
        if let Some(record) = &mut self.record {
            record.generated = Some(generated);
        }
    }

    /// Ends the workflow with `FINISHED`.
    pub fn finish(mut self) {
        self.end(Status::Finished, None);
    }

    /// Ends the workflow with `ERROR` and the message as `stderr`.
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
        capture.emit(Row::Record(Box::new(Record::Workflow(record))));
    }
}

impl Drop for WorkflowGuard {
    fn drop(&mut self) {
        if self.record.is_some() {
            let (status, stderr) = drop_status();
            self.end(status, stderr.as_deref());
        }
    }
}
