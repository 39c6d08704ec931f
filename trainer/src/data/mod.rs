//! Data preparation: WikiText-2 rows to batchified token ids, as the tutorial does it.
//!
//! Per split, take the first `subset_size` rows, tokenize each with `basic_english`, map
//! tokens to ids with a vocabulary built from the train rows only, concatenate the ids of
//! the non-empty rows and batchify: train with `batch_size` columns, validation and test
//! with `eval_batch_size`. [`prepare`] does it all and returns a [`PreparedData`] whose
//! [`DataSummary`] holds the facts the `DataPrepWorkflow` records.
//!
//! ```
//! use trainer::data::{prepare, DataSpec, RawSplits};
//!
//! let data = prepare(&RawSplits::embedded(), &DataSpec::default()).unwrap();
//! assert_eq!(data.summary.ntokens, 254);
//! assert_eq!(data.summary.train_n_batches, 2);
//! assert_eq!(data.summary.val_n_batches, 4);
//! ```

mod batchify;
mod splits;
mod tokenizer;
mod vocab;

use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Value, json};

pub use batchify::{Batchified, Window};
pub use splits::{DataSource, RawSplits, SplitName};
pub use tokenizer::{TokenizerKind, UnknownTokenizer, basic_english};
pub use vocab::{UNK, Vocab};

/// What went wrong while reading or preparing the data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The data folder does not exist or is a file.
    #[error("data folder {} does not exist or is not a folder", path.display())]
    NotAFolder {
        /// The folder that was given.
        path: PathBuf,
    },
    /// A split has no file in the data folder.
    #[error("no {split} split in {}: looked for {looked_for}", dir.display())]
    MissingSplit {
        /// The data folder.
        dir: PathBuf,
        /// The split without a file.
        split: SplitName,
        /// The file names that were tried, comma separated.
        looked_for: String,
    },
    /// A split's file could not be read as UTF-8 text.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `subset_size` asks for more rows than a split has.
    #[error(
        "subset_size {wanted} asks for more rows than the {split} split of the {source_label} \
         has ({available}); lower subset_size or pass a data folder with the full split"
    )]
    TooFewRows {
        /// The split.
        split: SplitName,
        /// The rows asked for.
        wanted: usize,
        /// The rows the split has.
        available: usize,
        /// Where the rows came from (`embedded excerpt` or a folder).
        source_label: String,
    },
    /// A split has no token at all in the rows taken (blank rows only).
    #[error(
        "the {split} split has no tokens in the {rows} rows taken (subset_size {}); raise \
         subset_size or check the file", subset_label(.subset_size)
    )]
    EmptySplit {
        /// The split.
        split: SplitName,
        /// The rows taken from it.
        rows: usize,
        /// The `subset_size` that took them.
        subset_size: Option<usize>,
    },
    /// A split yields fewer than two rows once batchified, so no step can be taken.
    #[error(
        "the {split} split has {tokens} tokens, too few for a batch size of {batch_size} \
         (training needs at least {} tokens)", batch_size.saturating_mul(2)
    )]
    TooFewTokens {
        /// The split.
        split: SplitName,
        /// Its number of tokens.
        tokens: usize,
        /// The number of columns it is batchified into.
        batch_size: usize,
    },
    /// A batch size of zero.
    #[error("{key} must be at least 1")]
    ZeroBatchSize {
        /// `batch_size` or `eval_batch_size`.
        key: &'static str,
    },
}

fn subset_label(subset_size: &Option<usize>) -> String {
    subset_size.map_or_else(|| "null: every row".to_owned(), |n| n.to_string())
}

/// The parameters of the data preparation (the tutorial's `dataprep_workflow` arguments).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DataSpec {
    /// The first rows of each split to use; `None` uses every row.
    pub subset_size: Option<usize>,
    /// The number of columns of the train data, and the train sequence length.
    pub batch_size: usize,
    /// The number of columns of the validation and test data, and their sequence length.
    pub eval_batch_size: usize,
    /// The tokenizer.
    pub tokenizer: TokenizerKind,
}

impl Default for DataSpec {
    /// The tutorial's defaults: 10 rows, batch size 20, eval batch size 10, `basic_english`.
    fn default() -> Self {
        DataSpec {
            subset_size: Some(10),
            batch_size: 20,
            eval_batch_size: 10,
            tokenizer: TokenizerKind::BasicEnglish,
        }
    }
}

/// The facts of a data preparation, as the `DataPrepWorkflow` records them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DataSummary {
    /// Vocabulary size, `<unk>` included.
    pub ntokens: usize,
    /// Where the rows came from.
    pub source: DataSource,
    /// Rows read per split (after `subset_size`).
    pub train_rows: usize,
    /// Validation rows read.
    pub val_rows: usize,
    /// Test rows read.
    pub test_rows: usize,
    /// Tokens of the train rows.
    pub train_tokens: usize,
    /// Tokens of the validation rows.
    pub val_tokens: usize,
    /// Tokens of the test rows.
    pub test_tokens: usize,
    /// `[rows, batch_size]` of the batchified train data.
    pub train_data_shape: [usize; 2],
    /// `[rows, eval_batch_size]` of the batchified validation data.
    pub val_data_shape: [usize; 2],
    /// `[rows, eval_batch_size]` of the batchified test data.
    pub test_data_shape: [usize; 2],
    /// Train steps per epoch.
    pub train_n_batches: usize,
    /// Validation steps per epoch.
    pub val_n_batches: usize,
    /// Test steps.
    pub test_n_batches: usize,
}

/// Batchified splits ready for training, with their vocabulary and summary.
#[derive(Clone, Debug)]
pub struct PreparedData {
    /// The vocabulary built from the train rows.
    pub vocab: Vocab,
    /// Train data, `[rows, batch_size]`.
    pub train: Batchified,
    /// Validation data, `[rows, eval_batch_size]`.
    pub valid: Batchified,
    /// Test data, `[rows, eval_batch_size]`.
    pub test: Batchified,
    /// What was prepared.
    pub summary: DataSummary,
    /// The parameters it was prepared with.
    pub spec: DataSpec,
}

impl PreparedData {
    /// Returns the `used` of the `DataPrepWorkflow` under Flowcept's keys.
    pub fn workflow_used(&self) -> Value {
        let s = &self.summary;
        json!({
            "train_batch_size": self.spec.batch_size,
            "val_batch_size": self.spec.eval_batch_size,
            "test_batch_size": self.spec.eval_batch_size,
            "subset_size": self.spec.subset_size,
            "tokenizer_type": self.spec.tokenizer.as_str(),
            "dataset_info": {
                "name": "wikitext-2-v1",
                "source": s.source.describe(),
                "license": "CC BY-SA 3.0",
                "citation": "Merity et al., Pointer Sentinel Mixture Models, arXiv:1609.07843",
            },
            "ntokens": s.ntokens,
            "train_data_shape": s.train_data_shape,
            "val_data_shape": s.val_data_shape,
            "test_data_shape": s.test_data_shape,
            "train_data_path": s.source.path_label(SplitName::Train),
            "val_data_path": s.source.path_label(SplitName::Valid),
            "test_data_path": s.source.path_label(SplitName::Test),
            "train_n_batches": s.train_n_batches,
            "val_n_batches": s.val_n_batches,
            "test_n_batches": s.test_n_batches,
        })
    }

    /// Returns the `generated` of the `DataPrepWorkflow`: row and token counts per split.
    pub fn workflow_generated(&self) -> Value {
        let s = &self.summary;
        json!({
            "ntokens": s.ntokens,
            "train_rows": s.train_rows,
            "val_rows": s.val_rows,
            "test_rows": s.test_rows,
            "train_tokens": s.train_tokens,
            "val_tokens": s.val_tokens,
            "test_tokens": s.test_tokens,
        })
    }
}

/// Tokenizes, builds the vocabulary and batchifies the three splits.
///
/// # Errors
///
/// [`DataError::ZeroBatchSize`], [`DataError::TooFewRows`] when `subset_size` exceeds a
/// split, [`DataError::EmptySplit`] when the rows taken hold no token,
/// [`DataError::TooFewTokens`] when a split cannot fill two rows.
pub fn prepare(raw: &RawSplits, spec: &DataSpec) -> Result<PreparedData, DataError> {
    if spec.batch_size == 0 {
        return Err(DataError::ZeroBatchSize { key: "batch_size" });
    }
    if spec.eval_batch_size == 0 {
        return Err(DataError::ZeroBatchSize {
            key: "eval_batch_size",
        });
    }
    let rows = |split: SplitName| -> Result<&[String], DataError> {
        let all = raw.rows(split);
        match spec.subset_size {
            None => Ok(all),
            Some(wanted) if wanted <= all.len() => Ok(&all[..wanted]),
            Some(wanted) => Err(DataError::TooFewRows {
                split,
                wanted,
                available: all.len(),
                source_label: raw.source.describe(),
            }),
        }
    };
    let tokenize = |rows: &[String]| -> Vec<Vec<String>> {
        rows.iter().map(|r| spec.tokenizer.tokenize(r)).collect()
    };
    let train_rows = tokenize(rows(SplitName::Train)?);
    let val_rows = tokenize(rows(SplitName::Valid)?);
    let test_rows = tokenize(rows(SplitName::Test)?);

    let vocab = Vocab::build(train_rows.iter().map(Vec::as_slice));
    let ids = |rows: &[Vec<String>]| -> Vec<i64> {
        rows.iter()
            .flatten()
            .map(|token| vocab.index_of(token))
            .collect()
    };
    let (train_ids, val_ids, test_ids) = (ids(&train_rows), ids(&val_rows), ids(&test_rows));

    let batchify = |split: SplitName, ids: &[i64], columns: usize| {
        if ids.is_empty() {
            return Err(DataError::EmptySplit {
                split,
                rows: raw
                    .rows(split)
                    .len()
                    .min(spec.subset_size.unwrap_or(usize::MAX)),
                subset_size: spec.subset_size,
            });
        }
        let b = Batchified::new(ids, columns);
        if b.rows() < 2 {
            Err(DataError::TooFewTokens {
                split,
                tokens: ids.len(),
                batch_size: columns,
            })
        } else {
            Ok(b)
        }
    };
    let train = batchify(SplitName::Train, &train_ids, spec.batch_size)?;
    let valid = batchify(SplitName::Valid, &val_ids, spec.eval_batch_size)?;
    let test = batchify(SplitName::Test, &test_ids, spec.eval_batch_size)?;

    let summary = DataSummary {
        ntokens: vocab.len(),
        source: raw.source.clone(),
        train_rows: train_rows.len(),
        val_rows: val_rows.len(),
        test_rows: test_rows.len(),
        train_tokens: train_ids.len(),
        val_tokens: val_ids.len(),
        test_tokens: test_ids.len(),
        train_data_shape: train.shape(),
        val_data_shape: valid.shape(),
        test_data_shape: test.shape(),
        train_n_batches: train.windows(spec.batch_size).len(),
        val_n_batches: valid.windows(spec.eval_batch_size).len(),
        test_n_batches: test.windows(spec.eval_batch_size).len(),
    };
    Ok(PreparedData {
        vocab,
        train,
        valid,
        test,
        summary,
        spec: spec.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_give_the_tutorial_facts() {
        let data = prepare(&RawSplits::embedded(), &DataSpec::default()).unwrap();
        let s = &data.summary;
        assert_eq!(s.ntokens, 254);
        assert_eq!(
            (s.train_tokens, s.val_tokens, s.test_tokens),
            (542, 414, 336)
        );
        assert_eq!(s.train_data_shape, [27, 20]);
        assert_eq!(s.val_data_shape, [41, 10]);
        assert_eq!(s.test_data_shape, [33, 10]);
        assert_eq!(
            (s.train_n_batches, s.val_n_batches, s.test_n_batches),
            (2, 4, 4)
        );
    }

    #[test]
    fn the_input_of_the_first_step_has_the_tutorial_density() {
        // Flowcept's inspection of the first train input reads density 0.9775: 391 of the
        // 400 ids are not <unk>.
        let data = prepare(&RawSplits::embedded(), &DataSpec::default()).unwrap();
        let window = &data.train.windows(20)[0];
        let input = data.train.input(window);
        let nonzero = input.iter().filter(|&&id| id != 0).count();
        assert_eq!((nonzero, input.len()), (391, 400));
    }

    #[test]
    fn too_large_a_subset_names_the_split_and_the_source() {
        let spec = DataSpec {
            subset_size: Some(11),
            ..DataSpec::default()
        };
        let err = prepare(&RawSplits::embedded(), &spec).unwrap_err();
        assert_eq!(
            err.to_string(),
            "subset_size 11 asks for more rows than the train split of the embedded excerpt \
             has (10); lower subset_size or pass a data folder with the full split"
        );
    }

    #[test]
    fn too_few_tokens_is_an_error_not_a_panic() {
        let spec = DataSpec {
            batch_size: 300,
            ..DataSpec::default()
        };
        let err = prepare(&RawSplits::embedded(), &spec).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::TooFewTokens {
                    split: SplitName::Train,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_split_left_empty_by_subset_size_says_so() {
        // The excerpt's first train row is blank.
        let spec = DataSpec {
            subset_size: Some(1),
            ..DataSpec::default()
        };
        assert_eq!(
            prepare(&RawSplits::embedded(), &spec)
                .unwrap_err()
                .to_string(),
            "the train split has no tokens in the 1 rows taken (subset_size 1); raise \
             subset_size or check the file"
        );
    }

    #[test]
    fn the_largest_batch_size_is_an_error_not_an_overflow() {
        let spec = DataSpec {
            batch_size: usize::MAX,
            ..DataSpec::default()
        };
        let message = prepare(&RawSplits::embedded(), &spec)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(&format!("too few for a batch size of {}", usize::MAX)),
            "{message}"
        );
    }

    #[test]
    fn zero_batch_sizes_are_errors() {
        let spec = DataSpec {
            eval_batch_size: 0,
            ..DataSpec::default()
        };
        assert_eq!(
            prepare(&RawSplits::embedded(), &spec)
                .unwrap_err()
                .to_string(),
            "eval_batch_size must be at least 1"
        );
    }
}
