//! Facts about a tensor that capture needs, supplied by the framework side.
//!
//! capture-core knows no tensor library. A framework implements [`TensorFacts`] for its
//! tensors (the trainer does it for burn) and capture turns the facts into the
//! `{"tensor": {...}}` inspection Flowcept writes on forward rows.

/// What capture asks of a tensor. Methods are only called when an inspection is recorded,
/// so an implementation may do real work (a device reduction for [`TensorFacts::density`]).
pub trait TensorFacts {
    /// Returns the dimensions, outermost first.
    fn shape(&self) -> Vec<usize>;
    /// Returns the device the tensor lives on, as a short label (`cpu`, `wgpu:0`).
    fn device(&self) -> String;
    /// Returns the size in bytes of one element.
    fn dtype_size(&self) -> usize;
    /// Returns the number of elements; the product of the shape unless overridden.
    fn numel(&self) -> usize {
        self.shape().iter().product()
    }
    /// Returns the fraction of elements that are not zero, in `[0, 1]`.
    fn density(&self) -> f64;
    /// Tells whether the tensor is stored sparse.
    fn is_sparse(&self) -> bool {
        false
    }
    /// Returns an identifier of the tensor, stable while it lives (an address is fine).
    fn id(&self) -> u64;
}
