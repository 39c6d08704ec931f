//! Non-zero counting of CPU tensors where burn-flex keeps them.
//!
//! `Tensor::to_data` copies: always when the tensor is shared (an inspected tensor is,
//! since the model goes on using it), and through an element-by-element gather when it is
//! a strided view (the sequence-first tensors around `transformer_encoder` are
//! transposes). Counting needs neither: it reads the buffer in place, a contiguous run at a
//! time, through burn's `extension` API. A tensor that is not a burn-flex tensor, or whose
//! layout or dtype this does not read, is counted from a copy instead.

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, TensorData};

use crate::model::FlowTensor;

/// Counts the elements of a CPU tensor that are not zero (NaN counts, `-0.0` does not, as
/// `not_equal_elem(0)` has it).
pub(super) fn count_nonzero(tensor: FlowTensor<'_>) -> u64 {
    flex_primitive(tensor)
        .and_then(|flex| count_in_place(&flex))
        .unwrap_or_else(|| count_copied(tensor))
}

/// The burn-flex tensor behind `tensor`, sharing its buffer (the clone is a reference
/// count); none on another backend.
fn flex_primitive(tensor: FlowTensor<'_>) -> Option<FlexTensor> {
    // Autodiff wraps the primitive without copying it; its inner tensor is the same buffer.
    match tensor {
        FlowTensor::Tokens(t) => t
            .clone()
            .without_autodiff()
            .try_into_primitive::<Flex>()
            .ok(),
        FlowTensor::Activations(t) => t
            .clone()
            .without_autodiff()
            .try_into_primitive::<Flex>()
            .ok(),
    }
}

/// Counts over the tensor's own buffer, a contiguous block at a time; none when the
/// layout runs backwards (a flip) or the dtype is not one this reads.
fn count_in_place(tensor: &FlexTensor) -> Option<u64> {
    let element = ElementBits::of(tensor.dtype())?;
    let layout = tensor.layout();
    if !layout.has_positive_strides() {
        return None;
    }
    let bytes = tensor.bytes();
    let blocks = layout.strided_blocks();
    let block_bytes = blocks.block_len() * element.width();
    let mut nonzero = 0;
    for start in blocks.block_starts() {
        let from = start.checked_mul(element.width())?;
        let block = bytes.get(from..from.checked_add(block_bytes)?)?;
        nonzero += element.count_nonzero(block);
    }
    Some(nonzero)
}

/// Counts from a contiguous copy of the tensor's data.
fn count_copied(tensor: FlowTensor<'_>) -> u64 {
    let data = match tensor {
        FlowTensor::Tokens(t) => t.to_data(),
        FlowTensor::Activations(t) => t.to_data(),
    };
    count_nonzero_data(&data)
}

/// Counts the non-zero elements of `data`.
fn count_nonzero_data(data: &TensorData) -> u64 {
    match ElementBits::of(data.dtype()) {
        Some(element) => element.count_nonzero(data.as_bytes()),
        None => data.iter::<f64>().filter(|v| *v != 0.0).count() as u64,
    }
}

/// How an element's bytes tell zero from non-zero: a float is zero when every bit but
/// the sign is clear, an integer or bool when every bit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ElementBits {
    /// 8 bytes; the mask keeps the bits that must all be clear for a zero.
    Wide(u64),
    /// 4 bytes.
    Word(u32),
    /// 2 bytes.
    Half(u16),
    /// 1 byte.
    Byte,
}

impl ElementBits {
    fn of(dtype: DType) -> Option<Self> {
        Some(match dtype {
            DType::F64 => ElementBits::Wide(!(1 << 63)),
            DType::F32 | DType::Flex32 => ElementBits::Word(!(1 << 31)),
            DType::F16 | DType::BF16 => ElementBits::Half(!(1 << 15)),
            DType::I64 | DType::U64 => ElementBits::Wide(u64::MAX),
            DType::I32 | DType::U32 => ElementBits::Word(u32::MAX),
            DType::I16 | DType::U16 => ElementBits::Half(u16::MAX),
            DType::I8 | DType::U8 => ElementBits::Byte,
            DType::Bool(_) if dtype.size() == 1 => ElementBits::Byte,
            _ => return None,
        })
    }

    fn width(self) -> usize {
        match self {
            ElementBits::Wide(_) => 8,
            ElementBits::Word(_) => 4,
            ElementBits::Half(_) => 2,
            ElementBits::Byte => 1,
        }
    }

    /// Counts the non-zero elements of a run of whole elements.
    fn count_nonzero(self, bytes: &[u8]) -> u64 {
        let count = match self {
            ElementBits::Wide(mask) => count_by(bytes, |e| u64::from_ne_bytes(e) & mask != 0),
            ElementBits::Word(mask) => count_by(bytes, |e| u32::from_ne_bytes(e) & mask != 0),
            ElementBits::Half(mask) => count_by(bytes, |e| u16::from_ne_bytes(e) & mask != 0),
            ElementBits::Byte => count_by(bytes, |[b]: [u8; 1]| b != 0),
        };
        count as u64
    }
}

/// Counts the `N`-byte elements of `bytes` for which `nonzero` holds. Fixed-size chunks
/// and a plain sum let the compiler vectorise the loop.
fn count_by<const N: usize>(bytes: &[u8], nonzero: impl Fn([u8; N]) -> bool) -> usize {
    let (elements, _) = bytes.as_chunks::<N>();
    elements.iter().map(|e| usize::from(nonzero(*e))).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Int, Tensor};
    use proptest::prelude::*;

    use crate::model::FlowTensor;

    fn activations(values: Vec<f32>, shape: [usize; 3], device: &Device) -> Tensor<3> {
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    #[test]
    fn a_transposed_view_is_counted_in_place_like_its_copy() {
        let device = Device::flex();
        let values: Vec<f32> = (0..60).map(|i| (i % 3) as f32).collect();
        let x = activations(values, [3, 4, 5], &device).swap_dims(0, 1);
        let flex = flex_primitive(FlowTensor::Activations(&x)).expect("a flex tensor");
        assert!(
            !flex.is_contiguous(),
            "swap_dims should give a strided view"
        );
        assert_eq!(count_in_place(&flex), Some(40));
        assert_eq!(count_copied(FlowTensor::Activations(&x)), 40);
    }

    #[test]
    fn a_narrowed_view_counts_only_its_own_elements() {
        let device = Device::flex();
        // Zeros in the first row only: the narrowed view leaves them out.
        let values: Vec<f32> = (0..24).map(|i| if i < 6 { 0.0 } else { 1.0 }).collect();
        let x = activations(values, [4, 2, 3], &device).narrow(0, 1, 2);
        let flex = flex_primitive(FlowTensor::Activations(&x)).expect("a flex tensor");
        assert_eq!(count_in_place(&flex), Some(12));
    }

    #[test]
    fn autodiff_and_int_tensors_are_read_in_place() {
        let device = Device::flex().autodiff();
        let x = activations(vec![0.0, 2.0, -0.0, f32::NAN], [1, 2, 2], &device).require_grad();
        let flex = flex_primitive(FlowTensor::Activations(&x)).expect("autodiff over flex");
        assert_eq!(count_in_place(&flex), Some(2));
        let ids =
            Tensor::<2, Int>::from_data(TensorData::new(vec![0i64, 7, 0, 1], [2, 2]), &device);
        let flex = flex_primitive(FlowTensor::Tokens(&ids)).expect("int over flex");
        assert_eq!(count_in_place(&flex), Some(2));
    }

    #[test]
    fn element_bits_count_zeros_by_dtype() {
        let f64s: Vec<u8> = [0.0f64, -0.0, 1.0, f64::NAN]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        assert_eq!(ElementBits::of(DType::F64).unwrap().count_nonzero(&f64s), 2);
        // An integer with only its top bit set is not zero, as a float's -0.0 is.
        let i32s: Vec<u8> = [0i32, i32::MIN, 5]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        assert_eq!(ElementBits::of(DType::I32).unwrap().count_nonzero(&i32s), 2);
        assert_eq!(
            ElementBits::of(DType::U8)
                .unwrap()
                .count_nonzero(&[0, 1, 0, 9]),
            2
        );
    }

    proptest! {
        /// Whatever the values and whichever two dimensions are swapped, the in-place
        /// count matches the copy's.
        #[test]
        fn in_place_counts_match_copies(
            values in prop::collection::vec(
                prop_oneof![Just(0.0f32), Just(-0.0f32), Just(f32::NAN), -4.0f32..4.0],
                24,
            ),
            dims in prop_oneof![Just((0, 1)), Just((0, 2)), Just((1, 2))],
        ) {
            let device = Device::flex();
            let x = activations(values, [2, 3, 4], &device).swap_dims(dims.0, dims.1);
            let flex = flex_primitive(FlowTensor::Activations(&x)).expect("a flex tensor");
            prop_assert_eq!(
                count_in_place(&flex),
                Some(count_copied(FlowTensor::Activations(&x)))
            );
        }
    }
}
