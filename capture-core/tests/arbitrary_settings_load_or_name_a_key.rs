//! Property: any map of settings keys either loads or gives an error naming a key.

use capture_core::{Settings, SettingsError};
use proptest::prelude::*;
use serde_yaml::{Mapping, Value};

const KEYS: &[&str] = &[
    "project.enrich_messages",
    "project.db_flush_mode",
    "project.dump_buffer.enabled",
    "project.dump_buffer.path",
    "project.dump_buffer.append_id_to_path",
    "project.debug",
    "instrumentation.enabled",
    "instrumentation.torch.what",
    "instrumentation.torch.children_mode",
    "instrumentation.torch.epoch_loop",
    "instrumentation.torch.batch_loop",
    "instrumentation.torch.capture_epochs_at_every",
    "instrumentation.torch.register_workflow",
    "telemetry_capture.cpu",
    "telemetry_capture.gpu",
    "telemetry_capture.mem",
    "mq.password",
    "kv_db",
    "agent.model",
];

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..6).prop_map(|n| Value::Number(n.into())),
        Just(Value::Number(serde_yaml::Number::from(1.5))),
        prop::sample::select(vec![
            "online",
            "offline",
            "parent_only",
            "parent_and_children",
            "lightweight",
            "tensor_inspection",
            "telemetry",
            "telemetry_and_tensor_inspection",
            "default",
            "flowcept.jsonl",
            "",
            "yes",
        ])
        .prop_map(|s| Value::String(s.into())),
        Just(Value::Sequence(vec![Value::Bool(true)])),
        Just(Value::Mapping(Mapping::new())),
    ]
}

fn insert(root: &mut Mapping, path: &str, value: Value) {
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    let key = Value::String(head.into());
    match rest {
        None => {
            root.insert(key, value);
        }
        Some(rest) => {
            let entry = root
                .entry(key)
                .or_insert_with(|| Value::Mapping(Mapping::new()));
            if let Value::Mapping(inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_settings_map_loads_or_names_a_key(
        entries in prop::collection::vec((prop::sample::select(KEYS), value()), 0..8)
    ) {
        let mut root = Mapping::new();
        for (key, value) in entries {
            insert(&mut root, key, value);
        }
        let text = serde_yaml::to_string(&Value::Mapping(root)).unwrap();
        match Settings::from_yaml_str(&text) {
            Ok(settings) => {
                prop_assert!(settings.validate().is_ok());
                prop_assert!(settings.instrumentation.torch.capture_epochs_at_every >= 1);
            }
            Err(err @ (SettingsError::InvalidValue { .. } | SettingsError::Conflict { .. })) => {
                let key = err.key().expect("value errors name a key").to_owned();
                prop_assert!(err.to_string().starts_with(&format!("{key}: ")), "{}", err);
                prop_assert!(KEYS.iter().any(|k| k.starts_with(key.as_str())), "{}", key);
            }
            Err(other) => prop_assert!(false, "unexpected error for {text}: {other}"),
        }
    }
}
