//! `settings.yaml`: what to capture and where to write it.
//!
//! [`Settings`] holds every key of SPEC §3, each with Flowcept's default when absent.
//! Loading is tolerant of everything Flowcept's own settings files hold: sections and keys
//! this library does not read (`mq`, `kv_db`, `databases`, `adapters`, `project.debug`, …)
//! are accepted, kept for the settings snapshot written on workflow rows, and otherwise
//! ignored. Every key this library does read is checked for its type and value, and the
//! cross-key rules of SPEC §3 are checked by [`Settings::validate`]; a failure is a
//! [`SettingsError`] naming the key path, the value found and what is allowed.

mod error;
mod load;

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value, json};

pub use error::SettingsError;

/// Default path of the buffer file, as in Flowcept.
pub const DEFAULT_BUFFER_PATH: &str = "flowcept_buffer.jsonl";

/// Everything `settings.yaml` says that this library acts on.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// The `project` section: enrichment, flush mode, buffer file.
    pub project: ProjectSettings,
    /// The `instrumentation` section: the master switch and torch capture.
    pub instrumentation: InstrumentationSettings,
    /// The `telemetry_capture` section: which telemetry kinds to take.
    pub telemetry_capture: TelemetrySettings,
    /// The whole file as read, unknown sections included, for the snapshot.
    raw: Map<String, Value>,
}

/// The `project` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProjectSettings {
    /// Adds host, user and git facts to rows (`enrich_messages`).
    pub enrich_messages: bool,
    /// When rows leave the process (`db_flush_mode`).
    pub db_flush_mode: FlushMode,
    /// The buffer file (`dump_buffer`).
    pub dump_buffer: DumpBufferSettings,
}

/// When rows leave the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlushMode {
    /// Rows stream to the file as they are produced.
    Online,
    /// Rows are kept in memory and written when capture finishes.
    Offline,
}

/// The `project.dump_buffer` section: the JSONL file rows are written to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DumpBufferSettings {
    /// Writes the rows to `path`; without it nothing is persisted.
    pub enabled: bool,
    /// The file to write.
    pub path: PathBuf,
    /// Appends a unique id (`pid_thread_random`) to the file name.
    pub append_id_to_path: bool,
    /// Appends the campaign id to the file name (see [`crate::Capture::start`]).
    pub append_workflow_id_to_path: bool,
    /// Deletes an existing file first instead of appending to it.
    pub delete_previous_file: bool,
}

/// The `instrumentation` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InstrumentationSettings {
    /// Master switch for everything but the campaign's own rows.
    pub enabled: bool,
    /// Forward and loop capture (`instrumentation.torch`).
    pub torch: TorchSettings,
}

/// The `instrumentation.torch` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TorchSettings {
    /// Forward capture scope; `None` captures no forwards.
    pub what: Option<ForwardScope>,
    /// What a child forward captures; required with [`ForwardScope::ParentAndChildren`].
    pub children_mode: Option<ChildrenMode>,
    /// Epoch loop capture; `None` captures no epochs.
    pub epoch_loop: Option<LoopMode>,
    /// Batch loop capture; `None` captures no batches.
    pub batch_loop: Option<LoopMode>,
    /// Forwards are captured in epochs whose 0-based index is a multiple of this (≥ 1).
    pub capture_epochs_at_every: u32,
    /// Writes the model's workflow row.
    pub register_workflow: bool,
}

/// Which forwards are captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardScope {
    /// The model's forward only.
    ParentOnly,
    /// The model's forward and those of its first-level children.
    ParentAndChildren,
}

/// What a child forward row holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildrenMode {
    /// A bare row, first epoch only.
    Lightweight,
    /// Tensor facts, first epoch only.
    TensorInspection,
    /// Telemetry, every captured epoch.
    Telemetry,
    /// Tensor facts in the first epoch and telemetry in every captured epoch.
    TelemetryAndTensorInspection,
}

impl ChildrenMode {
    /// Tells whether the mode takes telemetry on child rows.
    pub fn wants_telemetry(self) -> bool {
        matches!(
            self,
            ChildrenMode::Telemetry | ChildrenMode::TelemetryAndTensorInspection
        )
    }

    /// Tells whether the mode inspects child tensors (in the first epoch).
    pub fn wants_tensors(self) -> bool {
        matches!(
            self,
            ChildrenMode::TensorInspection | ChildrenMode::TelemetryAndTensorInspection
        )
    }
}

/// How a loop is captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoopMode {
    /// Each iteration is written when it ends, with telemetry when enabled.
    Default,
    /// Iterations are kept and written together when the loop ends, without telemetry.
    Lightweight,
}

/// The `telemetry_capture` section: which kinds are taken. All `false` is off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TelemetrySettings {
    /// Whole-machine CPU times, usage and frequency.
    pub cpu: bool,
    /// Usage of each CPU.
    pub per_cpu: bool,
    /// Facts about this process (memory, CPU usage).
    pub process_info: bool,
    /// Memory and swap.
    pub mem: bool,
    /// Disk space.
    pub disk: bool,
    /// Network traffic.
    pub network: bool,
    /// GPUs, through NVML when the library is present.
    pub gpu: bool,
    /// Static facts about the machine, on workflow rows.
    pub machine_info: bool,
}

impl TelemetrySettings {
    /// Tells whether any kind is on.
    pub fn any(&self) -> bool {
        self.cpu
            || self.per_cpu
            || self.process_info
            || self.mem
            || self.disk
            || self.network
            || self.gpu
            || self.machine_info
    }

    /// Tells whether any kind taken on task rows is on (all but `machine_info`).
    pub fn any_per_task(&self) -> bool {
        self.cpu
            || self.per_cpu
            || self.process_info
            || self.mem
            || self.disk
            || self.network
            || self.gpu
    }
}

impl Default for Settings {
    /// Returns Flowcept's defaults: instrumentation off, enrichment on, online flushing,
    /// no buffer file.
    fn default() -> Self {
        Settings {
            project: ProjectSettings {
                enrich_messages: true,
                db_flush_mode: FlushMode::Online,
                dump_buffer: DumpBufferSettings {
                    enabled: false,
                    path: PathBuf::from(DEFAULT_BUFFER_PATH),
                    append_id_to_path: false,
                    append_workflow_id_to_path: false,
                    delete_previous_file: false,
                },
            },
            instrumentation: InstrumentationSettings {
                enabled: false,
                torch: TorchSettings {
                    what: None,
                    children_mode: None,
                    epoch_loop: None,
                    batch_loop: None,
                    capture_epochs_at_every: 1,
                    register_workflow: false,
                },
            },
            telemetry_capture: TelemetrySettings::default(),
            raw: Map::new(),
        }
    }
}

impl Settings {
    /// Parses settings from YAML text; absent keys take Flowcept's defaults.
    ///
    /// # Errors
    ///
    /// A YAML syntax error names the line; a wrong type or value names the key, the
    /// value and what is allowed; a broken cross-key rule names the key at fault.
    pub fn from_yaml_str(text: &str) -> Result<Settings, SettingsError> {
        let settings = load::parse(text)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Reads and parses a settings file; errors name the file.
    ///
    /// # Errors
    ///
    /// As [`Settings::from_yaml_str`], plus [`SettingsError::Read`] when the file cannot
    /// be read.
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Settings::from_yaml_str(&text).map_err(|err| err.in_file(path))
    }

    /// Returns the tutorial's initial settings with the buffer file on: instrumentation
    /// off, enrichment on, online flushing, rows written to `flowcept_buffer.jsonl`.
    pub fn tutorial_default() -> Settings {
        let mut settings = Settings::default();
        settings.project.dump_buffer.enabled = true;
        settings
    }

    /// Checks the cross-key rules of SPEC §3.
    ///
    /// # Errors
    ///
    /// [`SettingsError::Conflict`] naming `instrumentation.torch.children_mode` when
    /// `what` is `parent_and_children` without a children mode, or when the mode takes
    /// telemetry while `telemetry_capture` enables no kind;
    /// [`SettingsError::InvalidValue`] when `capture_epochs_at_every` is 0.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let torch = &self.instrumentation.torch;
        if torch.capture_epochs_at_every == 0 {
            return Err(SettingsError::InvalidValue {
                file: None,
                key: "instrumentation.torch.capture_epochs_at_every".into(),
                found: "0".into(),
                allowed: "an integer >= 1".into(),
            });
        }
        if torch.what == Some(ForwardScope::ParentAndChildren) && torch.children_mode.is_none() {
            return Err(SettingsError::Conflict {
                file: None,
                key: "instrumentation.torch.children_mode".into(),
                problem: "required when instrumentation.torch.what is parent_and_children".into(),
            });
        }
        if let Some(mode) = torch.children_mode
            && mode.wants_telemetry()
            && !self.telemetry_capture.any_per_task()
        {
            let name = load::children_mode_name(mode);
            return Err(SettingsError::Conflict {
                file: None,
                key: "instrumentation.torch.children_mode".into(),
                problem: format!(
                    "{name} needs telemetry_capture to enable at least one kind \
                     (cpu, per_cpu, process_info, mem, disk, network, gpu)"
                ),
            });
        }
        Ok(())
    }

    /// Returns the settings in force as JSON: the file as read, unknown sections
    /// included, with every key this library reads set to its effective value.
    pub fn to_json(&self) -> Value {
        let mut root = self.raw.clone();
        let typed = json!({
            "project": self.project,
            "instrumentation": self.instrumentation,
            "telemetry_capture": if self.telemetry_capture.any() {
                serde_json::to_value(self.telemetry_capture)
                    .expect("telemetry settings are plain booleans")
            } else {
                Value::Null
            },
        });
        if let Value::Object(typed) = typed {
            for (key, value) in typed {
                merge_into(root.entry(key).or_insert(Value::Null), value);
            }
        }
        Value::Object(root)
    }

    /// Returns [`Settings::to_json`] with every secret replaced by `"***"`: any key
    /// named like a password, secret, token, API key or credential, a user name, and
    /// URIs that carry credentials (`user:pass@host`).
    pub fn redacted_snapshot(&self) -> Value {
        let mut value = self.to_json();
        redact(&mut value);
        value
    }

    /// Returns the complete settings in force as YAML (see [`Settings::to_json`]).
    pub fn to_yaml_string(&self) -> String {
        serde_yaml::to_string(&self.to_json()).expect("a JSON value always converts to YAML")
    }
}

/// Overlays `value` onto `target`: maps merge key by key, anything else replaces.
fn merge_into(target: &mut Value, value: Value) {
    match (target, value) {
        (Value::Object(target), Value::Object(value)) => {
            for (key, value) in value {
                merge_into(target.entry(key).or_insert(Value::Null), value);
            }
        }
        (target, value) => *target = value,
    }
}

const SECRET_MARKERS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "credential",
    "private_key",
    "auth",
];

/// Tells whether a settings key names a secret.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_MARKERS.iter().any(|marker| key.contains(marker))
        || matches!(key.as_str(), "user" | "username" | "login" | "user_name")
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                let uri_with_credentials = matches!(value, Value::String(s) if has_userinfo(s));
                if (is_secret_key(key) && !value.is_null()) || uri_with_credentials {
                    *value = Value::String("***".into());
                } else {
                    redact(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Tells whether a string looks like a URI with credentials (`scheme://user:pw@host`).
fn has_userinfo(text: &str) -> bool {
    match text.split_once("://") {
        Some((_, rest)) => {
            let authority = rest.split('/').next().unwrap_or_default();
            authority.contains('@')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_gives_flowcepts_defaults() {
        let settings = Settings::from_yaml_str("").expect("an empty file is valid");
        assert_eq!(settings, Settings::default());
        assert!(!settings.instrumentation.enabled);
        assert!(settings.project.enrich_messages);
        assert_eq!(settings.project.db_flush_mode, FlushMode::Online);
        assert_eq!(settings.instrumentation.torch.capture_epochs_at_every, 1);
    }

    #[test]
    fn the_tutorial_default_writes_the_buffer_file() {
        let settings = Settings::tutorial_default();
        assert!(settings.project.dump_buffer.enabled);
        assert_eq!(
            settings.project.dump_buffer.path,
            PathBuf::from(DEFAULT_BUFFER_PATH)
        );
        assert!(!settings.instrumentation.enabled);
    }

    #[test]
    fn secrets_are_redacted_and_unknown_sections_kept() {
        let text = "mq:\n  host: localhost\n  password: hunter2\n  username: bob\n\
                    databases:\n  mongodb:\n    uri: mongodb://bob:pw@db:27017\n    \
                    api_key: k\nkv_db:\n  token: t\n";
        let settings = Settings::from_yaml_str(text).unwrap();
        let snapshot = settings.redacted_snapshot().to_string();
        for secret in ["hunter2", "bob", "pw@db", "\"k\"", "\"t\""] {
            assert!(
                !snapshot.contains(secret),
                "{secret} leaked into {snapshot}"
            );
        }
        assert!(snapshot.contains("localhost"));
        assert!(snapshot.contains("\"instrumentation\""));
    }

    #[test]
    fn the_yaml_dump_loads_back_to_the_same_settings() {
        let text = "instrumentation:\n  enabled: true\n  torch:\n    what: parent_only\n    \
                    epoch_loop: lightweight\ntelemetry_capture:\n  cpu: true\n";
        let settings = Settings::from_yaml_str(text).unwrap();
        let again = Settings::from_yaml_str(&settings.to_yaml_string()).unwrap();
        assert_eq!(settings.project, again.project);
        assert_eq!(settings.instrumentation, again.instrumentation);
        assert_eq!(settings.telemetry_capture, again.telemetry_capture);
    }

    #[test]
    fn parent_and_children_needs_a_children_mode() {
        let mut settings = Settings::default();
        settings.instrumentation.torch.what = Some(ForwardScope::ParentAndChildren);
        let err = settings.validate().unwrap_err();
        assert_eq!(err.key(), Some("instrumentation.torch.children_mode"));
    }
}
