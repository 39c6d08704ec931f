//! Property: any bytes given to the reader yield records or an error naming a line.

use std::path::Path;

use capture_core::{ReadError, Summary, parse_jsonl};
use proptest::prelude::*;

fn check(bytes: &[u8]) {
    match parse_jsonl(bytes, Path::new("fuzz.jsonl")) {
        Ok(records) => {
            // Summarising whatever was read must not panic either.
            let summary = Summary::of(&records);
            assert_eq!(summary.lines, records.len());
        }
        Err(ReadError::Malformed { line, path, .. }) => {
            assert!(line >= 1);
            assert_eq!(path, Path::new("fuzz.jsonl"));
        }
        Err(other) => panic!("unexpected error {other}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check(&bytes);
    }

    #[test]
    fn json_like_lines_never_panic(
        lines in prop::collection::vec(
            prop_oneof![
                Just("{}".to_owned()),
                Just("{\"type\":\"task\"}".to_owned()),
                Just("{\"type\":\"workflow\",\"status\":\"RUNNING\"}".to_owned()),
                Just("{\"task_id\":\"a\",\"parent_task_id\":\"a\",\"status\":\"RUNNING\"}".to_owned()),
                Just("{\"activity_id\":\"epochs_loop_iteration\",\"used\":{\"i\":-1}}".to_owned()),
                Just("{\"workflow_id\":\"w\",\"parent_workflow_id\":\"w\"}".to_owned()),
                "\\{\"[a-z_]{1,12}\":[0-9a-z\"\\[\\]{}:,]{0,16}\\}",
                ".{0,20}",
            ],
            0..12,
        )
    ) {
        check(lines.join("\n").as_bytes());
    }
}

#[test]
fn parent_cycles_do_not_recurse_forever() {
    let text = "{\"type\":\"task\",\"task_id\":\"a\",\"parent_task_id\":\"b\",\"workflow_id\":\"w\"}\n\
                {\"type\":\"task\",\"task_id\":\"b\",\"parent_task_id\":\"a\",\"workflow_id\":\"w\"}\n\
                {\"type\":\"workflow\",\"workflow_id\":\"w\",\"parent_workflow_id\":\"v\"}\n\
                {\"type\":\"workflow\",\"workflow_id\":\"v\",\"parent_workflow_id\":\"w\"}\n";
    check(text.as_bytes());
}
