//! Writing to a device with no space left reports the error, stops writing and lets the
//! work go on; the file never holds a torn line.

mod common;

use std::path::Path;

use capture_core::{Capture, CaptureError, CaptureOptions};

#[test]
fn a_full_disk_is_reported_once_and_the_training_goes_on() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        eprintln!("skipped: /dev/full does not exist here");
        return;
    }
    let capture = Capture::start(
        common::settings("level-6.yaml"),
        CaptureOptions {
            output: Some(full.to_path_buf()),
            ..Default::default()
        },
    )
    .expect("/dev/full opens like a file");
    common::tutorial_run(&capture, 2);
    capture.flush();
    let failure = capture.write_failure().expect("the device is full");
    assert_eq!(failure.kind, std::io::ErrorKind::StorageFull);
    assert_eq!(capture.rows_written(), 0);
    let lost_so_far = capture.rows_lost();
    assert!(lost_so_far > 0);
    // Capture goes on after the failure, counting rows without writing them.
    common::tutorial_run(&capture, 1);
    capture.flush();
    assert!(capture.rows_lost() > lost_so_far);
    match capture.finish() {
        Err(err @ CaptureError::Write { .. }) => {
            let message = err.to_string();
            assert!(
                message.contains("/dev/full") && message.contains("0 rows written"),
                "{message}"
            );
        }
        other => panic!("expected a write error, got {other:?}"),
    }
}
