//! [`TensorFacts`] for burn tensors: what a tensor inspection records.
//!
//! Shape, dtype size and id are known without touching the data. The density (fraction of
//! non-zero elements) of a wgpu tensor is reduced on its device and only the count comes
//! back, so inspecting it copies one integer, not the tensor. A CPU tensor's data is in
//! host memory already: [`host`] counts it where it lies, with no copy and none of the
//! three tensor operations (compare, cast, sum) the device path takes. capture-core only
//! asks for the facts when it records an inspection.

mod host;

use std::sync::atomic::{AtomicU64, Ordering};

use burn::tensor::{Int, Tensor};
use capture_core::{Shape, TensorFacts};

use crate::model::{Flow, FlowTensor};

static NEXT_TENSOR_ID: AtomicU64 = AtomicU64::new(1);

/// Returns a new tensor id, unique in the process.
pub fn next_tensor_id() -> u64 {
    NEXT_TENSOR_ID.fetch_add(1, Ordering::Relaxed)
}

/// A burn tensor seen through [`TensorFacts`].
#[derive(Clone, Copy, Debug)]
pub struct BurnTensorFacts<'a> {
    flow: Flow<'a>,
    device: &'a str,
}

impl<'a> BurnTensorFacts<'a> {
    /// Wraps a tensor crossing a child boundary; `device` is the label to record (`cpu`).
    pub fn new(flow: Flow<'a>, device: &'a str) -> Self {
        BurnTensorFacts { flow, device }
    }

    /// Wraps a token-id tensor with a given id.
    pub fn tokens(tensor: &'a Tensor<2, Int>, id: u64, device: &'a str) -> Self {
        Self::new(
            Flow {
                id,
                tensor: FlowTensor::Tokens(tensor),
            },
            device,
        )
    }

    /// Wraps an activation tensor with a given id.
    pub fn activations(tensor: &'a Tensor<3>, id: u64, device: &'a str) -> Self {
        Self::new(
            Flow {
                id,
                tensor: FlowTensor::Activations(tensor),
            },
            device,
        )
    }
}

impl TensorFacts for BurnTensorFacts<'_> {
    fn shape(&self) -> Shape {
        match self.flow.tensor {
            FlowTensor::Tokens(t) => Shape::from(t.dims()),
            FlowTensor::Activations(t) => Shape::from(t.dims()),
        }
    }

    fn device(&self) -> &str {
        self.device
    }

    fn dtype_size(&self) -> usize {
        match self.flow.tensor {
            FlowTensor::Tokens(t) => t.dtype().size(),
            FlowTensor::Activations(t) => t.dtype().size(),
        }
    }

    fn density(&self) -> f64 {
        let numel = self.shape().numel();
        if numel == 0 {
            return 0.0;
        }
        let nonzero = if self.device == crate::device::CPU_LABEL {
            host::count_nonzero(self.flow.tensor)
        } else {
            let count = match self.flow.tensor {
                FlowTensor::Tokens(t) => t.clone().not_equal_elem(0).int().sum(),
                FlowTensor::Activations(t) => t.clone().not_equal_elem(0.0).int().sum(),
            };
            count.into_scalar::<i64>() as u64
        };
        nonzero as f64 / numel as f64
    }

    fn id(&self) -> u64 {
        self.flow.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn facts_of_a_token_tensor() {
        let device = Device::flex();
        let ids =
            Tensor::<2, Int>::from_data(TensorData::new(vec![0i64, 3, 0, 5], [2, 2]), &device);
        let facts = BurnTensorFacts::tokens(&ids, 7, "cpu");
        assert_eq!(facts.shape(), [2, 2]);
        assert_eq!(facts.shape().numel(), 4);
        assert_eq!(facts.density(), 0.5);
        assert_eq!(facts.dtype_size(), ids.dtype().size());
        assert_eq!((facts.id(), facts.device()), (7, "cpu"));
    }

    #[test]
    fn facts_of_an_activation_tensor() {
        let device = Device::flex();
        let x = Tensor::<3>::from_data(
            TensorData::new(vec![0.0f32, 1.5, -2.0, 0.0, 0.0, 4.0], [1, 2, 3]),
            &device,
        );
        let facts = BurnTensorFacts::activations(&x, 1, "cpu");
        assert_eq!(facts.shape(), [1, 2, 3]);
        assert_eq!(facts.dtype_size(), 4);
        assert_eq!(facts.density(), 0.5);
    }

    #[test]
    fn host_and_device_counting_agree() {
        let device = Device::flex();
        let values: Vec<f32> = (0..600)
            .map(|i| match i % 7 {
                0 | 3 => 0.0,
                5 => -0.0,
                6 if i % 5 == 0 => f32::NAN,
                _ => i as f32 * 0.25,
            })
            .collect();
        let x = Tensor::<3>::from_data(TensorData::new(values, [4, 10, 15]), &device);
        // Sequence-first activations are transposed views, as around `transformer_encoder`.
        let x_transposed = x.clone().swap_dims(0, 1);
        let tokens = Tensor::<2, Int>::from_data(
            TensorData::new((0..60i64).map(|i| i % 4).collect::<Vec<_>>(), [6, 10]),
            &device,
        );
        // A label other than the CPU's takes the device path on the same tensors.
        for (host, on_device) in [
            (
                BurnTensorFacts::activations(&x, 1, "cpu"),
                BurnTensorFacts::activations(&x, 1, "wgpu:0"),
            ),
            (
                BurnTensorFacts::activations(&x_transposed, 3, "cpu"),
                BurnTensorFacts::activations(&x_transposed, 3, "wgpu:0"),
            ),
            (
                BurnTensorFacts::tokens(&tokens, 2, "cpu"),
                BurnTensorFacts::tokens(&tokens, 2, "wgpu:0"),
            ),
        ] {
            let density = host.density();
            assert!(density > 0.2 && density < 0.9, "{density}");
            assert_eq!(density, on_device.density());
        }
    }

    #[test]
    fn ids_are_unique() {
        assert_ne!(next_tensor_id(), next_tensor_id());
    }
}
