//! Each settings error of SPEC §3 fails with a message naming the file and the key.

mod common;

use capture_core::{Settings, SettingsError};

#[test]
fn each_bad_settings_file_names_the_file_and_the_key() {
    let cases = [
        (
            "telemetry-children-without-telemetry.yaml",
            "instrumentation.torch.children_mode",
            "needs telemetry_capture",
        ),
        (
            "children-without-mode.yaml",
            "instrumentation.torch.children_mode",
            "required when instrumentation.torch.what is parent_and_children",
        ),
        (
            "unknown-children-mode.yaml",
            "instrumentation.torch.children_mode",
            "\"tensor\" is not one of lightweight, tensor_inspection, telemetry, telemetry_and_tensor_inspection",
        ),
        (
            "zero-capture-epochs.yaml",
            "instrumentation.torch.capture_epochs_at_every",
            "0 is not an integer >= 1",
        ),
        (
            "unknown-forward-scope.yaml",
            "instrumentation.torch.what",
            "is not one of parent_only, parent_and_children",
        ),
        (
            "unknown-loop-mode.yaml",
            "instrumentation.torch.epoch_loop",
            "is not one of default, lightweight",
        ),
        (
            "unknown-flush-mode.yaml",
            "project.db_flush_mode",
            "is not one of online, offline",
        ),
        (
            "enrich-not-a-bool.yaml",
            "project.enrich_messages",
            "is not a boolean",
        ),
        (
            "enabled-not-a-bool.yaml",
            "instrumentation.enabled",
            "1 is not a boolean",
        ),
        (
            "telemetry-kind-not-a-bool.yaml",
            "telemetry_capture.cpu",
            "is not a boolean",
        ),
        (
            "dump-path-not-a-path.yaml",
            "project.dump_buffer.path",
            "12 is not a non-empty path",
        ),
    ];
    for (file, key, says) in cases {
        let path = common::fixture(&format!("settings/{file}"));
        let err = Settings::load(&path).expect_err(file);
        let message = err.to_string();
        assert_eq!(err.key(), Some(key), "{file}: {message}");
        assert!(
            message.starts_with(&format!("{}: {key}: ", path.display())),
            "{message}"
        );
        assert!(message.contains(says), "{file}: {message}");
    }
}

#[test]
fn a_file_that_is_not_yaml_names_the_line() {
    let path = common::fixture("settings/not-yaml.yaml");
    let err = Settings::load(&path).unwrap_err();
    assert!(
        matches!(err, SettingsError::Syntax { line: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("line 3"), "{err}");
}

#[test]
fn a_missing_file_is_named() {
    let err = Settings::load(std::path::Path::new("/no/such/settings.yaml")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read settings file /no/such/settings.yaml")
    );
}

#[test]
fn the_level_files_all_load() {
    for level in 1..=7 {
        common::settings(&format!("level-{level}.yaml"));
    }
}
