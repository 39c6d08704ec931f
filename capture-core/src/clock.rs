//! Timestamps for the hot rows (loop iterations, forwards), cheap to take.
//!
//! Reading the wall clock (`SystemTime::now`) costs about 50 ns on a VM, twice per row:
//! half the per-event budget. A [`Stamp`] is instead the raw count of the fastest clock
//! [`quanta`] finds (the CPU's time-stamp counter when it is invariant, the monotonic
//! clock otherwise), a few nanoseconds to read; the writer thread turns it into
//! wall-clock seconds with [`Stamp::unix_seconds`], off the capturing thread.
//!
//! The conversion anchors the counter to `SystemTime` once per process; wall-clock
//! changes after that (an NTP step) do not move stamps, and the counter's calibration
//! error (parts per million) adds up over a long run.
// A known shortcoming: re-anchoring now and then on the writer thread (keeping the
// anchor each stamp was taken under) would bound the drift on runs of days.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The process's clock and the instant it was anchored to the wall clock.
struct AnchoredClock {
    clock: quanta::Clock,
    /// The clock's raw reading at the anchor.
    anchor_raw: u64,
    /// Wall-clock nanoseconds since the Unix epoch at the anchor.
    anchor_unix_nanos: u64,
}

static CLOCK: OnceLock<AnchoredClock> = OnceLock::new();

fn anchored() -> &'static AnchoredClock {
    CLOCK.get_or_init(|| {
        // Calibrating the counter against the monotonic clock takes a few milliseconds.
        let clock = quanta::Clock::new();
        let anchor_raw = clock.raw();
        let anchor_unix_nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        AnchoredClock {
            clock,
            anchor_raw,
            anchor_unix_nanos,
        }
    })
}

/// Calibrates the clock now, so that the first stamp of a run does not pay for it. The
/// writer thread calls it when it starts; without a writer the first stamp calibrates.
pub(crate) fn warm_up() {
    anchored();
}

/// A point in time as the process clock's raw count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Stamp(u64);

impl Stamp {
    /// Reads the clock.
    #[inline]
    pub(crate) fn now() -> Stamp {
        Stamp(anchored().clock.raw())
    }

    /// Returns the stamp as float seconds since the Unix epoch, as Flowcept writes times.
    pub(crate) fn unix_seconds(self) -> f64 {
        let clock = anchored();
        let since_anchor = clock.clock.delta_as_nanos(clock.anchor_raw, self.0);
        let nanos = clock.anchor_unix_nanos.saturating_add(since_anchor);
        // Whole seconds and the fraction apart, so that the sum is rounded once.
        (nanos / 1_000_000_000) as f64 + (nanos % 1_000_000_000) as f64 * 1e-9
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall_now() -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    }

    #[test]
    fn a_stamp_reads_as_the_wall_clock_at_its_time() {
        let before = wall_now();
        let stamp = Stamp::now();
        let after = wall_now();
        let seconds = stamp.unix_seconds();
        // Within a millisecond of the interval it was taken in: the anchor and the
        // counter's calibration agree with the wall clock that closely.
        assert!(
            seconds > before - 1e-3 && seconds < after + 1e-3,
            "{before} <= {seconds} <= {after}"
        );
    }

    #[test]
    fn later_stamps_read_later_and_measure_the_time_between() {
        let first = Stamp::now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let second = Stamp::now();
        assert!(second > first);
        let elapsed = second.unix_seconds() - first.unix_seconds();
        assert!((0.019..1.0).contains(&elapsed), "{elapsed}");
    }
}
