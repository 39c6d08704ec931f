//! The rows of a buffer file: workflow and task records as Flowcept writes them.
//!
//! A [`Record`] serialises to one JSON object with a `type` field (`"workflow"` or
//! `"task"`); fields without a value are left out rather than written as `null`, and
//! times are float seconds since the Unix epoch (UTC). Keys this library does not know
//! (Flowcept's `interceptor_ids`, `conf`, …) are kept in `extra` when a file is read,
//! so a record read from a Flowcept file loses nothing.
//!
//! Reading is lenient about one thing Flowcept does: its loop and forward rows carry no
//! `type`. Such a row is taken as a task when it has a `task_id` or an `activity_id`,
//! else as a workflow.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One row of a buffer file.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Record {
    /// A workflow row (`"type": "workflow"`).
    Workflow(WorkflowRecord),
    /// A task row (`"type": "task"`).
    Task(TaskRecord),
}

impl Record {
    /// Builds a record from one parsed JSON object, inferring the kind when `type` is
    /// absent (as on Flowcept's own loop and forward rows).
    ///
    /// # Errors
    ///
    /// Fails when the value is not an object, when `type` names neither kind, or when a
    /// known field has the wrong JSON type.
    pub fn from_json(value: Value) -> Result<Record, serde_json::Error> {
        use serde::de::Error as _;
        let Value::Object(mut map) = value else {
            return Err(serde_json::Error::custom("a row must be a JSON object"));
        };
        let kind = match map.remove("type") {
            Some(Value::String(kind)) => kind,
            Some(other) => {
                return Err(serde_json::Error::custom(format!(
                    "`type` must be \"workflow\" or \"task\", found {other}"
                )));
            }
            None if map.contains_key("task_id") || map.contains_key("activity_id") => {
                "task".to_owned()
            }
            None => "workflow".to_owned(),
        };
        match kind.as_str() {
            "task" => serde_json::from_value(Value::Object(map)).map(Record::Task),
            "workflow" => serde_json::from_value(Value::Object(map)).map(Record::Workflow),
            other => Err(serde_json::Error::custom(format!(
                "`type` must be \"workflow\" or \"task\", found \"{other}\""
            ))),
        }
    }

    /// Returns the kind as written in the `type` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Workflow(_) => "workflow",
            Record::Task(_) => "task",
        }
    }

    /// Returns the campaign the row belongs to.
    pub fn campaign_id(&self) -> &str {
        match self {
            Record::Workflow(w) => &w.campaign_id,
            Record::Task(t) => &t.campaign_id,
        }
    }

    /// Returns the workflow id of the row (its own id for a workflow row).
    pub fn workflow_id(&self) -> &str {
        match self {
            Record::Workflow(w) => &w.workflow_id,
            Record::Task(t) => &t.workflow_id,
        }
    }

    /// Returns the status, when the row has one.
    pub fn status(&self) -> Option<Status> {
        match self {
            Record::Workflow(w) => w.status,
            Record::Task(t) => t.status,
        }
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Record::from_json(value).map_err(serde::de::Error::custom)
    }
}

/// The life-cycle state of a workflow or task, written in capitals (`"RUNNING"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Handed to a scheduler, not started.
    Submitted,
    /// Waiting for its inputs.
    Waiting,
    /// Started and not yet ended.
    Running,
    /// Ended without error.
    Finished,
    /// Ended with an error (the row carries `stderr`).
    Error,
}

impl Status {
    /// Returns the name as written in a row (`RUNNING`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "SUBMITTED",
            Status::Waiting => "WAITING",
            Status::Running => "RUNNING",
            Status::Finished => "FINISHED",
            Status::Error => "ERROR",
        }
    }

    /// Tells whether the status ends a life cycle (`FINISHED` or `ERROR`).
    pub fn is_end(self) -> bool {
        matches!(self, Status::Finished | Status::Error)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A workflow row (SPEC §2): a campaign's workflow, or a model registered as one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRecord {
    /// Unique id of the workflow.
    #[serde(default)]
    pub workflow_id: String,
    /// Campaign the workflow belongs to.
    #[serde(default)]
    pub campaign_id: String,
    /// Name (`SearchWorkflow`, `TransformerModel`).
    #[serde(default)]
    pub name: String,
    /// Workflow this one is part of (the search workflow for a model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_workflow_id: Option<String>,
    /// Inputs, as a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used: Option<Value>,
    /// Outputs, as a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<Value>,
    /// Free-form metadata (`workflow_type`, `model_profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_metadata: Option<Value>,
    /// Finer kind of workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtype: Option<String>,
    /// Start time, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<f64>,
    /// End time, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<f64>,
    /// Life-cycle state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Error text of a failed workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// Facts about the machine (telemetry `machine_info`, backend).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_info: Option<Value>,
    /// Git facts of the working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_repository: Option<Value>,
    /// The settings in force, secrets redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flowcept_settings: Option<Value>,
    /// Name of the user running the workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Time the row was made, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_timestamp: Option<f64>,
    /// Id of the environment the workflow ran in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
    /// Operating system name (`Linux`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sys_name: Option<String>,
    /// Further metadata (the library version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_metadata: Option<Value>,
    /// Keys this library does not know, kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A task row (SPEC §2): `model_train`, a loop iteration, a forward.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Unique id of the task (both rows of a task share it).
    #[serde(default)]
    pub task_id: String,
    /// Workflow the task belongs to.
    #[serde(default)]
    pub workflow_id: String,
    /// Campaign the task belongs to.
    #[serde(default)]
    pub campaign_id: String,
    /// What the task does (`model_train`, `epochs_loop_iteration`, `Linear`).
    #[serde(default)]
    pub activity_id: String,
    /// Finer kind (`parent_forward`, `child_forward`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtype: Option<String>,
    /// Enclosing task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_task_id: Option<String>,
    /// Id shared by the iterations of one loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// Inputs, as a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used: Option<Value>,
    /// Outputs, as a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<Value>,
    /// Life-cycle state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Start time, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<f64>,
    /// End time, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<f64>,
    /// Time the task was submitted, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<f64>,
    /// Time the row was made, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_timestamp: Option<f64>,
    /// Telemetry taken when the task started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry_at_start: Option<Value>,
    /// Telemetry taken when the task ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry_at_end: Option<Value>,
    /// Free-form metadata (`is_training` on forwards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_metadata: Option<Value>,
    /// Error text of a failed task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// Host name of the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Login name of the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_name: Option<String>,
    /// Network node name of the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// Private IP address of the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<String>,
    /// Public IP address (never looked up by this library).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<String>,
    /// Address of the worker that ran the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Which adapter produced the row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter_id: Option<String>,
    /// Tasks this one depends on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependencies: Option<Vec<String>>,
    /// Tasks that depend on this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependents: Option<Vec<String>>,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Keys this library does not know, kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn task_rows_carry_their_type_and_leave_out_empty_fields() {
        let record = Record::Task(TaskRecord {
            task_id: "t".into(),
            workflow_id: "w".into(),
            campaign_id: "c".into(),
            activity_id: "model_train".into(),
            status: Some(Status::Running),
            ..TaskRecord::default()
        });
        let text = serde_json::to_string(&record).expect("records always serialise");
        let value: Value = serde_json::from_str(&text).expect("the writer writes JSON");
        assert_eq!(
            value,
            json!({"type": "task", "task_id": "t", "workflow_id": "w", "campaign_id": "c",
                   "activity_id": "model_train", "status": "RUNNING"})
        );
    }

    #[test]
    fn rows_without_type_are_inferred_like_flowcept_writes_them() {
        let loop_row = json!({"task_id": "1", "activity_id": "epochs_loop_iteration",
                              "used": {"i": 0, "epoch": 1}, "status": "FINISHED"});
        let record = Record::from_json(loop_row).expect("a loop row is a task");
        assert_eq!(record.kind(), "task");
        let workflow = json!({"workflow_id": "w", "name": "SearchWorkflow"});
        assert_eq!(Record::from_json(workflow).unwrap().kind(), "workflow");
    }

    #[test]
    fn unknown_keys_survive_a_round_trip() {
        let row = json!({"type": "workflow", "workflow_id": "w", "campaign_id": "c",
                         "name": "n", "interceptor_ids": ["1"]});
        let record = Record::from_json(row.clone()).unwrap();
        assert_eq!(serde_json::to_value(&record).unwrap(), row);
    }

    #[test]
    fn a_row_that_is_not_an_object_is_refused() {
        assert!(Record::from_json(json!([1, 2])).is_err());
        assert!(Record::from_json(json!({"type": "agent"})).is_err());
        assert!(Record::from_json(json!({"type": "task", "used": 3, "status": "DONE"})).is_err());
    }
}
