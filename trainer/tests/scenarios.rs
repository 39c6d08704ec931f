//! Every file in `scenarios/` is a test, run through the real campaign on the CPU backend:
//! its figures are checked, its structure verified and its normalised summary compared with
//! the snapshot in `snapshots/`.
//!
//! A new scenario file is a new test with no code change. `cargo test --test scenarios
//! level-6` runs one. A new or changed snapshot is written as `.snap.new` next to the old one
//! for review (`cargo insta review`, or rename it); under CI nothing is rewritten.

mod scenarios_common;

use trainer::scenario::ScenarioBackend;

fn main() -> std::process::ExitCode {
    scenarios_common::run_suite(ScenarioBackend::Cpu)
}
