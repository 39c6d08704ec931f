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

/// The CPU device's random generator is one per process, shared by the unit tests that
/// run in parallel: a test that seeds it, and every test that draws from it (building a
/// model draws its initial weights), holds this lock, so that no other test draws
/// between a seed and the draws it should decide.
#[cfg(test)]
pub(crate) fn lock_test_rng() -> std::sync::MutexGuard<'static, ()> {
    static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    RNG.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
