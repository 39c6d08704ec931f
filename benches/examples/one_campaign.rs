//! Runs the default campaign once with capture off or at one capture level, for a
//! profiler or an instruction counter: the training bench's unit of work, alone.
//!
//! ```text
//! cargo build --profile bench -p capture-benches --no-default-features --features training \
//!     --example one_campaign
//! valgrind --tool=callgrind target/release/examples/one_campaign level-6
//! ```
//!
//! The argument is `off` or `level-<n>` (1 to 7, the scenarios' settings); a second
//! argument runs that many campaigns in a row (default 1). The rows go to a scratch
//! file that is removed at the end. `benches/instructions.sh` runs this under callgrind
//! for every case and prints each level's instruction count over capture off's.

use std::process::ExitCode;

use capture_benches::levels;
use capture_benches::{ScratchFile, scratch_dir};
use capture_core::{Capture, CaptureOptions};
use trainer::campaign::{CampaignOptions, NoProgress, run_campaign};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "off".to_owned());
    let times: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1);
    // Every case reads the scenario files, `off` too, so that the instruction counts
    // of the cases differ by the capture alone and not by parsing seven YAML files.
    let levels = match levels::load(&levels::scenario_dir()) {
        Ok(levels) => levels,
        Err(err) => {
            eprintln!("one_campaign: {err}");
            return ExitCode::FAILURE;
        }
    };
    let settings = if case == "off" {
        None
    } else {
        match levels.into_iter().find(|level| level.id() == case) {
            Some(level) => Some(level.settings),
            None => {
                eprintln!("one_campaign: {case:?} is neither `off` nor `level-1` … `level-7`");
                return ExitCode::from(2);
            }
        }
    };
    let run_dir = scratch_dir().join(format!("capture-one-campaign-{}", std::process::id()));
    let opts = CampaignOptions {
        run_dir: run_dir.clone(),
        ..CampaignOptions::default()
    };
    for _ in 0..times {
        let file = ScratchFile::new("one-campaign");
        let capture = match &settings {
            Some(settings) => Capture::start(
                settings.clone(),
                CaptureOptions {
                    output: Some(file.path().to_path_buf()),
                    ..Default::default()
                },
            )
            .expect("the scenario's settings are valid and the scratch file opens"),
            None => Capture::disabled(),
        };
        if let Err(err) = run_campaign(&opts, &capture, &NoProgress) {
            eprintln!("one_campaign: {err}");
            return ExitCode::FAILURE;
        }
        if let Err(err) = capture.finish() {
            eprintln!("one_campaign: {err}");
            return ExitCode::FAILURE;
        }
    }
    let _ = std::fs::remove_dir_all(&run_dir);
    ExitCode::SUCCESS
}
