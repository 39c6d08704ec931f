//! Scenario files: one capture configuration, run through the real campaign, with the rows
//! it must produce.
//!
//! A scenario (`scenarios/*.yaml`) holds a description, the capture settings in the shape of
//! `settings.yaml`, the workflow parameters, the backends it applies to and the expected
//! figures: `lines`, `tutorial_rows` and the row counts by (type, subtype, activity, status).
//! [`Scenario::load`] rejects a file with a missing field, an unknown key or a wrong type,
//! naming the file and the field. [`Scenario::run`] trains the campaign with it and reads the
//! file back; [`ScenarioRun::problems`] lists every way the rows differ from what the
//! scenario expects or from the campaign's structure; [`ScenarioRun::normalised`] gives a
//! summary with ids, times, hosts and losses left out, for snapshots.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use capture_core::{
    Capture, CaptureOptions, Record, RowCount, Settings, Status, Summary, TaskNode, TaskRecord,
    WorkflowNode,
};
use serde::{Deserialize, Serialize};

use crate::campaign::{CampaignOptions, NoProgress, run_campaign};
use crate::device::BackendKind;
use crate::params::WorkflowParams;

/// Why a scenario could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Read {
        /// The scenario file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid scenario (syntax, a missing field, an unknown key, a type).
    #[error("scenario {path}: {message}")]
    Invalid {
        /// The scenario file.
        path: PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The run itself failed before writing its rows.
    #[error("scenario {name} on {backend}: {message}")]
    Run {
        /// The scenario's name.
        name: String,
        /// The backend it ran on.
        backend: String,
        /// What failed.
        message: String,
    },
}

/// A backend a scenario applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScenarioBackend {
    /// burn's flex CPU backend.
    Cpu,
    /// wgpu, when an adapter exists.
    Wgpu,
}

impl ScenarioBackend {
    /// Returns the trainer's backend for it.
    pub fn kind(self) -> BackendKind {
        match self {
            Self::Cpu => BackendKind::Cpu,
            Self::Wgpu => BackendKind::Wgpu,
        }
    }

    /// Returns its lowercase name, as written in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Wgpu => "wgpu",
        }
    }
}

/// The file's shape, exactly; unknown keys are errors.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    description: String,
    backends: Vec<ScenarioBackend>,
    #[serde(default = "one_worker")]
    workers: usize,
    settings: serde_yaml::Value,
    workflow_params: serde_json::Map<String, serde_json::Value>,
    expect: Expectation,
}

fn one_worker() -> usize {
    1
}

/// What a scenario's run must produce.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Lines of the file, each workflow counted at every row it writes.
    pub lines: usize,
    /// Rows with each workflow counted once (the tutorial README's figure).
    pub tutorial_rows: usize,
    /// Rows by (type, subtype, activity, status); kinds not listed must not occur.
    pub counts: Vec<ExpectedCount>,
}

/// One line of [`Expectation::counts`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedCount {
    /// `workflow` or `task`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The task's subtype (`parent_forward`, `child_forward`), if any.
    #[serde(default)]
    pub subtype: Option<String>,
    /// The task's `activity_id`, or the workflow's `name`.
    pub activity: String,
    /// The row's status; absent for rows without one (the registered model).
    #[serde(default)]
    pub status: Option<String>,
    /// How many rows of that kind.
    pub count: usize,
}

/// A loaded scenario, its settings and parameters already validated.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file name without `.yaml`.
    pub name: String,
    /// What the scenario shows.
    pub description: String,
    /// The backends it runs on.
    pub backends: Vec<ScenarioBackend>,
    /// Configs trained at once.
    pub workers: usize,
    /// The capture settings.
    pub settings: Settings,
    /// The workflow parameters, defaults filled in.
    pub params: WorkflowParams,
    /// What the run must produce.
    pub expect: Expectation,
}

impl Scenario {
    /// Loads and validates a scenario file.
    ///
    /// # Errors
    ///
    /// [`ScenarioError::Invalid`] names the file and the field for a YAML error, a missing
    /// field, an unknown key, a wrong type, bad settings or bad workflow parameters.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |message: String| ScenarioError::Invalid {
            path: path.to_owned(),
            message,
        };
        let file: ScenarioFile = serde_yaml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let settings_text = serde_yaml::to_string(&file.settings)
            .expect("a YAML value read from a file serialises back");
        let settings = Settings::from_yaml_str(&settings_text)
            .map_err(|e| invalid(format!("settings: {e}")))?;
        let params_text = serde_json::Value::Object(file.workflow_params).to_string();
        let params = WorkflowParams::from_json(&params_text)
            .map_err(|e| invalid(format!("workflow_params: {e}")))?;
        if file.backends.is_empty() {
            return Err(invalid(
                "backends: lists no backend; use [cpu] or [cpu, wgpu]".into(),
            ));
        }
        if file.workers == 0 {
            return Err(invalid("workers: 0 is not an integer >= 1".into()));
        }
        let name = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Ok(Self {
            name,
            description: file.description,
            backends: file.backends,
            workers: file.workers,
            settings,
            params,
            expect: file.expect,
        })
    }

    /// Loads every `*.yaml` file of a folder, sorted by name.
    ///
    /// # Errors
    ///
    /// The first file that fails to load, or a folder that cannot be listed.
    pub fn load_dir(dir: &Path) -> Result<Vec<Self>, ScenarioError> {
        let entries = fs::read_dir(dir).map_err(|source| ScenarioError::Read {
            path: dir.to_owned(),
            source,
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|ext| ext == "yaml" || ext == "yml")
            })
            .collect();
        paths.sort();
        paths.iter().map(|p| Self::load(p)).collect()
    }

    /// Tells whether the scenario applies to `backend`.
    pub fn applies_to(&self, backend: ScenarioBackend) -> bool {
        self.backends.contains(&backend)
    }

    /// Runs the campaign with this scenario on `backend`, writing to a file in `dir`, and
    /// reads the rows back.
    ///
    /// # Errors
    ///
    /// [`ScenarioError::Run`] when the capture cannot start, the campaign fails as a whole
    /// (a failing config is not a failure: its `ERROR` row is part of what is checked), or the
    /// file cannot be read back.
    pub fn run(&self, backend: ScenarioBackend, dir: &Path) -> Result<ScenarioRun, ScenarioError> {
        let fail = |message: String| ScenarioError::Run {
            name: self.name.clone(),
            backend: backend.name().to_owned(),
            message,
        };
        let out = dir.join(format!("{}-{}.jsonl", self.name, backend.name()));
        let mut settings = self.settings.clone();
        settings.project.dump_buffer.delete_previous_file = true;
        let options = CaptureOptions {
            campaign_id: None,
            output: Some(out.clone()),
        };
        let capture = Capture::start(settings, options).map_err(|e| fail(e.to_string()))?;
        let campaign = CampaignOptions {
            params: self.params.clone(),
            backend: backend.kind(),
            data_dir: None,
            workers: self.workers,
            seed: None,
            run_dir: dir.join(format!("{}-{}-run", self.name, backend.name())),
        };
        let outcome = run_campaign(&campaign, &capture, &NoProgress);
        let report = capture.finish().map_err(|e| fail(e.to_string()))?;
        outcome.map_err(|e| fail(e.to_string()))?;
        let path = report.path.unwrap_or(out);
        let records = capture_core::read_jsonl(&path).map_err(|e| fail(e.to_string()))?;
        Ok(ScenarioRun::from_records(records))
    }
}

/// The rows one scenario run wrote, and their summary.
#[derive(Debug, Clone)]
pub struct ScenarioRun {
    /// Every row of the file, in file order.
    pub records: Vec<Record>,
    /// The reader's summary of them.
    pub summary: Summary,
}

impl ScenarioRun {
    /// Reads a run's rows back from its file.
    fn from_records(records: Vec<Record>) -> Self {
        let summary = Summary::of(&records);
        Self { records, summary }
    }

    /// Lists every difference from `expect` and every broken link; empty when all holds.
    pub fn problems(&self, expect: &Expectation) -> Vec<String> {
        let mut problems = Vec::new();
        if self.summary.lines != expect.lines {
            problems.push(format!(
                "lines: expected {}, found {}",
                expect.lines, self.summary.lines
            ));
        }
        if self.summary.tutorial_rows != expect.tutorial_rows {
            problems.push(format!(
                "tutorial_rows: expected {}, found {}",
                expect.tutorial_rows, self.summary.tutorial_rows
            ));
        }
        let mut found: BTreeMap<String, usize> = self
            .summary
            .counts
            .iter()
            .map(|c| (describe(c), c.rows))
            .collect();
        for expected in &expect.counts {
            let key = expected.describe();
            let got = found.remove(&key).unwrap_or(0);
            if got != expected.count {
                problems.push(format!(
                    "count of {key}: expected {}, found {got}",
                    expected.count
                ));
            }
        }
        for (key, got) in found {
            problems.push(format!("count of {key}: expected none, found {got}"));
        }
        for unfinished in &self.summary.unfinished {
            problems.push(format!(
                "{} {} ({}) has no end row",
                unfinished.kind, unfinished.id, unfinished.name
            ));
        }
        problems.extend(structure_problems(&self.records));
        problems
    }

    /// Returns a summary that is the same from run to run: counts, the campaign tree with
    /// stable labels, and the fields each kind of row carries; no ids, times, hosts or
    /// losses.
    pub fn normalised(&self) -> NormalisedRun {
        let counts = self
            .summary
            .counts
            .iter()
            .map(|c| (describe(c), c.rows))
            .collect();
        let mut fields: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for record in &self.records {
            let (kind, subtype, activity, status) = match record {
                Record::Workflow(w) => ("workflow", &w.subtype, &w.name, w.status),
                Record::Task(t) => ("task", &t.subtype, &t.activity_id, t.status),
            };
            let key = label(
                kind,
                subtype.as_deref(),
                activity,
                status.map(Status::as_str),
            );
            let value = serde_json::to_value(record).expect("records serialise to JSON");
            let names = fields.entry(key).or_default();
            let serde_json::Value::Object(map) = value else {
                continue;
            };
            for (name, inner) in map {
                // One level down for the maps whose keys say what was captured.
                let nested = matches!(
                    name.as_str(),
                    "used" | "generated" | "telemetry_at_start" | "telemetry_at_end"
                );
                match inner {
                    serde_json::Value::Object(inner) if nested => {
                        names.extend(inner.keys().map(|sub| format!("{name}.{sub}")));
                    }
                    _ => {
                        names.insert(name);
                    }
                }
            }
        }
        let mut tree = Vec::new();
        for campaign in &self.summary.campaigns {
            tree.push("campaign".to_owned());
            let blocks = campaign
                .workflows
                .iter()
                .map(|w| render_workflow(w, 1))
                .collect();
            tree.extend(fold(blocks));
        }
        NormalisedRun {
            lines: self.summary.lines,
            tutorial_rows: self.summary.tutorial_rows,
            counts,
            tree,
            fields: fields
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().collect()))
                .collect(),
        }
    }
}

/// Checks the links: one campaign; every `workflow_id`, `parent_workflow_id` and
/// `parent_task_id` resolves to a row of it; child forwards point to parent forwards, parent
/// forwards to loop iterations, epochs to `model_train`, batches to epochs.
fn structure_problems(records: &[Record]) -> Vec<String> {
    let mut problems = Vec::new();
    let campaigns: BTreeSet<&str> = records
        .iter()
        .map(|r| match r {
            Record::Workflow(w) => w.campaign_id.as_str(),
            Record::Task(t) => t.campaign_id.as_str(),
        })
        .collect();
    if campaigns.len() != 1 {
        problems.push(format!(
            "expected one campaign_id, found {}",
            campaigns.len()
        ));
    }
    let workflows: BTreeSet<&str> = records
        .iter()
        .filter_map(|r| match r {
            Record::Workflow(w) => Some(w.workflow_id.as_str()),
            Record::Task(_) => None,
        })
        .collect();
    let tasks: HashMap<&str, &TaskRecord> = records
        .iter()
        .filter_map(|r| match r {
            Record::Task(t) => Some((t.task_id.as_str(), t)),
            Record::Workflow(_) => None,
        })
        .collect();
    for record in records {
        match record {
            Record::Workflow(w) => {
                if let Some(parent) = &w.parent_workflow_id
                    && !workflows.contains(parent.as_str())
                {
                    problems.push(format!(
                        "workflow {} has parent_workflow_id {parent} with no row",
                        w.name
                    ));
                }
            }
            Record::Task(t) => {
                if !workflows.contains(t.workflow_id.as_str()) {
                    problems.push(format!(
                        "task {} ({}) has workflow_id {} with no workflow row",
                        t.task_id, t.activity_id, t.workflow_id
                    ));
                }
                let expected_parents = expected_parents(t);
                match (&t.parent_task_id, expected_parents) {
                    (None, Some(wanted)) => problems.push(format!(
                        "task {} ({}) has no parent_task_id; expected one of {wanted:?}",
                        t.task_id, t.activity_id
                    )),
                    (Some(parent), wanted) => match tasks.get(parent.as_str()) {
                        None => problems.push(format!(
                            "task {} ({}) has parent_task_id {parent} with no row",
                            t.task_id, t.activity_id
                        )),
                        Some(p) => {
                            let kind = p.subtype.as_deref().unwrap_or(&p.activity_id);
                            if let Some(wanted) = wanted
                                && !wanted.contains(&kind)
                            {
                                problems.push(format!(
                                    "task {} ({}) points to a {kind} task; expected one of \
                                     {wanted:?}",
                                    t.task_id, t.activity_id
                                ));
                            }
                        }
                    },
                    (None, None) => {}
                }
            }
        }
    }
    problems
}

/// What a task's parent must be, by the kind of task; `None` where the campaign does not
/// say.
fn expected_parents(task: &TaskRecord) -> Option<&'static [&'static str]> {
    match (task.subtype.as_deref(), task.activity_id.as_str()) {
        (Some("child_forward"), _) => Some(&["parent_forward"]),
        (Some("parent_forward"), _) => Some(&[
            "epochs_loop_iteration",
            "train_batch_iteration",
            "eval_batch_iteration",
        ]),
        (_, "epochs_loop_iteration") => Some(&["model_train"]),
        (_, "train_batch_iteration" | "eval_batch_iteration") => Some(&["epochs_loop_iteration"]),
        _ => None,
    }
}

/// Renders a workflow and everything under it, one line per node, at `depth`.
fn render_workflow(workflow: &WorkflowNode, depth: usize) -> Vec<String> {
    let name = workflow.name.as_deref().unwrap_or("<no workflow row>");
    let mut lines = vec![format!(
        "{}workflow {name}{}",
        "  ".repeat(depth),
        line_suffix(workflow.status, workflow.lines)
    )];
    let mut blocks: Vec<Vec<String>> = workflow
        .workflows
        .iter()
        .map(|w| render_workflow(w, depth + 1))
        .collect();
    blocks.extend(workflow.tasks.iter().map(|t| render_task(t, depth + 1)));
    lines.extend(fold(blocks));
    lines
}

/// Renders a task and its sub-tasks, one line per node, at `depth`.
fn render_task(task: &TaskNode, depth: usize) -> Vec<String> {
    let subtype = task
        .subtype
        .as_deref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let mut lines = vec![format!(
        "{}task {}{subtype}{}",
        "  ".repeat(depth),
        task.activity_id,
        line_suffix(task.status, task.lines)
    )];
    lines.extend(fold(
        task.tasks
            .iter()
            .map(|t| render_task(t, depth + 1))
            .collect(),
    ));
    lines
}

fn line_suffix(status: Option<Status>, lines: usize) -> String {
    let status = status
        .map(|s| format!(" {}", s.as_str()))
        .unwrap_or_default();
    format!(
        "{status}, {lines} line{}",
        if lines == 1 { "" } else { "s" }
    )
}

/// Sorts sibling blocks and folds identical ones into the first, marked `xN`: parallel
/// configs finish in any order, and 24 identical forwards read better as one line.
fn fold(mut blocks: Vec<Vec<String>>) -> Vec<String> {
    blocks.sort();
    let mut out: Vec<String> = Vec::new();
    let mut index = 0;
    while index < blocks.len() {
        let same = blocks[index..]
            .iter()
            .take_while(|b| **b == blocks[index])
            .count();
        let mut block = blocks[index].clone();
        if same > 1 {
            let _ = write!(block[0], " x{same}");
        }
        out.extend(block);
        index += same;
    }
    out
}

/// A run's summary without anything that changes between runs, for snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NormalisedRun {
    /// Lines of the file.
    pub lines: usize,
    /// Rows with each workflow counted once.
    pub tutorial_rows: usize,
    /// Rows by `type [subtype] activity [status]`.
    pub counts: BTreeMap<String, usize>,
    /// The campaign tree, one line per node, identical siblings folded.
    pub tree: Vec<String>,
    /// The fields each kind of row carries (`used.x`, `generated.x` and telemetry one level
    /// down).
    pub fields: BTreeMap<String, Vec<String>>,
}

impl ExpectedCount {
    fn describe(&self) -> String {
        label(
            &self.kind,
            self.subtype.as_deref(),
            &self.activity,
            self.status.as_deref(),
        )
    }
}

fn describe(count: &RowCount) -> String {
    label(
        &count.kind,
        count.subtype.as_deref(),
        &count.activity,
        count.status.map(Status::as_str),
    )
}

/// `type [subtype] activity [status]`, the way counts are named in reports.
fn label(kind: &str, subtype: Option<&str>, activity: &str, status: Option<&str>) -> String {
    let mut text = kind.to_owned();
    for part in [subtype, Some(activity), status].into_iter().flatten() {
        text.push(' ');
        text.push_str(part);
    }
    text
}
