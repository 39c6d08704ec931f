//! Reading a buffer file back, and summarising it.
//!
//! [`read_jsonl`] turns each line into a [`Record`]; a line that is not a JSON object of
//! the right shape gives a [`ReadError`] naming the file and the 1-based line number,
//! never a panic. Empty lines are skipped. Files written by Flowcept itself read too
//! (rows without `type` are inferred, unknown keys kept).
//!
//! [`Summary`] condenses records into what a person checks first: row counts by
//! (type, subtype, activity, status), `lines` and `tutorial_rows` as SPEC §4 counts
//! them, the campaign → workflow → task tree, what was left unfinished, and the losses
//! of each epoch.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::record::{Record, Status};

/// Why a buffer file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a row.
    #[error("{}:{line}: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
}

/// Reads every row of a JSONL buffer file.
///
/// # Errors
///
/// [`ReadError::Io`] when the file cannot be read, [`ReadError::Malformed`] naming the
/// first bad line.
pub fn read_jsonl(path: &Path) -> Result<Vec<Record>, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_jsonl(&bytes, path)
}

/// Parses JSONL bytes; `path` only names the source in errors.
///
/// # Errors
///
/// [`ReadError::Malformed`] naming the first bad line.
pub fn parse_jsonl(bytes: &[u8], path: &Path) -> Result<Vec<Record>, ReadError> {
    let mut records = Vec::new();
    for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let malformed = |message: String| ReadError::Malformed {
            path: path.to_path_buf(),
            line: index + 1,
            message,
        };
        let text = std::str::from_utf8(line)
            .map_err(|err| malformed(format!("not valid UTF-8 ({err})")))?;
        if text.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(text).map_err(|err| malformed(format!("not JSON: {err}")))?;
        let record = Record::from_json(value).map_err(|err| malformed(err.to_string()))?;
        records.push(record);
    }
    Ok(records)
}

/// What [`read_jsonl_tolerant`] read: the records, and the torn last line a crash left,
/// if any.
#[derive(Clone, Debug, PartialEq)]
pub struct TolerantRead {
    /// Every whole row.
    pub records: Vec<Record>,
    /// The 1-based number of a last line that has no newline and does not parse (a
    /// write cut short by the process being killed).
    pub torn_last_line: Option<usize>,
}

/// Reads a buffer file the way it is after a crash: as [`read_jsonl`], except that a
/// last line without its newline that does not parse is reported instead of failing
/// the read. Any other malformed line is still an error.
///
/// # Errors
///
/// As [`read_jsonl`], for lines other than a torn last one.
pub fn read_jsonl_tolerant(path: &Path) -> Result<TolerantRead, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let whole_end = match bytes.last() {
        None | Some(b'\n') => bytes.len(),
        Some(_) => bytes
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |at| at + 1),
    };
    let records = parse_jsonl(&bytes[..whole_end], path)?;
    let tail = &bytes[whole_end..];
    if tail.is_empty() {
        return Ok(TolerantRead {
            records,
            torn_last_line: None,
        });
    }
    let line = bytes[..whole_end].iter().filter(|b| **b == b'\n').count() + 1;
    let mut records = records;
    match parse_jsonl(tail, path) {
        Ok(last) => {
            records.extend(last);
            Ok(TolerantRead {
                records,
                torn_last_line: None,
            })
        }
        Err(_) => {
            tracing::warn!(path = %path.display(), line, "the last line is torn; it is left out");
            Ok(TolerantRead {
                records,
                torn_last_line: Some(line),
            })
        }
    }
}

/// Reads a file and summarises it.
///
/// # Errors
///
/// As [`read_jsonl`].
pub fn summarize(path: &Path) -> Result<Summary, ReadError> {
    Ok(Summary::of(&read_jsonl(path)?))
}

/// What a buffer file holds, condensed.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Rows in the file, as Flowcept writes them (a workflow opened as a context twice).
    pub lines: usize,
    /// Rows with each workflow counted once (the tutorial README's figure).
    pub tutorial_rows: usize,
    /// Row counts by (type, subtype, activity, status), sorted.
    pub counts: Vec<RowCount>,
    /// The campaign → workflow → task tree, in order of first appearance.
    pub campaigns: Vec<CampaignNode>,
    /// Workflows and tasks with a `RUNNING` row and no end row.
    pub unfinished: Vec<Unfinished>,
    /// Losses of each captured epoch, from `epochs_loop_iteration` rows.
    pub epoch_losses: Vec<EpochLoss>,
}

/// How many rows share a (type, subtype, activity, status).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RowCount {
    /// `workflow` or `task`.
    pub kind: String,
    /// The subtype, when rows have one.
    pub subtype: Option<String>,
    /// The task's `activity_id`, or the workflow's name.
    pub activity: String,
    /// The status, when rows have one.
    pub status: Option<Status>,
    /// Number of rows.
    pub rows: usize,
}

/// One campaign of the tree.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CampaignNode {
    /// The campaign id.
    pub campaign_id: String,
    /// Its workflows, in order of first appearance (nested under their parents).
    pub workflows: Vec<WorkflowNode>,
}

/// One workflow of the tree.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkflowNode {
    /// The workflow id.
    pub workflow_id: String,
    /// Its name; `None` when tasks point to it but no workflow row exists.
    pub name: Option<String>,
    /// The status of its last row.
    pub status: Option<Status>,
    /// Rows the workflow wrote.
    pub lines: usize,
    /// Workflows whose parent this one is.
    pub workflows: Vec<WorkflowNode>,
    /// Tasks of this workflow whose parent task is not in the file.
    pub tasks: Vec<TaskNode>,
}

/// One task of the tree (all rows with its `task_id`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskNode {
    /// The task id.
    pub task_id: String,
    /// What the task does.
    pub activity_id: String,
    /// Its subtype, when it has one.
    pub subtype: Option<String>,
    /// The status of its last row.
    pub status: Option<Status>,
    /// Rows the task wrote.
    pub lines: usize,
    /// Tasks whose parent this one is, in any workflow.
    pub tasks: Vec<TaskNode>,
}

/// A workflow or task left without an end row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unfinished {
    /// `workflow` or `task`.
    pub kind: String,
    /// Its id.
    pub id: String,
    /// Its name or activity.
    pub name: String,
}

/// The losses one epoch iteration generated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpochLoss {
    /// The task the epoch loop ran in (`model_train`).
    pub parent_task_id: Option<String>,
    /// `used.i` of the iteration (0-based).
    pub epoch: u64,
    /// `generated.train_loss`.
    pub train_loss: Option<f64>,
    /// `generated.val_loss`.
    pub val_loss: Option<f64>,
}

impl Summary {
    /// Condenses records (in file order).
    pub fn of(records: &[Record]) -> Summary {
        let mut counts: BTreeMap<(String, Option<String>, String, Option<Status>), usize> =
            BTreeMap::new();
        let mut workflow_ids = HashSet::new();
        let mut task_lines = 0;
        let mut epoch_losses = Vec::new();
        for record in records {
            match record {
                Record::Workflow(w) => {
                    workflow_ids.insert(w.workflow_id.as_str());
                    let key = (
                        "workflow".into(),
                        w.subtype.clone(),
                        w.name.clone(),
                        w.status,
                    );
                    *counts.entry(key).or_default() += 1;
                }
                Record::Task(t) => {
                    task_lines += 1;
                    let key = (
                        "task".into(),
                        t.subtype.clone(),
                        t.activity_id.clone(),
                        t.status,
                    );
                    *counts.entry(key).or_default() += 1;
                    if t.activity_id == "epochs_loop_iteration" {
                        let number = |v: Option<&Value>, key: &str| {
                            v.and_then(|v| v.get(key)).and_then(Value::as_f64)
                        };
                        epoch_losses.push(EpochLoss {
                            parent_task_id: t.parent_task_id.clone(),
                            epoch: t
                                .used
                                .as_ref()
                                .and_then(|u| u.get("i"))
                                .and_then(Value::as_u64)
                                .unwrap_or(0),
                            train_loss: number(t.generated.as_ref(), "train_loss"),
                            val_loss: number(t.generated.as_ref(), "val_loss"),
                        });
                    }
                }
            }
        }
        let counts = counts
            .into_iter()
            .map(|((kind, subtype, activity, status), rows)| RowCount {
                kind,
                subtype,
                activity,
                status,
                rows,
            })
            .collect();
        let (campaigns, unfinished) = Tree::build(records);
        Summary {
            lines: records.len(),
            tutorial_rows: task_lines + workflow_ids.len(),
            counts,
            campaigns,
            unfinished,
            epoch_losses,
        }
    }

    /// Returns how many rows have this activity (a task's) or name (a workflow's).
    pub fn rows_of(&self, activity: &str) -> usize {
        self.counts
            .iter()
            .filter(|c| c.activity == activity)
            .map(|c| c.rows)
            .sum()
    }

    /// Returns how many rows have this subtype.
    pub fn rows_of_subtype(&self, subtype: &str) -> usize {
        self.counts
            .iter()
            .filter(|c| c.subtype.as_deref() == Some(subtype))
            .map(|c| c.rows)
            .sum()
    }
}

/// Nodes already placed in the tree.
#[derive(Default)]
struct Seen {
    workflows: HashSet<usize>,
    tasks: HashSet<usize>,
}

/// Who is whose child, by index into the tree's entries.
struct Links<'m, 'a> {
    child_workflows: &'m HashMap<&'a str, Vec<usize>>,
    root_tasks: &'m HashMap<&'a str, Vec<usize>>,
    child_tasks: &'m HashMap<&'a str, Vec<usize>>,
}

/// Builds the campaign tree from rows.
struct Tree<'a> {
    workflows: Vec<WorkflowEntry<'a>>,
    workflow_index: HashMap<&'a str, usize>,
    tasks: Vec<TaskEntry<'a>>,
    task_index: HashMap<&'a str, usize>,
}

struct WorkflowEntry<'a> {
    id: &'a str,
    campaign: &'a str,
    name: Option<&'a str>,
    parent: Option<&'a str>,
    status: Option<Status>,
    lines: usize,
    started: bool,
}

struct TaskEntry<'a> {
    id: &'a str,
    workflow: &'a str,
    activity: &'a str,
    subtype: Option<&'a str>,
    parent: Option<&'a str>,
    status: Option<Status>,
    lines: usize,
    started: bool,
}

impl<'a> Tree<'a> {
    fn build(records: &'a [Record]) -> (Vec<CampaignNode>, Vec<Unfinished>) {
        let mut tree = Tree {
            workflows: Vec::new(),
            workflow_index: HashMap::new(),
            tasks: Vec::new(),
            task_index: HashMap::new(),
        };
        for record in records {
            match record {
                Record::Workflow(w) => {
                    let at = tree.workflow(&w.workflow_id, &w.campaign_id);
                    let entry = &mut tree.workflows[at];
                    entry.name = Some(&w.name);
                    entry.parent = w.parent_workflow_id.as_deref().or(entry.parent);
                    entry.lines += 1;
                    if w.status.is_some() {
                        entry.status = w.status;
                    }
                    entry.started |= w.status == Some(Status::Running);
                }
                Record::Task(t) => {
                    tree.workflow(&t.workflow_id, &t.campaign_id);
                    let at = match tree.task_index.get(t.task_id.as_str()) {
                        Some(at) if !t.task_id.is_empty() => *at,
                        _ => {
                            tree.tasks.push(TaskEntry {
                                id: &t.task_id,
                                workflow: &t.workflow_id,
                                activity: &t.activity_id,
                                subtype: t.subtype.as_deref(),
                                parent: t.parent_task_id.as_deref(),
                                status: None,
                                lines: 0,
                                started: false,
                            });
                            tree.task_index.insert(&t.task_id, tree.tasks.len() - 1);
                            tree.tasks.len() - 1
                        }
                    };
                    let entry = &mut tree.tasks[at];
                    entry.lines += 1;
                    if t.status.is_some() {
                        entry.status = t.status;
                    }
                    entry.started |= t.status == Some(Status::Running);
                }
            }
        }
        let unfinished = tree.unfinished();
        (tree.campaigns(), unfinished)
    }

    fn workflow(&mut self, id: &'a str, campaign: &'a str) -> usize {
        if let Some(at) = self.workflow_index.get(id) {
            return *at;
        }
        self.workflows.push(WorkflowEntry {
            id,
            campaign,
            name: None,
            parent: None,
            status: None,
            lines: 0,
            started: false,
        });
        self.workflow_index.insert(id, self.workflows.len() - 1);
        self.workflows.len() - 1
    }

    fn unfinished(&self) -> Vec<Unfinished> {
        let workflows = self
            .workflows
            .iter()
            .filter(|w| w.started && !w.status.is_some_and(Status::is_end))
            .map(|w| Unfinished {
                kind: "workflow".into(),
                id: w.id.into(),
                name: w.name.unwrap_or_default().into(),
            });
        let tasks = self
            .tasks
            .iter()
            .filter(|t| t.started && !t.status.is_some_and(Status::is_end))
            .map(|t| Unfinished {
                kind: "task".into(),
                id: t.id.into(),
                name: t.activity.into(),
            });
        workflows.chain(tasks).collect()
    }

    fn campaigns(&self) -> Vec<CampaignNode> {
        // Children lists by parent, in file order.
        let mut child_tasks: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut root_tasks: HashMap<&str, Vec<usize>> = HashMap::new();
        for (at, task) in self.tasks.iter().enumerate() {
            match task
                .parent
                .filter(|p| self.task_index.contains_key(p) && *p != task.id)
            {
                Some(parent) => child_tasks.entry(parent).or_default().push(at),
                None => root_tasks.entry(task.workflow).or_default().push(at),
            }
        }
        let mut child_workflows: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut root_workflows: Vec<usize> = Vec::new();
        for (at, workflow) in self.workflows.iter().enumerate() {
            match workflow
                .parent
                .filter(|p| self.workflow_index.contains_key(p) && *p != workflow.id)
            {
                Some(parent) => child_workflows.entry(parent).or_default().push(at),
                None => root_workflows.push(at),
            }
        }
        let mut campaigns: Vec<CampaignNode> = Vec::new();
        let mut seen = Seen::default();
        for at in root_workflows {
            let campaign = self.workflows[at].campaign;
            let links = Links {
                child_workflows: &child_workflows,
                root_tasks: &root_tasks,
                child_tasks: &child_tasks,
            };
            let node = self.workflow_node(at, &links, &mut seen);
            match campaigns.iter_mut().find(|c| c.campaign_id == campaign) {
                Some(c) => c.workflows.push(node),
                None => campaigns.push(CampaignNode {
                    campaign_id: campaign.into(),
                    workflows: vec![node],
                }),
            }
        }
        campaigns
    }

    fn workflow_node(&self, at: usize, links: &Links<'_, '_>, seen: &mut Seen) -> WorkflowNode {
        let w = &self.workflows[at];
        seen.workflows.insert(at);
        let mut workflows = Vec::new();
        for child in links.child_workflows.get(w.id).into_iter().flatten() {
            // A parent cycle (only in a hand-edited file) must not recurse forever.
            if !seen.workflows.contains(child) {
                workflows.push(self.workflow_node(*child, links, seen));
            }
        }
        let mut tasks = Vec::new();
        for root in links.root_tasks.get(w.id).into_iter().flatten() {
            if !seen.tasks.contains(root) {
                tasks.push(self.task_node(*root, links.child_tasks, seen));
            }
        }
        WorkflowNode {
            workflow_id: w.id.into(),
            name: w.name.map(str::to_owned),
            status: w.status,
            lines: w.lines,
            workflows,
            tasks,
        }
    }

    fn task_node(
        &self,
        at: usize,
        child_tasks: &HashMap<&str, Vec<usize>>,
        seen: &mut Seen,
    ) -> TaskNode {
        let t = &self.tasks[at];
        seen.tasks.insert(at);
        let mut tasks = Vec::new();
        for child in child_tasks.get(t.id).into_iter().flatten() {
            if !seen.tasks.contains(child) {
                tasks.push(self.task_node(*child, child_tasks, seen));
            }
        }
        TaskNode {
            task_id: t.id.into(),
            activity_id: t.activity.into(),
            subtype: t.subtype.map(str::to_owned),
            status: t.status,
            lines: t.lines,
            tasks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name)
    }

    #[test]
    fn a_malformed_line_is_named_by_file_and_number() {
        let err =
            parse_jsonl(b"{\"type\":\"task\"}\n\nnot json\n", Path::new("b.jsonl")).unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("b.jsonl:3: not JSON"), "{message}");
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        let err = parse_jsonl(b"\xff\xfe\n", Path::new("x")).unwrap_err();
        assert!(err.to_string().contains("x:1: not valid UTF-8"));
    }

    #[test]
    fn a_torn_last_line_is_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crash.jsonl");
        let whole = "{\"type\":\"task\",\"task_id\":\"a\"}\n";
        std::fs::write(&path, format!("{whole}{whole}{{\"type\":\"ta")).unwrap();
        assert!(read_jsonl(&path).is_err());
        let read = read_jsonl_tolerant(&path).unwrap();
        assert_eq!((read.records.len(), read.torn_last_line), (2, Some(3)));
        std::fs::write(&path, format!("{whole}{}", whole.trim_end())).unwrap();
        let read = read_jsonl_tolerant(&path).unwrap();
        assert_eq!((read.records.len(), read.torn_last_line), (2, None));
        std::fs::write(&path, format!("bad\n{whole}")).unwrap();
        assert!(
            read_jsonl_tolerant(&path).is_err(),
            "a bad line in the middle is an error"
        );
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = read_jsonl(Path::new("/no/such/file.jsonl")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read /no/such/file.jsonl")
        );
    }

    #[test]
    fn a_small_run_is_summarised() {
        let summary = summarize(&fixture("small-run.jsonl")).expect("the fixture reads");
        assert_eq!(summary.lines, 8);
        assert_eq!(summary.tutorial_rows, 7);
        assert_eq!(summary.rows_of("epochs_loop_iteration"), 2);
        assert_eq!(summary.epoch_losses.len(), 2);
        assert_eq!(summary.epoch_losses[1].val_loss, Some(3.5));
        let campaign = &summary.campaigns[0];
        assert_eq!(campaign.workflows.len(), 1);
        let search = &campaign.workflows[0];
        assert_eq!(search.name.as_deref(), Some("SearchWorkflow"));
        assert_eq!(search.workflows[0].name.as_deref(), Some("Model"));
        let train = &search.tasks[0];
        assert_eq!(train.activity_id, "model_train");
        assert_eq!(train.lines, 2);
        assert_eq!(train.tasks.len(), 2);
        assert_eq!(
            train.tasks[0].tasks[0].subtype.as_deref(),
            Some("parent_forward")
        );
        assert!(summary.unfinished.is_empty());
    }

    #[test]
    fn rows_without_an_end_are_unfinished() {
        let records = parse_jsonl(
            br#"{"type":"workflow","workflow_id":"w","campaign_id":"c","name":"S","status":"RUNNING"}
{"type":"task","task_id":"t","workflow_id":"w","campaign_id":"c","activity_id":"model_train","status":"RUNNING"}
"#,
            Path::new("crash.jsonl"),
        )
        .unwrap();
        let summary = Summary::of(&records);
        let names: Vec<&str> = summary.unfinished.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["S", "model_train"]);
    }

    #[test]
    fn flowcepts_own_files_read() {
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/flowcept-tutorial");
        let Ok(summary) = summarize(&dir.join("level-6.jsonl")) else {
            return; // The reference files live outside the repository.
        };
        assert_eq!(summary.lines, 59);
        assert_eq!(summary.tutorial_rows, 57);
        assert_eq!(summary.rows_of_subtype("child_forward"), 24);
    }
}
