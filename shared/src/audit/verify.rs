//! Walking a chain in seq order, naming the first broken link.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::event::GENESIS_HASH;
use super::{event_sk, parse_item};
use crate::store::Item;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Intact {
        events_checked: u64,
        head_seq: u64,
        head_hash: String,
    },
    Broken {
        broken_at_seq: u64,
        reason: String,
    },
}

impl Verification {
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Intact { .. })
    }
}

/// `{"ok": true, "events_checked", "head_seq", "head_hash"}` or
/// `{"ok": false, "broken_at_seq", "reason"}`.
impl Serialize for Verification {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(4))?;
        match self {
            Self::Intact {
                events_checked,
                head_seq,
                head_hash,
            } => {
                map.serialize_entry("ok", &true)?;
                map.serialize_entry("events_checked", events_checked)?;
                map.serialize_entry("head_seq", head_seq)?;
                map.serialize_entry("head_hash", head_hash)?;
            }
            Self::Broken {
                broken_at_seq,
                reason,
            } => {
                map.serialize_entry("ok", &false)?;
                map.serialize_entry("broken_at_seq", broken_at_seq)?;
                map.serialize_entry("reason", reason)?;
            }
        }
        map.end()
    }
}

/// The walk's state between items, in ascending sort-key order: the last
/// seq verified and its hash.
pub(super) struct Walk {
    checked: u64,
    prev_hash: String,
}

impl Default for Walk {
    fn default() -> Self {
        Self {
            checked: 0,
            prev_hash: GENESIS_HASH.to_owned(),
        }
    }
}

fn broken(seq: u64, reason: impl Into<String>) -> Option<Verification> {
    Some(Verification::Broken {
        broken_at_seq: seq,
        reason: reason.into(),
    })
}

impl Walk {
    /// Continue after `seq`, verified earlier, whose hash is `hash`.
    pub(super) fn resume(seq: u64, hash: String) -> Self {
        Self {
            checked: seq,
            prev_hash: hash,
        }
    }

    /// The last seq verified (0 before the first event).
    pub(super) fn last(&self) -> u64 {
        self.checked
    }

    /// The hash of [`last`](Self::last) (the genesis hash before the first event).
    pub(super) fn last_hash(&self) -> &str {
        &self.prev_hash
    }

    /// Check the next stored item; `Some` names the first broken link.
    pub(super) fn step(&mut self, item: &Item) -> Option<Verification> {
        let expected = self.checked + 1;
        let Ok(event) = parse_item(item) else {
            return broken(expected, "stored event is malformed");
        };
        let stored_sk = item.get("sk").and_then(|v| v.as_str()).unwrap_or_default();
        if event.seq > expected {
            return broken(
                expected,
                format!("event {expected} is missing (next stored is {})", event.seq),
            );
        }
        if event.seq != expected || stored_sk != event_sk(event.seq) {
            return broken(
                expected,
                "event is out of order: its seq does not match its position",
            );
        }
        if event.prev_hash != self.prev_hash {
            return broken(
                expected,
                "prev_hash does not match the previous event's hash",
            );
        }
        if event.compute_hash() != event.hash {
            return broken(expected, "hash does not match the event's content");
        }
        self.checked = expected;
        self.prev_hash = event.hash;
        None
    }
}
