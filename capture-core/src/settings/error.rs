//! The error a settings file can give.

use std::path::{Path, PathBuf};

/// Why a settings file could not be loaded. Every variant but [`SettingsError::Read`]
/// names the key path (`instrumentation.torch.children_mode`), and, when the settings
/// came from a file, the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The file could not be read.
    #[error("cannot read settings file {}: {source}", path.display())]
    Read {
        /// The file asked for.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The text is not YAML.
    #[error("{}line {line} column {column}: {message}", file_prefix(.file))]
    Syntax {
        /// The file, when the text came from one.
        file: Option<PathBuf>,
        /// Line of the error, 1-based (0 when the parser gave none).
        line: usize,
        /// Column of the error, 1-based (0 when the parser gave none).
        column: usize,
        /// What the YAML parser said.
        message: String,
    },
    /// A key holds a value of the wrong type or outside the allowed set.
    #[error("{}{key}: {found} is not {allowed}", file_prefix(.file))]
    InvalidValue {
        /// The file, when the text came from one.
        file: Option<PathBuf>,
        /// Dotted path of the key.
        key: String,
        /// The value found, as written (strings quoted).
        found: String,
        /// What the key accepts (`one of online, offline`, `a boolean`).
        allowed: String,
    },
    /// Two keys disagree (SPEC §3's cross-key rules).
    #[error("{}{key}: {problem}", file_prefix(.file))]
    Conflict {
        /// The file, when the text came from one.
        file: Option<PathBuf>,
        /// Dotted path of the key at fault.
        key: String,
        /// What is wrong and what would fix it.
        problem: String,
    },
}

impl SettingsError {
    /// Returns the dotted key path the error is about, when it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            SettingsError::InvalidValue { key, .. } | SettingsError::Conflict { key, .. } => {
                Some(key)
            }
            SettingsError::Read { .. } | SettingsError::Syntax { .. } => None,
        }
    }

    /// Attaches the file the settings came from, so the message names it.
    pub(crate) fn in_file(mut self, path: &Path) -> SettingsError {
        match &mut self {
            SettingsError::Syntax { file, .. }
            | SettingsError::InvalidValue { file, .. }
            | SettingsError::Conflict { file, .. } => *file = Some(path.to_path_buf()),
            SettingsError::Read { .. } => {}
        }
        self
    }
}

fn file_prefix(file: &Option<PathBuf>) -> String {
    match file {
        Some(path) => format!("{}: ", path.display()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_and_the_key() {
        let err = SettingsError::InvalidValue {
            file: None,
            key: "project.db_flush_mode".into(),
            found: "\"later\"".into(),
            allowed: "one of online, offline".into(),
        }
        .in_file(Path::new("settings.yaml"));
        assert_eq!(
            err.to_string(),
            "settings.yaml: project.db_flush_mode: \"later\" is not one of online, offline"
        );
        assert_eq!(err.key(), Some("project.db_flush_mode"));
    }
}
