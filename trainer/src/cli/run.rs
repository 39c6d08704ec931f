//! The campaign run: settings and parameters resolved, inputs checked, the campaign trained
//! with capture, and a short summary printed.
//!
//! Every input is checked before the capture file is created (settings, workflow
//! parameters, device, data, output folder), so bad input leaves no file behind that could
//! pass for a finished run.
//!
//! A capture file that stops being written part way (a full disk) does not stop the
//! training: the summary with the losses is still printed, the write error is reported once
//! (by the capture's own log line), and the exit code is 1 because the provenance is
//! incomplete.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use capture_core::{Capture, CaptureError, CaptureOptions, Settings, Summary, WriteReport};
use trainer::campaign::{CampaignError, CampaignOptions, CampaignOutcome, run_campaign};
use trainer::data::{RawSplits, prepare};
use trainer::device::{self, BackendKind, DeviceError};
use trainer::params::WorkflowParams;

use super::progress::Bars;
use super::{BackendArg, Failure, RunArgs};

/// Exit code for a missing GPU adapter, distinct from bad input (1).
const NO_ADAPTER: u8 = 2;

/// Where the settings came from, for the summary.
enum SettingsSource {
    File(PathBuf),
    BuiltIn,
}

/// Runs the campaign as the arguments say.
pub fn run(args: RunArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let (settings, source) = resolve_settings(args.settings.as_deref())?;
    let params = parse_params(args.workflow_params.as_deref())?;
    let backend = match args.backend {
        BackendArg::Cpu => BackendKind::Cpu,
        BackendArg::Wgpu => BackendKind::Wgpu,
    };
    let options = CampaignOptions {
        params,
        backend,
        data_dir: args.data_dir.clone(),
        workers: args.workers as usize,
        seed: args.seed,
        run_dir: PathBuf::new(),
    };
    preflight(&options, &settings, args.out.as_deref())?;

    let capture = Capture::start(
        settings,
        CaptureOptions {
            campaign_id: args.campaign_id.clone(),
            output: args.out.clone(),
        },
    )
    .context("cannot start the capture")?;
    let run_dir = args
        .run_dir
        .clone()
        .unwrap_or_else(|| Path::new("runs").join(capture.campaign_id()));
    let options = CampaignOptions { run_dir, ..options };
    let bars = Bars::new();
    let outcome = run_campaign(&options, &capture, &bars);
    bars.finish();
    let output = capture.output_path().map(Path::to_owned);
    let written = capture.finish();

    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            remove_if_empty(output.as_deref());
            return Err(campaign_failure(error));
        }
    };
    // A write failure has been logged once by the capture; keep the training's result.
    let (report, stopped) = match written {
        Ok(report) => (report, false),
        Err(CaptureError::Write { report, .. }) => (report, true),
        Err(other) => return Err(Failure::from(anyhow!(other).context("the capture failed"))),
    };
    let path = report.path.clone().or(output);
    let file = FileOutcome {
        path: path.as_deref(),
        report: &report,
        stopped,
    };
    print_summary(&outcome, &file, &source, started.elapsed().as_secs_f64())?;
    if stopped {
        return Err(Failure::from(anyhow!(
            "the provenance file {} is incomplete: capture stopped at the write error above \
             ({} rows written, {} rows not written)",
            path.as_deref().unwrap_or(Path::new("?")).display(),
            report.rows,
            report.rows_lost
        )));
    }
    let failed = outcome.failed();
    if failed > 0 {
        return Err(Failure::from(anyhow!(
            "{failed} of {} configs failed; their model_train tasks hold the error",
            outcome.results.len()
        )));
    }
    Ok(())
}

/// Picks the settings file: `--settings`, `$FLOWCEPT_SETTINGS_PATH`, `./settings.yaml`, or
/// the built-in defaults.
fn resolve_settings(flag: Option<&Path>) -> Result<(Settings, SettingsSource), Failure> {
    let env = std::env::var_os("FLOWCEPT_SETTINGS_PATH").filter(|v| !v.is_empty());
    let path = match (flag, env) {
        (Some(path), _) => Some(path.to_owned()),
        (None, Some(env)) => Some(PathBuf::from(env)),
        (None, None) => Some(PathBuf::from("settings.yaml")).filter(|p| p.is_file()),
    };
    match path {
        Some(path) => {
            let settings = Settings::load(&path).map_err(|e| Failure::from(anyhow!(e)))?;
            Ok((settings, SettingsSource::File(path)))
        }
        None => Ok((Settings::tutorial_default(), SettingsSource::BuiltIn)),
    }
}

/// Reads `--workflow-params`: inline JSON when it starts with `{`, else a file's path.
fn parse_params(flag: Option<&str>) -> Result<WorkflowParams, Failure> {
    let Some(flag) = flag else {
        return Ok(WorkflowParams::default());
    };
    let trimmed = flag.trim_start();
    let (text, origin) = if trimmed.starts_with('{') {
        (flag.to_owned(), "--workflow-params".to_owned())
    } else {
        let text = std::fs::read_to_string(flag).map_err(|e| {
            Failure::from(anyhow!(
                "--workflow-params: {flag:?} is neither a JSON object nor a readable file: {e}"
            ))
        })?;
        (text, flag.to_owned())
    };
    WorkflowParams::from_json(&text).map_err(|e| Failure::from(anyhow!("{origin}: {e}")))
}

/// Checks what can be checked before the capture file exists.
fn preflight(
    options: &CampaignOptions,
    settings: &Settings,
    out: Option<&Path>,
) -> Result<(), Failure> {
    let mut params = options.params.clone();
    if let Some(seed) = options.seed {
        params.random_seed = seed;
    }
    params
        .validate()
        .map_err(|e| Failure::from(anyhow!("workflow parameters: {e}")))?;
    device::select(options.backend).map_err(device_failure)?;
    let raw =
        RawSplits::load(options.data_dir.as_deref()).map_err(|e| Failure::from(anyhow!(e)))?;
    prepare(&raw, &params.data_spec()).map_err(|e| Failure::from(anyhow!(e)))?;
    let dump = &settings.project.dump_buffer;
    let file = out.or(dump.enabled.then_some(dump.path.as_path()));
    if let Some(file) = file {
        check_output_folder(file)?;
    }
    Ok(())
}

/// The output file must not be a folder, and its folder must exist and take new files.
fn check_output_folder(file: &Path) -> Result<(), Failure> {
    if file.is_dir() {
        return Err(Failure::from(anyhow!(
            "output file {} is a folder; pick a file path for --out",
            file.display()
        )));
    }
    let folder = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if folder.exists() && !folder.is_dir() {
        return Err(Failure::from(anyhow!(
            "output folder {} is not a folder (for {}); pick another --out",
            folder.display(),
            file.display()
        )));
    }
    if !folder.is_dir() {
        return Err(Failure::from(anyhow!(
            "output folder {} does not exist (for {}); create it or pick another --out",
            folder.display(),
            file.display()
        )));
    }
    let probe = tempfile::Builder::new()
        .prefix(".trainer-write-check")
        .tempfile_in(folder);
    if let Err(error) = probe {
        return Err(Failure::from(anyhow!(
            "output folder {} is not writable ({error}); pick another --out",
            folder.display()
        )));
    }
    Ok(())
}

fn device_failure(error: DeviceError) -> Failure {
    let code = if matches!(error, DeviceError::NoAdapter { .. }) {
        NO_ADAPTER
    } else {
        1
    };
    Failure::new(code, anyhow!(error))
}

fn campaign_failure(error: CampaignError) -> Failure {
    match error {
        CampaignError::Device(error) => device_failure(error),
        other => Failure::from(anyhow!(other)),
    }
}

/// A campaign that failed before its first row leaves no empty file behind.
fn remove_if_empty(path: Option<&Path>) {
    if let Some(path) = path
        && std::fs::metadata(path).is_ok_and(|m| m.len() == 0)
    {
        let _ = std::fs::remove_file(path);
    }
}

/// What became of the capture file.
struct FileOutcome<'a> {
    path: Option<&'a Path>,
    report: &'a WriteReport,
    /// A write failed and capture stopped writing.
    stopped: bool,
}

fn print_summary(
    outcome: &CampaignOutcome,
    file: &FileOutcome<'_>,
    source: &SettingsSource,
    wall_time: f64,
) -> anyhow::Result<()> {
    let path = file.path;
    match source {
        SettingsSource::File(path) => println!("settings: {}", path.display()),
        SettingsSource::BuiltIn => {
            println!("settings: built-in defaults (the tutorial's initial settings)")
        }
    }
    println!("backend: {}", outcome.backend);
    match path {
        // Only a whole regular file is read back: a device such as /dev/full reads forever.
        Some(path) if file.stopped || !path.is_file() => println!(
            "file: {} ({}{} rows written, {} rows not written)",
            path.display(),
            if file.stopped {
                "capture stopped at a write error: "
            } else {
                ""
            },
            file.report.rows,
            file.report.rows_lost
        ),
        Some(path) => {
            let summary = Summary::of(&capture_core::read_jsonl(path)?);
            println!(
                "file: {} ({} lines, {} tutorial rows)",
                path.display(),
                summary.lines,
                summary.tutorial_rows
            );
            for count in &summary.counts {
                println!(
                    "  {:>4}  {} {}{}{}",
                    count.rows,
                    count.kind,
                    count
                        .subtype
                        .as_deref()
                        .map(|s| format!("{s} "))
                        .unwrap_or_default(),
                    count.activity,
                    count
                        .status
                        .map(|s| format!(" {}", s.as_str()))
                        .unwrap_or_default()
                );
            }
        }
        None => println!("file: none (project.dump_buffer.enabled is false and no --out)"),
    }
    for (index, config) in outcome.results.iter().enumerate() {
        match &config.result {
            Ok(result) => println!(
                "config {index}: train_loss {:.4}  val_loss {:.4}  test_loss {:.4}  ({:.2} s, best model {})",
                result.train_loss,
                result.val_loss,
                result.test_loss,
                result.training_time,
                result.checkpoint.display()
            ),
            Err(error) => println!("config {index}: failed: {error}"),
        }
    }
    println!("wall time: {wall_time:.2} s");
    if !path.is_some_and(Path::exists) && path.is_some() {
        bail!("the capture file was not written");
    }
    Ok(())
}
