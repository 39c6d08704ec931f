//! Criterion's results read back, and printed as one markdown table per topic.
//!
//! Criterion leaves, for every benchmark, a folder holding `new/benchmark.json` (the
//! group, function, parameter and throughput) and `new/estimates.json` (the time per
//! iteration in nanoseconds, with confidence intervals). [`read_results`] walks a
//! criterion folder and returns one [`BenchResult`] per benchmark; [`render`] prints:
//!
//! - **per-event costs** (group `per_event`): the time per iteration of each case, its
//!   ratio to the `bare` loop, and the cost capture adds to it, against the target of
//!   [`EVENT_TARGET_NS`] for cases without telemetry;
//! - **writer throughput** (group `writer`): rows per second from the `Elements`
//!   throughput, and MB/s from the row size the bench recorded in `row_bytes.json`
//!   beside criterion's folders, against [`WRITER_TARGET_ROWS`];
//! - **training overhead** (groups `training_<backend>`): each level's time as a
//!   percentage over `capture_off`, against the targets of [`overhead_target`].
//!
//! Any other group is listed in a last table as plain times. The time of a benchmark
//! is criterion's typical estimate: the slope of the linear regression when criterion
//! computed one, else the mean.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The per-event target: capture adds at most this many nanoseconds to a loop
/// iteration or a forward without telemetry.
pub const EVENT_TARGET_NS: f64 = 200.0;

/// The writer target, in loop-iteration rows per second.
pub const WRITER_TARGET_ROWS: f64 = 1_000_000.0;

/// The name of the file the writer bench leaves beside criterion's `new/` folder,
/// holding the mean size of one row in bytes.
pub const ROW_BYTES_FILE: &str = "row_bytes.json";

/// The name of the file, at the top of the criterion folder, in which the benches
/// describe the machine they ran on.
pub const MACHINE_FILE: &str = "capture-benches-machine.json";

/// The name of the file, in a training group's folder, holding the overheads measured
/// in interleaved rounds ([`PairedOverheads`]).
pub const PAIRED_FILE: &str = "paired_overhead.json";

/// The name of the file, at the top of the criterion folder, in which
/// `benches/instructions.sh` leaves the instruction counts of one campaign per case
/// ([`InstructionCounts`]).
pub const INSTRUCTIONS_FILE: &str = "training_instructions.json";

/// Instructions executed by one default campaign, all threads together, with capture
/// off and at some levels, as callgrind counted them. Unlike timings they do not move
/// with the load of the machine, so they resolve overheads far below a timing's noise;
/// they leave out what instructions do not show (system calls, waits, cache misses).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstructionCounts {
    /// One entry per case, `off` first.
    pub cases: Vec<InstructionCount>,
}

/// The instructions of one case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstructionCount {
    /// `off` or `level-<n>`.
    pub case: String,
    /// Instructions executed.
    pub instructions: u64,
}

/// Reads the instruction counts `benches/instructions.sh` left in `dir`, when there are
/// any; a broken file is logged and skipped.
pub fn read_instructions(dir: &Path) -> Option<InstructionCounts> {
    let path = dir.join(INSTRUCTIONS_FILE);
    if !path.is_file() {
        return None;
    }
    read_json(&path)
        .inspect_err(|err| tracing::warn!(error = %err, "ignoring the instruction counts"))
        .ok()
}

/// Prints the instruction counts as a markdown table: each level's count over capture
/// off's, against the CPU targets of [`overhead_target`].
pub fn render_instructions(counts: &InstructionCounts) -> String {
    let mut out = String::from(
        "### Training overhead in instructions

",
    );
    out.push_str(
        "Instructions of one default campaign on the CPU backend, all threads together, \
         counted by callgrind (`benches/instructions.sh`): repeatable where timings are \
         not, blind to system calls, waits and cache misses.\n\n",
    );
    out.push_str("| case | instructions | over capture off | target |\n");
    out.push_str("| --- | ---: | ---: | --- |\n");
    let off = counts
        .cases
        .iter()
        .find(|c| c.case == "off")
        .map(|c| c.instructions as f64);
    for case in &counts.cases {
        let over = off
            .filter(|_| case.case != "off")
            .map(|off| (case.instructions as f64 / off - 1.0) * 100.0);
        let target = match (over, overhead_target("cpu", &case.case)) {
            (Some(over), Some(limit)) => verdict(over <= limit),
            _ => "",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {target} |",
            case.case,
            thousands(case.instructions as f64),
            over.map_or("–".to_owned(), |o| format!("{o:+.3} %")),
        );
    }
    out.push('\n');
    out
}

/// Overheads measured in interleaved rounds: in each round every case runs once, one
/// after the other, and a level's overhead in that round is its time over the
/// capture-off time of the same round. Pairing runs that are seconds apart cancels the
/// slow drift of a shared machine that separate criterion runs of each case pick up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedOverheads {
    /// The clock the runs were timed with (`cpu` or `wall`).
    pub clock: String,
    /// How many rounds ran.
    pub rounds: usize,
    /// The capture-off time of each round, in seconds.
    #[serde(default)]
    pub off_times: Vec<f64>,
    /// One entry per level, in order.
    pub levels: Vec<PairedOverhead>,
}

/// One level's overhead over capture off, in percent, from interleaved rounds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedOverhead {
    /// The benchmark's function name (`level-6`).
    pub level: String,
    /// The median of the per-round overheads.
    pub median: f64,
    /// Lower bound of a 95 % confidence interval of the median.
    pub low: f64,
    /// Upper bound of that interval.
    pub high: f64,
    /// The level's time in each round, in seconds.
    #[serde(default)]
    pub times: Vec<f64>,
}

impl PairedOverhead {
    /// Computes a level's overhead from the times of capture off and of the level, one
    /// of each per round, in the same order.
    ///
    /// The interval comes from the order statistics of the per-round overheads (the
    /// ranks a binomial(n, ½) puts around the median), so it assumes nothing about
    /// their distribution; with fewer than 6 rounds it spans them all.
    ///
    /// # Panics
    ///
    /// When the two slices differ in length or are empty.
    pub fn of(level: &str, off: &[f64], case: &[f64]) -> PairedOverhead {
        assert_eq!(off.len(), case.len(), "one time of each per round");
        assert!(!off.is_empty(), "at least one round");
        let mut overheads: Vec<f64> = off
            .iter()
            .zip(case)
            .map(|(off, case)| (case / off - 1.0) * 100.0)
            .collect();
        overheads.sort_by(f64::total_cmp);
        let n = overheads.len();
        let median = if n % 2 == 1 {
            overheads[n / 2]
        } else {
            (overheads[n / 2 - 1] + overheads[n / 2]) / 2.0
        };
        // Ranks n/2 ∓ 0.98 √n (normal approximation of the binomial), 0-based.
        let half_width = 0.98 * (n as f64).sqrt();
        let low = ((n as f64 / 2.0 - half_width).floor() as usize).saturating_sub(1);
        let high = ((n as f64 / 2.0 + half_width).ceil() as usize).min(n - 1);
        PairedOverhead {
            level: level.to_owned(),
            median,
            low: overheads[low.min(n - 1)],
            high: overheads[high],
            times: case.to_vec(),
        }
    }
}

/// One benchmark's result.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchResult {
    /// Criterion's group (`per_event`).
    pub group: String,
    /// The function within the group (`loop_default`).
    pub function: String,
    /// The parameter, when the benchmark has one (`small`).
    pub value: Option<String>,
    /// Elements processed per iteration, when the bench declared them.
    pub elements: Option<u64>,
    /// Bytes processed per iteration, when the bench declared them.
    pub bytes: Option<u64>,
    /// Time per iteration: criterion's typical estimate, in nanoseconds.
    pub time: Interval,
    /// Mean size of a row in bytes, from [`ROW_BYTES_FILE`].
    pub row_bytes: Option<f64>,
    /// The benchmark's folder (the one holding `new/`).
    pub dir: PathBuf,
}

impl BenchResult {
    /// Returns `group/function/value`, as criterion names the benchmark.
    pub fn full_id(&self) -> String {
        let mut id = format!("{}/{}", self.group, self.function);
        if let Some(value) = &self.value {
            id.push('/');
            id.push_str(value);
        }
        id
    }
}

/// A point estimate and its 95 % confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// The estimate.
    pub point: f64,
    /// Lower bound of the confidence interval.
    pub lower: f64,
    /// Upper bound of the confidence interval.
    pub upper: f64,
}

/// Why the results could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A folder or file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The folder or file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A criterion file is not the JSON criterion writes.
    #[error("{}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the JSON parser said.
        #[source]
        source: serde_json::Error,
    },
}

#[derive(Deserialize)]
struct BenchmarkFile {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
    throughput: Option<ThroughputFile>,
}

#[derive(Deserialize)]
enum ThroughputFile {
    Bytes(u64),
    BytesDecimal(u64),
    Elements(u64),
    Bits(u64),
}

#[derive(Deserialize)]
struct EstimatesFile {
    mean: EstimateFile,
    slope: Option<EstimateFile>,
}

#[derive(Deserialize)]
struct EstimateFile {
    confidence_interval: IntervalFile,
    point_estimate: f64,
}

#[derive(Deserialize)]
struct IntervalFile {
    lower_bound: f64,
    upper_bound: f64,
}

#[derive(Deserialize)]
struct RowBytesFile {
    row_bytes: f64,
}

/// Reads every benchmark under `dir` (criterion's output folder), sorted by id.
///
/// A folder with `new/benchmark.json` and `new/estimates.json` is a benchmark;
/// criterion's other folders (`base/`, `change/`, `report/`) are skipped.
///
/// # Errors
///
/// [`ReportError`] naming the folder or file that cannot be read or parsed.
pub fn read_results(dir: &Path) -> Result<Vec<BenchResult>, ReportError> {
    let mut results = Vec::new();
    visit(dir, &mut results)?;
    results
        .sort_by(|a, b| (&a.group, &a.function, &a.value).cmp(&(&b.group, &b.function, &b.value)));
    Ok(results)
}

fn visit(dir: &Path, results: &mut Vec<BenchResult>) -> Result<(), ReportError> {
    let new = dir.join("new");
    if new.join("benchmark.json").is_file() && new.join("estimates.json").is_file() {
        results.push(read_one(dir)?);
    }
    let entries = std::fs::read_dir(dir).map_err(|source| ReportError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut subdirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ReportError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let name = entry.file_name();
        let skip = ["new", "base", "change", "report"]
            .iter()
            .any(|s| name == *s);
        if !skip && entry.path().is_dir() {
            subdirs.push(entry.path());
        }
    }
    subdirs.sort();
    for subdir in subdirs {
        visit(&subdir, results)?;
    }
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| ReportError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

fn read_one(dir: &Path) -> Result<BenchResult, ReportError> {
    let id: BenchmarkFile = read_json(&dir.join("new").join("benchmark.json"))?;
    let estimates: EstimatesFile = read_json(&dir.join("new").join("estimates.json"))?;
    let typical = estimates.slope.unwrap_or(estimates.mean);
    let row_bytes_path = dir.join(ROW_BYTES_FILE);
    let row_bytes = if row_bytes_path.is_file() {
        Some(read_json::<RowBytesFile>(&row_bytes_path)?.row_bytes)
    } else {
        None
    };
    let (elements, bytes) = match id.throughput {
        Some(ThroughputFile::Elements(n)) => (Some(n), None),
        Some(ThroughputFile::Bytes(n) | ThroughputFile::BytesDecimal(n)) => (None, Some(n)),
        Some(ThroughputFile::Bits(n)) => (None, Some(n / 8)),
        None => (None, None),
    };
    Ok(BenchResult {
        group: id.group_id,
        function: id.function_id.unwrap_or_default(),
        value: id.value_str,
        elements,
        bytes,
        time: Interval {
            point: typical.point_estimate,
            lower: typical.confidence_interval.lower_bound,
            upper: typical.confidence_interval.upper_bound,
        },
        row_bytes,
        dir: dir.to_path_buf(),
    })
}

/// Returns the machine description the benches left in `dir`, when there is one.
pub fn read_machine(dir: &Path) -> Option<String> {
    #[derive(Deserialize)]
    struct MachineFile {
        machine: String,
    }
    let path = dir.join(MACHINE_FILE);
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str::<MachineFile>(&text)
        .ok()
        .map(|m| m.machine)
}

/// Returns the overhead target of a training benchmark, in percent, when it has one:
/// 1 % at level 6 and 2 % at level 7 on the CPU backend. `function` is the benchmark's
/// name (`level-6`) or an instruction count's case (the same).
pub fn overhead_target(backend: &str, function: &str) -> Option<f64> {
    match (backend, function) {
        ("cpu", "level-6") => Some(1.0),
        ("cpu", "level-7") => Some(2.0),
        _ => None,
    }
}

/// Tells whether a per-event case has the [`EVENT_TARGET_NS`] target: every case but
/// the baselines, the telemetry cases, the sustained ones (which run at the writer's
/// pace) and the one with an allocated JSON output (which shows the caller's cost).
pub fn has_event_target(function: &str) -> bool {
    !matches!(function, "bare" | "capture_off")
        && !function.starts_with("telemetry")
        && !function.ends_with("_sustained")
        && !function.ends_with("_json")
}

/// Prints the results as markdown: a heading, then one section per topic that has
/// results. `machine` is a description of where the benches ran, when known.
pub fn render(results: &[BenchResult], machine: Option<&str>) -> String {
    let mut out = String::from("## Capture benchmarks\n\n");
    if let Some(machine) = machine {
        let _ = writeln!(out, "Measured on {machine}.\n");
    }
    if results.is_empty() {
        out.push_str("No criterion results found: run `cargo bench` first.\n");
        return out;
    }
    let mut topics: BTreeMap<Topic, Vec<&BenchResult>> = BTreeMap::new();
    for result in results {
        topics
            .entry(Topic::of(&result.group))
            .or_default()
            .push(result);
    }
    for results in topics.values_mut() {
        results.sort_by_key(|r| {
            (
                r.group.clone(),
                rank(&r.function),
                rank_value(r),
                r.full_id(),
            )
        });
    }
    for (topic, results) in &topics {
        match topic {
            Topic::PerEvent => per_event_table(&mut out, results),
            Topic::Writer => writer_table(&mut out, results),
            Topic::Training => training_table(&mut out, results),
            Topic::Other => other_table(&mut out, results),
        }
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Topic {
    PerEvent,
    Writer,
    Training,
    Other,
}

impl Topic {
    fn of(group: &str) -> Topic {
        if group == "per_event" {
            Topic::PerEvent
        } else if group == "writer" {
            Topic::Writer
        } else if group.starts_with("training_") {
            Topic::Training
        } else {
            Topic::Other
        }
    }
}

fn per_event_table(out: &mut String, results: &[&BenchResult]) {
    out.push_str("### Per-event cost\n\n");
    let _ = writeln!(
        out,
        "Time per loop iteration, against a bare loop doing the same work; *added* is the \
         capture's share. Target: at most {EVENT_TARGET_NS:.0} ns added per loop iteration \
         or forward row without telemetry.\n"
    );
    out.push_str("| case | time per event (ns) | 95 % interval | × bare | added (ns) | target |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: | --- |\n");
    let bare = results
        .iter()
        .find(|r| r.function == "bare")
        .map(|r| r.time.point);
    for result in results {
        let t = result.time;
        let (ratio, added) = match bare {
            Some(bare) if result.function != "bare" && bare > 0.0 => {
                let ratio = t.point / bare;
                let ratio = if ratio >= 100.0 {
                    thousands(ratio)
                } else {
                    format!("{ratio:.2}")
                };
                (ratio, ns(t.point - bare))
            }
            _ => ("–".to_owned(), "–".to_owned()),
        };
        let target = match bare {
            Some(bare) if has_event_target(&result.function) => {
                verdict(t.point - bare <= EVENT_TARGET_NS)
            }
            _ => "",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} – {} | {ratio} | {added} | {target} |",
            name_of(result),
            ns(t.point),
            ns(t.lower),
            ns(t.upper),
        );
    }
    out.push('\n');
}

fn writer_table(out: &mut String, results: &[&BenchResult]) {
    out.push_str("### Writer throughput\n\n");
    let _ = writeln!(
        out,
        "Rows through the JSONL writer, from the capturing thread to the file. Target: at \
         least {} rows/s for loop-iteration rows (`small`).\n",
        thousands(WRITER_TARGET_ROWS)
    );
    out.push_str("| mode | rows | rows/s | 95 % interval | bytes/row | MB/s | target |\n");
    out.push_str("| --- | --- | ---: | ---: | ---: | ---: | --- |\n");
    for result in results {
        let t = result.time;
        let Some(rows) = result.elements else {
            let _ = writeln!(
                out,
                "| {} | – | – | – | – | – | no row count |",
                result.function
            );
            continue;
        };
        let per_second = |ns: f64| rows as f64 / (ns * 1e-9);
        let rate = per_second(t.point);
        let mb = result
            .row_bytes
            .map_or("–".to_owned(), |b| format!("{:.1}", rate * b / 1e6));
        let bytes = result
            .row_bytes
            .map_or("–".to_owned(), |b| format!("{b:.0}"));
        let target = if result.value.as_deref() == Some("small") {
            verdict(rate >= WRITER_TARGET_ROWS)
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} – {} | {bytes} | {mb} | {target} |",
            result.function,
            result.value.as_deref().unwrap_or("–"),
            thousands(rate),
            thousands(per_second(t.upper)),
            thousands(per_second(t.lower)),
        );
    }
    out.push('\n');
}

fn training_table(out: &mut String, results: &[&BenchResult]) {
    out.push_str("### Training overhead per capture level\n\n");
    out.push_str(
        "The default campaign (data preparation, 4 epochs of training and validation, test) \
         with capture off and at each level. *Overhead* is the level's time over \
         `capture_off`'s, in percent: the median over interleaved rounds (each round runs \
         every case once, so a level is compared with a capture-off run seconds away), with \
         a 95 % interval of that median; *criterion* is the ratio of the two cases' own \
         criterion estimates, which the drift of a shared machine can move by several \
         percent. Targets on the CPU backend: at most 1 % at level 6 and 2 % at level 7.\n\n",
    );
    let mut by_backend: BTreeMap<&str, Vec<&BenchResult>> = BTreeMap::new();
    for result in results {
        let backend = result.group.trim_start_matches("training_");
        by_backend.entry(backend).or_default().push(result);
    }
    for (backend, results) in by_backend {
        let paired = results
            .first()
            .and_then(|r| r.dir.parent())
            .and_then(read_paired);
        if let Some(paired) = &paired {
            let _ = writeln!(
                out,
                "{backend}: {} clock, {} interleaved rounds.\n",
                paired.clock, paired.rounds
            );
        }
        out.push_str(
            "| backend | level | time (s) | 95 % interval (s) | overhead % | 95 % interval | \
             criterion % | target |\n",
        );
        out.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
        let off = results
            .iter()
            .find(|r| r.function == "capture_off")
            .map(|r| r.time);
        for result in results {
            let t = result.time;
            let criterion_ratio = off
                .filter(|_| result.function != "capture_off")
                .map(|off| (t.point / off.point - 1.0) * 100.0);
            let pair = paired
                .as_ref()
                .and_then(|p| p.levels.iter().find(|l| l.level == result.function));
            let (overhead, interval) = match pair {
                Some(pair) => (
                    format!("{:+.2}", pair.median),
                    format!("{:+.2} … {:+.2}", pair.low, pair.high),
                ),
                None => ("–".to_owned(), "–".to_owned()),
            };
            let estimate = pair.map(|p| p.median).or(criterion_ratio);
            let target = match (estimate, overhead_target(backend, &result.function)) {
                (Some(estimate), Some(limit)) => verdict(estimate <= limit),
                _ => "",
            };
            let _ = writeln!(
                out,
                "| {backend} | {} | {:.3} | {:.3} – {:.3} | {overhead} | {interval} | {} | \
                 {target} |",
                result.function,
                t.point * 1e-9,
                t.lower * 1e-9,
                t.upper * 1e-9,
                criterion_ratio.map_or("–".to_owned(), |r| format!("{r:+.2}")),
            );
        }
        out.push('\n');
    }
}

/// Returns the paired overheads a training bench left in its group's folder.
fn read_paired(group_dir: &Path) -> Option<PairedOverheads> {
    let path = group_dir.join(PAIRED_FILE);
    if !path.is_file() {
        return None;
    }
    match read_json(&path) {
        Ok(paired) => Some(paired),
        Err(err) => {
            tracing::warn!(error = %err, "ignoring the paired overheads");
            None
        }
    }
}

fn other_table(out: &mut String, results: &[&BenchResult]) {
    out.push_str("### Other benchmarks\n\n");
    out.push_str("| benchmark | time per iteration (ns) | 95 % interval |\n");
    out.push_str("| --- | ---: | ---: |\n");
    for result in results {
        let t = result.time;
        let _ = writeln!(
            out,
            "| {} | {} | {} – {} |",
            result.full_id(),
            ns(t.point),
            ns(t.lower),
            ns(t.upper)
        );
    }
    out.push('\n');
}

/// The order the benches' own cases are listed in: baselines first, then by cost;
/// cases the report does not know come last, by name.
const CASE_ORDER: [&str; 16] = [
    "bare",
    "capture_off",
    "loop_default",
    "loop_lightweight",
    "parent_forward",
    "child_forward",
    "child_forward_tensors",
    "telemetry_cpu",
    "telemetry_per_cpu",
    "telemetry_process_info",
    "telemetry_mem",
    "telemetry_disk",
    "telemetry_network",
    "telemetry_all",
    "online",
    "offline",
];

fn rank(function: &str) -> usize {
    CASE_ORDER
        .iter()
        .position(|case| *case == function)
        .unwrap_or(CASE_ORDER.len())
}

fn rank_value(result: &BenchResult) -> usize {
    match result.value.as_deref() {
        None | Some("small") => 0,
        Some(_) => 1,
    }
}

fn name_of(result: &BenchResult) -> String {
    match &result.value {
        Some(value) => format!("{}/{value}", result.function),
        None => result.function.clone(),
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

/// Formats nanoseconds with a precision that suits their size.
fn ns(value: f64) -> String {
    if value >= 1000.0 {
        thousands(value)
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// Formats a number rounded to a whole, with thin groups of three digits (`1 234 567`).
fn thousands(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_owned();
    }
    let digits = format!("{:.0}", value.abs());
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    if value < 0.0 {
        grouped.insert(0, '-');
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/criterion")
    }

    fn find<'a>(results: &'a [BenchResult], id: &str) -> &'a BenchResult {
        results
            .iter()
            .find(|r| r.full_id() == id)
            .unwrap_or_else(|| panic!("{id} is in the fixture"))
    }

    #[test]
    fn every_benchmark_of_the_fixture_is_read_once() {
        let results = read_results(&fixture()).expect("the fixture is criterion's format");
        let ids: Vec<String> = results.iter().map(BenchResult::full_id).collect();
        assert_eq!(
            ids,
            [
                "per_event/bare",
                "per_event/loop_default",
                "per_event/telemetry_cpu",
                "training_cpu/capture_off",
                "training_cpu/level-7",
                "writer/online/small",
            ]
        );
    }

    #[test]
    fn the_slope_is_preferred_to_the_mean() {
        let results = read_results(&fixture()).expect("the fixture reads");
        // The fixture's loop_default has a slope of 48.5 and a mean of 50.0.
        assert_eq!(find(&results, "per_event/loop_default").time.point, 48.5);
        // The training results were sampled flat: no slope, the mean is used.
        let off = find(&results, "training_cpu/capture_off").time;
        assert_eq!(off.point, 1.0e9);
        assert_eq!((off.lower, off.upper), (0.99e9, 1.01e9));
    }

    #[test]
    fn throughput_and_row_bytes_are_read() {
        let results = read_results(&fixture()).expect("the fixture reads");
        let writer = find(&results, "writer/online/small");
        assert_eq!(writer.elements, Some(10_000));
        assert_eq!(writer.row_bytes, Some(250.0));
        assert_eq!(find(&results, "per_event/bare").row_bytes, None);
    }

    #[test]
    fn the_report_has_one_table_per_topic_with_ratios_rates_and_overheads() {
        let results = read_results(&fixture()).expect("the fixture reads");
        let text = render(&results, Some("a test machine"));
        assert!(text.contains("Measured on a test machine."), "{text}");
        for heading in [
            "### Per-event cost",
            "### Writer throughput",
            "### Training overhead",
        ] {
            assert_eq!(text.matches(heading).count(), 1, "{heading} in {text}");
        }
        // loop_default: 48.5 ns against a bare 4.0 ns.
        assert!(
            text.contains("| loop_default | 48.5 | 47.0 – 50.0 | 12.12 | 44.5 | met |"),
            "{text}"
        );
        // Telemetry has no target.
        assert!(
            text.contains("| telemetry_cpu | 25 000 | 24 000 – 26 000 | 6 250 | 24 996 |  |"),
            "{text}"
        );
        // 10 000 rows in 5 ms: 2 million rows/s, 250 bytes each: 500 MB/s.
        assert!(text.contains("| online | small | 2 000 000 |"), "{text}");
        assert!(text.contains("| 250 | 500.0 | met |"), "{text}");
        // Level 7 takes 1.015 s against 1.0 s by criterion (+1.5 %), and +1.2 % paired,
        // within its 2 % target.
        assert!(
            text.contains("cpu: cpu clock, 20 interleaved rounds."),
            "{text}"
        );
        assert!(
            text.contains(
                "| cpu | level-7 | 1.015 | 1.000 – 1.030 | +1.20 | +0.40 … +2.10 | +1.50 | met |"
            ),
            "{text}"
        );
    }

    #[test]
    fn only_the_cases_capture_answers_for_have_the_event_target() {
        for case in [
            "loop_default",
            "loop_lightweight",
            "parent_forward",
            "child_forward",
        ] {
            assert!(has_event_target(case), "{case}");
        }
        for case in [
            "bare",
            "capture_off",
            "telemetry_cpu",
            "loop_default_sustained",
            "loop_default_json",
        ] {
            assert!(!has_event_target(case), "{case}");
        }
    }

    #[test]
    fn the_machine_description_is_read_when_present() {
        assert_eq!(
            read_machine(&fixture()).as_deref(),
            Some("Test CPU @ 2.0GHz, 2 logical CPUs, linux")
        );
        assert_eq!(read_machine(&fixture().join("per_event")), None);
    }

    #[test]
    fn the_median_of_paired_rounds_and_its_interval() {
        let off = [100.0; 7];
        let case = [101.0, 99.0, 102.0, 100.0, 101.0, 130.0, 100.5];
        let paired = PairedOverhead::of("level-6", &off, &case);
        // Sorted: -1, 0, 0.5, 1, 1, 2, 30: the outlier moves nothing.
        assert!((paired.median - 1.0).abs() < 1e-9, "{paired:?}");
        assert!(paired.low <= paired.median && paired.median <= paired.high);
        assert!((paired.low + 1.0).abs() < 1e-9, "{paired:?}");
        let even = PairedOverhead::of("level-7", &[10.0, 10.0], &[10.1, 10.3]);
        assert!((even.median - 2.0).abs() < 1e-9, "{even:?}");
    }

    #[test]
    fn an_empty_folder_says_to_run_the_benches() {
        let text = render(&[], None);
        assert!(text.contains("run `cargo bench` first"));
    }

    #[test]
    fn a_broken_estimates_file_is_named() {
        let dir = std::env::temp_dir().join(format!("bench-report-broken-{}", std::process::id()));
        let new = dir.join("g/f/new");
        std::fs::create_dir_all(&new).expect("the temp folder is writable");
        std::fs::write(new.join("benchmark.json"), r#"{"group_id":"g"}"#).unwrap();
        std::fs::write(new.join("estimates.json"), "{").unwrap();
        let err = read_results(&dir).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(err.to_string().contains("estimates.json"), "{err}");
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(thousands(1_234_567.4), "1 234 567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(-1000.0), "-1 000");
        assert_eq!(ns(48.54), "48.5");
        assert_eq!(ns(123.4), "123");
        assert_eq!(ns(25_000.2), "25 000");
    }

    #[test]
    fn instruction_counts_read_back_and_render_overheads_against_the_targets() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_instructions(dir.path()), None);
        let counts = InstructionCounts {
            cases: [
                ("off", 1_000_000_000),
                ("level-6", 1_005_000_000),
                ("level-7", 1_030_000_000),
            ]
            .into_iter()
            .map(|(case, instructions)| InstructionCount {
                case: case.to_owned(),
                instructions,
            })
            .collect(),
        };
        let text = serde_json::to_string(&counts).unwrap();
        std::fs::write(dir.path().join(INSTRUCTIONS_FILE), text).unwrap();
        let read = read_instructions(dir.path()).expect("the file reads back");
        assert_eq!(read, counts);
        let table = render_instructions(&read);
        assert!(table.contains("| off | 1 000 000 000 | – |  |"), "{table}");
        assert!(
            table.contains("| level-6 | 1 005 000 000 | +0.500 % | met |"),
            "{table}"
        );
        assert!(
            table.contains("| level-7 | 1 030 000 000 | +3.000 % | **missed** |"),
            "{table}"
        );
    }
}
