//! Turning YAML text into [`Settings`], key by key, with errors that name the key.

use std::path::PathBuf;

use serde_json::{Map, Value as Json};
use serde_yaml::Value as Yaml;

use super::{
    ChildrenMode, FlushMode, ForwardScope, LoopMode, Settings, SettingsError, TelemetrySettings,
};

const CHILDREN_MODES: &[(&str, ChildrenMode)] = &[
    ("lightweight", ChildrenMode::Lightweight),
    ("tensor_inspection", ChildrenMode::TensorInspection),
    ("telemetry", ChildrenMode::Telemetry),
    (
        "telemetry_and_tensor_inspection",
        ChildrenMode::TelemetryAndTensorInspection,
    ),
];
const SCOPES: &[(&str, ForwardScope)] = &[
    ("parent_only", ForwardScope::ParentOnly),
    ("parent_and_children", ForwardScope::ParentAndChildren),
];
const LOOP_MODES: &[(&str, LoopMode)] = &[
    ("default", LoopMode::Default),
    ("lightweight", LoopMode::Lightweight),
];
const FLUSH_MODES: &[(&str, FlushMode)] = &[
    ("online", FlushMode::Online),
    ("offline", FlushMode::Offline),
];

/// Returns the settings-file spelling of a children mode.
pub(super) fn children_mode_name(mode: ChildrenMode) -> &'static str {
    CHILDREN_MODES
        .iter()
        .find(|(_, m)| *m == mode)
        .map(|(name, _)| *name)
        .expect("every children mode is listed in CHILDREN_MODES")
}

/// Parses the text without checking the cross-key rules.
pub(super) fn parse(text: &str) -> Result<Settings, SettingsError> {
    let yaml: Yaml = serde_yaml::from_str(text).map_err(|err| {
        let (line, column) = err.location().map_or((0, 0), |l| (l.line(), l.column()));
        let message = err.to_string();
        // serde_yaml repeats the location at the end of its message; it is said once.
        let message = match message.rfind(" at line ") {
            Some(at) => message[..at].to_owned(),
            None => message,
        };
        SettingsError::Syntax {
            file: None,
            line,
            column,
            message,
        }
    })?;
    let root = match &yaml {
        Yaml::Null => Map::new(),
        Yaml::Mapping(_) => match to_json(&yaml) {
            Json::Object(map) => map,
            _ => unreachable!("a YAML mapping converts to a JSON object"),
        },
        other => return Err(invalid("(root)", other, "a map of settings sections")),
    };

    let mut settings = Settings {
        raw: root,
        ..Settings::default()
    };
    let project = section(&yaml, &["project"])?;
    if let Some(project) = project {
        let p = &mut settings.project;
        read_bool(
            project,
            "project",
            "enrich_messages",
            &mut p.enrich_messages,
        )?;
        read_choice(
            project,
            "project",
            "db_flush_mode",
            FLUSH_MODES,
            &mut p.db_flush_mode,
        )?;
    }
    if let Some(dump) = section(&yaml, &["project", "dump_buffer"])? {
        let d = &mut settings.project.dump_buffer;
        let at = "project.dump_buffer";
        read_bool(dump, at, "enabled", &mut d.enabled)?;
        read_bool(dump, at, "append_id_to_path", &mut d.append_id_to_path)?;
        read_bool(
            dump,
            at,
            "append_workflow_id_to_path",
            &mut d.append_workflow_id_to_path,
        )?;
        read_bool(
            dump,
            at,
            "delete_previous_file",
            &mut d.delete_previous_file,
        )?;
        match dump.get("path") {
            None | Some(Yaml::Null) => {}
            Some(Yaml::String(path)) if !path.trim().is_empty() => d.path = PathBuf::from(path),
            Some(other) => return Err(invalid(&join(at, "path"), other, "a non-empty path")),
        }
    }
    if let Some(instr) = section(&yaml, &["instrumentation"])? {
        let i = &mut settings.instrumentation;
        read_bool(instr, "instrumentation", "enabled", &mut i.enabled)?;
    }
    if let Some(torch) = section(&yaml, &["instrumentation", "torch"])? {
        let t = &mut settings.instrumentation.torch;
        let at = "instrumentation.torch";
        read_optional_choice(torch, at, "what", SCOPES, &mut t.what)?;
        read_optional_choice(
            torch,
            at,
            "children_mode",
            CHILDREN_MODES,
            &mut t.children_mode,
        )?;
        read_optional_choice(torch, at, "epoch_loop", LOOP_MODES, &mut t.epoch_loop)?;
        read_optional_choice(torch, at, "batch_loop", LOOP_MODES, &mut t.batch_loop)?;
        read_bool(torch, at, "register_workflow", &mut t.register_workflow)?;
        match torch.get("capture_epochs_at_every") {
            None | Some(Yaml::Null) => {}
            Some(value) => {
                t.capture_epochs_at_every = value
                    .as_u64()
                    .filter(|n| *n >= 1)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        invalid(
                            &join(at, "capture_epochs_at_every"),
                            value,
                            "an integer >= 1",
                        )
                    })?;
            }
        }
    }
    if let Some(telemetry) = section(&yaml, &["telemetry_capture"])? {
        let t = &mut settings.telemetry_capture;
        let at = "telemetry_capture";
        let TelemetrySettings {
            cpu,
            per_cpu,
            process_info,
            mem,
            disk,
            network,
            gpu,
            machine_info,
        } = t;
        read_bool(telemetry, at, "cpu", cpu)?;
        read_bool(telemetry, at, "per_cpu", per_cpu)?;
        read_bool(telemetry, at, "process_info", process_info)?;
        read_bool(telemetry, at, "mem", mem)?;
        read_bool(telemetry, at, "disk", disk)?;
        read_bool(telemetry, at, "network", network)?;
        // Flowcept lets `gpu` list the metrics to take; any non-empty list turns it on.
        match telemetry.get("gpu") {
            Some(Yaml::Sequence(metrics)) => *gpu = !metrics.is_empty(),
            _ => read_bool(telemetry, at, "gpu", gpu)?,
        }
        read_bool(telemetry, at, "machine_info", machine_info)?;
    }
    Ok(settings)
}

/// Finds the map at `path`; `None` when it or a section above it is absent or null.
fn section<'a>(root: &'a Yaml, path: &[&str]) -> Result<Option<&'a Yaml>, SettingsError> {
    let mut current = root;
    for (depth, key) in path.iter().enumerate() {
        match current.get(key) {
            None | Some(Yaml::Null) => return Ok(None),
            Some(next @ Yaml::Mapping(_)) => current = next,
            Some(other) => {
                return Err(invalid(&path[..=depth].join("."), other, "a map"));
            }
        }
    }
    Ok(Some(current))
}

fn read_bool(map: &Yaml, at: &str, key: &str, target: &mut bool) -> Result<(), SettingsError> {
    match map.get(key) {
        None | Some(Yaml::Null) => Ok(()),
        Some(Yaml::Bool(value)) => {
            *target = *value;
            Ok(())
        }
        Some(other) => Err(invalid(&join(at, key), other, "a boolean (true or false)")),
    }
}

fn read_choice<T: Copy>(
    map: &Yaml,
    at: &str,
    key: &str,
    choices: &[(&str, T)],
    target: &mut T,
) -> Result<(), SettingsError> {
    let mut value = Some(*target);
    read_optional_choice(map, at, key, choices, &mut value)?;
    match value {
        Some(value) => {
            *target = value;
            Ok(())
        }
        // An explicit null on a key that needs a value.
        None => Err(invalid(&join(at, key), &Yaml::Null, &one_of(choices))),
    }
}

fn read_optional_choice<T: Copy>(
    map: &Yaml,
    at: &str,
    key: &str,
    choices: &[(&str, T)],
    target: &mut Option<T>,
) -> Result<(), SettingsError> {
    match map.get(key) {
        None => Ok(()),
        Some(Yaml::Null) => {
            *target = None;
            Ok(())
        }
        Some(value @ Yaml::String(text)) => match choices.iter().find(|(name, _)| name == text) {
            Some((_, choice)) => {
                *target = Some(*choice);
                Ok(())
            }
            None => Err(invalid(&join(at, key), value, &one_of(choices))),
        },
        Some(other) => Err(invalid(&join(at, key), other, &one_of(choices))),
    }
}

fn one_of<T>(choices: &[(&str, T)]) -> String {
    let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
    format!("one of {}", names.join(", "))
}

fn join(at: &str, key: &str) -> String {
    format!("{at}.{key}")
}

fn invalid(key: &str, found: &Yaml, allowed: &str) -> SettingsError {
    SettingsError::InvalidValue {
        file: None,
        key: key.to_owned(),
        found: describe(found),
        allowed: allowed.to_owned(),
    }
}

/// Renders a found value for a message: scalars as written (strings quoted), containers
/// by kind.
fn describe(value: &Yaml) -> String {
    match value {
        Yaml::Null => "null".into(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Number(n) => n.to_string(),
        Yaml::String(s) => format!("{s:?}"),
        Yaml::Sequence(_) => "a list".into(),
        Yaml::Mapping(_) => "a map".into(),
        Yaml::Tagged(tagged) => format!("a value tagged {}", tagged.tag),
    }
}

/// Converts YAML to JSON for the snapshot; non-string keys become their text.
fn to_json(value: &Yaml) -> Json {
    match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Json::Null, Json::Number)
            }
        }
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Sequence(items) => Json::Array(items.iter().map(to_json).collect()),
        Yaml::Mapping(map) => Json::Object(
            map.iter()
                .map(|(key, value)| {
                    let key = match key {
                        Yaml::String(s) => s.clone(),
                        other => describe(other).trim_matches('"').to_owned(),
                    };
                    (key, to_json(value))
                })
                .collect(),
        ),
        Yaml::Tagged(tagged) => to_json(&tagged.value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> String {
        Settings::from_yaml_str(text)
            .expect_err("the text is invalid")
            .to_string()
    }

    #[test]
    fn a_wrong_children_mode_lists_the_allowed_ones() {
        assert_eq!(
            error_of("instrumentation:\n  torch:\n    children_mode: tensor\n"),
            "instrumentation.torch.children_mode: \"tensor\" is not one of lightweight, \
             tensor_inspection, telemetry, telemetry_and_tensor_inspection"
        );
    }

    #[test]
    fn a_syntax_error_names_the_line() {
        let message = error_of("project:\n  enrich_messages: true\n bad: [\n");
        assert!(message.starts_with("line 3"), "{message}");
    }

    #[test]
    fn wrong_types_name_the_key_and_the_value() {
        assert_eq!(
            error_of("project:\n  enrich_messages: \"yes\"\n"),
            "project.enrich_messages: \"yes\" is not a boolean (true or false)"
        );
        assert_eq!(
            error_of("instrumentation:\n  torch:\n    capture_epochs_at_every: 0\n"),
            "instrumentation.torch.capture_epochs_at_every: 0 is not an integer >= 1"
        );
        assert_eq!(
            error_of("instrumentation:\n  torch:\n    capture_epochs_at_every: -2\n"),
            "instrumentation.torch.capture_epochs_at_every: -2 is not an integer >= 1"
        );
        assert_eq!(error_of("project: 3\n"), "project: 3 is not a map");
        assert_eq!(
            error_of("project:\n  db_flush_mode: null\n"),
            "project.db_flush_mode: null is not one of online, offline"
        );
        assert_eq!(
            error_of("- a\n"),
            "(root): a list is not a map of settings sections"
        );
    }

    #[test]
    fn keys_flowcept_has_and_this_library_ignores_are_accepted() {
        let text = "flowcept_version: 1.0.3\nproject:\n  debug: true\n  \
                    json_serializer: default\nlog:\n  log_file_level: disable\n\
                    adapters:\n  dask:\n    kind: dask\n";
        assert!(Settings::from_yaml_str(text).is_ok());
    }
}
