//! Cutting off a relay that sends bad signatures.
//!
//! A relay that forwards events with bad signatures, by fault or to make a
//! node spend its CPU, is caught event by event (each is refused), but
//! each costs a signature check, and within a batch equation a few extra
//! equations. The ingest loop tallies, per relay and per connection, how
//! many of the events it sent carried a bad signature; past the operator's
//! [`BadSignatureLimit`], the relay is cut off: its connection is dropped
//! and it is tried again only after the follower's backoff, which doubles
//! with each cut.

use std::collections::HashMap;
use std::sync::Arc;

/// The share of bad signatures a relay may send before it is cut off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BadSignatureLimit {
    /// The share of a connection's events, from 0 to 1, past which the
    /// relay is cut off.
    pub share: f64,
    /// Events a connection must have sent before its share is judged, so
    /// that one bad event among the first few does not cut a relay off.
    pub min_events: u64,
}

impl Default for BadSignatureLimit {
    /// 10 % of at least 50 events: relays check signatures themselves, so
    /// an honest relay sends almost none that are bad.
    fn default() -> Self {
        Self {
            share: 0.10,
            min_events: 50,
        }
    }
}

/// What one connection sent so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Events received.
    pub events: u64,
    /// Of those, events whose signature was bad.
    pub bad: u64,
}

/// The tallies of every relay's current connection.
#[derive(Debug, Default)]
pub struct RelayGate {
    limit: BadSignatureLimit,
    tallies: HashMap<Arc<str>, Tally>,
}

impl RelayGate {
    /// A gate that cuts relays off past `limit`.
    pub fn new(limit: BadSignatureLimit) -> Self {
        Self {
            limit,
            tallies: HashMap::new(),
        }
    }

    /// Counts one event from `relay`, `bad` if its signature was. Returns
    /// the connection's tally when that puts the relay past the limit, and
    /// starts a new tally for its next connection.
    pub fn record(&mut self, relay: &Arc<str>, bad: bool) -> Option<Tally> {
        let tally = self.tallies.entry(relay.clone()).or_default();
        tally.events += 1;
        tally.bad += u64::from(bad);
        let past = tally.events >= self.limit.min_events
            && tally.bad as f64 > self.limit.share * tally.events as f64;
        past.then(|| std::mem::take(tally))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(share: f64, min_events: u64) -> RelayGate {
        RelayGate::new(BadSignatureLimit { share, min_events })
    }

    #[test]
    fn a_relay_past_the_share_is_cut_off_once_enough_events_came() {
        let mut gate = gate(0.1, 20);
        let relay: Arc<str> = "ws://bad".into();
        let mut cut = None;
        for i in 0..20 {
            cut = gate.record(&relay, i % 3 == 0);
            if i < 19 {
                assert_eq!(cut, None, "judged only from the 20th event");
            }
        }
        assert_eq!(cut, Some(Tally { events: 20, bad: 7 }));
        // A new connection starts from nothing.
        assert_eq!(gate.record(&relay, true), None);
    }

    #[test]
    fn a_relay_at_the_share_or_below_is_kept() {
        let mut gate = gate(0.1, 10);
        let relay: Arc<str> = "ws://honest".into();
        for i in 0..1000 {
            assert_eq!(gate.record(&relay, i % 10 == 9), None, "event {i}");
        }
    }

    #[test]
    fn relays_are_tallied_apart() {
        let mut gate = gate(0.5, 4);
        let (bad, good): (Arc<str>, Arc<str>) = ("ws://bad".into(), "ws://good".into());
        for _ in 0..3 {
            assert_eq!(gate.record(&bad, true), None);
            assert_eq!(gate.record(&good, false), None);
        }
        assert_eq!(gate.record(&good, false), None);
        assert_eq!(gate.record(&bad, true), Some(Tally { events: 4, bad: 4 }));
    }
}
