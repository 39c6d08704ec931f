//! The tutorial's model in burn, and the profile Flowcept records of it.
//!
//! [`TransformerModel`] is built from a [`ModelConfig`] (validated first, so a bad
//! combination such as `nhead` not dividing `emsize` is an error, never a panic in burn).
//! [`TransformerModel::forward_observed`] reports each first-level child's input and output
//! to a [`ForwardObserver`]; [`ModelProfile`] describes the model under Flowcept's
//! `model_profile` keys.

mod positional;
mod profile;
mod transformer;

pub use positional::PositionalEncoding;
pub use profile::{ModelProfile, child_attributes};
pub use transformer::{
    Child, Flow, FlowTensor, ForwardObserver, ModelConfig, ModelError, TransformerModel,
};
