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

shared_id!(
    /// The id of a task row (both rows of a task share it). Clones share the text.
    TaskId
);
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

/// Makes an id unique within the process, and across processes with near certainty.
pub(crate) fn new_shared_id() -> Arc<str> {
    let prefix = process_prefix().as_bytes();
    let mut buffer = [0u8; 40];
    buffer[..prefix.len()].copy_from_slice(prefix);
    buffer[prefix.len()] = b'-';
    let start = prefix.len() + 1;
    let len = write_decimal(next_sequence(), &mut buffer[start..]);
    let text = std::str::from_utf8(&buffer[..start + len])
        .expect("the prefix is hex and the rest decimal digits");
    Arc::from(text)
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
    /// Makes a fresh task id.
    pub(crate) fn fresh() -> TaskId {
        TaskId(new_shared_id())
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
