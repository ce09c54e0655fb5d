//! Verifying a chain a bounded range at a time: each call walks at most
//! `max_events` events (and stops at its deadline) from where the previous
//! call stopped, checks the signed checkpoints of the range, and says where
//! the next call resumes. A full verification is these calls in a loop
//! ([`AuditLog::verify`], `valdrix verify-chain`); the API answers one per
//! request (functions/evidence) with the resume point as a MAC'd cursor.

use serde::Serialize;

use super::checkpoint::check::{KeyCache, check_between};
use super::event::GENESIS_HASH;
use super::verify::{Verification, Walk};
use super::{AuditError, AuditLog, event_sk, tenant_pk};
use crate::deadline::Deadline;
use crate::store::{Query, SortKey};

/// Events one API request verifies at most; with the deadline, whichever first.
pub const RANGE_EVENTS: u64 = 5_000;
/// Events read per store query.
const PAGE: u64 = 500;

/// How much one call may do.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub max_events: u64,
    pub deadline: Deadline,
}

/// Where a walk resumes: the last event verified and its hash. Only ever
/// built from a walk that started at event 1 (the API hands it out MAC'd).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub seq: u64,
    pub hash: String,
}

/// The first link that fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Broken {
    pub first_bad_seq: u64,
    pub reason: String,
}

/// One call's outcome. `verified_from..=verified_to` is what this call
/// verified (`verified_from = verified_to + 1` when it had nothing new);
/// everything before `verified_from` was verified by the calls before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RangeVerification {
    pub ok: bool,
    pub verified_from: u64,
    pub verified_to: u64,
    /// The head when the call started.
    pub head_seq: u64,
    /// The whole chain, 1 to `head_seq`, is verified intact.
    pub complete: bool,
    pub events_checked: u64,
    pub checkpoints_checked: u64,
    /// The head's hash, once `complete`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_hash: Option<String>,
    #[serde(flatten)]
    pub broken: Option<Broken>,
    /// Where the next call resumes; `None` when complete or broken.
    #[serde(skip)]
    pub next: Option<Resume>,
}

impl RangeVerification {
    /// Stopped by its deadline before verifying anything.
    pub fn made_no_progress(&self) -> bool {
        self.ok && !self.complete && self.events_checked == 0
    }
}

impl AuditLog {
    /// Verify the next range of `tenant_id`'s chain after `resume` (from
    /// event 1 when `None`), within `budget`.
    pub async fn verify_range(
        &self,
        tenant_id: &str,
        resume: Option<&Resume>,
        budget: Budget,
    ) -> Result<RangeVerification, AuditError> {
        let head = self.head(tenant_id).await?;
        let (head_seq, head_hash) = head.map_or((0, GENESIS_HASH.to_owned()), |h| (h.seq, h.hash));
        let mut walk = resume.map_or_else(Walk::default, |r| Walk::resume(r.seq, r.hash.clone()));
        let from = walk.last() + 1;
        let mut outcome = RangeVerification {
            ok: true,
            verified_from: from,
            verified_to: walk.last(),
            head_seq,
            complete: false,
            events_checked: 0,
            checkpoints_checked: 0,
            head_hash: None,
            broken: None,
            next: None,
        };
        if let Some(r) = resume
            && let Some(why) = self.still_as_verified(tenant_id, r, head_seq).await?
        {
            return Ok(outcome.broken(why, &walk));
        }
        let end = head_seq.min(walk.last().saturating_add(budget.max_events));
        let mut keys = KeyCache::default();
        while walk.last() < end && !budget.deadline.passed() {
            let first = walk.last() + 1;
            let page = self
                .store
                .query(Query {
                    pk: tenant_pk(tenant_id),
                    sk: SortKey::Between(event_sk(first), event_sk(end)),
                    descending: false,
                    limit: PAGE.min(end - walk.last()) as u32,
                    cursor: None,
                })
                .await?;
            let mut hashes = Vec::with_capacity(page.items.len());
            for item in &page.items {
                if let Some(Verification::Broken {
                    broken_at_seq,
                    reason,
                }) = walk.step(item)
                {
                    return Ok(outcome.broken((broken_at_seq, reason), &walk));
                }
                hashes.push(walk.last_hash().to_owned());
            }
            if walk.last() < first {
                // Nothing stored from `first` on, yet the head is past it.
                let why = format!("event {first} is missing (the head is at {head_seq})");
                return Ok(outcome.broken((first, why), &walk));
            }
            let hash_of = |seq: u64| hashes.get((seq - first) as usize).cloned();
            match check_between(
                self.store(),
                tenant_id,
                (first, walk.last()),
                hash_of,
                &mut keys,
            )
            .await?
            {
                Ok(n) => outcome.checkpoints_checked += n,
                Err(finding) => return Ok(outcome.broken(finding, &walk)),
            }
        }
        outcome.verified_to = walk.last();
        outcome.events_checked = walk.last() + 1 - from;
        if walk.last() < head_seq {
            outcome.next = Some(Resume {
                seq: walk.last(),
                hash: walk.last_hash().to_owned(),
            });
            return Ok(outcome);
        }
        if walk.last_hash() != head_hash {
            let why = "the head's hash does not match the last event".to_owned();
            return Ok(outcome.broken((head_seq, why), &walk));
        }
        if let Some(why) = self.beyond_head(tenant_id, head_seq).await? {
            return Ok(outcome.broken((head_seq + 1, why), &walk));
        }
        outcome.complete = true;
        outcome.head_hash = Some(head_hash);
        Ok(outcome)
    }

    /// The event a resumed walk stopped at must still be the one verified,
    /// and the head must not have moved back before it.
    async fn still_as_verified(
        &self,
        tenant_id: &str,
        r: &Resume,
        head_seq: u64,
    ) -> Result<Option<(u64, String)>, AuditError> {
        if r.seq > head_seq {
            let why = format!(
                "the head ({head_seq}) is behind event {}, verified before",
                r.seq
            );
            return Ok(Some((head_seq + 1, why)));
        }
        if r.seq == 0 {
            return Ok(None);
        }
        let stored = self
            .store
            .get(&tenant_pk(tenant_id), &event_sk(r.seq))
            .await?;
        let event = stored
            .as_ref()
            .and_then(|item| super::parse_item(item).ok());
        let intact = event.is_some_and(|e| e.hash == r.hash && e.compute_hash() == r.hash);
        Ok((!intact).then(|| (r.seq, "event changed since it was verified".to_owned())))
    }

    /// Nothing may lie past the head: no event, no checkpoint (a chain cut
    /// back and its head rolled back leaves its later checkpoints). Only
    /// when the head has not moved since, so a concurrent append is no finding.
    async fn beyond_head(
        &self,
        tenant_id: &str,
        head_seq: u64,
    ) -> Result<Option<String>, AuditError> {
        let past = |prefix: &str| Query {
            pk: tenant_pk(tenant_id),
            sk: SortKey::Between(
                format!("{prefix}{:020}", head_seq + 1),
                format!("{prefix}{:020}", u64::MAX),
            ),
            descending: false,
            limit: 1,
            cursor: None,
        };
        let event = !self
            .store
            .query(past(super::EVENT_SK_PREFIX))
            .await?
            .items
            .is_empty();
        let signed = !self
            .store
            .query(past(super::checkpoint::SK_PREFIX))
            .await?
            .items
            .is_empty();
        if !(event || signed) {
            return Ok(None);
        }
        let now = self.head(tenant_id).await?.map_or(0, |h| h.seq);
        Ok((now == head_seq).then(|| {
            if event {
                "event stored beyond the chain head".to_owned()
            } else {
                "a signed checkpoint names an event beyond the chain head".to_owned()
            }
        }))
    }

    /// Walk the whole chain and report the first broken link.
    pub async fn verify(&self, tenant_id: &str) -> Result<Verification, AuditError> {
        let walked = self.verify_within(tenant_id, Deadline::unbounded()).await?;
        Ok(walked
            .map(Verification::from)
            .unwrap_or_else(|| Verification::Broken {
                broken_at_seq: 0,
                reason: "the walk ended before the head".into(),
            }))
    }

    /// The whole chain, from event 1, verified before `deadline`: its
    /// verified range (to the head, or to the event before the first broken
    /// link); `None` when the deadline came first.
    pub async fn verify_within(
        &self,
        tenant_id: &str,
        deadline: Deadline,
    ) -> Result<Option<RangeVerification>, AuditError> {
        let budget = Budget {
            max_events: u64::MAX,
            deadline,
        };
        let v = self.verify_range(tenant_id, None, budget).await?;
        Ok((v.complete || !v.ok).then_some(v))
    }
}

impl From<RangeVerification> for Verification {
    fn from(v: RangeVerification) -> Self {
        match v.broken {
            Some(b) => Self::Broken {
                broken_at_seq: b.first_bad_seq,
                reason: b.reason,
            },
            None => Self::Intact {
                events_checked: v.events_checked,
                head_seq: v.head_seq,
                head_hash: v.head_hash.unwrap_or_default(),
            },
        }
    }
}

impl RangeVerification {
    fn broken(mut self, (seq, reason): (u64, String), walk: &Walk) -> Self {
        self.ok = false;
        self.verified_to = walk
            .last()
            .min(seq.saturating_sub(1))
            .max(self.verified_from - 1);
        self.events_checked = self.verified_to + 1 - self.verified_from;
        self.broken = Some(Broken {
            first_bad_seq: seq,
            reason,
        });
        self.next = None;
        self
    }
}
