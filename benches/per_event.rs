//! Per-event cost of capture: what one captured loop iteration or forward adds to the
//! thread that runs it.
//!
//! Every case runs the same small piece of work per iteration ([`work`]); the `bare`
//! case runs it alone, `capture_off` through the guards of [`Capture::disabled`], and
//! the others with capture on, writing to a scratch file in online mode. Events are timed
//! in bursts of [`BURST`] (one loop run per burst) and the capture is flushed between
//! bursts outside the timing: a training step takes milliseconds, so in real use the
//! writer thread keeps up and the capturing thread pays only for handing rows over,
//! which is what the target is about. The writer still serialises and writes on the
//! other core during a burst. Cases:
//!
//! - `loop_default`, `loop_lightweight`: an epoch-loop iteration in each mode, ended
//!   with `end_numbers(&[("loss", x)])` as the trainer ends its batch iterations;
//! - `loop_default_json`: `loop_default` ended with `end(json!({"loss": x}))` instead,
//!   the caller's map allocated on this thread and freed on the writer's (no target:
//!   it shows what an allocated output costs);
//! - `loop_default_sustained`: `loop_default` back to back without pauses, so that the
//!   queue fills and the loop runs at the writer's pace (no target: the writer bench
//!   measures that pace);
//! - `parent_forward`: a model forward row without tensor inspection;
//! - `child_forward`, `child_forward_tensors`: a child forward row under an open
//!   parent, without and with inspection of a fake input and output tensor;
//! - `telemetry_<kind>`, `telemetry_all`: a default-mode loop iteration with one
//!   telemetry kind (`cpu`, `per_cpu`, `process_info`, `mem`, `disk`, `network`), and
//!   with every kind, taken at its end: what each kind costs a task.
//!
//! The target is at most 0.2 µs added per loop iteration or forward row without
//! telemetry; the bench prints its table with the verdicts when it ends. Run it with
//!
//! ```text
//! cargo bench -p capture-benches --no-default-features --bench per_event
//! ```
//!
//! (`--no-default-features` spares building the trainer), and criterion's own options
//! after `--`, such as `--measurement-time 10` for a longer run.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use capture_benches::{FakeTensor, ScratchFile, capture_with, online_capture, work};
use capture_core::{Capture, ChildModule, TaskId, WorkflowId};
use criterion::{Criterion, criterion_main};
use serde_json::json;

/// Every telemetry kind (gpu is left out by the collector when NVML is absent).
const ALL_TELEMETRY: &str = "{cpu: true, per_cpu: true, process_info: true, mem: true, \
                             disk: true, network: true, gpu: true, machine_info: true}";

fn ids() -> (WorkflowId, TaskId) {
    (
        WorkflowId::from("bench-workflow"),
        TaskId::from("bench-task"),
    )
}

/// Events timed back to back before the writer is let catch up: an epoch's worth of
/// batches, well under the writer's queue.
const BURST: u64 = 1_000;

/// Times `iters` events in bursts of at most [`BURST`]: `burst(n)` times `n` events, and
/// the capture is flushed after it, outside the timing.
fn time_bursts(iters: u64, capture: &Capture, mut burst: impl FnMut(u64) -> Duration) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(BURST);
        total += burst(n);
        capture.flush();
        left -= n;
    }
    total
}

/// How a benchmarked iteration hands over its loss.
#[derive(Clone, Copy)]
enum Outputs {
    /// `end_numbers`, as the trainer does.
    Numbers,
    /// `end(json!(...))`.
    Json,
}

/// Times `n` iterations of one captured epoch loop, from opening it to dropping it (a
/// lightweight loop queues its rows then).
fn time_one_loop(capture: &Capture, n: u64, outputs: Outputs) -> Duration {
    let (workflow, task) = ids();
    let mut x = 1.0;
    let start = Instant::now();
    let epochs = capture.epoch_loop(&task, &workflow);
    for i in 0..n {
        let iteration = epochs.iteration(i);
        x = work(black_box(x));
        match outputs {
            Outputs::Numbers => iteration.end_numbers(&[("loss", x)]),
            Outputs::Json => iteration.end(json!({ "loss": x })),
        }
    }
    drop(epochs);
    start.elapsed()
}

/// Times `iters` captured epoch-loop iterations, in bursts, of a fresh capture opened by
/// `open`; the capture is closed (and its file removed) outside the timing.
fn time_loop(iters: u64, outputs: Outputs, open: impl FnOnce(&ScratchFile) -> Capture) -> Duration {
    let file = ScratchFile::new("per-event");
    let capture = open(&file);
    let elapsed = time_bursts(iters, &capture, |n| time_one_loop(&capture, n, outputs));
    drop(capture);
    elapsed
}

fn per_event(c: &mut Criterion) {
    let started = SystemTime::now();
    let mut group = c.benchmark_group("per_event");

    group.bench_function("bare", |b| {
        b.iter_custom(|iters| {
            let mut x = 1.0;
            let start = Instant::now();
            for _ in 0..iters {
                x = work(black_box(x));
            }
            start.elapsed()
        });
    });

    group.bench_function("capture_off", |b| {
        b.iter_custom(|iters| time_loop(iters, Outputs::Numbers, |_| Capture::disabled()));
    });

    for (name, outputs) in [
        ("loop_default", Outputs::Numbers),
        ("loop_default_json", Outputs::Json),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                time_loop(iters, outputs, |file| {
                    online_capture(file, "epoch_loop: default", false)
                })
            });
        });
    }

    group.bench_function("loop_default_sustained", |b| {
        b.iter_custom(|iters| {
            let file = ScratchFile::new("per-event");
            let capture = online_capture(&file, "epoch_loop: default", false);
            let elapsed = time_one_loop(&capture, iters, Outputs::Numbers);
            drop(capture);
            elapsed
        });
    });

    group.bench_function("loop_lightweight", |b| {
        b.iter_custom(|iters| {
            time_loop(iters, Outputs::Numbers, |file| {
                online_capture(file, "epoch_loop: lightweight", false)
            })
        });
    });

    group.bench_function("parent_forward", |b| {
        b.iter_custom(|iters| {
            let file = ScratchFile::new("per-event");
            let capture = online_capture(&file, "what: parent_only", false);
            let (workflow, task) = ids();
            // An epoch after the first: a row without tensor inspection.
            let plan = capture.forward_policy().for_epoch(1);
            let mut x = 1.0;
            let elapsed = time_bursts(iters, &capture, |n| {
                let start = Instant::now();
                for _ in 0..n {
                    let forward = capture.parent_forward(
                        &workflow,
                        "TransformerModel",
                        Some(&task),
                        &plan,
                        true,
                        None,
                    );
                    x = work(black_box(x));
                    forward.end(None);
                }
                start.elapsed()
            });
            drop(capture);
            elapsed
        });
    });

    for (name, mode, tensors) in [
        ("child_forward", "lightweight", false),
        ("child_forward_tensors", "tensor_inspection", true),
    ] {
        group.bench_function(name, |b| {
            let input = FakeTensor::input();
            let output = FakeTensor::output();
            // Described once, as the trainer does before training.
            let linear = ChildModule::new(
                "Linear",
                serde_json::Map::from_iter([
                    ("in_features".to_owned(), 200.into()),
                    ("out_features".to_owned(), 254.into()),
                    ("first_level_child".to_owned(), true.into()),
                ]),
            );
            b.iter_custom(|iters| {
                let file = ScratchFile::new("per-event");
                let torch = format!("what: parent_and_children\nchildren_mode: {mode}");
                let capture = online_capture(&file, &torch, false);
                let (workflow, task) = ids();
                // The first epoch: children are captured, and inspected in that mode.
                let plan = capture.forward_policy().for_epoch(0);
                let parent = capture.parent_forward(
                    &workflow,
                    "TransformerModel",
                    Some(&task),
                    &plan,
                    true,
                    None,
                );
                let (input, output) = if tensors {
                    (Some(&input as _), Some(&output as _))
                } else {
                    (None, None)
                };
                let mut x = 1.0;
                let elapsed = time_bursts(iters, &capture, |n| {
                    let start = Instant::now();
                    for _ in 0..n {
                        let child = parent.child_module(&linear, input);
                        x = work(black_box(x));
                        child.end(output);
                    }
                    start.elapsed()
                });
                parent.end(None);
                drop(capture);
                elapsed
            });
        });
    }

    for (name, telemetry) in [
        ("telemetry_cpu", "{cpu: true}"),
        ("telemetry_per_cpu", "{per_cpu: true}"),
        ("telemetry_process_info", "{process_info: true}"),
        ("telemetry_mem", "{mem: true}"),
        ("telemetry_disk", "{disk: true}"),
        ("telemetry_network", "{network: true}"),
        ("telemetry_all", ALL_TELEMETRY),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                time_loop(iters, Outputs::Numbers, |file| {
                    capture_with(file, "epoch_loop: default", false, "online", telemetry)
                })
            });
        });
    }

    group.finish();
    capture_benches::print_summary("per_event", started);
}

/// Runs the group with this bench's settings; criterion's command-line options (after
/// `--`) apply on top of them.
fn benches() {
    let mut criterion = capture_benches::criterion()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    per_event(&mut criterion);
}
criterion_main!(benches);
