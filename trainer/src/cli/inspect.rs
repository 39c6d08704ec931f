//! `trainer inspect FILE`: the reader's summary of a capture file, printed for a person.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use capture_core::{Summary, TaskNode, WorkflowNode};

use super::plot::{self, LossSeries};

/// Reads `file`, prints its summary and, with `plot`, draws its losses into a PNG.
pub fn run(file: &Path, plot: Option<&Path>) -> anyhow::Result<()> {
    // A run killed mid-write may leave its last line cut short: report it, read the rest.
    let read = capture_core::read_jsonl_tolerant(file)?;
    let summary = Summary::of(&read.records);
    print!("{}", render(file, &summary));
    if let Some(line) = read.torn_last_line {
        println!("\ntorn: line {line} was cut short by the run's end (not a whole row); ignored");
    }
    if let Some(png) = plot {
        plot::draw(&loss_series(&summary), png)
            .with_context(|| format!("cannot plot the losses of {}", file.display()))?;
        println!("plot: {}", png.display());
    }
    Ok(())
}

/// Formats the whole summary.
pub fn render(file: &Path, summary: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "file: {}", file.display());
    let _ = writeln!(
        out,
        "lines: {}  tutorial_rows: {} (each workflow counted once)",
        summary.lines, summary.tutorial_rows
    );
    let _ = writeln!(out, "\nrows by kind:");
    let _ = writeln!(
        out,
        "  {:>5}  {:<8} {:<15} {:<24} status",
        "rows", "type", "subtype", "activity"
    );
    for count in &summary.counts {
        let _ = writeln!(
            out,
            "  {:>5}  {:<8} {:<15} {:<24} {}",
            count.rows,
            count.kind,
            count.subtype.as_deref().unwrap_or("-"),
            count.activity,
            count.status.map(|s| s.as_str()).unwrap_or("-"),
        );
    }
    let _ = writeln!(out, "\ntree:");
    for campaign in &summary.campaigns {
        let _ = writeln!(out, "  campaign {}", campaign.campaign_id);
        for workflow in &campaign.workflows {
            write_workflow(&mut out, workflow, 2);
        }
    }
    if summary.unfinished.is_empty() {
        let _ = writeln!(
            out,
            "\nunfinished: none (every workflow and task has its end row)"
        );
    } else {
        let _ = writeln!(
            out,
            "\nunfinished: {} left without an end row (the run stopped before they ended)",
            summary.unfinished.len()
        );
        for item in &summary.unfinished {
            let _ = writeln!(out, "  {} {} {}", item.kind, item.name, item.id);
        }
    }
    let series = loss_series(summary);
    if series.is_empty() {
        let _ = writeln!(
            out,
            "\nlosses: no epoch rows (capture them with epoch_loop: default)"
        );
    } else {
        let _ = writeln!(out, "\nlosses per epoch:");
        let _ = writeln!(
            out,
            "  {:<10} {:>5} {:>12} {:>12}",
            "config", "epoch", "train_loss", "val_loss"
        );
        for s in &series {
            for (epoch, train, val) in &s.points {
                let _ = writeln!(
                    out,
                    "  {:<10} {epoch:>5} {train:>12.4} {val:>12.4}",
                    s.label
                );
            }
        }
    }
    out
}

/// Groups epoch losses by the `model_train` task they belong to, in file order.
fn loss_series(summary: &Summary) -> Vec<LossSeries> {
    let mut by_parent: BTreeMap<usize, LossSeries> = BTreeMap::new();
    let mut order: Vec<Option<String>> = Vec::new();
    for loss in &summary.epoch_losses {
        let index = match order.iter().position(|p| *p == loss.parent_task_id) {
            Some(index) => index,
            None => {
                order.push(loss.parent_task_id.clone());
                order.len() - 1
            }
        };
        let series = by_parent.entry(index).or_insert_with(|| LossSeries {
            label: format!("config {index}"),
            points: Vec::new(),
        });
        series.points.push((
            loss.epoch as usize + 1,
            loss.train_loss.unwrap_or(f64::NAN),
            loss.val_loss.unwrap_or(f64::NAN),
        ));
    }
    let mut series: Vec<LossSeries> = by_parent.into_values().collect();
    for s in &mut series {
        s.points.sort_by_key(|p| p.0);
    }
    series
}

fn write_workflow(out: &mut String, workflow: &WorkflowNode, depth: usize) {
    let _ = writeln!(
        out,
        "{}workflow {} [{}] {}",
        "  ".repeat(depth),
        workflow.name.as_deref().unwrap_or("<no workflow row>"),
        workflow.status.map(|s| s.as_str()).unwrap_or("-"),
        workflow.workflow_id
    );
    for child in &workflow.workflows {
        write_workflow(out, child, depth + 1);
    }
    write_tasks(out, &workflow.tasks, depth + 1);
}

/// Writes tasks, folding runs of leaf tasks of the same kind into one line with a count so
/// that 24 forwards do not fill the screen.
fn write_tasks(out: &mut String, tasks: &[TaskNode], depth: usize) {
    let mut index = 0;
    while index < tasks.len() {
        let task = &tasks[index];
        let label = |t: &TaskNode| {
            let subtype = t
                .subtype
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            format!(
                "{}{subtype} [{}]",
                t.activity_id,
                t.status.map(|s| s.as_str()).unwrap_or("-")
            )
        };
        if task.tasks.is_empty() {
            let same = tasks[index..]
                .iter()
                .take_while(|t| t.tasks.is_empty() && label(t) == label(task))
                .count();
            let count = if same > 1 {
                format!(" x{same}")
            } else {
                String::new()
            };
            let _ = writeln!(out, "{}task {}{count}", "  ".repeat(depth), label(task));
            index += same;
        } else {
            let _ = writeln!(
                out,
                "{}task {} {}",
                "  ".repeat(depth),
                label(task),
                task.task_id
            );
            write_tasks(out, &task.tasks, depth + 1);
            index += 1;
        }
    }
}
