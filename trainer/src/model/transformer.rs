//! `TransformerModel`: the tutorial's language model, in burn.
//!
//! `encoder` (Embedding, scaled by √emsize) → `pos_encoder` (sinusoidal, with dropout) →
//! `transformer_encoder` (post-norm layers with ReLU feed-forward, causal mask) → `decoder`
//! (Linear to the vocabulary). The interface is sequence first like the tutorial's
//! PyTorch model: ids `[seq, batch]` in, logits `[seq, batch, ntokens]` out. burn's encoder
//! is batch first, so the `transformer_encoder` step transposes in and out; every tensor
//! that crosses a child boundary is sequence first, as Flowcept's inspections show them.

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::activation::ActivationConfig;
use burn::nn::attention::generate_autoregressive_mask;
use burn::nn::transformer::{
    TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput,
};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor};
use serde::Serialize;

use super::positional::PositionalEncoding;
use crate::tensor_facts::next_tensor_id;

/// The sizes of a [`TransformerModel`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelConfig {
    /// Vocabulary size.
    pub ntokens: usize,
    /// Embedding (model) width; even, and a multiple of `nhead`.
    pub emsize: usize,
    /// Attention heads.
    pub nhead: usize,
    /// Feed-forward width.
    pub nhid: usize,
    /// Encoder layers.
    pub nlayers: usize,
    /// Dropout probability, in `[0, 1)`.
    pub dropout: f64,
    /// Positions the positional encoding covers.
    pub pos_encoding_max_len: usize,
}

impl Default for ModelConfig {
    /// The tutorial's default model over its default vocabulary (585,854 parameters).
    fn default() -> Self {
        ModelConfig {
            ntokens: 254,
            emsize: 200,
            nhead: 2,
            nhid: 200,
            nlayers: 2,
            dropout: 0.2,
            pos_encoding_max_len: 5000,
        }
    }
}

/// A model config that cannot be built.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// A size of zero.
    #[error("{key} must be at least 1")]
    Zero {
        /// The key.
        key: &'static str,
    },
    /// `nhead` does not divide `emsize`.
    #[error("nhead {nhead} does not divide emsize {emsize}")]
    HeadsDoNotDivide {
        /// Heads.
        nhead: usize,
        /// Width.
        emsize: usize,
    },
    /// An odd `emsize`: the sinusoidal encoding pairs columns.
    #[error("emsize {emsize} is odd; the sinusoidal positional encoding needs an even width")]
    OddWidth {
        /// Width.
        emsize: usize,
    },
    /// A dropout outside `[0, 1)`.
    #[error("dropout {dropout} is not a probability in [0, 1)")]
    Dropout {
        /// The probability.
        dropout: f64,
    },
}

impl ModelConfig {
    /// Checks the config; [`ModelConfig::init`] would panic inside burn on what this refuses.
    ///
    /// # Errors
    ///
    /// The first [`ModelError`] found.
    pub fn validate(&self) -> Result<(), ModelError> {
        for (key, value) in [
            ("ntokens", self.ntokens),
            ("emsize", self.emsize),
            ("nhead", self.nhead),
            ("nhid", self.nhid),
            ("nlayers", self.nlayers),
            ("pos_encoding_max_len", self.pos_encoding_max_len),
        ] {
            if value == 0 {
                return Err(ModelError::Zero { key });
            }
        }
        if !self.emsize.is_multiple_of(self.nhead) {
            return Err(ModelError::HeadsDoNotDivide {
                nhead: self.nhead,
                emsize: self.emsize,
            });
        }
        if !self.emsize.is_multiple_of(2) {
            return Err(ModelError::OddWidth {
                emsize: self.emsize,
            });
        }
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return Err(ModelError::Dropout {
                dropout: self.dropout,
            });
        }
        Ok(())
    }

    /// Builds the model on `device` with freshly initialised weights.
    ///
    /// # Errors
    ///
    /// As [`ModelConfig::validate`].
    pub fn init(&self, device: &Device) -> Result<TransformerModel, ModelError> {
        self.validate()?;
        let transformer_encoder =
            TransformerEncoderConfig::new(self.emsize, self.nhid, self.nhead, self.nlayers)
                .with_dropout(self.dropout)
                .with_norm_first(false)
                .with_activation(ActivationConfig::Relu)
                .init(device);
        let model = TransformerModel {
            pos_encoder: PositionalEncoding::new(
                self.emsize,
                self.dropout,
                self.pos_encoding_max_len,
                device,
            ),
            transformer_encoder,
            encoder: EmbeddingConfig::new(self.ntokens, self.emsize).init(device),
            decoder: LinearConfig::new(self.emsize, self.ntokens).init(device),
            d_model: self.emsize,
        };
        // burn initialises parameters lazily, on first use, from the device's one random
        // generator. Whatever touched them first (the forward, or printing the model for its
        // profile) would decide their values; initialising them all now, in module order,
        // makes the weights depend on the seed alone, whatever the capture level.
        model.visit(&mut InitialiseAll);
        Ok(model)
    }
}

/// Forces the lazy initialisation of every parameter it visits.
struct InitialiseAll;

impl ModuleVisitor for InitialiseAll {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        drop(param.val());
    }
}

/// A first-level child of [`TransformerModel`], in forward order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Child {
    /// `encoder`: the token embedding.
    Encoder,
    /// `pos_encoder`: the positional encoding and its dropout.
    PosEncoder,
    /// `transformer_encoder`: the encoder layers.
    TransformerEncoder,
    /// `decoder`: the projection to the vocabulary.
    Decoder,
}

impl Child {
    /// The four children, in forward order.
    pub const ALL: [Child; 4] = [
        Child::Encoder,
        Child::PosEncoder,
        Child::TransformerEncoder,
        Child::Decoder,
    ];

    /// Returns the child's position in [`Child::ALL`], the order of the forward.
    pub fn index(self) -> usize {
        match self {
            Child::Encoder => 0,
            Child::PosEncoder => 1,
            Child::TransformerEncoder => 2,
            Child::Decoder => 3,
        }
    }

    /// Returns the field name (`encoder`, `pos_encoder`, …).
    pub fn field_name(self) -> &'static str {
        match self {
            Child::Encoder => "encoder",
            Child::PosEncoder => "pos_encoder",
            Child::TransformerEncoder => "transformer_encoder",
            Child::Decoder => "decoder",
        }
    }

    /// Returns the module's type name, the `activity_id` of its child-forward rows.
    pub fn type_name(self) -> &'static str {
        match self {
            Child::Encoder => "Embedding",
            Child::PosEncoder => "PositionalEncoding",
            Child::TransformerEncoder => "TransformerEncoder",
            Child::Decoder => "Linear",
        }
    }
}

/// A tensor crossing a child boundary.
#[derive(Clone, Copy, Debug)]
pub enum FlowTensor<'a> {
    /// Token ids, `[seq, batch]`.
    Tokens(&'a Tensor<2, Int>),
    /// Activations or logits, `[seq, batch, width]`.
    Activations(&'a Tensor<3>),
}

/// A tensor crossing a child boundary, with an id that is the same wherever the same tensor
/// is passed on (the output of `pos_encoder` is the input of `transformer_encoder`).
#[derive(Clone, Copy, Debug)]
pub struct Flow<'a> {
    /// The tensor's id, from [`next_tensor_id`].
    pub id: u64,
    /// The tensor.
    pub tensor: FlowTensor<'a>,
}

/// Watches the first-level children of a forward.
///
/// [`TransformerModel::forward_observed`] calls it around each child; the plain
/// [`TransformerModel::forward`] has no observer and does none of this.
pub trait ForwardObserver {
    /// Called before `child` runs, with its input.
    fn child_start(&mut self, child: Child, input: &Flow<'_>);
    /// Called after `child` ran, with its output.
    fn child_end(&mut self, child: Child, output: &Flow<'_>);
}

/// The tutorial's transformer language model.
///
/// Field order follows the PyTorch model's, so the printed module tree reads the same.
#[derive(Module, Debug)]
pub struct TransformerModel {
    /// Positional encoding with dropout.
    pub pos_encoder: PositionalEncoding,
    /// The encoder layers (burn's post-norm layer, ReLU feed-forward).
    pub transformer_encoder: TransformerEncoder,
    /// Token embedding.
    pub encoder: Embedding,
    /// Projection to the vocabulary.
    pub decoder: Linear,
    /// The model width, for the √d scaling of the embedding.
    pub d_model: usize,
}

impl TransformerModel {
    /// Returns the longest sequence the positional encoding covers.
    pub fn max_seq_len(&self) -> usize {
        self.pos_encoder.max_len()
    }

    /// Runs the model: ids `[seq, batch]` to logits `[seq, batch, ntokens]`.
    ///
    /// `seq` must not exceed [`TransformerModel::max_seq_len`]; training checks it once per
    /// config.
    pub fn forward(&self, src: Tensor<2, Int>) -> Tensor<3> {
        let x = self.encoder.forward(src);
        let x = self.scale(x);
        let x = self.pos_encoder.forward(x);
        let x = self.encode(x);
        self.decoder.forward(x)
    }

    /// Runs the model like [`TransformerModel::forward`], telling `observer` what goes in
    /// and out of each first-level child. `src_id` is the id the caller gave the input;
    /// returns the logits and their id.
    pub fn forward_observed<O: ForwardObserver + ?Sized>(
        &self,
        src: Tensor<2, Int>,
        src_id: u64,
        observer: &mut O,
    ) -> (Tensor<3>, u64) {
        observer.child_start(Child::Encoder, &tokens(src_id, &src));
        let embedded = self.encoder.forward(src);
        observer.child_end(Child::Encoder, &activations(next_tensor_id(), &embedded));

        let scaled = self.scale(embedded);
        let scaled_id = next_tensor_id();
        observer.child_start(Child::PosEncoder, &activations(scaled_id, &scaled));
        let positioned = self.pos_encoder.forward(scaled);
        let positioned_id = next_tensor_id();
        observer.child_end(Child::PosEncoder, &activations(positioned_id, &positioned));

        observer.child_start(
            Child::TransformerEncoder,
            &activations(positioned_id, &positioned),
        );
        let encoded = self.encode(positioned);
        let encoded_id = next_tensor_id();
        observer.child_end(
            Child::TransformerEncoder,
            &activations(encoded_id, &encoded),
        );

        observer.child_start(Child::Decoder, &activations(encoded_id, &encoded));
        let logits = self.decoder.forward(encoded);
        let logits_id = next_tensor_id();
        observer.child_end(Child::Decoder, &activations(logits_id, &logits));
        (logits, logits_id)
    }

    fn scale(&self, embedded: Tensor<3>) -> Tensor<3> {
        embedded.mul_scalar((self.d_model as f64).sqrt())
    }

    /// The encoder layers under a causal mask, sequence first outside, batch first inside.
    fn encode(&self, x: Tensor<3>) -> Tensor<3> {
        let [seq, batch, _] = x.dims();
        let batch_first = x.swap_dims(0, 1);
        let mask = generate_autoregressive_mask(batch, seq, &batch_first.device());
        let input = TransformerEncoderInput::new(batch_first).mask_attn(mask);
        self.transformer_encoder.forward(input).swap_dims(0, 1)
    }
}

fn tokens<'a>(id: u64, tensor: &'a Tensor<2, Int>) -> Flow<'a> {
    Flow {
        id,
        tensor: FlowTensor::Tokens(tensor),
    }
}

fn activations<'a>(id: u64, tensor: &'a Tensor<3>) -> Flow<'a> {
    Flow {
        id,
        tensor: FlowTensor::Activations(tensor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn the_default_model_has_the_tutorial_parameter_count() {
        let _rng = crate::model::lock_test_rng();
        let model = ModelConfig::default().init(&Device::flex()).unwrap();
        assert_eq!(model.num_params(), 585_854);
    }

    #[test]
    fn shapes_are_sequence_first() {
        let _rng = crate::model::lock_test_rng();
        let device = Device::flex();
        let config = ModelConfig {
            ntokens: 11,
            emsize: 8,
            nhead: 2,
            nhid: 16,
            nlayers: 1,
            dropout: 0.0,
            pos_encoding_max_len: 32,
        };
        let model = config.init(&device).unwrap();
        let ids: Vec<i64> = (0..15).map(|i| i % 11).collect();
        let src = Tensor::<2, Int>::from_data(TensorData::new(ids, [5, 3]), &device);
        assert_eq!(model.forward(src).dims(), [5, 3, 11]);
    }

    #[derive(Default)]
    struct Recorder(Vec<(Child, bool, u64, Vec<usize>)>);

    impl ForwardObserver for Recorder {
        fn child_start(&mut self, child: Child, input: &Flow<'_>) {
            self.0.push((child, true, input.id, shape(input)));
        }
        fn child_end(&mut self, child: Child, output: &Flow<'_>) {
            self.0.push((child, false, output.id, shape(output)));
        }
    }

    fn shape(flow: &Flow<'_>) -> Vec<usize> {
        match flow.tensor {
            FlowTensor::Tokens(t) => t.dims().to_vec(),
            FlowTensor::Activations(t) => t.dims().to_vec(),
        }
    }

    #[test]
    fn the_observer_sees_each_child_in_order_with_linked_ids() {
        let _rng = crate::model::lock_test_rng();
        let device = Device::flex();
        let model = ModelConfig {
            ntokens: 7,
            pos_encoding_max_len: 16,
            ..ModelConfig::default()
        }
        .init(&device)
        .unwrap();
        let src = Tensor::<2, Int>::zeros([4, 2], &device);
        let mut recorder = Recorder::default();
        let (logits, logits_id) = model.forward_observed(src, 42, &mut recorder);
        assert_eq!(logits.dims(), [4, 2, 7]);
        let seen: Vec<(Child, bool)> = recorder.0.iter().map(|e| (e.0, e.1)).collect();
        let expected: Vec<(Child, bool)> = Child::ALL
            .iter()
            .flat_map(|&c| [(c, true), (c, false)])
            .collect();
        assert_eq!(seen, expected);
        let events = &recorder.0;
        assert_eq!((events[0].2, events[0].3.clone()), (42, vec![4, 2]));
        assert_eq!(events[1].3, [4, 2, 200]);
        // The embedding is scaled between the two children: a different tensor.
        assert_ne!(events[1].2, events[2].2);
        // pos_encoder's output is transformer_encoder's input, and so on.
        assert_eq!(events[3].2, events[4].2);
        assert_eq!(events[5].2, events[6].2);
        assert_eq!(events[7].2, logits_id);
        assert_eq!(events[7].3, [4, 2, 7]);
    }

    #[test]
    fn weights_depend_on_the_seed_not_on_what_touches_them_first() {
        let _rng = crate::model::lock_test_rng();
        let device = Device::flex();
        let config = ModelConfig {
            ntokens: 13,
            emsize: 8,
            nhid: 8,
            nlayers: 1,
            pos_encoding_max_len: 8,
            ..ModelConfig::default()
        };
        let weights = |print_first: bool| {
            device.seed(3);
            let model = config.init(&device).unwrap();
            if print_first {
                let _ = format!("{model}");
            }
            model.decoder.weight.val().into_data()
        };
        assert_eq!(weights(false), weights(true));
    }

    #[test]
    fn bad_configs_are_errors() {
        let bad = |c: ModelConfig| c.validate().unwrap_err().to_string();
        assert_eq!(
            bad(ModelConfig {
                nhead: 3,
                ..ModelConfig::default()
            }),
            "nhead 3 does not divide emsize 200"
        );
        assert_eq!(
            bad(ModelConfig {
                emsize: 201,
                nhead: 3,
                ..ModelConfig::default()
            }),
            "emsize 201 is odd; the sinusoidal positional encoding needs an even width"
        );
        assert_eq!(
            bad(ModelConfig {
                nhead: 0,
                ..ModelConfig::default()
            }),
            "nhead must be at least 1"
        );
    }
}
