//! Telemetry: snapshots of the machine taken at the start or end of a task.
//!
//! A [`TelemetryCollector`] keeps one [`sysinfo::System`] (and the disk list) for its
//! whole life and refreshes only the kinds that [`TelemetrySettings`] turns on, so a
//! snapshot costs a few reads of `/proc` and no allocation of fresh system tables; the
//! cpu times and the network counters are read from `/proc` directly on Linux
//! (`procfs`), where sysinfo would read more. The layout follows Flowcept's (psutil's):
//!
//! ```json
//! {"cpu": {"times_avg": {"user": 2477.5, "nice": 0.03, "system": 358.2, "idle": 383.8,
//!          "iowait": 18.7, "irq": 0.0, "softirq": 5.1, "steal": 34.8, "guest": 0.0,
//!          "guest_nice": 0.0},
//!          "percent_all": 12.5, "frequency": 2445.4}}
//! ```
//!
//! `times_avg` is read from `/proc/stat` (seconds, Linux only; absent elsewhere);
//! `percent_all` is the usage since the previous snapshot (since the collector was made,
//! for the first), as psutil's `cpu_percent(interval=None)` gives it, computed on Linux
//! from the same read of
//! `/proc/stat`, which stays open between snapshots; `frequency` is in MHz, read again
//! at most every [`FREQUENCY_MAX_AGE`] (reading it means a full `/proc/cpuinfo` per
//! CPU on machines without cpufreq, which costs more than the rest of the snapshot).
//! The other kinds:
//! `per_cpu` (`percent` and `frequency` per CPU), `process_info` (`pid`, `cpu_percent`,
//! `memory_rss`, `memory_virtual`), `mem` (`total`, `available`, `used`, `free`,
//! `percent`, `swap_total`, `swap_used`), `disk` (one entry per mount: `mount`, `total`,
//! `available`), `network` (`bytes_received`, `bytes_sent`, `packets_received`,
//! `packets_sent` since boot, all interfaces, loopback included, as psutil counts them), `gpu` (per device: `name`, `used`, `total`,
//! `utilization`, `temperature`, `power`), `machine_info` (static facts, for workflow
//! rows). GPU facts come from NVML, loaded at run time; when the library is absent the
//! `gpu` key is left out and a debug line says why, once.

mod procfs;

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use sysinfo::{CpuRefreshKind, Disks, MemoryRefreshKind, Networks, ProcessRefreshKind, System};

use crate::settings::TelemetrySettings;
use procfs::{NetCounters, NetDev, ProcSelf, ProcStat};

/// The oldest a CPU frequency in a snapshot may be.
pub const FREQUENCY_MAX_AGE: Duration = Duration::from_secs(1);

/// Takes telemetry snapshots of the kinds the settings turn on.
pub struct TelemetryCollector {
    kinds: TelemetrySettings,
    system: System,
    network: Option<NetworkSource>,
    disks: Option<Disks>,
    nvml: Option<nvml_wrapper::Nvml>,
    pid: Option<sysinfo::Pid>,
    /// `/proc/stat`, kept open, read from its start at each snapshot (Linux).
    proc_stat: Option<ProcStat>,
    /// This process's `/proc` files, for `process_info` (Linux).
    proc_self: Option<ProcSelf>,
    /// When the CPU frequencies were last read.
    frequency_read_at: Option<Instant>,
}

/// Where the network counters come from: `/proc/net/dev` on Linux (one read), sysinfo's
/// interface list elsewhere.
enum NetworkSource {
    Proc(NetDev),
    Sysinfo(Networks),
}

impl NetworkSource {
    fn open() -> NetworkSource {
        match NetDev::open() {
            Some(dev) => NetworkSource::Proc(dev),
            None => NetworkSource::Sysinfo(Networks::new_with_refreshed_list()),
        }
    }

    fn read(&mut self) -> NetCounters {
        match self {
            NetworkSource::Proc(dev) => dev.read().unwrap_or_default(),
            NetworkSource::Sysinfo(networks) => {
                networks.refresh(false);
                let mut sum = NetCounters::default();
                for data in networks.list().values() {
                    sum.bytes_received += data.total_received();
                    sum.bytes_sent += data.total_transmitted();
                    sum.packets_received += data.total_packets_received();
                    sum.packets_sent += data.total_packets_transmitted();
                }
                sum
            }
        }
    }
}

impl std::fmt::Debug for TelemetryCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryCollector")
            .field("kinds", &self.kinds)
            .field("gpu_available", &self.nvml.is_some())
            .finish_non_exhaustive()
    }
}

impl TelemetryCollector {
    /// Prepares a collector for the given kinds; CPU usage is measured from now on.
    pub fn new(kinds: TelemetrySettings) -> Self {
        let proc_stat = if kinds.cpu { ProcStat::open() } else { None };
        let mut system = System::new();
        if kinds.per_cpu || (kinds.cpu && proc_stat.is_none()) {
            // Primes the usage counters so the next snapshot measures an interval.
            system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_cpu_usage());
        }
        let nvml = if kinds.gpu {
            match nvml_wrapper::Nvml::init() {
                Ok(nvml) => Some(nvml),
                Err(err) => {
                    tracing::debug!(error = %err, "NVML is not available; gpu telemetry is off");
                    None
                }
            }
        } else {
            None
        };
        TelemetryCollector {
            kinds,
            system,
            network: kinds.network.then(NetworkSource::open),
            disks: kinds.disk.then(Disks::new_with_refreshed_list),
            nvml,
            pid: sysinfo::get_current_pid().ok(),
            proc_stat,
            proc_self: if kinds.process_info {
                ProcSelf::open()
            } else {
                None
            },
            frequency_read_at: None,
        }
    }

    /// Refreshes what the `cpu` and `per_cpu` kinds read through sysinfo: the per-CPU
    /// usage when `per_cpu` is on (or `cpu` without `/proc/stat`), and the frequencies
    /// when they are older than [`FREQUENCY_MAX_AGE`].
    fn refresh_cpus(&mut self) {
        let kinds = self.kinds;
        let usage = kinds.per_cpu || (kinds.cpu && self.proc_stat.is_none());
        let frequency = (kinds.cpu || kinds.per_cpu)
            && self
                .frequency_read_at
                .is_none_or(|at| at.elapsed() >= FREQUENCY_MAX_AGE);
        let mut refresh = CpuRefreshKind::nothing();
        if usage {
            refresh = refresh.with_cpu_usage();
        }
        if frequency {
            refresh = refresh.with_frequency();
            self.frequency_read_at = Some(Instant::now());
        }
        if usage || frequency {
            self.system.refresh_cpu_specifics(refresh);
        }
    }

    /// Returns the kinds this collector takes.
    pub fn kinds(&self) -> TelemetrySettings {
        self.kinds
    }

    /// Takes a snapshot of every per-task kind that is on (all but `machine_info`).
    pub fn snapshot(&mut self) -> Value {
        let mut out = Map::new();
        let kinds = self.kinds;
        self.refresh_cpus();
        if kinds.cpu {
            out.insert("cpu".into(), self.cpu());
        }
        if kinds.per_cpu {
            let cpus: Vec<Value> = self
                .system
                .cpus()
                .iter()
                .map(
                    |cpu| json!({"percent": round2(cpu.cpu_usage()), "frequency": cpu.frequency()}),
                )
                .collect();
            out.insert("per_cpu".into(), Value::Array(cpus));
        }
        if kinds.process_info {
            out.insert("process_info".into(), self.process_info());
        }
        if kinds.mem {
            self.system
                .refresh_memory_specifics(MemoryRefreshKind::everything());
            let total = self.system.total_memory();
            let available = self.system.available_memory();
            let percent = if total == 0 {
                0.0
            } else {
                (total - available.min(total)) as f64 * 100.0 / total as f64
            };
            out.insert(
                "mem".into(),
                json!({
                    "total": total, "available": available, "used": self.system.used_memory(),
                    "free": self.system.free_memory(), "percent": round2(percent as f32),
                    "swap_total": self.system.total_swap(), "swap_used": self.system.used_swap(),
                }),
            );
        }
        if let Some(disks) = &mut self.disks {
            disks.refresh(false);
            let list: Vec<Value> = disks
                .list()
                .iter()
                .map(|d| {
                    json!({"mount": d.mount_point().display().to_string(),
                           "total": d.total_space(), "available": d.available_space()})
                })
                .collect();
            out.insert("disk".into(), Value::Array(list));
        }
        if let Some(network) = &mut self.network {
            let sum = network.read();
            out.insert(
                "network".into(),
                json!({"bytes_received": sum.bytes_received, "bytes_sent": sum.bytes_sent,
                       "packets_received": sum.packets_received,
                       "packets_sent": sum.packets_sent}),
            );
        }
        if let Some(nvml) = &self.nvml {
            out.insert("gpu".into(), gpu_snapshot(nvml));
        }
        Value::Object(out)
    }

    fn cpu(&mut self) -> Value {
        let mut cpu = Map::new();
        let percent = match self.proc_stat.as_mut().and_then(ProcStat::snapshot) {
            Some((times, percent)) => {
                cpu.insert("times_avg".into(), times);
                percent
            }
            None => f64::from(self.system.global_cpu_usage()),
        };
        cpu.insert("percent_all".into(), json!(round_percent(percent)));
        let frequency = self.system.cpus().first().map_or(0, |c| c.frequency());
        cpu.insert("frequency".into(), json!(frequency as f64));
        Value::Object(cpu)
    }

    fn process_info(&mut self) -> Value {
        let Some(pid) = self.pid else {
            return Value::Null;
        };
        if let Some(facts) = self.proc_self.as_mut().and_then(ProcSelf::read) {
            return json!({
                "pid": pid.as_u32(), "cpu_percent": round_percent(facts.cpu_percent),
                "memory_rss": facts.memory_rss, "memory_virtual": facts.memory_virtual,
            });
        }
        self.system.refresh_processes_specifics(
            sysinfo::ProcessesToUpdate::Some(&[pid]),
            false,
            ProcessRefreshKind::nothing().with_memory().with_cpu(),
        );
        match self.system.process(pid) {
            Some(p) => json!({
                "pid": pid.as_u32(), "cpu_percent": round2(p.cpu_usage()),
                "memory_rss": p.memory(), "memory_virtual": p.virtual_memory(),
            }),
            None => Value::Null,
        }
    }

    /// Returns static facts about the machine, for `machine_info` on workflow rows.
    pub fn machine_info(&mut self) -> Value {
        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        self.system
            .refresh_cpu_specifics(CpuRefreshKind::nothing().with_frequency());
        let brand = self.system.cpus().first().map(|c| c.brand().to_owned());
        let mut info = json!({
            "hostname": System::host_name(),
            "os": System::name(), "os_version": System::long_os_version(),
            "kernel": System::kernel_version(), "arch": System::cpu_arch(),
            "cpu_brand": brand, "cpu_count": self.system.cpus().len(),
            "physical_cores": System::physical_core_count(),
            "memory_total": self.system.total_memory(),
        });
        if let Some(nvml) = &self.nvml
            && let Value::Object(map) = &mut info
        {
            map.insert("gpu".into(), gpu_snapshot(nvml));
        }
        info
    }
}

fn gpu_snapshot(nvml: &nvml_wrapper::Nvml) -> Value {
    let count = nvml.device_count().unwrap_or(0);
    let devices: Vec<Value> = (0..count)
        .filter_map(|index| nvml.device_by_index(index).ok())
        .map(|device| {
            let memory = device.memory_info().ok();
            json!({
                "name": device.name().ok(),
                "used": memory.as_ref().map(|m| m.used),
                "total": memory.as_ref().map(|m| m.total),
                "utilization": device.utilization_rates().ok().map(|u| u.gpu),
                "temperature": device
                    .temperature(nvml_wrapper::enum_wrappers::device::TemperatureSensor::Gpu)
                    .ok(),
                "power": device.power_usage().ok(),
            })
        })
        .collect();
    Value::Array(devices)
}

fn round2(value: f32) -> f64 {
    round_percent(f64::from(value))
}

fn round_percent(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpu_snapshot_has_flowcepts_layout() {
        let kinds = TelemetrySettings {
            cpu: true,
            ..TelemetrySettings::default()
        };
        let mut collector = TelemetryCollector::new(kinds);
        let snapshot = collector.snapshot();
        let cpu = &snapshot["cpu"];
        assert!(cpu["percent_all"].is_number());
        assert!(cpu["frequency"].is_number());
        if cfg!(target_os = "linux") {
            assert!(cpu["times_avg"]["idle"].is_number());
        }
        assert_eq!(snapshot.as_object().map(|m| m.len()), Some(1));
    }

    #[test]
    fn every_kind_can_be_taken_and_gpu_is_absent_without_nvml() {
        let kinds = TelemetrySettings {
            cpu: true,
            per_cpu: true,
            process_info: true,
            mem: true,
            disk: true,
            network: true,
            gpu: true,
            machine_info: true,
        };
        let mut collector = TelemetryCollector::new(kinds);
        let snapshot = collector.snapshot();
        for key in ["cpu", "per_cpu", "process_info", "mem", "disk", "network"] {
            assert!(snapshot.get(key).is_some(), "{key} missing from {snapshot}");
        }
        assert_eq!(snapshot.get("gpu").is_some(), collector.nvml.is_some());
        assert!(collector.machine_info()["cpu_count"].as_u64().unwrap_or(0) >= 1);
    }
}
