//! The tutorial's sinusoidal positional encoding, sequence first, with dropout.
//!
//! `pe[pos, 2k] = sin(pos · 10000^(−2k/d))` and `pe[pos, 2k+1] = cos(pos · 10000^(−2k/d))`,
//! computed once for `max_len` positions and kept as a constant (not a parameter, not saved
//! with the weights: it is rebuilt from the config). The forward adds the first `seq` rows
//! to a `[seq, batch, d]` input, broadcast over the batch, then applies dropout.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{Device, Tensor, TensorData};

/// Adds sinusoidal position signals to a sequence-first input, then drops out.
#[derive(Module, Debug)]
pub struct PositionalEncoding {
    /// The dropout applied after adding the signal.
    pub dropout: Dropout,
    /// The signal for every position, `[max_len, 1, d_model]`.
    pub pe: Tensor<3>,
}

impl PositionalEncoding {
    /// Builds the encoding for `max_len` positions of width `d_model` (even).
    ///
    /// `dropout` must be in `[0, 1)`; the model's config checks it first.
    pub fn new(d_model: usize, dropout: f64, max_len: usize, device: &Device) -> Self {
        let mut values = vec![0.0f32; max_len * d_model];
        let scale = -(10_000f64.ln()) / d_model as f64;
        for pos in 0..max_len {
            for k in (0..d_model).step_by(2) {
                let angle = pos as f64 * (k as f64 * scale).exp();
                values[pos * d_model + k] = angle.sin() as f32;
                if k + 1 < d_model {
                    values[pos * d_model + k + 1] = angle.cos() as f32;
                }
            }
        }
        let pe = Tensor::<3>::from_data(TensorData::new(values, [max_len, 1, d_model]), device);
        PositionalEncoding {
            dropout: DropoutConfig::new(dropout).init(),
            pe,
        }
    }

    /// Returns the number of positions covered.
    pub fn max_len(&self) -> usize {
        self.pe.dims()[0]
    }

    /// Adds the signal to `input` (`[seq, batch, d_model]`, `seq <= max_len`) and drops out.
    pub fn forward(&self, input: Tensor<3>) -> Tensor<3> {
        let [seq, _, d_model] = input.dims();
        let signal = self.pe.clone().slice([0..seq, 0..1, 0..d_model]);
        self.dropout.forward(input + signal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signal_is_sine_on_even_and_cosine_on_odd_columns() {
        let device = Device::flex();
        let pe = PositionalEncoding::new(4, 0.0, 3, &device);
        let out = pe.forward(Tensor::zeros([3, 2, 4], &device));
        let values = out.into_data().try_to_vec::<f32>().unwrap();
        // Position 0: sin 0, cos 0 for both frequencies, in both batch columns.
        assert_eq!(&values[..4], &[0.0, 1.0, 0.0, 1.0]);
        assert_eq!(&values[4..8], &[0.0, 1.0, 0.0, 1.0]);
        // Position 1, first frequency: sin 1, cos 1; second: 10000^(-1/2) = 0.01.
        let p1 = &values[8..12];
        assert!((p1[0] - 1f32.sin()).abs() < 1e-6);
        assert!((p1[1] - 1f32.cos()).abs() < 1e-6);
        assert!((p1[2] - 0.01f32.sin()).abs() < 1e-6);
        assert!((p1[3] - 0.01f32.cos()).abs() < 1e-6);
    }

    #[test]
    fn the_signal_is_not_a_parameter() {
        let pe = PositionalEncoding::new(8, 0.1, 16, &Device::flex());
        assert_eq!(pe.num_params(), 0);
        assert_eq!(pe.max_len(), 16);
    }
}
