//! The bounds on what the model holds ([`Limits`]) and the account of what
//! they left out ([`Truncation`]). Follow lists come from anyone who can
//! write to a relay, so every size that input decides is capped, and each
//! cap that bites is counted where the owner can see it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Caps on the model's inputs and graph. The defaults hold a large
/// personal network (a quarter of a million keys, 5 million follows) in
/// well under 300 MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// How many follow steps from the owner the graph reaches: the follow
    /// lists of keys closer than this are used. Keys exactly this far are
    /// in the graph but their own follows are not.
    pub depth: u8,
    /// Keys kept from one follow or mute list; a longer list keeps the
    /// first this many in key order and counts the rest as cut.
    pub keys_per_list: usize,
    /// Reports, and separately reviews, kept from one author; the newest
    /// are kept. One key cannot flood the model with claims.
    pub claims_per_key: usize,
    /// Keys in the graph, the owner included. When a step of the search
    /// would pass it, the keys followed by the most keys already in the
    /// graph are taken first (then by key order).
    pub max_keys: usize,
    /// Follows (edges) read into the graph, in the search's order
    /// (nearer keys first, then by key order).
    pub max_edges: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            depth: 2,
            keys_per_list: 5_000,
            claims_per_key: 100,
            max_keys: 250_000,
            max_edges: 5_000_000,
        }
    }
}

/// What the caps left out, for the owner to see (`archy trust graph
/// stats`). All zero means nothing was cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truncation {
    /// Stored follow and mute lists longer than `keys_per_list`.
    pub lists_cut: u64,
    /// Keys those lists lost.
    pub list_keys_cut: u64,
    /// Reports and reviews dropped because their author had
    /// `claims_per_key` newer ones (counted as they arrived).
    pub claims_dropped: u64,
    /// Keys reached but left out of the graph by `max_keys`.
    pub keys_left_out: u64,
    /// Follows not read into the graph: past `max_edges`, or to keys
    /// `max_keys` left out.
    pub edges_left_out: u64,
}

impl Truncation {
    /// True when no cap was hit.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One sentence per cap that was hit, or "no limit was reached".
impl fmt::Display for Truncation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no limit was reached");
        }
        let mut said = Vec::new();
        if self.lists_cut > 0 {
            said.push(format!(
                "{} lists were longer than the cap and lost {} keys",
                self.lists_cut, self.list_keys_cut
            ));
        }
        if self.claims_dropped > 0 {
            said.push(format!(
                "{} reports or reviews were dropped: their authors had reached the cap",
                self.claims_dropped
            ));
        }
        if self.keys_left_out > 0 {
            said.push(format!(
                "{} keys were left out of the graph by its size cap",
                self.keys_left_out
            ));
        }
        if self.edges_left_out > 0 {
            said.push(format!(
                "{} follows were left out of the graph by its size caps",
                self.edges_left_out
            ));
        }
        f.write_str(&said.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cap_hit_is_said() {
        assert_eq!(Truncation::default().to_string(), "no limit was reached");
        let hit = Truncation {
            lists_cut: 1,
            list_keys_cut: 7,
            keys_left_out: 3,
            ..Truncation::default()
        };
        assert!(!hit.is_empty());
        let text = hit.to_string();
        assert!(
            text.contains("1 lists were longer than the cap and lost 7 keys"),
            "{text}"
        );
        assert!(text.contains("3 keys were left out"), "{text}");
        assert!(!text.contains("reviews"), "{text}");
    }
}
