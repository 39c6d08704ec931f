//! Facts about a tensor that capture needs, supplied by the framework side.
//!
//! capture-core knows no tensor library. A framework implements [`TensorFacts`] for its
//! tensors (the trainer does it for burn) and capture turns the facts into the
//! `{"tensor": {...}}` inspection Flowcept writes on forward rows.
//!
//! An inspection is made on the capturing thread and written on the writer's, so its
//! parts are kept inline: a [`Shape`] of up to [`Shape::INLINE`] dimensions and a
//! [`DeviceLabel`] of up to 24 bytes cost no allocation. An allocation made on one
//! thread and freed on another is slow with most allocators, and a forward with two
//! inspections would otherwise make six of them.

use std::fmt;
use std::ops::Deref;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// What capture asks of a tensor. Methods are only called when an inspection is recorded,
/// so an implementation may do real work (a device reduction for [`TensorFacts::density`]).
pub trait TensorFacts {
    /// Returns the dimensions, outermost first.
    fn shape(&self) -> Shape;
    /// Returns the device the tensor lives on, as a short label (`cpu`, `wgpu:0`).
    fn device(&self) -> &str;
    /// Returns the size in bytes of one element.
    fn dtype_size(&self) -> usize;
    /// Returns the fraction of elements that are not zero, in `[0, 1]`.
    fn density(&self) -> f64;
    /// Tells whether the tensor is stored sparse.
    fn is_sparse(&self) -> bool {
        false
    }
    /// Returns an identifier of the tensor, stable while it lives (an address is fine).
    fn id(&self) -> u64;
}

/// The dimensions of a tensor, outermost first; up to [`Shape::INLINE`] of them are
/// kept without allocating. Written as a JSON array.
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Shape(SmallVec<[usize; Shape::INLINE]>);

impl Shape {
    /// Most dimensions kept inline.
    pub const INLINE: usize = 4;

    /// Returns the dimensions.
    pub fn as_slice(&self) -> &[usize] {
        &self.0
    }

    /// Returns the number of elements: the product of the dimensions (1 for a scalar),
    /// saturating at `usize::MAX`.
    pub fn numel(&self) -> usize {
        self.0.iter().fold(1usize, |n, &d| n.saturating_mul(d))
    }
}

impl Deref for Shape {
    type Target = [usize];

    fn deref(&self) -> &[usize] {
        &self.0
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl From<&[usize]> for Shape {
    #[inline]
    fn from(dims: &[usize]) -> Self {
        Shape(SmallVec::from_slice(dims))
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(dims: [usize; N]) -> Self {
        Shape::from(&dims[..])
    }
}

impl From<Vec<usize>> for Shape {
    fn from(dims: Vec<usize>) -> Self {
        Shape(SmallVec::from_vec(dims))
    }
}

impl<const N: usize> PartialEq<[usize; N]> for Shape {
    fn eq(&self, other: &[usize; N]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<[usize]> for Shape {
    fn eq(&self, other: &[usize]) -> bool {
        self.as_slice() == other
    }
}

/// The label of a device (`cpu`, `wgpu:0`); labels of up to 24 bytes are kept without
/// allocating. Written as a JSON string.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceLabel(CompactString);

impl DeviceLabel {
    /// Returns the label as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for DeviceLabel {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DeviceLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for DeviceLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for DeviceLabel {
    fn from(label: &str) -> Self {
        DeviceLabel(CompactString::new(label))
    }
}

impl PartialEq<str> for DeviceLabel {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for DeviceLabel {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
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
    pub shape: Shape,
    /// Device label (`cpu`, `wgpu:0`).
    pub device: DeviceLabel,
    /// Size of the data in bytes (`numel × dtype size`).
    pub nbytes: u64,
    /// Number of elements.
    pub numel: u64,
    /// Fraction of elements that are not zero.
    pub density: f64,
}

impl TensorInspection {
    /// Inspects a tensor through its facts.
    #[inline]
    pub fn of(tensor: &dyn TensorFacts) -> Self {
        let shape = tensor.shape();
        let numel = shape.numel() as u64;
        TensorInspection {
            id: tensor.id(),
            is_sparse: tensor.is_sparse(),
            shape,
            device: DeviceLabel::from(tensor.device()),
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
        fn shape(&self) -> Shape {
            Shape::from(self.shape.as_slice())
        }
        fn device(&self) -> &str {
            "cpu"
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

    #[test]
    fn shapes_and_labels_of_any_size_read_back() {
        let dims: Vec<usize> = (1..=9).collect();
        let long = Shape::from(dims.clone());
        assert_eq!(long.as_slice(), dims.as_slice());
        assert_eq!(long.numel(), 362_880);
        assert_eq!(Shape::from([usize::MAX, 2]).numel(), usize::MAX);
        assert_eq!(Shape::default().numel(), 1, "a scalar holds one element");
        let label = DeviceLabel::from("a-device-label-longer-than-twenty-four-bytes");
        let text = serde_json::to_string(&(&long, &label)).unwrap();
        assert_eq!(
            text,
            r#"[[1,2,3,4,5,6,7,8,9],"a-device-label-longer-than-twenty-four-bytes"]"#
        );
        let (shape, device): (Shape, DeviceLabel) = serde_json::from_str(&text).unwrap();
        assert_eq!((shape, device), (long, label));
    }
}
