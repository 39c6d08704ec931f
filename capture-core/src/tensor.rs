//! Facts about a tensor that capture needs, supplied by the framework side.
//!
//! capture-core knows no tensor library. A framework implements [`TensorFacts`] for its
//! tensors (the trainer does it for burn) and capture turns the facts into the
//! `{"tensor": {...}}` inspection Flowcept writes on forward rows.

use serde::{Deserialize, Serialize};

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

/// The facts Flowcept records about one tensor, as written under `used.tensor` or
/// `generated.tensor` of a forward row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorInspection {
    /// Identifier of the tensor, stable while it lives.
    pub id: u64,
    /// Whether the tensor is stored sparse.
    pub is_sparse: bool,
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Device label (`cpu`, `wgpu:0`).
    pub device: String,
    /// Size of the data in bytes (`numel × dtype size`).
    pub nbytes: u64,
    /// Number of elements.
    pub numel: u64,
    /// Fraction of elements that are not zero.
    pub density: f64,
}

impl TensorInspection {
    /// Inspects a tensor through its facts.
    pub fn of(tensor: &dyn TensorFacts) -> Self {
        let numel = tensor.numel() as u64;
        TensorInspection {
            id: tensor.id(),
            is_sparse: tensor.is_sparse(),
            shape: tensor.shape(),
            device: tensor.device(),
            nbytes: numel.saturating_mul(tensor.dtype_size() as u64),
            numel,
            density: tensor.density(),
        }
    }

    /// Returns the inspection the way a row holds it: `{"tensor": {...}}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "tensor": self })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tensor made of plain facts, for tests here and elsewhere in the crate.
    pub(crate) struct FakeTensor {
        pub(crate) shape: Vec<usize>,
        pub(crate) density: f64,
    }

    impl TensorFacts for FakeTensor {
        fn shape(&self) -> Vec<usize> {
            self.shape.clone()
        }
        fn device(&self) -> String {
            "cpu".into()
        }
        fn dtype_size(&self) -> usize {
            8
        }
        fn density(&self) -> f64 {
            self.density
        }
        fn id(&self) -> u64 {
            7
        }
    }

    #[test]
    fn an_inspection_holds_flowcepts_fields() {
        let tensor = FakeTensor {
            shape: vec![20, 20],
            density: 0.9775,
        };
        let json = TensorInspection::of(&tensor).to_json();
        assert_eq!(
            json,
            serde_json::json!({"tensor": {"id": 7, "is_sparse": false, "shape": [20, 20],
                "device": "cpu", "nbytes": 3200, "numel": 400, "density": 0.9775}})
        );
    }
}
