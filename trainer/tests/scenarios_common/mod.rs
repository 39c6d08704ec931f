//! The scenario suite shared by the CPU and wgpu test binaries.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use libtest_mimic::{Arguments, Failed, Trial};
use trainer::device::{BackendInfo, BackendKind};
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
    let adapter = match backend {
        ScenarioBackend::Cpu => Ok(None),
        ScenarioBackend::Wgpu => wgpu_adapter().map(Some),
    };
    if backend == ScenarioBackend::Wgpu {
        // One device, one process, one case at a time: the device and its compiled kernels
        // are shared, and lavapipe gains nothing from two cases at once on two cores.
        args.test_threads = Some(1);
        if let Err(reason) = &adapter {
            eprintln!("wgpu scenarios skipped: {reason}");
        }
    }
    let software = matches!(&adapter, Ok(Some(info)) if info.device_type.as_deref() == Some("Cpu"));
    let all = std::env::var("TRAINER_WGPU_SCENARIOS").is_ok_and(|v| v == "all");
    if software && !all {
        eprintln!(
            "wgpu runs on a software adapter (about 40 s a campaign): running {} only; \
             TRAINER_WGPU_SCENARIOS=all runs every scenario",
            SOFTWARE_ADAPTER_SUBSET.join(", ")
        );
    }
    let trials = scenarios
        .into_iter()
        .filter(|scenario| scenario.applies_to(backend))
        .map(|scenario| {
            let name = format!("{}::{}", backend.name(), scenario.name);
            let left_out = software && !all && !SOFTWARE_ADAPTER_SUBSET.contains(&&*scenario.name);
            let ignored = adapter.is_err() || left_out;
            Trial::test(name, move || run_one(&scenario, backend)).with_ignored_flag(ignored)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

/// The scenarios run on a software wgpu adapter (lavapipe) unless `TRAINER_WGPU_SCENARIOS=all`:
/// a campaign takes about 40 s there, so the suite keeps the ones that exercise what differs
/// by backend: forwards and tensor inspection on the device, two configs sharing the device,
/// and a failing config. A real GPU runs them all.
const SOFTWARE_ADAPTER_SUBSET: &[&str] = &[
    "level-6-children-tensor-inspection",
    "parallel-configs",
    "failing-config",
];

/// Finds the wgpu adapter, or says why there is none. With `TRAINER_REQUIRE_WGPU=1` (the
/// GPU runner) a missing adapter ends the suite with an error instead.
fn wgpu_adapter() -> Result<BackendInfo, String> {
    let required = std::env::var_os("TRAINER_REQUIRE_WGPU").is_some_and(|v| v == "1");
    match trainer::device::select(BackendKind::Wgpu) {
        Ok(selected) => {
            eprintln!("wgpu adapter: {}", selected.info);
            Ok(selected.info)
        }
        Err(error) if required => {
            eprintln!("error: TRAINER_REQUIRE_WGPU=1 but {error}");
            std::process::exit(2);
        }
        Err(error) => Err(error.to_string()),
    }
}

fn run_one(scenario: &Scenario, backend: ScenarioBackend) -> Result<(), Failed> {
    let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temporary folder: {e}"))?;
    let run = scenario
        .run(backend, dir.path())
        .map_err(|e| e.to_string())?;
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
        return Err(format!(
            "{} on wgpu differs from its CPU snapshot {}",
            scenario.name,
            cpu.display()
        )
        .into());
    }
    Ok(())
}
