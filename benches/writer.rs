//! Writer throughput: rows per second (and bytes per second) from the capturing thread
//! into the JSONL buffer file, in online and offline mode.
//!
//! One iteration sends 10 000 rows and its timing ends when the capture's flush returns,
//! that is when every row is serialised and handed to the operating system (online:
//! as the writer thread keeps up; offline: all at the flush). The file is in `/dev/shm`
//! when the machine has it, so the pace is the writer's and not the disk's. Rows:
//!
//! - `small`: epoch-loop iterations made and ended as the trainer does it (`used: {i,
//!   epoch}`, `generated: {loss}`), without enrichment or telemetry: the case the target
//!   of at least one million rows per second is about. Making the rows is timed too.
//! - `level7`: rows the size of level 7's: an epoch row with a cpu `telemetry_at_end`
//!   and `generated` losses, enriched with the host facts on the writer thread. They go
//!   through [`Capture::write_record`] (the path of `model_train` and workflow rows),
//!   built before the timing starts from one snapshot: the writer is measured, not
//!   telemetry (the per-event bench measures taking it) nor the copying of records.
//!
//! Criterion reports rows per second (its `Elements` throughput); the mean size of a row,
//! measured once per kind before the runs, is left in `row_bytes.json` beside criterion's
//! folder of each benchmark, from which the report computes MB/s. Run it with
//!
//! ```text
//! cargo bench -p capture-benches --no-default-features --bench writer
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use capture_benches::{ScratchFile, capture_with, criterion_dir, report};
use capture_core::{
    Capture, Record, Status, TaskId, TaskRecord, TelemetryCollector, TelemetrySettings, WorkflowId,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use serde_json::json;

/// Rows sent per iteration.
const ROWS: u64 = 10_000;

/// The kinds of row the bench writes.
#[derive(Clone, Copy, Debug)]
enum RowKind {
    Small,
    Level7,
}

impl RowKind {
    fn name(self) -> &'static str {
        match self {
            RowKind::Small => "small",
            RowKind::Level7 => "level7",
        }
    }
}

/// Makes the rows of one kind.
struct Producer {
    kind: RowKind,
    template: TaskRecord,
}

impl Producer {
    fn new(kind: RowKind, capture: &Capture) -> Self {
        let mut collector = TelemetryCollector::new(TelemetrySettings {
            cpu: true,
            ..TelemetrySettings::default()
        });
        let telemetry = collector.snapshot();
        let template = TaskRecord {
            task_id: "9f86d081884c7d65-1234".into(),
            workflow_id: "6f1e2b9c-8d3a-4c5e-9f7a-1b2c3d4e5f60".into(),
            campaign_id: capture.campaign_id().to_owned(),
            activity_id: "epochs_loop_iteration".into(),
            parent_task_id: Some("9f86d081884c7d65-1".into()),
            group_id: Some("9f86d081884c7d65-2".into()),
            used: Some(json!({"i": 0, "epoch": 1})),
            generated: Some(json!({"train_loss": 5.481_239, "val_loss": 5.291_847})),
            status: Some(Status::Finished),
            started_at: Some(1_733_245_200.123_456),
            ended_at: Some(1_733_245_200.456_789),
            utc_timestamp: Some(1_733_245_200.456_789),
            telemetry_at_end: Some(telemetry),
            ..TaskRecord::default()
        };
        Producer { kind, template }
    }

    /// Returns what [`Producer::send`] needs to send `n` rows: the records of a
    /// `level7` batch (nothing for `small` rows, which are made as they are sent).
    fn prepare(&self, n: u64) -> Vec<Record> {
        match self.kind {
            RowKind::Small => Vec::new(),
            RowKind::Level7 => (0..n)
                .map(|_| Record::Task(self.template.clone()))
                .collect(),
        }
    }

    /// Sends `n` rows through `capture`, `prepared` by [`Producer::prepare`].
    fn send(&self, capture: &Capture, n: u64, prepared: Vec<Record>) {
        match self.kind {
            RowKind::Small => {
                let workflow = WorkflowId::from("bench-workflow");
                let epochs = capture.epoch_loop(&TaskId::from("bench-task"), &workflow);
                for i in 0..n {
                    let iteration = epochs.iteration(i);
                    iteration.end_numbers(&[("loss", black_box(5.0 - i as f64 * 1e-6))]);
                }
            }
            RowKind::Level7 => {
                for record in prepared {
                    capture.write_record(record);
                }
            }
        }
    }
}

fn open(file: &ScratchFile, kind: RowKind, mode: &str) -> Capture {
    let enrich = matches!(kind, RowKind::Level7);
    capture_with(file, "epoch_loop: default", enrich, mode, "null")
}

/// Measures the mean size of a row of `kind`, in bytes.
fn row_bytes(kind: RowKind) -> f64 {
    let file = ScratchFile::new("writer-size");
    let capture = open(&file, kind, "online");
    let producer = Producer::new(kind, &capture);
    producer.send(&capture, 1000, producer.prepare(1000));
    let report = capture.finish().expect("the scratch file takes 1000 rows");
    report.bytes as f64 / report.rows.max(1) as f64
}

/// Leaves the row size beside criterion's folder of one benchmark, for the report.
fn record_row_bytes(mode: &str, kind: RowKind, bytes: f64) {
    let dir = criterion_dir().join("writer").join(mode).join(kind.name());
    let text = json!({ "row_bytes": bytes }).to_string();
    if let Err(err) = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join(report::ROW_BYTES_FILE), text))
    {
        tracing::warn!(dir = %dir.display(), error = %err, "cannot record the row size");
    }
}

fn writer(c: &mut Criterion) {
    let started = SystemTime::now();
    let mut group = c.benchmark_group("writer");
    group.throughput(Throughput::Elements(ROWS));
    for kind in [RowKind::Small, RowKind::Level7] {
        let bytes = row_bytes(kind);
        for mode in ["online", "offline"] {
            record_row_bytes(mode, kind, bytes);
            group.bench_with_input(BenchmarkId::new(mode, kind.name()), &kind, |b, &kind| {
                b.iter_custom(|iters| {
                    let file = ScratchFile::new("writer");
                    let capture = open(&file, kind, mode);
                    let producer = Producer::new(kind, &capture);
                    let mut elapsed = Duration::ZERO;
                    for _ in 0..iters {
                        // The writer is idle here: the previous batch was flushed.
                        let prepared = producer.prepare(ROWS);
                        let start = Instant::now();
                        producer.send(&capture, ROWS, prepared);
                        capture.flush();
                        elapsed += start.elapsed();
                    }
                    drop(capture);
                    elapsed
                });
            });
        }
    }
    group.finish();
    capture_benches::print_summary("writer", started);
}

/// Runs the group with this bench's settings; criterion's command-line options (after
/// `--`) apply on top of them.
fn benches() {
    let mut criterion = capture_benches::criterion()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    writer(&mut criterion);
}
criterion_main!(benches);
