//! Walking a chain from its first event, naming the first broken link.

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

/// The walk's state between items, in ascending sort-key order.
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

    /// After the last item: the stored head must point at the last event.
    pub(super) fn finish(self, head: Option<(u64, String)>) -> Verification {
        let (head_seq, head_hash) = head.unwrap_or((0, GENESIS_HASH.to_owned()));
        if head_seq > self.checked {
            return Verification::Broken {
                broken_at_seq: self.checked + 1,
                reason: format!(
                    "event {} is missing (the head is at {head_seq})",
                    self.checked + 1
                ),
            };
        }
        if head_seq < self.checked {
            return Verification::Broken {
                broken_at_seq: head_seq + 1,
                reason: "event stored beyond the chain head".into(),
            };
        }
        if head_hash != self.prev_hash {
            return Verification::Broken {
                broken_at_seq: head_seq,
                reason: "the head's hash does not match the last event".into(),
            };
        }
        Verification::Intact {
            events_checked: self.checked,
            head_seq,
            head_hash,
        }
    }
}
