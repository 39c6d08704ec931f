//! A timing report of the capture hot path and the writer, not a pass/fail test; run it
//! with
//! `cargo test -p capture-core --release --test hot_path_timings_are_reported -- --ignored --nocapture`
//! (`HOT_PATH_N` sets the events per case). The benches crate measures the same with
//! criterion; this is the quick look, and a target for `valgrind --tool=callgrind`.

use std::hint::black_box;
use std::time::Instant;

use capture_core::{Capture, CaptureOptions, FlushMode, Settings, TaskId, WorkflowId};
use serde_json::json;

fn events() -> usize {
    std::env::var("HOT_PATH_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000)
}

fn capture(dir: &std::path::Path, mode: FlushMode, epoch_loop: &str) -> Capture {
    let mut settings = Settings::from_yaml_str(&format!(
        "project: {{enrich_messages: true}}\ninstrumentation:\n  enabled: true\n  \
         torch: {{what: parent_and_children, children_mode: lightweight, epoch_loop: {epoch_loop}}}\n"
    ))
    .unwrap();
    settings.project.db_flush_mode = mode;
    let output = dir.join(format!("{mode:?}-{epoch_loop}.jsonl"));
    Capture::start(
        settings,
        CaptureOptions {
            output: Some(output),
            ..Default::default()
        },
    )
    .unwrap()
}

fn report(name: &str, n: usize, start: Instant) {
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    println!("{name:<52} {ns:>8.1} ns/event {:>10.0} events/s", 1e9 / ns);
}

#[inline(never)]
fn produce_iterations(capture: &Capture, task: &TaskId, wf: &WorkflowId, n: usize) {
    let lp = capture.epoch_loop(task, wf);
    for (i, it) in lp.wrap(0..n) {
        black_box(i);
        it.end(json!({"loss": 1.5}));
    }
}

#[inline(never)]
fn produce_forwards(capture: &Capture, task: &TaskId, wf: &WorkflowId, n: usize) {
    let plan = capture.forward_policy().for_epoch(0);
    for _ in 0..n {
        let f = capture.parent_forward(wf, "Model", Some(task), &plan, true, None);
        f.end(None);
    }
}

#[inline(never)]
fn produce_children(capture: &Capture, task: &TaskId, wf: &WorkflowId, n: usize) {
    let plan = capture.forward_policy().for_epoch(0);
    let f = capture.parent_forward(wf, "Model", Some(task), &plan, true, None);
    for _ in 0..n {
        f.child("Linear", None).end(None);
    }
    f.end(None);
}

type Producer = fn(&Capture, &TaskId, &WorkflowId, usize);

#[test]
#[ignore = "a timing report; run with --release -- --ignored --nocapture"]
fn hot_path_timings() {
    let n = events();
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, Producer); 4] = [
        ("default loop iteration", "default", produce_iterations),
        (
            "lightweight loop iteration",
            "lightweight",
            produce_iterations,
        ),
        ("parent forward", "default", produce_forwards),
        ("child forward", "default", produce_children),
    ];
    for mode in [FlushMode::Offline, FlushMode::Online] {
        for (name, loop_mode, produce) in cases {
            let capture = capture(dir.path(), mode, loop_mode);
            let wf = capture.workflow("W").start();
            let task = capture.task("model_train", wf.id()).start();
            let start = Instant::now();
            produce(&capture, task.id(), wf.id(), n);
            report(&format!("{mode:?} {name}: producing"), n, start);
            let start = Instant::now();
            capture.flush();
            report(&format!("{mode:?} {name}: writing what is left"), n, start);
            drop((task, wf));
            let written = capture.finish().unwrap();
            assert!(written.rows as usize >= n);
        }
    }
    // Bursts shorter than the queue: the capturing thread's own cost, without waiting
    // for the writer.
    let burst = capture_core::writer::QUEUE_ROWS / 2;
    for (name, loop_mode, produce) in cases {
        let capture = capture(dir.path(), FlushMode::Online, loop_mode);
        let wf = capture.workflow("W").start();
        let task = capture.task("model_train", wf.id()).start();
        let mut best = f64::MAX;
        for _ in 0..20 {
            let start = Instant::now();
            produce(&capture, task.id(), wf.id(), burst);
            best = best.min(start.elapsed().as_nanos() as f64 / burst as f64);
            capture.flush();
        }
        println!(
            "{:<52} {best:>8.1} ns/event (best of 20 bursts)",
            format!("burst {name}")
        );
        drop((task, wf));
        capture.finish().unwrap();
    }
    let off = Capture::disabled();
    let wf = off.workflow("W").start();
    let task = off.task("t", wf.id()).start();
    let start = Instant::now();
    produce_iterations(&off, task.id(), wf.id(), n);
    report("disabled loop iteration", n, start);
}
