//! Identifiers: cheap to clone, cheap to make.
//!
//! A task id is a per-process random prefix (64 random bits, hex) and a sequence number:
//! `9f86d081884c7d65-17`. The sequence comes from a process-wide counter handed out in
//! blocks of [`BLOCK`] to each thread, so making an id touches no shared cache line in
//! the common case and costs one small allocation. Workflow and campaign ids are UUIDs,
//! as in Flowcept; they are made rarely.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

macro_rules! shared_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Returns the id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                $name(Arc::from(text))
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                $name(Arc::from(text))
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                &*self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                &*self.0 == *other
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map($name::from)
            }
        }
    };
}

/// The id of a task row (both rows of a task share it). Ids this crate makes are
/// kept inline (no allocation to make, clone or drop one); longer ids from elsewhere
/// share their text.
#[derive(Clone)]
pub struct TaskId(TaskIdRepr);

/// Room for a generated id: 16 hex digits, a dash and up to 20 decimal digits.
const INLINE: usize = 38;

#[derive(Clone)]
enum TaskIdRepr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Arc<str>),
}

impl TaskId {
    /// Returns the id as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            TaskIdRepr::Inline { len, bytes } => std::str::from_utf8(&bytes[..usize::from(*len)])
                .expect("inline ids are copied from whole strings or written as ASCII"),
            TaskIdRepr::Shared(text) => text,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            TaskIdRepr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            TaskIdRepr::Shared(text) => text.as_bytes(),
        }
    }
}

impl From<&str> for TaskId {
    fn from(text: &str) -> Self {
        if text.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            TaskId(TaskIdRepr::Inline {
                len: text.len() as u8,
                bytes,
            })
        } else {
            TaskId(TaskIdRepr::Shared(Arc::from(text)))
        }
    }
}

impl From<String> for TaskId {
    fn from(text: String) -> Self {
        TaskId::from(text.as_str())
    }
}

impl PartialEq for TaskId {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for TaskId {}

impl std::hash::Hash for TaskId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialOrd for TaskId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TaskId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskId({:?})", self.as_str())
    }
}

impl AsRef<str> for TaskId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for TaskId {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for TaskId {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Serialize for TaskId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TaskId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(TaskId::from)
    }
}
shared_id!(
    /// The id of a workflow. Clones share the text.
    WorkflowId
);

/// How many sequence numbers a thread takes from the shared counter at a time.
pub(crate) const BLOCK: u64 = 1024;

static NEXT_BLOCK: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The next number and the end of this thread's block.
    static LOCAL_BLOCK: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// Returns the process's random id prefix, made once.
pub(crate) fn process_prefix() -> &'static str {
    static PREFIX: OnceLock<String> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let random = uuid::Uuid::new_v4().as_u128() as u64;
        format!("{random:016x}")
    })
}

/// Returns a sequence number unique within the process.
pub(crate) fn next_sequence() -> u64 {
    LOCAL_BLOCK.with(|block| {
        let (next, end) = block.get();
        if next < end {
            block.set((next + 1, end));
            next
        } else {
            let start = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
            block.set((start + 1, start + BLOCK));
            start
        }
    })
}

/// Writes `n` in decimal at the start of `out`; returns the number of digits.
fn write_decimal(mut n: u64, out: &mut [u8]) -> usize {
    let mut digits = [0u8; 20];
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for (i, digit) in digits[..len].iter().rev().enumerate() {
        out[i] = *digit;
    }
    len
}

impl TaskId {
    /// Makes a fresh id, unique within the process and across processes with near
    /// certainty: the process prefix, a dash and a sequence number. The thread keeps the
    /// text of its last id and counts up in it, so an id costs a few instructions.
    pub(crate) fn fresh() -> TaskId {
        LAST_ID.with(|cell| {
            let mut last = cell.get();
            if last.len == 0 || last.next == last.end {
                let start = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
                last = LastId::formatted(start, start + BLOCK);
            } else if !last.increment() {
                last = LastId::formatted(last.next, last.end);
            }
            last.next += 1;
            cell.set(last);
            TaskId(TaskIdRepr::Inline {
                len: last.len,
                bytes: last.bytes,
            })
        })
    }
}

/// The text of a thread's last id and where its block of numbers ends.
#[derive(Clone, Copy)]
struct LastId {
    len: u8,
    bytes: [u8; INLINE],
    /// The number after the one in `bytes`.
    next: u64,
    end: u64,
}

thread_local! {
    static LAST_ID: Cell<LastId> =
        const { Cell::new(LastId { len: 0, bytes: [0; INLINE], next: 0, end: 0 }) };
}

impl LastId {
    fn formatted(number: u64, end: u64) -> LastId {
        let prefix = process_prefix().as_bytes();
        let mut bytes = [0u8; INLINE];
        bytes[..prefix.len()].copy_from_slice(prefix);
        bytes[prefix.len()] = b'-';
        let digits = prefix.len() + 1;
        let len = digits + write_decimal(number, &mut bytes[digits..]);
        LastId {
            len: len as u8,
            bytes,
            next: number,
            end,
        }
    }

    /// Adds one to the decimal number at the end of the text; false when that needs a
    /// new digit (the caller then writes the number afresh).
    fn increment(&mut self) -> bool {
        let mut at = usize::from(self.len) - 1;
        loop {
            match self.bytes[at] {
                b'9' => {
                    self.bytes[at] = b'0';
                    at -= 1;
                }
                b'-' => return false,
                digit => {
                    self.bytes[at] = digit + 1;
                    return true;
                }
            }
        }
    }
}

impl TaskId {
    /// Returns the id of a number from [`next_sequence`]: the text a writer writes for
    /// a row that carries only the number.
    pub(crate) fn of_sequence(number: u64) -> TaskId {
        let text = LastId::formatted(number, number + 1);
        TaskId(TaskIdRepr::Inline {
            len: text.len,
            bytes: text.bytes,
        })
    }

    /// Returns the raw text; ids are always valid UTF-8.
    pub(crate) fn text_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl WorkflowId {
    /// Makes a fresh workflow id (a UUID, as Flowcept's are).
    pub(crate) fn fresh() -> WorkflowId {
        WorkflowId::from(uuid::Uuid::new_v4().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_across_threads() {
        let handles: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..3000).map(|_| TaskId::fresh()).collect::<Vec<_>>()))
            .collect();
        let mut seen = HashSet::new();
        for handle in handles {
            for id in handle.join().expect("the id threads do not panic") {
                assert!(seen.insert(id.as_str().to_owned()), "duplicate id {id}");
            }
        }
        assert_eq!(seen.len(), 12_000);
    }

    #[test]
    fn ids_of_sequence_numbers_look_like_fresh_ones_and_differ_from_them() {
        let fresh = TaskId::fresh();
        let numbered = TaskId::of_sequence(next_sequence());
        let (prefix, number) = numbered.as_str().split_once('-').unwrap();
        assert_eq!(prefix, fresh.as_str().split_once('-').unwrap().0);
        assert!(number.parse::<u64>().is_ok(), "{numbered}");
        assert_ne!(numbered, fresh);
        assert_eq!(TaskId::of_sequence(1234).as_str(), format!("{prefix}-1234"));
    }

    #[test]
    fn counting_up_in_the_text_matches_the_numbers() {
        let first = TaskId::fresh();
        let (_, number) = first.as_str().split_once('-').unwrap();
        let mut expected: u64 = number.parse().unwrap();
        for _ in 0..3000 {
            expected += 1;
            let id = TaskId::fresh();
            let (_, number) = id.as_str().split_once('-').unwrap();
            let number: u64 = number.parse().unwrap();
            if number != expected {
                // A new block starts at a multiple of BLOCK.
                assert_eq!(number % BLOCK, 0, "{id}");
                expected = number;
            }
        }
        let mut nines = LastId::formatted(99, 200);
        assert!(!nines.increment(), "99 + 1 needs a new digit");
        let mut plain = LastId::formatted(129, 200);
        assert!(plain.increment());
        assert!(
            std::str::from_utf8(&plain.bytes[..usize::from(plain.len)])
                .unwrap()
                .ends_with("-130")
        );
    }

    #[test]
    fn long_and_short_ids_compare_by_text() {
        let long = "x".repeat(60);
        assert_eq!(TaskId::from(long.as_str()).as_str(), long);
        assert_eq!(
            TaskId::from("model_train-1"),
            TaskId::from(String::from("model_train-1"))
        );
        assert_eq!(TaskId::from("é✓"), "é✓");
    }

    #[test]
    fn an_id_is_the_prefix_and_a_number() {
        let id = TaskId::fresh();
        let (prefix, number) = id.as_str().split_once('-').expect("ids hold one dash");
        assert_eq!(prefix, process_prefix());
        assert!(number.parse::<u64>().is_ok());
        let mut out = [0u8; 20];
        let len = write_decimal(u64::MAX, &mut out);
        assert_eq!(
            std::str::from_utf8(&out[..len]).unwrap(),
            u64::MAX.to_string()
        );
    }
}
