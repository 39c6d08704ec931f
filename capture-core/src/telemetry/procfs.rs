//! Linux's `/proc` files that telemetry reads itself, where sysinfo would cost more:
//! each stays open and is read again from its start with one `pread`.
//!
//! - [`ProcStat`]: the aggregate `cpu` line of `/proc/stat` (psutil's `cpu_times` and
//!   `cpu_percent`);
//! - [`NetDev`]: the counters of every interface in `/proc/net/dev`, summed (psutil's
//!   `net_io_counters`). sysinfo opens several files per interface under
//!   `/sys/class/net` for the same figures, hundreds of microseconds a snapshot;
//! - [`ProcSelf`]: this process's CPU time and memory (psutil's `Process.cpu_percent`
//!   and `memory_info`), from two files where sysinfo reads more.

use std::fs::File;

use serde_json::{Map, Value, json};

/// The names of the fields of the `cpu` line of `/proc/stat`, in order.
const STAT_FIELDS: [&str; 10] = [
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

/// A `/proc` file kept open, and a buffer to read it into.
struct ProcFile {
    file: File,
    buf: Vec<u8>,
}

impl ProcFile {
    fn open(path: &str) -> Option<ProcFile> {
        Some(ProcFile {
            file: File::open(path).ok()?,
            buf: vec![0; 4096],
        })
    }

    /// Reads the file from its start: up to its first newline when `first_line`, else
    /// whole. The kernel makes the text anew at each read.
    fn read(&mut self, first_line: bool) -> Option<&str> {
        let mut filled = 0;
        loop {
            if filled == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            let n = read_at(&self.file, &mut self.buf[filled..], filled as u64).ok()?;
            filled += n;
            if n == 0 || (first_line && self.buf[..filled].contains(&b'\n')) {
                break;
            }
        }
        let text = &self.buf[..filled];
        let text = match first_line {
            true => text.split(|b| *b == b'\n').next()?,
            false => text,
        };
        std::str::from_utf8(text).ok()
    }
}

/// The aggregate `cpu` line of `/proc/stat`, and the ticks of the previous read.
pub(super) struct ProcStat {
    file: ProcFile,
    /// The ticks of the previous read, for the usage since then.
    previous: Option<[u64; 10]>,
}

impl ProcStat {
    /// Opens `/proc/stat` and reads it once, so that the first snapshot measures the
    /// usage since now; `None` where it does not read as expected (not Linux).
    pub(super) fn open() -> Option<ProcStat> {
        let mut stat = ProcStat {
            file: ProcFile::open("/proc/stat")?,
            previous: None,
        };
        stat.previous = Some(stat.read()?);
        Some(stat)
    }

    fn read(&mut self) -> Option<[u64; 10]> {
        parse_cpu_line(self.file.read(true)?)
    }

    /// Returns the `times_avg` map (seconds) and the usage in percent since the
    /// previous read.
    pub(super) fn snapshot(&mut self) -> Option<(Value, f64)> {
        let ticks = self.read()?;
        let percent = match self.previous {
            Some(previous) => usage_percent(&previous, &ticks),
            None => 0.0,
        };
        self.previous = Some(ticks);
        let mut times = Map::new();
        for (name, value) in STAT_FIELDS.iter().zip(ticks) {
            times.insert((*name).into(), json!(value as f64 / 100.0));
        }
        Some((Value::Object(times), percent))
    }
}

/// The counters of `/proc/net/dev`.
pub(super) struct NetDev {
    file: ProcFile,
}

/// Bytes and packets received and sent since boot, all interfaces together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct NetCounters {
    pub(super) bytes_received: u64,
    pub(super) packets_received: u64,
    pub(super) bytes_sent: u64,
    pub(super) packets_sent: u64,
}

impl NetDev {
    /// Opens `/proc/net/dev`; `None` where it does not read as expected (not Linux).
    pub(super) fn open() -> Option<NetDev> {
        let mut dev = NetDev {
            file: ProcFile::open("/proc/net/dev")?,
        };
        dev.read()?;
        Some(dev)
    }

    /// Reads the counters now.
    pub(super) fn read(&mut self) -> Option<NetCounters> {
        parse_net_dev(self.file.read(false)?)
    }
}

/// This process's CPU time and memory, from `/proc/self/stat` and `/proc/self/status`.
pub(super) struct ProcSelf {
    stat: ProcFile,
    status: ProcFile,
    /// CPU seconds and the instant of the previous read, for the usage since then.
    previous: Option<(f64, std::time::Instant)>,
}

/// What [`ProcSelf::read`] returns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct ProcessFacts {
    /// CPU time used since the previous read over the time elapsed, in percent (over
    /// 100 when several cores were busy); 0 for the first read.
    pub(super) cpu_percent: f64,
    /// Resident memory, in bytes.
    pub(super) memory_rss: u64,
    /// Virtual memory, in bytes.
    pub(super) memory_virtual: u64,
}

impl ProcSelf {
    /// Opens this process's files and reads them once; `None` where they do not read as
    /// expected (not Linux).
    pub(super) fn open() -> Option<ProcSelf> {
        let mut files = ProcSelf {
            stat: ProcFile::open("/proc/self/stat")?,
            status: ProcFile::open("/proc/self/status")?,
            previous: None,
        };
        files.read()?;
        Some(files)
    }

    /// Reads the facts now.
    pub(super) fn read(&mut self) -> Option<ProcessFacts> {
        let now = std::time::Instant::now();
        let cpu_seconds = parse_self_stat(self.stat.read(true)?)?;
        let (memory_rss, memory_virtual) = parse_self_status(self.status.read(false)?)?;
        let cpu_percent = match self.previous {
            Some((seconds, at)) => {
                let wall = now.duration_since(at).as_secs_f64();
                if wall > 0.0 {
                    (cpu_seconds - seconds).max(0.0) / wall * 100.0
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        self.previous = Some((cpu_seconds, now));
        Some(ProcessFacts {
            cpu_percent,
            memory_rss,
            memory_virtual,
        })
    }
}

/// Returns the user plus system CPU seconds of a `/proc/<pid>/stat` line: its 14th and
/// 15th fields, in ticks of 1/100 s, counted after the command name (which may hold
/// spaces and parentheses, so the fields start after its last `)`).
fn parse_self_stat(line: &str) -> Option<f64> {
    let (_, fields) = line.rsplit_once(')')?;
    let mut fields = fields.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / 100.0)
}

/// Returns `VmRSS` and `VmSize` of a `/proc/<pid>/status` text, in bytes.
fn parse_self_status(text: &str) -> Option<(u64, u64)> {
    let kilobytes = |key: &str| -> Option<u64> {
        let line = text.lines().find(|line| line.starts_with(key))?;
        let value = line[key.len()..].trim().trim_end_matches("kB").trim();
        value.parse::<u64>().ok().map(|kb| kb * 1024)
    };
    Some((kilobytes("VmRSS:")?, kilobytes("VmSize:")?))
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, at)
}

#[cfg(not(unix))]
fn read_at(_file: &File, _buf: &mut [u8], _at: u64) -> std::io::Result<usize> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// Returns the ten tick counts of a `cpu …` line of `/proc/stat`; fields an older
/// kernel does not write are 0.
fn parse_cpu_line(line: &str) -> Option<[u64; 10]> {
    let mut fields = line.split_whitespace();
    if fields.next() != Some("cpu") {
        return None;
    }
    let mut ticks = [0u64; 10];
    for (slot, field) in ticks.iter_mut().zip(fields) {
        *slot = field.parse().ok()?;
    }
    Some(ticks)
}

/// Returns the busy share of the ticks between two reads, in percent, as psutil does:
/// busy is everything but idle and iowait; guest time is already in user and nice.
fn usage_percent(before: &[u64; 10], after: &[u64; 10]) -> f64 {
    let total = |t: &[u64; 10]| t[..8].iter().sum::<u64>();
    let idle = |t: &[u64; 10]| t[3] + t[4];
    let all = total(after).saturating_sub(total(before));
    let idle = idle(after).saturating_sub(idle(before));
    if all == 0 {
        return 0.0;
    }
    (all.saturating_sub(idle)) as f64 * 100.0 / all as f64
}

/// Sums the interfaces of `/proc/net/dev`: two header lines, then `name: ` and 16
/// counters, the receive ones (bytes, packets, …) before the transmit ones. `None` when
/// a line is not of that shape.
fn parse_net_dev(text: &str) -> Option<NetCounters> {
    let mut sum = NetCounters::default();
    for line in text.lines().skip(2) {
        let (_, counters) = line.split_once(':')?;
        let mut fields = [0u64; 16];
        let mut count = 0;
        for (slot, field) in fields.iter_mut().zip(counters.split_whitespace()) {
            *slot = field.parse().ok()?;
            count += 1;
        }
        if count < 10 {
            return None;
        }
        sum.bytes_received = sum.bytes_received.saturating_add(fields[0]);
        sum.packets_received = sum.packets_received.saturating_add(fields[1]);
        sum.bytes_sent = sum.bytes_sent.saturating_add(fields[8]);
        sum.packets_sent = sum.packets_sent.saturating_add(fields[9]);
    }
    Some(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_lines_become_ticks() {
        let ticks = parse_cpu_line("cpu  246385 3 35650 38384 1877 0 517 3479 0 0")
            .expect("the line is well formed");
        assert_eq!(ticks[0], 246_385);
        assert_eq!(ticks[7], 3479);
        // An older kernel's shorter line.
        let short = parse_cpu_line("cpu 1 2 3 4 5 6 7").expect("seven fields are enough");
        assert_eq!(short[9], 0);
        assert_eq!(parse_cpu_line("cpu0 1 2 3 4 5 6 7 8 9 10"), None);
    }

    #[test]
    fn usage_is_the_busy_share_of_the_ticks_between_reads() {
        let before = [100, 0, 50, 800, 50, 0, 0, 0, 0, 0];
        // 100 more ticks: 30 user, 10 system, 50 idle, 10 iowait.
        let after = [130, 0, 60, 850, 60, 0, 0, 0, 0, 0];
        assert_eq!(usage_percent(&before, &after), 40.0);
        assert_eq!(usage_percent(&after, &after), 0.0);
    }

    #[test]
    fn cpu_times_are_seconds_of_the_aggregate_line() {
        let Some(mut stat) = ProcStat::open() else {
            return; // Not Linux.
        };
        let (times, _) = stat.snapshot().expect("/proc/stat reads twice");
        let idle = times["idle"].as_f64().expect("idle is a number of seconds");
        assert!(idle > 0.0, "{times}");
        assert_eq!(times.as_object().map(Map::len), Some(10));
    }

    #[test]
    fn net_dev_counters_are_summed_over_interfaces() {
        let text = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0: 197846329    8100    0    0    0     0          0         0   564530    5365    0    0    0     0       0          0
";
        let sum = parse_net_dev(text).expect("the text is well formed");
        assert_eq!(
            sum,
            NetCounters {
                bytes_received: 197_849_522,
                packets_received: 8129,
                bytes_sent: 567_723,
                packets_sent: 5394,
            }
        );
        assert_eq!(parse_net_dev("h\nh\n  eth0: 1 2 x 4\n"), None);
        assert_eq!(
            parse_net_dev("h\nh\n  eth0: 1 2 3\n"),
            None,
            "too few counters"
        );
    }

    #[test]
    fn the_process_line_and_status_give_cpu_seconds_and_memory() {
        let line = "4242 (a (weird) name) R 1 4242 4242 0 -1 4194304 2045 0 0 0 \
                    250 75 0 0 20 0 3 0 123456 987654321 2345";
        assert_eq!(parse_self_stat(line), Some(3.25));
        assert_eq!(parse_self_stat("4242 (short) R 1 2"), None);
        let status = "Name:\tx\nVmSize:\t  204800 kB\nVmRSS:\t    1024 kB\nThreads:\t3\n";
        assert_eq!(
            parse_self_status(status),
            Some((1024 * 1024, 204_800 * 1024))
        );
        assert_eq!(parse_self_status("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_reads_and_uses_cpu_while_it_spins() {
        let Some(mut facts) = ProcSelf::open() else {
            return; // Not Linux.
        };
        // About 50 ms of CPU: the usage since the previous read is well above zero.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let read = facts.read().expect("the files read again");
        assert!(
            read.memory_rss > 0 && read.memory_virtual >= read.memory_rss,
            "{read:?}"
        );
        assert!(read.cpu_percent > 10.0, "{read:?}");
    }

    #[test]
    fn the_machines_net_dev_reads() {
        if let Some(mut dev) = NetDev::open() {
            let first = dev.read().expect("/proc/net/dev reads again");
            let second = dev.read().expect("and again");
            assert!(second.bytes_received >= first.bytes_received);
        }
    }
}
