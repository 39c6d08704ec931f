//! The Flowcept LLM tutorial's campaign in burn, captured with capture-core.
//!
//! The campaign prepares WikiText-2 (torchtext's `basic_english` tokenizer, a vocabulary
//! built from the train rows, batchified splits), then runs a hyperparameter search: one
//! `model_train` task per config, each training the tutorial's `TransformerModel` with
//! Adam and cross-entropy, validating every epoch, saving the best model and testing it.
//! Every step is wired to [`capture_core`], so the buffer file holds the rows Flowcept
//! writes for the tutorial at whatever capture level the settings choose.
//!
//! # Key types
//!
//! - [`campaign::run_campaign`] with [`campaign::CampaignOptions`]: the whole job; returns
//!   a [`campaign::CampaignOutcome`] (losses per config, data facts, backend).
//! - [`params::WorkflowParams`]: the tutorial's `--workflow-params` JSON;
//!   [`params::generate_configs`] expands it.
//! - [`data::prepare`] and [`data::RawSplits`]: the data preparation; the default data is
//!   an excerpt embedded in the crate (`trainer/data/`, CC BY-SA 3.0).
//! - [`model::TransformerModel`], [`model::ModelProfile`]: the model and its profile.
//! - [`train::model_train`]: one config.
//! - [`device::select`]: the one place a backend becomes a device.
//!
//! # Example
//!
//! The tutorial's default campaign on the CPU, rows written to a file:
//!
//! ```no_run
//! use capture_core::{Capture, CaptureOptions, Settings};
//! use trainer::campaign::{CampaignOptions, NoProgress, run_campaign};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let capture = Capture::start(
//!     Settings::tutorial_default(),
//!     CaptureOptions { output: Some("flowcept_buffer.jsonl".into()), ..Default::default() },
//! )?;
//! let outcome = run_campaign(&CampaignOptions::default(), &capture, &NoProgress)?;
//! for config in &outcome.results {
//!     println!("{:?}", config.result.as_ref().map(|r| r.test_loss));
//! }
//! let report = capture.finish()?;
//! println!("{} rows in {:?}", report.rows, report.path);
//! # Ok(())
//! # }
//! ```
//!
//! # Cargo features
//!
//! - `wgpu` (default): the wgpu backend (`BackendKind::Wgpu`): Vulkan, Metal, DX12, or
//!   Mesa's lavapipe without a GPU. Without it, asking for wgpu is an error.

#![deny(missing_docs)]

pub mod campaign;
pub mod data;
pub mod device;
pub mod model;
pub mod params;
pub mod scenario;
pub mod tensor_facts;
pub mod train;

pub use campaign::{
    CampaignError, CampaignOptions, CampaignOutcome, ConfigOutcome, NoProgress, Progress,
    run_campaign,
};
pub use device::{BackendInfo, BackendKind, DeviceError};
pub use params::{ParamsError, TrainConfig, WorkflowParams, generate_configs};
pub use train::{EpochLosses, TrainError, TrainResult};
