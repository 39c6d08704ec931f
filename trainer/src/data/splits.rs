//! The raw rows of the three WikiText-2 splits: from a data folder or the embedded excerpt.
//!
//! A row is one line of a WikiText-2 v1 token file (blank lines are a single space and stay
//! rows). In a folder each split may go by the dataset's own name (`wiki.train.tokens`) or a
//! plain one (`train.txt`); [`SplitName::file_names`] lists them in the order they are tried.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tracing::debug;

use super::DataError;

const EMBEDDED_TRAIN: &str = include_str!("../../data/train.txt");
const EMBEDDED_VALID: &str = include_str!("../../data/valid.txt");
const EMBEDDED_TEST: &str = include_str!("../../data/test.txt");

/// One of the three splits of the dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitName {
    /// The train split; the only one the vocabulary is built from.
    Train,
    /// The validation split, evaluated after every epoch.
    Valid,
    /// The test split, evaluated once with the best model.
    Test,
}

impl SplitName {
    /// The three splits, in the order the data preparation reads them.
    pub const ALL: [SplitName; 3] = [SplitName::Train, SplitName::Valid, SplitName::Test];

    /// Returns the file names accepted for this split in a data folder, in the order they
    /// are tried.
    pub fn file_names(self) -> &'static [&'static str] {
        match self {
            SplitName::Train => &["wiki.train.tokens", "train.txt", "train_head.txt"],
            SplitName::Valid => &["wiki.valid.tokens", "valid.txt", "validation.txt"],
            SplitName::Test => &["wiki.test.tokens", "test.txt"],
        }
    }

    /// Returns the short name used in messages and records (`train`, `valid`, `test`).
    pub fn as_str(self) -> &'static str {
        match self {
            SplitName::Train => "train",
            SplitName::Valid => "valid",
            SplitName::Test => "test",
        }
    }
}

impl fmt::Display for SplitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the rows came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DataSource {
    /// The excerpt compiled into the crate (`trainer/data/`).
    Embedded,
    /// Files in a data folder, one per split.
    Folder {
        /// The train file.
        train: PathBuf,
        /// The validation file.
        valid: PathBuf,
        /// The test file.
        test: PathBuf,
    },
}

impl DataSource {
    /// Returns a short description: `embedded excerpt` or the train file's folder.
    pub fn describe(&self) -> String {
        match self {
            DataSource::Embedded => "embedded excerpt".to_owned(),
            DataSource::Folder { train, .. } => train
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| train.display().to_string()),
        }
    }

    /// Returns the path of a split's file, or a `embedded:<name>` label for the excerpt.
    pub fn path_label(&self, split: SplitName) -> String {
        match self {
            DataSource::Embedded => format!("embedded:{}.txt", split.as_str()),
            DataSource::Folder { train, valid, test } => match split {
                SplitName::Train => train,
                SplitName::Valid => valid,
                SplitName::Test => test,
            }
            .display()
            .to_string(),
        }
    }
}

/// The rows of the three splits, untokenized.
#[derive(Clone, Debug)]
pub struct RawSplits {
    /// The train rows.
    pub train: Vec<String>,
    /// The validation rows.
    pub valid: Vec<String>,
    /// The test rows.
    pub test: Vec<String>,
    /// Where they came from.
    pub source: DataSource,
}

impl RawSplits {
    /// Returns the rows of one split.
    pub fn rows(&self, split: SplitName) -> &[String] {
        match split {
            SplitName::Train => &self.train,
            SplitName::Valid => &self.valid,
            SplitName::Test => &self.test,
        }
    }

    /// Returns the excerpt embedded in the crate.
    pub fn embedded() -> RawSplits {
        RawSplits {
            train: rows_of(EMBEDDED_TRAIN),
            valid: rows_of(EMBEDDED_VALID),
            test: rows_of(EMBEDDED_TEST),
            source: DataSource::Embedded,
        }
    }

    /// Reads the three splits from a data folder.
    ///
    /// # Errors
    ///
    /// [`DataError::NotAFolder`] when `dir` is missing or not a folder,
    /// [`DataError::MissingSplit`] naming the file names looked for when a split has no
    /// file, [`DataError::Read`] when a file cannot be read as UTF-8 text.
    pub fn from_folder(dir: &Path) -> Result<RawSplits, DataError> {
        if !dir.is_dir() {
            return Err(DataError::NotAFolder {
                path: dir.to_owned(),
            });
        }
        let find = |split: SplitName| -> Result<PathBuf, DataError> {
            split
                .file_names()
                .iter()
                .map(|name| dir.join(name))
                .find(|path| path.is_file())
                .ok_or_else(|| DataError::MissingSplit {
                    dir: dir.to_owned(),
                    split,
                    looked_for: split.file_names().join(", "),
                })
        };
        let (train, valid, test) = (
            find(SplitName::Train)?,
            find(SplitName::Valid)?,
            find(SplitName::Test)?,
        );
        let read = |path: &Path| -> Result<Vec<String>, DataError> {
            debug!(path = %path.display(), "reading split");
            std::fs::read_to_string(path)
                .map(|text| rows_of(&text))
                .map_err(|source| DataError::Read {
                    path: path.to_owned(),
                    source,
                })
        };
        Ok(RawSplits {
            train: read(&train)?,
            valid: read(&valid)?,
            test: read(&test)?,
            source: DataSource::Folder { train, valid, test },
        })
    }

    /// Reads a data folder when one is given, else returns the embedded excerpt.
    ///
    /// # Errors
    ///
    /// As [`RawSplits::from_folder`].
    pub fn load(dir: Option<&Path>) -> Result<RawSplits, DataError> {
        match dir {
            Some(dir) => RawSplits::from_folder(dir),
            None => Ok(RawSplits::embedded()),
        }
    }
}

/// Splits a file into rows: one per line, line endings removed.
fn rows_of(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_excerpt_has_the_first_rows_of_each_split() {
        let raw = RawSplits::embedded();
        assert_eq!(raw.train.len(), 10);
        assert_eq!(raw.train[1], " = Valkyria Chronicles III = ");
        assert_eq!(raw.valid[1], " = Homarus gammarus = ");
        assert!(raw.test.len() >= 10);
        assert_eq!(raw.source, DataSource::Embedded);
    }

    #[test]
    fn a_folder_with_plain_names_loads() {
        let dir = tempfile::tempdir().expect("a temporary folder can be created");
        std::fs::write(dir.path().join("train.txt"), "a b\n c\n").unwrap();
        std::fs::write(dir.path().join("validation.txt"), "a\n").unwrap();
        std::fs::write(dir.path().join("wiki.test.tokens"), "b\n").unwrap();
        let raw = RawSplits::from_folder(dir.path()).unwrap();
        assert_eq!(raw.train, ["a b", " c"]);
        assert_eq!(raw.valid, ["a"]);
        assert!(matches!(raw.source, DataSource::Folder { .. }));
    }

    #[test]
    fn a_missing_split_names_the_files_looked_for() {
        let dir = tempfile::tempdir().expect("a temporary folder can be created");
        std::fs::write(dir.path().join("wiki.train.tokens"), "a\n").unwrap();
        let err = RawSplits::from_folder(dir.path()).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("no valid split"), "{message}");
        assert!(
            message.contains("wiki.valid.tokens, valid.txt, validation.txt"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_folder_is_an_error() {
        let err = RawSplits::from_folder(Path::new("/no/such/folder")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "data folder /no/such/folder does not exist or is not a folder"
        );
    }
}
