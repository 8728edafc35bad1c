//! Claims people make about publishers and apps (reports, reviews), one
//! per author and subject, at most `claims_per_key` per author.
//!
//! What is held is a function of the set of claims received, never of
//! their order: an author's newer claim on a subject replaces the older
//! (same time: the smaller claim is kept), and of an author's subjects the
//! newest `cap` are kept.

use std::collections::{BTreeMap, BTreeSet};

use super::key::NostrKey;

/// A claim with its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dated<T> {
    /// The event's `created_at`.
    pub(crate) created_at: u64,
    /// What was claimed.
    pub(crate) claim: T,
}

/// Claims of type `T` about subjects of type `S`.
#[derive(Debug, Clone)]
pub(crate) struct Ledger<S, T> {
    by_subject: BTreeMap<S, BTreeMap<NostrKey, Dated<T>>>,
    /// Each author's subjects, oldest first, for the cap.
    by_author: BTreeMap<NostrKey, BTreeSet<(u64, S)>>,
    cap: usize,
    dropped: u64,
}

impl<S: Ord + Clone, T: Ord> Ledger<S, T> {
    /// An empty ledger keeping at most `cap` claims per author.
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            by_subject: BTreeMap::new(),
            by_author: BTreeMap::new(),
            cap,
            dropped: 0,
        }
    }

    /// Records `author`'s claim on `subject`; true when what is held changed.
    pub(crate) fn insert(&mut self, author: NostrKey, subject: S, claim: Dated<T>) -> bool {
        let held = self
            .by_subject
            .get(&subject)
            .and_then(|claims| claims.get(&author));
        let mut held_at = None;
        if let Some(held) = held {
            let newer = (claim.created_at, &held.claim) > (held.created_at, &claim.claim);
            if !newer {
                return false;
            }
            held_at = Some(held.created_at);
        }
        let mine = self.by_author.entry(author).or_default();
        if let Some(at) = held_at {
            mine.remove(&(at, subject.clone()));
        }
        mine.insert((claim.created_at, subject.clone()));
        if mine.len() > self.cap {
            self.dropped += 1;
            let Some((_, oldest)) = mine.pop_first() else {
                return false;
            };
            if oldest == subject {
                return false;
            }
            if let Some(claims) = self.by_subject.get_mut(&oldest) {
                claims.remove(&author);
                if claims.is_empty() {
                    self.by_subject.remove(&oldest);
                }
            }
        }
        self.by_subject
            .entry(subject)
            .or_default()
            .insert(author, claim);
        true
    }

    /// The claims held about `subject`, by author's key.
    pub(crate) fn about(&self, subject: &S) -> impl Iterator<Item = (&NostrKey, &Dated<T>)> {
        self.by_subject.get(subject).into_iter().flatten()
    }

    /// Claims dropped so far because their author was at the cap.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn author(n: u8) -> NostrKey {
        NostrKey([n; 32])
    }

    fn dated(created_at: u64, claim: u8) -> Dated<u8> {
        Dated { created_at, claim }
    }

    fn held(ledger: &Ledger<&'static str, u8>, subject: &'static str) -> Vec<(u8, u8)> {
        ledger
            .about(&subject)
            .map(|(key, d)| (key.0[0], d.claim))
            .collect()
    }

    #[test]
    fn an_authors_newer_claim_replaces_the_older_in_any_order() {
        let mut a = Ledger::new(10);
        a.insert(author(1), "app", dated(1, 5));
        assert!(a.insert(author(1), "app", dated(2, 3)));
        let mut b = Ledger::new(10);
        b.insert(author(1), "app", dated(2, 3));
        assert!(!b.insert(author(1), "app", dated(1, 5)));
        assert_eq!(held(&a, "app"), [(1, 3)]);
        assert_eq!(held(&b, "app"), [(1, 3)]);
    }

    #[test]
    fn an_author_past_the_cap_keeps_only_the_newest_claims() {
        let mut ledger = Ledger::new(2);
        ledger.insert(author(1), "a", dated(3, 1));
        ledger.insert(author(1), "b", dated(1, 1));
        ledger.insert(author(1), "c", dated(2, 1));
        // An older claim than all held is dropped on arrival.
        assert!(!ledger.insert(author(1), "d", dated(0, 1)));
        assert!(held(&ledger, "b").is_empty());
        assert!(held(&ledger, "d").is_empty());
        assert_eq!(held(&ledger, "a"), [(1, 1)]);
        assert_eq!(held(&ledger, "c"), [(1, 1)]);
        assert_eq!(ledger.dropped(), 2);
        // Other authors are not touched by one author's cap.
        assert!(ledger.insert(author(2), "b", dated(1, 4)));
    }
}
