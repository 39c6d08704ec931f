//! The search's workflow parameters and the configs they expand into.
//!
//! [`WorkflowParams`] reads the tutorial's `--workflow-params` JSON, with the same keys and
//! defaults. The model and optimiser keys take one value or a list; [`generate_configs`]
//! expands the lists as a cartesian product in key order (the first key varies slowest, as
//! `itertools.product` does), copies the scalars into every config and keeps the first
//! `max_runs` configs. Keys that shape the data (`batch_size`, `subset_size`, …) take one
//! value: the data is prepared once for all configs.

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::data::{DataSpec, TokenizerKind};

/// Why workflow parameters were refused; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    /// Not JSON at all.
    #[error("workflow params: not valid JSON: {source}")]
    Syntax {
        /// What serde_json reported (line and column).
        #[source]
        source: serde_json::Error,
    },
    /// JSON, but not an object of keys.
    #[error("workflow params: expected a JSON object of keys, found {found}")]
    NotAnObject {
        /// The kind of JSON value found.
        found: &'static str,
    },
    /// A key the tutorial does not have.
    #[error("workflow params: unknown key {key:?}; the keys are {}", KEYS.join(", "))]
    UnknownKey {
        /// The key.
        key: String,
    },
    /// A value of the wrong type.
    #[error("workflow params: {key}: {source}")]
    WrongType {
        /// The key.
        key: String,
        /// What serde_json reported.
        #[source]
        source: serde_json::Error,
    },
    /// A value of the right type but outside what the key allows.
    #[error("workflow params: {key}: {value} {reason}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// The value, as JSON.
        value: String,
        /// What is allowed.
        reason: &'static str,
    },
}

/// The keys of the tutorial's workflow parameters.
pub const KEYS: [&str; 15] = [
    "input_data_dir",
    "batch_size",
    "eval_batch_size",
    "emsize",
    "nhid",
    "nlayers",
    "nhead",
    "dropout",
    "lr",
    "pos_encoding_max_len",
    "subset_size",
    "epochs",
    "max_runs",
    "random_seed",
    "tokenizer_type",
];

/// One value or a list of values, as the tutorial's list-valued keys accept.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// A single value, the same in every config.
    One(T),
    /// Values to expand over.
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// Returns the values as a slice.
    pub fn values(&self) -> &[T] {
        match self {
            OneOrMany::One(v) => std::slice::from_ref(v),
            OneOrMany::Many(v) => v,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Parse through a Value so the error can say "a number or a list of numbers".
        let value = Value::deserialize(deserializer)?;
        match value {
            Value::Array(items) => items
                .into_iter()
                .map(|v| T::deserialize(v).map_err(D::Error::custom))
                .collect::<Result<Vec<T>, D::Error>>()
                .map(OneOrMany::Many),
            other => T::deserialize(other)
                .map(OneOrMany::One)
                .map_err(D::Error::custom),
        }
    }
}

/// The tutorial's workflow parameters, with its defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkflowParams {
    /// Where the tutorial keeps its data; recorded, not read (the CLI's `--data-dir` is).
    pub input_data_dir: String,
    /// Train columns and train sequence length.
    pub batch_size: usize,
    /// Validation and test columns and sequence length.
    pub eval_batch_size: usize,
    /// Embedding size.
    pub emsize: OneOrMany<usize>,
    /// Feed-forward size of the encoder layers.
    pub nhid: OneOrMany<usize>,
    /// Number of encoder layers.
    pub nlayers: OneOrMany<usize>,
    /// Number of attention heads; must divide `emsize`.
    pub nhead: OneOrMany<usize>,
    /// Dropout probability.
    pub dropout: OneOrMany<f64>,
    /// Adam's learning rate.
    pub lr: OneOrMany<f64>,
    /// Longest sequence the positional encoding covers.
    pub pos_encoding_max_len: OneOrMany<usize>,
    /// First rows of each split to use; `null` for all.
    pub subset_size: Option<usize>,
    /// Epochs per config.
    pub epochs: usize,
    /// Keep only the first `max_runs` configs; `null` for all.
    pub max_runs: Option<usize>,
    /// Seed of each config's model initialisation and dropout.
    pub random_seed: u64,
    /// The tokenizer; only `basic_english`.
    pub tokenizer_type: TokenizerKind,
}

impl Default for WorkflowParams {
    /// The tutorial's `default_exp_param_settings`.
    fn default() -> Self {
        WorkflowParams {
            input_data_dir: "./input_data".to_owned(),
            batch_size: 20,
            eval_batch_size: 10,
            emsize: OneOrMany::Many(vec![200]),
            nhid: OneOrMany::Many(vec![200]),
            nlayers: OneOrMany::Many(vec![2]),
            nhead: OneOrMany::Many(vec![2]),
            dropout: OneOrMany::Many(vec![0.2]),
            lr: OneOrMany::Many(vec![0.1]),
            pos_encoding_max_len: OneOrMany::Many(vec![5000]),
            subset_size: Some(10),
            epochs: 4,
            max_runs: None,
            random_seed: 0,
            tokenizer_type: TokenizerKind::BasicEnglish,
        }
    }
}

impl WorkflowParams {
    /// Parses the JSON of `--workflow-params`; absent keys take the tutorial's defaults.
    ///
    /// # Errors
    ///
    /// [`ParamsError::Syntax`] for bad JSON, [`ParamsError::UnknownKey`],
    /// [`ParamsError::WrongType`] naming the key, and [`ParamsError::Invalid`] for values
    /// outside what a key allows.
    pub fn from_json(text: &str) -> Result<WorkflowParams, ParamsError> {
        let value: Value =
            serde_json::from_str(text).map_err(|source| ParamsError::Syntax { source })?;
        let Value::Object(map) = &value else {
            return Err(ParamsError::NotAnObject {
                found: json_kind(&value),
            });
        };
        if let Some(key) = map.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(ParamsError::UnknownKey { key: key.clone() });
        }
        let params = serde_json::from_value::<WorkflowParams>(value.clone()).map_err(|err| {
            // serde_json does not say which field failed; try the keys one at a time.
            map.iter()
                .find_map(|(key, v)| {
                    let single = Value::Object([(key.clone(), v.clone())].into_iter().collect());
                    serde_json::from_value::<WorkflowParams>(single)
                        .err()
                        .map(|source| ParamsError::WrongType {
                            key: key.clone(),
                            source,
                        })
                })
                .unwrap_or(ParamsError::WrongType {
                    key: "(unknown)".to_owned(),
                    source: err,
                })
        })?;
        params.validate()?;
        Ok(params)
    }

    /// Checks what the types do not: sizes at least 1, lists not empty, probabilities in
    /// range. Per-config rules (`nhead` divides `emsize`) are checked when a config starts,
    /// so one bad combination fails its own run only.
    ///
    /// # Errors
    ///
    /// [`ParamsError::Invalid`] naming the first key that is out of range.
    pub fn validate(&self) -> Result<(), ParamsError> {
        fn invalid(key: &'static str, value: impl fmt::Debug, reason: &'static str) -> ParamsError {
            ParamsError::Invalid {
                key,
                value: format!("{value:?}"),
                reason,
            }
        }
        for (key, value) in [
            ("batch_size", self.batch_size),
            ("eval_batch_size", self.eval_batch_size),
            ("epochs", self.epochs),
        ] {
            if value == 0 {
                return Err(invalid(key, value, "is not an integer >= 1"));
            }
        }
        if self.subset_size == Some(0) {
            return Err(invalid("subset_size", 0, "is not an integer >= 1 or null"));
        }
        if self.max_runs == Some(0) {
            return Err(invalid("max_runs", 0, "is not an integer >= 1 or null"));
        }
        for (key, values) in [
            ("emsize", self.emsize.values()),
            ("nhid", self.nhid.values()),
            ("nlayers", self.nlayers.values()),
            ("nhead", self.nhead.values()),
            ("pos_encoding_max_len", self.pos_encoding_max_len.values()),
        ] {
            if values.is_empty() {
                return Err(invalid(key, values, "is an empty list"));
            }
            if let Some(v) = values.iter().find(|&&v| v == 0) {
                return Err(invalid(key, v, "is not an integer >= 1"));
            }
        }
        if self.dropout.values().is_empty() {
            return Err(invalid(
                "dropout",
                self.dropout.values(),
                "is an empty list",
            ));
        }
        if let Some(p) = self
            .dropout
            .values()
            .iter()
            .find(|p| !(p.is_finite() && (0.0..1.0).contains(*p)))
        {
            return Err(invalid("dropout", p, "is not a probability in [0, 1)"));
        }
        if self.lr.values().is_empty() {
            return Err(invalid("lr", self.lr.values(), "is an empty list"));
        }
        if let Some(lr) = self
            .lr
            .values()
            .iter()
            .find(|lr| !(lr.is_finite() && **lr > 0.0))
        {
            return Err(invalid("lr", lr, "is not a number > 0"));
        }
        Ok(())
    }

    /// Returns the data preparation these parameters ask for.
    pub fn data_spec(&self) -> DataSpec {
        DataSpec {
            subset_size: self.subset_size,
            batch_size: self.batch_size,
            eval_batch_size: self.eval_batch_size,
            tokenizer: self.tokenizer_type,
        }
    }

    /// Returns the parameters as JSON, lists as given (the `SearchWorkflow`'s `used`).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("WorkflowParams has only JSON-representable fields")
    }
}

/// One run of the search: every parameter with one value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainConfig {
    /// The position of the config in the search, from 0.
    #[serde(skip)]
    pub index: usize,
    /// Embedding size.
    pub emsize: usize,
    /// Feed-forward size.
    pub nhid: usize,
    /// Encoder layers.
    pub nlayers: usize,
    /// Attention heads.
    pub nhead: usize,
    /// Dropout probability.
    pub dropout: f64,
    /// Adam's learning rate.
    pub lr: f64,
    /// Positional encoding length.
    pub pos_encoding_max_len: usize,
    /// As in [`WorkflowParams`].
    pub input_data_dir: String,
    /// Train columns and sequence length.
    pub batch_size: usize,
    /// Eval columns and sequence length.
    pub eval_batch_size: usize,
    /// Rows per split.
    pub subset_size: Option<usize>,
    /// Epochs.
    pub epochs: usize,
    /// As in [`WorkflowParams`].
    pub max_runs: Option<usize>,
    /// Seed of initialisation and dropout.
    pub random_seed: u64,
    /// The tokenizer.
    pub tokenizer_type: TokenizerKind,
}

impl TrainConfig {
    /// Returns the config as JSON (the `model_train` task's `used`, before the campaign adds
    /// `ntokens` and ids).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("TrainConfig has only JSON-representable fields")
    }
}

impl Default for TrainConfig {
    /// The single config of the tutorial's default parameters.
    fn default() -> Self {
        generate_configs(&WorkflowParams::default())
            .into_iter()
            .next()
            .expect("the default parameters expand into one config")
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Expands list values into the cartesian product of configs, then keeps `max_runs`.
pub fn generate_configs(params: &WorkflowParams) -> Vec<TrainConfig> {
    let mut configs = Vec::new();
    for &emsize in params.emsize.values() {
        for &nhid in params.nhid.values() {
            for &nlayers in params.nlayers.values() {
                for &nhead in params.nhead.values() {
                    for &dropout in params.dropout.values() {
                        for &lr in params.lr.values() {
                            for &pos_encoding_max_len in params.pos_encoding_max_len.values() {
                                configs.push(TrainConfig {
                                    index: configs.len(),
                                    emsize,
                                    nhid,
                                    nlayers,
                                    nhead,
                                    dropout,
                                    lr,
                                    pos_encoding_max_len,
                                    input_data_dir: params.input_data_dir.clone(),
                                    batch_size: params.batch_size,
                                    eval_batch_size: params.eval_batch_size,
                                    subset_size: params.subset_size,
                                    epochs: params.epochs,
                                    max_runs: params.max_runs,
                                    random_seed: params.random_seed,
                                    tokenizer_type: params.tokenizer_type,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(max) = params.max_runs {
        configs.truncate(max);
    }
    configs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_tutorial_defaults() {
        let params = WorkflowParams::from_json("{}").unwrap();
        assert_eq!(params, WorkflowParams::default());
        assert_eq!(
            params.to_json(),
            serde_json::json!({
                "input_data_dir": "./input_data", "batch_size": 20, "eval_batch_size": 10,
                "emsize": [200], "nhid": [200], "nlayers": [2], "nhead": [2],
                "dropout": [0.2], "lr": [0.1], "pos_encoding_max_len": [5000],
                "subset_size": 10, "epochs": 4, "max_runs": null, "random_seed": 0,
                "tokenizer_type": "basic_english"
            })
        );
        let configs = generate_configs(&params);
        assert_eq!(configs.len(), 1);
        assert_eq!(
            (configs[0].emsize, configs[0].nhead, configs[0].epochs),
            (200, 2, 4)
        );
    }

    #[test]
    fn the_tutorial_json_parses() {
        let text = r#"{"input_data_dir": "./input_data", "batch_size": 20, "eval_batch_size": 10,
            "emsize": [200], "nhid": [200], "nlayers": [2], "nhead": [2], "dropout": [0.2],
            "lr": [0.1], "pos_encoding_max_len": [5000], "subset_size": 10, "epochs": 4,
            "max_runs": null, "random_seed": 0, "tokenizer_type": "basic_english"}"#;
        assert_eq!(
            WorkflowParams::from_json(text).unwrap(),
            WorkflowParams::default()
        );
    }

    #[test]
    fn lists_expand_as_a_cartesian_product_first_key_slowest() {
        let params =
            WorkflowParams::from_json(r#"{"emsize": [64, 128], "nhead": [1, 2, 4], "lr": 0.01}"#)
                .unwrap();
        let configs = generate_configs(&params);
        let pairs: Vec<(usize, usize)> = configs.iter().map(|c| (c.emsize, c.nhead)).collect();
        assert_eq!(
            pairs,
            [(64, 1), (64, 2), (64, 4), (128, 1), (128, 2), (128, 4)]
        );
        assert!(configs.iter().all(|c| c.lr == 0.01 && c.batch_size == 20));
        assert_eq!(
            configs.iter().map(|c| c.index).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn max_runs_truncates() {
        let params =
            WorkflowParams::from_json(r#"{"emsize": [64, 128], "nhead": [1, 2], "max_runs": 3}"#)
                .unwrap();
        assert_eq!(generate_configs(&params).len(), 3);
    }

    #[test]
    fn an_unknown_key_is_named() {
        let err = WorkflowParams::from_json(r#"{"epoch": 3}"#).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(
                "workflow params: unknown key \"epoch\"; the keys are input_data_dir, "
            ),
            "{message}"
        );
    }

    #[test]
    fn a_wrong_type_is_named() {
        let err =
            WorkflowParams::from_json(r#"{"epochs": 4, "batch_size": "twenty"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "workflow params: batch_size: invalid type: string \"twenty\", expected usize"
        );
        let err = WorkflowParams::from_json(r#"{"batch_size": [20, 40]}"#).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("workflow params: batch_size: invalid type"),
            "{err}"
        );
        let err = WorkflowParams::from_json("[1, 2]").unwrap_err();
        assert_eq!(
            err.to_string(),
            "workflow params: expected a JSON object of keys, found a list"
        );
        let err = WorkflowParams::from_json("{").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("workflow params: not valid JSON: "),
            "{err}"
        );
    }

    #[test]
    fn out_of_range_values_name_the_key() {
        let err = WorkflowParams::from_json(r#"{"dropout": [0.2, 1.5]}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "workflow params: dropout: 1.5 is not a probability in [0, 1)"
        );
        let err = WorkflowParams::from_json(r#"{"epochs": 0}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "workflow params: epochs: 0 is not an integer >= 1"
        );
        let err = WorkflowParams::from_json(r#"{"nhead": []}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "workflow params: nhead: [] is an empty list"
        );
    }

    #[test]
    fn an_unknown_tokenizer_is_refused() {
        let err = WorkflowParams::from_json(r#"{"tokenizer_type": "spacy"}"#).unwrap_err();
        assert!(err.to_string().contains("spacy"), "{err}");
    }
}
