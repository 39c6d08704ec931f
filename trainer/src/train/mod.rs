//! `model_train`: one config of the search, trained, validated and tested as the tutorial
//! does it, with every capture call in place.
//!
//! Per epoch: a train pass over the train data with `bptt = batch_size` (the tutorial's
//! quirk: the sequence length is the batch size), Adam steps on the cross-entropy loss, then
//! an eval pass over the validation data with `bptt = eval_batch_size`, dropout off. The
//! model with the lowest validation loss is saved with burn's recorder under the config's
//! run folder; after the last epoch it is loaded into a fresh model and evaluated on the
//! test data (not captured, as in the tutorial).
//!
//! The losses follow the tutorial's arithmetic: the train loss of an epoch is the mean of
//! its batch losses; the validation and test losses are the sum of the batch losses
//! divided by the last window's offset plus one (`total_loss / (i + 1)` in the tutorial),
//! which is not a mean but is what the tutorial's rows report.
//!
//! Capture: the epoch loop (`epochs_loop_iteration`, parent the `model_train` task), the
//! train and eval batch loops (`train_batch_iteration`, `eval_batch_iteration`, parent the
//! epoch), parent forwards and child forwards as the epoch's [`ForwardPlan`] says, and
//! the model registered as a workflow with its profile. Everything is a no-op when the
//! settings leave it off.

mod forward;

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use capture_core::{Capture, ForwardPlan, TaskId, WorkflowId};
use serde::Serialize;
use serde_json::json;
use tracing::{debug, trace};

pub use forward::MODEL_NAME;
use forward::{ChildModules, ForwardCapture};

use crate::campaign::Progress;
use crate::data::{Batchified, PreparedData};
use crate::model::{ModelConfig, ModelError, ModelProfile, TransformerModel};
use crate::params::TrainConfig;

/// Adam's epsilon: PyTorch's default, where burn's is 1e-5.
const ADAM_EPSILON: f32 = 1e-8;

/// Why a config could not be trained. The message becomes the `model_train` row's `stderr`.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The model cannot be built from the config.
    #[error("invalid config")]
    Model(#[from] ModelError),
    /// Sequences longer than the positional encoding.
    #[error(
        "invalid config: pos_encoding_max_len {max_len} is shorter than the longest sequence \
         ({seq_len}, set by batch_size and eval_batch_size)"
    )]
    SequenceTooLong {
        /// The longest sequence a pass feeds the model.
        seq_len: usize,
        /// `pos_encoding_max_len`.
        max_len: usize,
    },
    /// The run folder could not be created.
    #[error("cannot create run folder {}", path.display())]
    RunDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The best model could not be saved or loaded back.
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What burn's recorder reported.
        message: String,
    },
}

/// The losses of one epoch.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EpochLosses {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Mean train batch loss.
    pub train_loss: f64,
    /// Validation loss (the tutorial's arithmetic, see the module docs).
    pub val_loss: f64,
}

/// What `model_train` returns (its row's `generated`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainResult {
    /// Loss of the best model on the test data.
    pub test_loss: f64,
    /// Train loss of the last epoch.
    pub train_loss: f64,
    /// Validation loss of the last epoch.
    pub val_loss: f64,
    /// Seconds spent in the epoch loop.
    pub training_time: f64,
    /// The epoch (from 1) whose model was the best.
    pub best_epoch: usize,
    /// Where the best model was saved.
    pub checkpoint: PathBuf,
    /// Losses of every epoch.
    pub epochs: Vec<EpochLosses>,
}

impl TrainResult {
    /// Returns the `generated` of the `model_train` row: Flowcept's keys, plus the best
    /// epoch and the checkpoint path.
    pub fn to_generated(&self, device: &str) -> serde_json::Value {
        json!({
            "test_loss": self.test_loss,
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "training_time": self.training_time,
            "best_epoch": self.best_epoch,
            "best_model_path": self.checkpoint.display().to_string(),
            "device": device,
        })
    }
}

/// Where and how a config trains.
#[derive(Clone, Copy)]
pub struct TrainContext<'a> {
    /// The capture handle.
    pub capture: &'a Capture,
    /// The `SearchWorkflow` (the epoch and batch rows' workflow, the model's parent).
    pub search_workflow: &'a WorkflowId,
    /// The `model_train` task (the epoch rows' parent).
    pub task: &'a TaskId,
    /// The device, without autodiff.
    pub device: &'a Device,
    /// The device label of tensor inspections (`cpu`, `wgpu:0`).
    pub device_label: &'a str,
    /// The folder the best model of this config is saved in.
    pub run_dir: &'a Path,
    /// Told after every epoch.
    pub progress: &'a dyn Progress,
}

impl std::fmt::Debug for TrainContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainContext")
            .field("search_workflow", self.search_workflow)
            .field("task", self.task)
            .field("device_label", &self.device_label)
            .field("run_dir", &self.run_dir)
            .finish_non_exhaustive()
    }
}

/// Returns the model config of a train config over a vocabulary of `ntokens`.
pub fn model_config(config: &TrainConfig, ntokens: usize) -> ModelConfig {
    ModelConfig {
        ntokens,
        emsize: config.emsize,
        nhead: config.nhead,
        nhid: config.nhid,
        nlayers: config.nlayers,
        dropout: config.dropout,
        pos_encoding_max_len: config.pos_encoding_max_len,
    }
}

/// Trains one config: epochs of train and eval passes, best model saved, test pass.
///
/// # Errors
///
/// [`TrainError::Model`] or [`TrainError::SequenceTooLong`] for a config that cannot be
/// built (checked before anything is trained), [`TrainError::RunDir`] and
/// [`TrainError::Checkpoint`] when the best model cannot be written or read back.
pub fn model_train(
    config: &TrainConfig,
    data: &PreparedData,
    ctx: &TrainContext<'_>,
) -> Result<TrainResult, TrainError> {
    let model_config = model_config(config, data.summary.ntokens);
    model_config.validate()?;
    let seq_len = config.batch_size.max(config.eval_batch_size);
    if seq_len > config.pos_encoding_max_len {
        return Err(TrainError::SequenceTooLong {
            seq_len,
            max_len: config.pos_encoding_max_len,
        });
    }
    std::fs::create_dir_all(ctx.run_dir).map_err(|source| TrainError::RunDir {
        path: ctx.run_dir.to_owned(),
        source,
    })?;
    let checkpoint = ctx.run_dir.join("best_model.bpk");

    let train_device = ctx.device.clone().autodiff();
    train_device.seed(config.random_seed);
    let mut model = model_config.init(&train_device)?;
    let model_workflow = register_model(ctx, &model, &model_config);
    let children = ChildModules::of(&model_config);
    let mut optimizer = AdamConfig::new().with_epsilon(ADAM_EPSILON).init();
    let train_loss_fn = CrossEntropyLossConfig::new().init(&train_device);
    let eval_loss_fn = CrossEntropyLossConfig::new().init(ctx.device);
    let policy = ctx.capture.forward_policy();

    let started = Instant::now();
    let mut epochs = Vec::with_capacity(config.epochs);
    let mut best: Option<(f64, usize)> = None;
    let epoch_loop = ctx.capture.epoch_loop(ctx.task, ctx.search_workflow);
    for epoch_index in 0..config.epochs {
        let epoch = epoch_index + 1;
        let iteration = epoch_loop.iteration(epoch);
        let plan = policy.for_epoch(epoch_index);
        let parent = iteration.id().unwrap_or(ctx.task);

        let pass = Pass {
            ctx,
            model_workflow: &model_workflow,
            children: &children,
            plan,
            epoch_iteration: parent,
        };
        let train_loss;
        (model, train_loss) = pass.train(model, &mut optimizer, config.lr, data, &train_loss_fn);
        let val_loss = pass.evaluate(
            &model.valid(),
            &data.valid,
            config.eval_batch_size,
            &eval_loss_fn,
        );
        debug!(
            config = config.index,
            epoch, train_loss, val_loss, "epoch done"
        );

        // The epoch's row is written before the checkpoint: a save that fails leaves the
        // epoch with its losses, and the error on the model_train row.
        iteration.end_numbers(&[("train_loss", train_loss), ("val_loss", val_loss)]);
        if best.is_none_or(|(loss, _)| val_loss < loss) {
            best = Some((val_loss, epoch));
            save_checkpoint(&model, &checkpoint)?;
        }
        ctx.progress
            .epoch_finished(config.index, epoch, config.epochs, train_loss, val_loss);
        epochs.push(EpochLosses {
            epoch,
            train_loss,
            val_loss,
        });
    }
    drop(epoch_loop);
    let training_time = started.elapsed().as_secs_f64();

    // No epoch beat +inf only when every validation loss was NaN; test the last model then.
    let best_epoch = match best {
        Some((_, epoch)) => epoch,
        None => {
            save_checkpoint(&model, &checkpoint)?;
            config.epochs
        }
    };
    let best_model = model_config
        .init(ctx.device)?
        .try_load_file(&checkpoint)
        .map_err(|err| TrainError::Checkpoint {
            path: checkpoint.clone(),
            message: err.to_string(),
        })?;
    let untracked = Pass {
        ctx,
        model_workflow: &model_workflow,
        children: &children,
        plan: ForwardPlan::NOTHING,
        epoch_iteration: ctx.task,
    };
    let test_loss = untracked.evaluate_uncaptured(
        &best_model,
        &data.test,
        config.eval_batch_size,
        &eval_loss_fn,
    );

    let last = epochs.last().copied();
    Ok(TrainResult {
        test_loss,
        train_loss: last.map_or(f64::NAN, |e| e.train_loss),
        val_loss: last.map_or(f64::NAN, |e| e.val_loss),
        training_time,
        best_epoch,
        checkpoint,
        epochs,
    })
}

/// Saves the model with burn's recorder where the test pass will reload it.
fn save_checkpoint(model: &TransformerModel, checkpoint: &Path) -> Result<(), TrainError> {
    model
        .clone()
        .save_file(checkpoint)
        .map_err(|err| TrainError::Checkpoint {
            path: checkpoint.to_owned(),
            message: err.to_string(),
        })
}

/// Registers the model as a workflow (one row when the settings register models) and
/// returns the id its forward rows use.
fn register_model(
    ctx: &TrainContext<'_>,
    model: &TransformerModel,
    config: &ModelConfig,
) -> WorkflowId {
    let settings = ctx.capture.settings();
    let builder = ctx
        .capture
        .register_workflow(MODEL_NAME)
        .parent(ctx.search_workflow);
    // The profile walks the module tree and prints it: only worth it when it is written.
    let builder =
        if ctx.capture.is_instrumented() && settings.instrumentation.torch.register_workflow {
            builder.custom_metadata(json!({
                "workflow_type": "BurnModule",
                "model_profile": ModelProfile::of(model, config).to_json(),
            }))
        } else {
            builder
        };
    builder.register()
}

/// The passes of one epoch, with what they need to capture their forwards.
struct Pass<'a> {
    ctx: &'a TrainContext<'a>,
    model_workflow: &'a WorkflowId,
    children: &'a ChildModules,
    plan: ForwardPlan,
    epoch_iteration: &'a TaskId,
}

impl Pass<'_> {
    fn forwards(&self, is_training: bool) -> ForwardCapture<'_> {
        ForwardCapture {
            capture: self.ctx.capture,
            model_workflow: self.model_workflow,
            children: self.children,
            plan: self.plan,
            device_label: self.ctx.device_label,
            is_training,
        }
    }

    /// One pass over the train data; returns the updated model and the mean batch loss.
    fn train(
        &self,
        mut model: TransformerModel,
        optimizer: &mut burn::optim::ModuleOptimizer,
        lr: f64,
        data: &PreparedData,
        loss_fn: &CrossEntropyLoss,
    ) -> (TransformerModel, f64) {
        let bptt = data.spec.batch_size;
        let train = &data.train;
        let device = self.ctx.device.clone().autodiff();
        let forwards = self.forwards(true);
        let batches = self.ctx.capture.batch_loop(
            "train_batch",
            Some(self.epoch_iteration),
            self.ctx.search_workflow,
        );
        let windows = train.windows(bptt);
        let mut total = 0.0;
        for window in &windows {
            let iteration = batches.iteration(json!([window.index, window.offset]));
            let parent = iteration.id().unwrap_or(self.epoch_iteration);
            let (input, targets) = step_tensors(train, window, &device);
            let logits = forwards.forward(&model, input, Some(parent));
            let loss = loss_fn.forward(flatten(logits), targets);
            let loss_value = loss.clone().into_scalar::<f64>();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(lr, model, grads);
            trace!(batch = window.index, loss = loss_value, "train step");
            total += loss_value;
            iteration.end_numbers(&[("loss", loss_value)]);
        }
        (model, total / windows.len().max(1) as f64)
    }

    /// One captured eval pass (validation); see [`Pass::evaluate_uncaptured`] for the loss.
    fn evaluate(
        &self,
        model: &TransformerModel,
        data: &Batchified,
        bptt: usize,
        loss_fn: &CrossEntropyLoss,
    ) -> f64 {
        let batches = self.ctx.capture.batch_loop(
            "eval_batch",
            Some(self.epoch_iteration),
            self.ctx.search_workflow,
        );
        self.eval_loop(model, data, bptt, loss_fn, Some(&batches))
    }

    /// An eval pass without loop rows (the test pass): the tutorial's `total_loss / (i + 1)`.
    fn evaluate_uncaptured(
        &self,
        model: &TransformerModel,
        data: &Batchified,
        bptt: usize,
        loss_fn: &CrossEntropyLoss,
    ) -> f64 {
        self.eval_loop(model, data, bptt, loss_fn, None)
    }

    fn eval_loop(
        &self,
        model: &TransformerModel,
        data: &Batchified,
        bptt: usize,
        loss_fn: &CrossEntropyLoss,
        batches: Option<&capture_core::LoopCapture>,
    ) -> f64 {
        let device = self.ctx.device;
        let forwards = self.forwards(false);
        let windows = data.windows(bptt);
        let mut total = 0.0;
        for window in &windows {
            let iteration = batches.map(|b| b.iteration(json!([window.index, window.offset])));
            let parent = iteration
                .as_ref()
                .and_then(|it| it.id())
                .unwrap_or(self.epoch_iteration);
            let (input, targets) = step_tensors(data, window, device);
            let logits = forwards.forward(model, input, Some(parent));
            let loss_value = loss_fn
                .forward(flatten(logits), targets)
                .into_scalar::<f64>();
            total += loss_value;
            if let Some(iteration) = iteration {
                iteration.end_numbers(&[("loss", loss_value)]);
            }
        }
        let last_offset = windows.last().map_or(0, |w| w.offset);
        total / (last_offset + 1) as f64
    }
}

/// The input `[seq_len, batch]` and flattened targets of one window, on `device`.
fn step_tensors(
    data: &Batchified,
    window: &crate::data::Window,
    device: &Device,
) -> (Tensor<2, Int>, Tensor<1, Int>) {
    let columns = data.columns();
    let input = Tensor::<2, Int>::from_data(
        TensorData::new(data.input(window).to_vec(), [window.seq_len, columns]),
        device,
    );
    let targets = Tensor::<1, Int>::from_data(
        TensorData::new(data.targets(window).to_vec(), [window.seq_len * columns]),
        device,
    );
    (input, targets)
}

/// `[seq, batch, ntokens]` to `[seq · batch, ntokens]` (the tutorial's `view(-1, ntokens)`).
fn flatten(logits: Tensor<3>) -> Tensor<2> {
    let [seq, batch, ntokens] = logits.dims();
    logits.reshape([seq * batch, ntokens])
}
