//! Telemetry: snapshots of the machine taken at the start or end of a task.
//!
//! A [`TelemetryCollector`] keeps one [`sysinfo::System`] (and the network and disk
//! lists) for its whole life and refreshes only the kinds that
//! [`TelemetrySettings`] turns on, so a snapshot costs a few reads of `/proc` and no
//! allocation of fresh system tables. The layout follows Flowcept's (psutil's):
//!
//! ```json
//! {"cpu": {"times_avg": {"user": 2477.5, "nice": 0.03, "system": 358.2, "idle": 383.8,
//!          "iowait": 18.7, "irq": 0.0, "softirq": 5.1, "steal": 34.8, "guest": 0.0,
//!          "guest_nice": 0.0},
//!          "percent_all": 12.5, "frequency": 2445.4}}
//! ```
//!
//! `times_avg` is read from `/proc/stat` (seconds, Linux only; absent elsewhere);
//! `percent_all` is the usage since the previous snapshot (0 on the first one), as
//! psutil's `cpu_percent(interval=None)` gives it; `frequency` is in MHz. The other kinds:
//! `per_cpu` (`percent` and `frequency` per CPU), `process_info` (`pid`, `cpu_percent`,
//! `memory_rss`, `memory_virtual`), `mem` (`total`, `available`, `used`, `free`,
//! `percent`, `swap_total`, `swap_used`), `disk` (one entry per mount: `mount`, `total`,
//! `available`), `network` (`bytes_received`, `bytes_sent`, `packets_received`,
//! `packets_sent` since boot, all interfaces), `gpu` (per device: `name`, `used`, `total`,
//! `utilization`, `temperature`, `power`), `machine_info` (static facts, for workflow
//! rows). GPU facts come from NVML, loaded at run time; when the library is absent the
//! `gpu` key is left out and a debug line says why, once.

use serde_json::{Map, Value, json};
use sysinfo::{CpuRefreshKind, Disks, MemoryRefreshKind, Networks, ProcessRefreshKind, System};

use crate::settings::TelemetrySettings;

/// Takes telemetry snapshots of the kinds the settings turn on.
pub struct TelemetryCollector {
    kinds: TelemetrySettings,
    system: System,
    networks: Option<Networks>,
    disks: Option<Disks>,
    nvml: Option<nvml_wrapper::Nvml>,
    pid: Option<sysinfo::Pid>,
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
    /// Prepares a collector for the given kinds; the first CPU usage reading is 0.
    pub fn new(kinds: TelemetrySettings) -> Self {
        let mut system = System::new();
        if kinds.cpu || kinds.per_cpu {
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
            networks: kinds.network.then(Networks::new_with_refreshed_list),
            disks: kinds.disk.then(Disks::new_with_refreshed_list),
            nvml,
            pid: sysinfo::get_current_pid().ok(),
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
        if kinds.cpu || kinds.per_cpu {
            self.system
                .refresh_cpu_specifics(CpuRefreshKind::nothing().with_cpu_usage().with_frequency());
        }
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
        if let Some(networks) = &mut self.networks {
            networks.refresh(false);
            let (mut rx, mut tx, mut prx, mut ptx) = (0u64, 0u64, 0u64, 0u64);
            for data in networks.list().values() {
                rx += data.total_received();
                tx += data.total_transmitted();
                prx += data.total_packets_received();
                ptx += data.total_packets_transmitted();
            }
            out.insert(
                "network".into(),
                json!({"bytes_received": rx, "bytes_sent": tx,
                       "packets_received": prx, "packets_sent": ptx}),
            );
        }
        if let Some(nvml) = &self.nvml {
            out.insert("gpu".into(), gpu_snapshot(nvml));
        }
        Value::Object(out)
    }

    fn cpu(&self) -> Value {
        let mut cpu = Map::new();
        if let Some(times) = proc_stat_times() {
            cpu.insert("times_avg".into(), times);
        }
        cpu.insert(
            "percent_all".into(),
            json!(round2(self.system.global_cpu_usage())),
        );
        let frequency = self.system.cpus().first().map_or(0, |c| c.frequency());
        cpu.insert("frequency".into(), json!(frequency as f64));
        Value::Object(cpu)
    }

    fn process_info(&mut self) -> Value {
        let Some(pid) = self.pid else {
            return Value::Null;
        };
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

/// Reads the aggregate `cpu` line of `/proc/stat` as seconds (USER_HZ = 100).
fn proc_stat_times() -> Option<Value> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    parse_proc_stat(&text)
}

fn parse_proc_stat(text: &str) -> Option<Value> {
    const NAMES: [&str; 10] = [
        "user",
        "nice",
        "system",
        "idle",
        "iowait",
        "irq",
        "softirq",
        "steal",
        "guest",
        "guest_nice",
    ];
    let line = text.lines().find(|line| line.starts_with("cpu "))?;
    let mut times = Map::new();
    for (name, field) in NAMES.iter().zip(line.split_whitespace().skip(1)) {
        let ticks: u64 = field.parse().ok()?;
        times.insert((*name).into(), json!(ticks as f64 / 100.0));
    }
    for name in &NAMES[times.len()..] {
        times.insert((*name).into(), json!(0.0));
    }
    Some(Value::Object(times))
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
    (f64::from(value) * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_lines_become_seconds() {
        let text = "cpu  246385 3 35650 38384 1877 0 517 3479 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n";
        let times = parse_proc_stat(text).expect("the line is well formed");
        assert_eq!(times["user"], json!(2463.85));
        assert_eq!(times["steal"], json!(34.79));
        assert_eq!(times["guest_nice"], json!(0.0));
    }

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
