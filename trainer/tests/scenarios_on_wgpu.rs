//! The scenarios again on the wgpu backend, in one process and on one device, so the kernel
//! compilation (about two minutes on Mesa's lavapipe) is paid once.
//!
//! Without an adapter every case is reported as ignored, with the reason, and the suite
//! passes; with `TRAINER_REQUIRE_WGPU=1` (the GPU runner) a missing adapter fails instead.
//! Each case also checks that its summary equals the CPU run's snapshot in shape.

mod scenarios_common;

use trainer::scenario::ScenarioBackend;

fn main() -> std::process::ExitCode {
    scenarios_common::run_suite(ScenarioBackend::Wgpu)
}
