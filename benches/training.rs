//! Training overhead per capture level: the tutorial's default campaign with capture
//! off and at each of the seven levels, on the CPU backend and, when asked for and an
//! adapter exists, on wgpu.
//!
//! One iteration is a whole campaign as a user runs it: the capture opened, data
//! preparation, 4 epochs of training and validation, the best model saved, reloaded and
//! tested, the capture finished (its file synced). `capture_off` runs it with
//! [`Capture::disabled`]; `level-<n>` with the settings of
//! `scenarios/level-<n>-*.yaml`, writing to a scratch file. The report gives each
//! level's time as a percentage over `capture_off`; the targets are at most 1 % at
//! level 6 and 2 % at level 7 on the CPU.
//!
//! Knobs, all environment variables:
//!
//! - `BENCH_WGPU`: the wgpu cases (the `wgpu` feature, on by default, must be built in)
//!   run by themselves when wgpu finds a hardware adapter; `BENCH_WGPU=1` runs them on a
//!   software adapter too (Mesa's lavapipe: its first campaign compiles kernels for
//!   about two minutes on a small machine, once, untimed, before the cases), and
//!   `BENCH_WGPU=0` skips them.
//! - `WIKITEXT_DIR=<folder>`: train on a WikiText-2 copy (`wiki.*.tokens`) instead of the
//!   embedded excerpt, with `BENCH_SUBSET_SIZE` rows of each split (default 100), for a
//!   longer run in which the capture's share is smaller still.
//! - `BENCH_TRAINING_SAMPLES` (default 10, criterion's least) and
//!   `BENCH_TRAINING_SECS` (default 12): criterion's sample size and measurement time
//!   per case.
//!
//! Run it with
//!
//! ```text
//! cargo bench -p capture-benches --bench training
//! ```

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use capture_benches::levels::{self, Level};
use capture_benches::report::{PAIRED_FILE, PairedOverhead, PairedOverheads};
use capture_benches::{ScratchFile, env_number, env_seconds, scratch_dir};
use capture_core::{Capture, CaptureOptions, Settings};
use criterion::{Criterion, SamplingMode, criterion_main};
use trainer::campaign::{CampaignOptions, NoProgress, run_campaign};
use trainer::{BackendKind, WorkflowParams};

/// Rows of each split read from `WIKITEXT_DIR` when `BENCH_SUBSET_SIZE` is unset.
const DEFAULT_SUBSET: u64 = 100;

/// Interleaved rounds when `BENCH_TRAINING_ROUNDS` is unset.
const DEFAULT_ROUNDS: u64 = 20;

/// Returns the campaign to time on `backend`, saying which data it trains on.
fn campaign_options(backend: BackendKind, run_dir: PathBuf) -> CampaignOptions {
    let mut params = WorkflowParams::default();
    let data_dir = match std::env::var_os("WIKITEXT_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_dir() => {
            let subset = env_number("BENCH_SUBSET_SIZE", DEFAULT_SUBSET);
            println!(
                "training bench: WikiText-2 from {}, the first {subset} rows of each split",
                dir.display()
            );
            params.subset_size = Some(subset as usize);
            Some(dir)
        }
        Some(dir) => {
            println!(
                "training bench: WIKITEXT_DIR={} is not a folder; using the embedded excerpt",
                dir.display()
            );
            None
        }
        None => {
            println!(
                "training bench: WIKITEXT_DIR is not set; using the embedded excerpt \
                 (the tutorial's subset_size 10)"
            );
            None
        }
    };
    CampaignOptions {
        params,
        backend,
        data_dir,
        workers: 1,
        seed: None,
        run_dir,
    }
}

/// The clock a campaign is timed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Clock {
    /// The process's CPU time, all threads together.
    Cpu,
    /// Elapsed time.
    Wall,
}

impl Clock {
    /// Reads `BENCH_TRAINING_CLOCK` (`cpu`, the default, or `wall`).
    fn from_env() -> Clock {
        match std::env::var("BENCH_TRAINING_CLOCK").as_deref() {
            Ok("wall") => Clock::Wall,
            _ if capture_benches::process_cpu_time().is_some() => Clock::Cpu,
            _ => Clock::Wall,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Clock::Cpu => "cpu",
            Clock::Wall => "wall",
        }
    }

    fn now(self) -> Duration {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        match self {
            Clock::Cpu => capture_benches::process_cpu_time().unwrap_or_default(),
            Clock::Wall => START.get_or_init(Instant::now).elapsed(),
        }
    }
}

/// Runs one campaign, capture included, and returns its time on `clock`.
fn run_once(opts: &CampaignOptions, settings: Option<&Settings>, clock: Clock) -> Duration {
    let file = ScratchFile::new("training");
    let settings = settings.cloned();
    let start = clock.now();
    let capture = match settings {
        Some(settings) => Capture::start(
            settings,
            CaptureOptions {
                output: Some(file.path().to_path_buf()),
                ..Default::default()
            },
        )
        .expect("the level's settings are valid and the scratch file opens"),
        None => Capture::disabled(),
    };
    let outcome = run_campaign(opts, &capture, &NoProgress).expect("the default campaign runs");
    assert_eq!(
        outcome.failed(),
        0,
        "a config failed: {:?}",
        outcome.results
    );
    capture
        .finish()
        .expect("the scratch file takes the campaign's rows");
    clock.now().saturating_sub(start)
}

/// Times capture off and every level on one backend, in a group `training_<backend>`.
fn bench_backend(c: &mut Criterion, backend: BackendKind, levels: &[Level], clock: Clock) {
    let run_dir = scratch_dir().join(format!("capture-bench-runs-{}", std::process::id()));
    let opts = campaign_options(backend, run_dir.clone());
    // Untimed: a backend's first campaign pays its one-time costs (wgpu's kernel
    // compilation, the host facts of enrichment).
    let first = run_once(&opts, levels.last().map(|level| &level.settings), clock);
    println!(
        "training bench: a first {backend} campaign took {:.2} s",
        first.as_secs_f64()
    );

    let mut group = c.benchmark_group(format!("training_{backend}"));
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("capture_off", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run_once(&opts, None, clock)).sum());
    });
    for level in levels {
        group.bench_function(level.id(), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| run_once(&opts, Some(&level.settings), clock))
                    .sum()
            });
        });
    }
    group.finish();

    let rounds = env_number("BENCH_TRAINING_ROUNDS", DEFAULT_ROUNDS) as usize;
    if rounds > 0 && !criterion_lists_or_tests() {
        paired_rounds(&opts, backend, levels, clock, rounds);
    }
    let _ = std::fs::remove_dir_all(&run_dir);
}

/// Runs every case once per round, in an order that rotates from round to round, and
/// leaves each level's overhead over capture off in the group's folder for the report.
fn paired_rounds(
    opts: &CampaignOptions,
    backend: BackendKind,
    levels: &[Level],
    clock: Clock,
    rounds: usize,
) {
    println!(
        "training bench: {rounds} interleaved rounds of the {} cases",
        levels.len() + 1
    );
    // Case 0 is capture off; case n is level n.
    let cases = levels.len() + 1;
    let mut times = vec![Vec::with_capacity(rounds); cases];
    for round in 0..rounds {
        for k in 0..cases {
            let case = (round + k) % cases;
            let settings = case.checked_sub(1).map(|level| &levels[level].settings);
            times[case].push(run_once(opts, settings, clock).as_secs_f64());
        }
    }
    let paired = PairedOverheads {
        clock: clock.name().to_owned(),
        rounds,
        off_times: times[0].clone(),
        levels: levels
            .iter()
            .enumerate()
            .map(|(i, level)| PairedOverhead::of(&level.id(), &times[0], &times[i + 1]))
            .collect(),
    };
    let dir = capture_benches::criterion_dir().join(format!("training_{backend}"));
    let text = serde_json::to_string_pretty(&paired).expect("overheads serialise");
    if let Err(err) =
        std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join(PAIRED_FILE), text))
    {
        println!(
            "training bench: cannot write {}: {err}",
            dir.join(PAIRED_FILE).display()
        );
    }
}

/// Tells whether criterion was started to list the benchmarks or to test them once
/// (`--list`, `--test`), when the interleaved rounds are not run.
fn criterion_lists_or_tests() -> bool {
    std::env::args().any(|arg| arg == "--list" || arg == "--test")
}

fn training(c: &mut Criterion) {
    let started = SystemTime::now();
    let levels = levels::load(&levels::scenario_dir()).expect("the scenario files are valid");
    let clock = Clock::from_env();
    println!("training bench: timing with the {clock:?} clock");
    bench_backend(c, BackendKind::Cpu, &levels, clock);
    if wgpu_wanted() {
        bench_backend(c, BackendKind::Wgpu, &levels, clock);
    }
    capture_benches::print_summary("training_", started);
}

/// Tells whether the wgpu cases should run, saying why when they do not: on a hardware
/// adapter unless `BENCH_WGPU=0`, on a software one only with `BENCH_WGPU=1`.
fn wgpu_wanted() -> bool {
    let asked = std::env::var("BENCH_WGPU").ok();
    if asked.as_deref() == Some("0") {
        println!("training bench: wgpu cases skipped: BENCH_WGPU=0");
        return false;
    }
    if !cfg!(feature = "wgpu") {
        println!(
            "training bench: wgpu cases skipped: built without the `wgpu` feature of \
             capture-benches"
        );
        return false;
    }
    let selected = match trainer::device::select(BackendKind::Wgpu) {
        Ok(selected) => selected,
        Err(err) => {
            println!("training bench: wgpu cases skipped: {err}");
            return false;
        }
    };
    let software = selected.info.device_type.as_deref() == Some("Cpu");
    if software && asked.as_deref() != Some("1") {
        println!(
            "training bench: wgpu cases skipped: {} is a software adapter; set BENCH_WGPU=1 \
             to run them there (its first campaign compiles kernels for about two minutes)",
            selected.info
        );
        return false;
    }
    println!("training bench: wgpu on {}", selected.info);
    true
}

/// Runs the group with this bench's settings; criterion's command-line options (after
/// `--`) apply on top of them.
fn benches() {
    let mut criterion = capture_benches::criterion()
        .sample_size(env_number("BENCH_TRAINING_SAMPLES", 10).max(10) as usize)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(env_seconds("BENCH_TRAINING_SECS", 12))
        .configure_from_args();
    training(&mut criterion);
}
criterion_main!(benches);
