//! The seven capture levels of the tutorial, as the scenario files define them.
//!
//! Each `scenarios/level-<n>-<what>.yaml` holds a `settings:` block, a complete
//! `settings.yaml` for that level; the training bench runs the campaign once per level
//! with it. Reading the files (rather than restating the settings here) keeps the bench
//! measuring what the scenario suite checks.

use std::path::{Path, PathBuf};

use capture_core::{Settings, SettingsError};

/// One capture level: its number, the scenario it comes from and its settings.
#[derive(Clone, Debug)]
pub struct Level {
    /// The level, 1 to 7.
    pub number: u32,
    /// The scenario file's stem (`level-6-children-tensor-inspection`).
    pub scenario: String,
    /// The scenario's `settings:` block.
    pub settings: Settings,
}

impl Level {
    /// Returns the short name used as a benchmark id (`level-6`).
    pub fn id(&self) -> String {
        format!("level-{}", self.number)
    }
}

/// Why the levels could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LevelsError {
    /// The scenario folder or a file in it could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The folder or file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A scenario file is not YAML, or has no `settings:` mapping.
    #[error("{}: {message}", path.display())]
    Scenario {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A scenario's settings break a rule.
    #[error("{}: settings: {source}", path.display())]
    Settings {
        /// The file.
        path: PathBuf,
        /// The rule broken.
        #[source]
        source: SettingsError,
    },
    /// Not every level from 1 to 7 has a file.
    #[error("no scenario file for level(s) {levels:?}")]
    Missing {
        /// The levels without a file.
        levels: Vec<u32>,
    },
}

/// Returns the workspace's `scenarios/` folder.
pub fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scenarios")
}

/// Reads the seven levels from `dir`, in order.
///
/// # Errors
///
/// [`LevelsError`] naming the file when one cannot be read or holds invalid settings,
/// and when a level has no file.
pub fn load(dir: &Path) -> Result<Vec<Level>, LevelsError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LevelsError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut levels = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| LevelsError::Read {
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let Some(number) = level_number(stem) else {
            continue;
        };
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|source| LevelsError::Read {
            path: path.clone(),
            source,
        })?;
        levels.push(Level {
            number,
            scenario: stem.to_owned(),
            settings: settings_of_scenario(&path, &text)?,
        });
    }
    levels.sort_by_key(|level| level.number);
    let missing: Vec<u32> = (1..=7)
        .filter(|n| !levels.iter().any(|level| level.number == *n))
        .collect();
    if !missing.is_empty() {
        return Err(LevelsError::Missing { levels: missing });
    }
    Ok(levels)
}

/// Returns `n` for a file stem `level-<n>-…`.
fn level_number(stem: &str) -> Option<u32> {
    let rest = stem.strip_prefix("level-")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Returns the settings of a scenario file's `settings:` block.
fn settings_of_scenario(path: &Path, text: &str) -> Result<Settings, LevelsError> {
    let scenario_error = |message: String| LevelsError::Scenario {
        path: path.to_path_buf(),
        message,
    };
    let scenario: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|err| scenario_error(err.to_string()))?;
    let settings = scenario
        .get("settings")
        .filter(|value| value.is_mapping())
        .ok_or_else(|| scenario_error("no `settings:` mapping".to_owned()))?;
    let yaml = serde_yaml::to_string(settings).map_err(|err| scenario_error(err.to_string()))?;
    Settings::from_yaml_str(&yaml).map_err(|source| LevelsError::Settings {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seven_levels_load_from_the_workspace_scenarios() {
        let levels = load(&scenario_dir()).expect("the workspace's scenarios are valid");
        let numbers: Vec<u32> = levels.iter().map(|level| level.number).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7]);
        assert!(!levels[0].settings.instrumentation.enabled);
        assert!(levels[6].settings.telemetry_capture.cpu);
        assert_eq!(levels[5].id(), "level-6");
    }

    #[test]
    fn file_stems_give_level_numbers() {
        assert_eq!(level_number("level-6-children"), Some(6));
        assert_eq!(level_number("level-12"), Some(12));
        assert_eq!(level_number("loops-lightweight"), None);
    }

    #[test]
    fn a_scenario_without_settings_is_named() {
        let err = settings_of_scenario(Path::new("s.yaml"), "description: x\n").unwrap_err();
        assert_eq!(err.to_string(), "s.yaml: no `settings:` mapping");
    }
}
