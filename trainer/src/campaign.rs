//! The campaign: data preparation, then the search, one `model_train` task per config.
//!
//! [`run_campaign`] reproduces the tutorial's `run_campaign`:
//!
//! 1. the device is selected (a missing wgpu adapter stops here, before any row);
//! 2. `DataPrepWorkflow` (instrumented: written only with instrumentation on) records what
//!    the data preparation used and produced;
//! 3. `SearchWorkflow` (essential: always written) records the workflow parameters and,
//!    in `machine_info`, the backend;
//! 4. the configs run on a pool of `workers` threads, each one a `model_train` task
//!    (essential): `RUNNING` with its config as `used`, then `FINISHED` with its results
//!    or `ERROR` with the error text. A failing config (even one that panics inside burn)
//!    does not stop the others.
//!
//! Seeding: each config seeds its device with `random_seed` before building its model.
//! burn's flex backend keeps one random generator per process, so runs are reproducible
//! with one worker; with several, configs draw from it in whatever order they run.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use capture_core::{Capture, WorkflowId};
use serde_json::{Value, json};
use tracing::{debug, warn};

use crate::data::{DataError, DataSummary, PreparedData, RawSplits, prepare};
use crate::device::{BackendInfo, BackendKind, DeviceError, SelectedDevice, select};
use crate::params::{ParamsError, TrainConfig, WorkflowParams, generate_configs};
use crate::train::{TrainContext, TrainResult, model_train};

/// Hears how the campaign progresses (the CLI draws progress bars). Called from worker
/// threads.
pub trait Progress: Sync {
    /// The search is about to run `n` configs.
    fn configs_started(&self, n: usize);
    /// A config ended, successfully or not.
    fn config_finished(&self, index: usize, ok: bool);
    /// A config finished an epoch (`epoch` counts from 1).
    fn epoch_finished(
        &self,
        config: usize,
        epoch: usize,
        epochs: usize,
        train_loss: f64,
        val_loss: f64,
    );
}

/// A [`Progress`] that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn configs_started(&self, _n: usize) {}
    fn config_finished(&self, _index: usize, _ok: bool) {}
    fn epoch_finished(&self, _: usize, _: usize, _: usize, _: f64, _: f64) {}
}

/// What a campaign runs.
#[derive(Clone, Debug)]
pub struct CampaignOptions {
    /// The workflow parameters (the tutorial's JSON).
    pub params: WorkflowParams,
    /// The backend to train on.
    pub backend: BackendKind,
    /// A WikiText-2 folder; `None` uses the embedded excerpt.
    pub data_dir: Option<PathBuf>,
    /// Worker threads running configs; 0 is taken as 1.
    pub workers: usize,
    /// Overrides `params.random_seed` when set.
    pub seed: Option<u64>,
    /// Where the best model of each config is saved (`config-<n>/best_model.bpk`).
    pub run_dir: PathBuf,
}

impl Default for CampaignOptions {
    /// The tutorial's parameters on the CPU, embedded data, one worker, `./runs`.
    fn default() -> Self {
        CampaignOptions {
            params: WorkflowParams::default(),
            backend: BackendKind::Cpu,
            data_dir: None,
            workers: 1,
            seed: None,
            run_dir: PathBuf::from("runs"),
        }
    }
}

/// How one config ended.
#[derive(Clone, Debug)]
pub struct ConfigOutcome {
    /// The config.
    pub config: TrainConfig,
    /// Its results, or the error text written to its `ERROR` row.
    pub result: Result<TrainResult, String>,
}

/// What a campaign did.
#[derive(Clone, Debug)]
pub struct CampaignOutcome {
    /// One outcome per config, in config order.
    pub results: Vec<ConfigOutcome>,
    /// The data preparation's facts.
    pub data: DataSummary,
    /// The device the configs trained on.
    pub backend: BackendInfo,
    /// The `SearchWorkflow`'s id.
    pub search_workflow_id: String,
    /// Seconds from start to end of the campaign.
    pub wall_time: f64,
}

impl CampaignOutcome {
    /// Returns the number of configs that failed.
    pub fn failed(&self) -> usize {
        self.results.iter().filter(|r| r.result.is_err()).count()
    }
}

/// Why a campaign could not run at all (a failing config is not one: see
/// [`ConfigOutcome::result`]).
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// The workflow parameters are invalid.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// The backend has no device.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The data could not be read or prepared.
    #[error(transparent)]
    Data(#[from] DataError),
}

/// Runs the campaign and returns what it did.
///
/// ```no_run
/// use capture_core::{Capture, CaptureOptions, Settings};
/// use trainer::campaign::{CampaignOptions, NoProgress, run_campaign};
///
/// let capture = Capture::start(Settings::tutorial_default(), CaptureOptions::default())?;
/// let outcome = run_campaign(&CampaignOptions::default(), &capture, &NoProgress)?;
/// println!("test loss {:?}", outcome.results[0].result.as_ref().map(|r| r.test_loss));
/// capture.finish()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`CampaignError`] when the parameters, the device or the data are unusable; nothing
/// is trained then.
pub fn run_campaign(
    opts: &CampaignOptions,
    capture: &Capture,
    progress: &dyn Progress,
) -> Result<CampaignOutcome, CampaignError> {
    let started = Instant::now();
    let mut params = opts.params.clone();
    if let Some(seed) = opts.seed {
        params.random_seed = seed;
    }
    params.validate()?;
    let configs = generate_configs(&params);
    let selected = select(opts.backend)?;

    let raw = RawSplits::load(opts.data_dir.as_deref())?;
    let data = prepare(&raw, &params.data_spec())?;
    debug!(ntokens = data.summary.ntokens, "data prepared");
    let dataprep = capture
        .workflow("DataPrepWorkflow")
        .used(data.workflow_used())
        .start();
    let mut dataprep = dataprep;
    dataprep.set_generated(data.workflow_generated());
    dataprep.finish();

    let workers = opts.workers.clamp(1, configs.len().max(1));
    let mut search_used = params.to_json();
    if let Value::Object(map) = &mut search_used {
        map.insert("n_configs".into(), json!(configs.len()));
    }
    let mut search = capture
        .workflow("SearchWorkflow")
        .used(search_used)
        .custom_metadata(json!({"n_workers": workers}))
        .machine_info(json!({"backend": selected.info}))
        .essential()
        .start();
    let search_id = search.id().clone();

    progress.configs_started(configs.len());
    let results = run_configs(
        &configs,
        workers,
        &Shared {
            capture,
            search_id: &search_id,
            selected: &selected,
            data: &data,
            opts,
            progress,
        },
    );

    let failed = results.iter().filter(|r| r.result.is_err()).count();
    search.set_generated(json!({
        "n_configs": configs.len(),
        "n_finished": configs.len() - failed,
        "n_failed": failed,
    }));
    search.finish();

    Ok(CampaignOutcome {
        results,
        data: data.summary.clone(),
        backend: selected.info.clone(),
        search_workflow_id: search_id.as_str().to_owned(),
        wall_time: started.elapsed().as_secs_f64(),
    })
}

/// What every worker reads.
struct Shared<'a> {
    capture: &'a Capture,
    search_id: &'a WorkflowId,
    selected: &'a SelectedDevice,
    data: &'a PreparedData,
    opts: &'a CampaignOptions,
    progress: &'a dyn Progress,
}

/// Runs the configs on `workers` threads, each taking the next config until none is left.
fn run_configs(configs: &[TrainConfig], workers: usize, shared: &Shared<'_>) -> Vec<ConfigOutcome> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Result<TrainResult, String>>>> =
        Mutex::new(vec![None; configs.len()]);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(config) = configs.get(index) else {
                        break;
                    };
                    let result = run_one(config, shared);
                    shared.progress.config_finished(index, result.is_ok());
                    slots.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(result);
                }
            });
        }
    });
    let slots = slots.into_inner().unwrap_or_else(|p| p.into_inner());
    configs
        .iter()
        .zip(slots)
        .map(|(config, slot)| ConfigOutcome {
            config: config.clone(),
            result: slot.unwrap_or_else(|| Err("the config did not run".to_owned())),
        })
        .collect()
}

/// One `model_train` task: `RUNNING`, then `FINISHED` with the results or `ERROR`.
fn run_one(config: &TrainConfig, shared: &Shared<'_>) -> Result<TrainResult, String> {
    let mut used = config.to_json();
    if let Value::Object(map) = &mut used {
        map.insert("ntokens".into(), json!(shared.data.summary.ntokens));
        map.insert("workflow_id".into(), json!(shared.search_id.as_str()));
        map.insert("campaign_id".into(), json!(shared.capture.campaign_id()));
        map.insert("config_index".into(), json!(config.index));
    }
    let task = shared
        .capture
        .task("model_train", shared.search_id)
        .used(used)
        .essential()
        .start();
    let run_dir = shared.opts.run_dir.join(format!("config-{}", config.index));
    let ctx = TrainContext {
        capture: shared.capture,
        search_workflow: shared.search_id,
        task: task.id(),
        device: &shared.selected.device,
        device_label: &shared.selected.info.device,
        run_dir: &run_dir,
        progress: shared.progress,
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| model_train(config, shared.data, &ctx)));
    let result = match outcome {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(err)) => Err(error_chain(&err)),
        Err(panic) => Err(format!("panicked: {}", panic_message(&panic))),
    };
    match &result {
        Ok(result) => task.finish(result.to_generated(&shared.selected.info.device)),
        Err(message) => {
            warn!(config = config.index, %message, "config failed");
            task.fail(message);
        }
    }
    result
}

/// The error and its sources, joined with `: `.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}
