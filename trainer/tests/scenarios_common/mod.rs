//! The scenario suite shared by the CPU and wgpu test binaries.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use libtest_mimic::{Arguments, Failed, Trial};
use trainer::scenario::{Scenario, ScenarioBackend};

/// The workspace's `scenarios/` folder.
fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// The workspace's `snapshots/` folder.
fn snapshots_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../snapshots")
}

/// Builds one trial per scenario file and backend, and runs them.
pub fn run_suite(backend: ScenarioBackend) -> ExitCode {
    let mut args = Arguments::from_args();
    let scenarios = match Scenario::load_dir(&scenarios_dir()) {
        Ok(scenarios) => scenarios,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let skip = match backend {
        ScenarioBackend::Cpu => None,
        ScenarioBackend::Wgpu => wgpu_skip_reason(),
    };
    if backend == ScenarioBackend::Wgpu {
        // One device, one process, one case at a time: the device and its compiled kernels
        // are shared, and lavapipe gains nothing from two cases at once on two cores.
        args.test_threads = Some(1);
        if let Some(reason) = &skip {
            eprintln!("wgpu scenarios skipped: {reason}");
        }
    }
    let trials = scenarios
        .into_iter()
        .filter(|scenario| scenario.applies_to(backend))
        .map(|scenario| {
            let name = format!("{}::{}", backend.name(), scenario.name);
            let ignored = skip.is_some();
            Trial::test(name, move || run_one(&scenario, backend)).with_ignored_flag(ignored)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

/// Says why the wgpu cases cannot run, or `None` when an adapter is there.
fn wgpu_skip_reason() -> Option<String> {
    let required = std::env::var_os("TRAINER_REQUIRE_WGPU").is_some_and(|v| v == "1");
    let reason = match trainer::device::select(trainer::device::BackendKind::Wgpu).map(|s| s.info) {
        Ok(info) => {
            eprintln!("wgpu adapter: {info}");
            return None;
        }
        Err(error) => error.to_string(),
    };
    if required {
        eprintln!("error: TRAINER_REQUIRE_WGPU=1 but {reason}");
        std::process::exit(2);
    }
    Some(reason)
}

fn run_one(scenario: &Scenario, backend: ScenarioBackend) -> Result<(), Failed> {
    let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temporary folder: {e}"))?;
    let run = scenario.run(backend, dir.path()).map_err(|e| e.to_string())?;
    let problems = run.problems(&scenario.expect);
    if !problems.is_empty() {
        return Err(format!(
            "{} on {}: {} problem(s):\n  {}",
            scenario.name,
            backend.name(),
            problems.len(),
            problems.join("\n  ")
        )
        .into());
    }
    let normalised = run.normalised();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(snapshots_dir());
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(scenario.description.trim());
    settings.set_omit_expression(true);
    let snapshot = format!("{}@{}", scenario.name, backend.name());
    // insta reports a mismatch by panicking, with its diff; libtest-mimic turns the panic
    // into this case's failure.
    settings.bind(|| insta::assert_yaml_snapshot!(snapshot, normalised));
    if backend == ScenarioBackend::Wgpu {
        compare_with_cpu_snapshot(scenario, &normalised)?;
    }
    Ok(())
}

/// The same scenario must give the same counts and shape on every backend.
fn compare_with_cpu_snapshot(
    scenario: &Scenario,
    normalised: &trainer::scenario::NormalisedRun,
) -> Result<(), Failed> {
    let cpu = snapshots_dir().join(format!("{}@cpu.snap", scenario.name));
    let Ok(text) = std::fs::read_to_string(&cpu) else {
        return Ok(());
    };
    let body = text.splitn(3, "---").nth(2).unwrap_or_default();
    let ours = serde_yaml::to_string(normalised).map_err(|e| e.to_string())?;
    let theirs: serde_yaml::Value = serde_yaml::from_str(body).map_err(|e| e.to_string())?;
    let ours: serde_yaml::Value = serde_yaml::from_str(&ours).map_err(|e| e.to_string())?;
    if ours != theirs {
        return Err(format!("{} on wgpu differs from its CPU snapshot {}", scenario.name, cpu.display()).into());
    }
    Ok(())
}
