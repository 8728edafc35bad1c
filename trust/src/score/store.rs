//! The follow and mute lists the model holds, with every key interned to a
//! small number so the graph can be rebuilt from arrays, not hash maps.
//!
//! Each list is normalized on the way in (repeats and the author removed,
//! sorted by key, cut at `keys_per_list`), so what is stored does not
//! depend on the order of a list's tags, and the newest list of each
//! author replaces the older whatever order they arrive in.

use std::collections::HashMap;

use super::input::{FollowList, MuteList};
use super::key::NostrKey;

/// A key's number in the store: its index in [`Store::key`]. Numbers are
/// handed out in arrival order, so nothing the model computes may depend on
/// them; the graph orders nodes by key instead.
pub(crate) type Kid = u32;

/// One author's newest follow list, normalized.
#[derive(Debug, Clone)]
struct StoredList {
    created_at: u64,
    /// Followed keys, sorted by key, without repeats or the author.
    follows: Box<[Kid]>,
    /// Keys the list lost to `keys_per_list`.
    cut: u32,
}

/// All keys seen, all authors' newest follow lists and the owner's mutes.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    keys: Vec<NostrKey>,
    index: HashMap<NostrKey, Kid>,
    /// By author's number; `None` where the key has no list.
    lists: Vec<Option<StoredList>>,
    /// The owner's newest mute list: its time, muted keys sorted, keys cut.
    mutes: Option<(u64, Box<[NostrKey]>, u32)>,
    keys_per_list: usize,
}

impl Store {
    /// An empty store cutting lists at `keys_per_list`.
    pub(crate) fn new(keys_per_list: usize) -> Self {
        Self {
            keys: Vec::new(),
            index: HashMap::new(),
            lists: Vec::new(),
            mutes: None,
            keys_per_list,
        }
    }

    /// The number of `key`, given one if it has none yet.
    pub(crate) fn intern(&mut self, key: NostrKey) -> Kid {
        if let Some(&kid) = self.index.get(&key) {
            return kid;
        }
        let kid = Kid::try_from(self.keys.len())
            .expect("fewer than 2^32 keys: lists are capped long before that");
        self.keys.push(key);
        self.lists.push(None);
        self.index.insert(key, kid);
        kid
    }

    /// The number of `key`, if it was ever seen.
    pub(crate) fn lookup(&self, key: &NostrKey) -> Option<Kid> {
        self.index.get(key).copied()
    }

    /// The key numbered `kid`.
    pub(crate) fn key(&self, kid: Kid) -> NostrKey {
        self.keys[kid as usize]
    }

    /// How many keys were ever seen.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The keys `kid`'s newest list follows, sorted by key (empty without a list).
    pub(crate) fn follows(&self, kid: Kid) -> &[Kid] {
        match &self.lists[kid as usize] {
            Some(list) => &list.follows,
            None => &[],
        }
    }

    /// Stores `list` if it is its author's newest; true when the stored
    /// list changed. Of two lists with the same `created_at`, the one whose
    /// sorted keys come first is kept, so arrival order never decides.
    pub(crate) fn insert_follow_list(&mut self, list: FollowList) -> bool {
        let (follows, cut) = normalize(list.follows, Some(list.author), self.keys_per_list);
        let author = self.intern(list.author);
        if let Some(held) = &self.lists[author as usize] {
            let replace = match list.created_at.cmp(&held.created_at) {
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Equal => {
                    let held_keys: Vec<NostrKey> =
                        held.follows.iter().map(|&k| self.key(k)).collect();
                    (&follows, cut) < (&held_keys, held.cut)
                }
            };
            if !replace {
                return false;
            }
        }
        let follows = follows.into_iter().map(|key| self.intern(key)).collect();
        self.lists[author as usize] = Some(StoredList {
            created_at: list.created_at,
            follows,
            cut,
        });
        true
    }

    /// Stores the owner's mute list if it is the newest; true when the
    /// stored mutes changed (same rule as follow lists).
    pub(crate) fn set_mutes(&mut self, list: MuteList) -> bool {
        let (muted, cut) = normalize(list.muted, None, self.keys_per_list);
        if let Some((created_at, held, held_cut)) = &self.mutes {
            let newer = list.created_at > *created_at
                || (list.created_at == *created_at && (&muted[..], cut) < (&held[..], *held_cut));
            if !newer {
                return false;
            }
        }
        self.mutes = Some((list.created_at, muted.into(), cut));
        true
    }

    /// Whether the owner mutes `key`.
    pub(crate) fn is_muted(&self, key: &NostrKey) -> bool {
        self.mutes
            .as_ref()
            .is_some_and(|(_, muted, _)| muted.binary_search(key).is_ok())
    }

    /// The keys the owner mutes, sorted.
    pub(crate) fn muted(&self) -> &[NostrKey] {
        self.mutes.as_ref().map_or(&[], |(_, muted, _)| muted)
    }

    /// How many stored lists were cut, and how many keys they lost.
    pub(crate) fn cuts(&self) -> (u64, u64) {
        let cuts = self
            .lists
            .iter()
            .flatten()
            .map(|list| list.cut)
            .chain(self.mutes.as_ref().map(|(_, _, cut)| *cut));
        cuts.filter(|&cut| cut > 0)
            .fold((0, 0), |(lists, keys), cut| {
                (lists + 1, keys + u64::from(cut))
            })
    }
}

/// Sorted, without repeats or `author`, cut to `cap`: the list and how many
/// keys the cut took.
fn normalize(
    mut keys: Vec<NostrKey>,
    author: Option<NostrKey>,
    cap: usize,
) -> (Vec<NostrKey>, u32) {
    keys.sort_unstable();
    keys.dedup();
    if let Some(author) = author {
        keys.retain(|key| *key != author);
    }
    let cut = keys.len().saturating_sub(cap);
    keys.truncate(cap);
    (keys, u32::try_from(cut).unwrap_or(u32::MAX))
}

/// Small stores for the tests of the modules built on this one.
#[cfg(test)]
pub(crate) mod test_lists {
    use super::*;

    /// The key whose 32 bytes are all `n`.
    pub(crate) fn key(n: u8) -> NostrKey {
        NostrKey([n; 32])
    }

    /// A store holding `(author, follows)` lists, keys named by [`key`].
    pub(crate) fn store(lists: &[(u8, &[u8])]) -> Store {
        let mut store = Store::new(100);
        for &(author, follows) in lists {
            store.insert_follow_list(FollowList {
                author: key(author),
                created_at: 1,
                follows: follows.iter().map(|&n| key(n)).collect(),
            });
        }
        store
    }
}

#[cfg(test)]
mod tests {
    use super::test_lists::key;
    use super::*;

    fn list(author: u8, created_at: u64, follows: &[u8]) -> FollowList {
        FollowList {
            author: key(author),
            created_at,
            follows: follows.iter().map(|&n| key(n)).collect(),
        }
    }

    fn followed(store: &Store, author: u8) -> Vec<NostrKey> {
        let kid = store.lookup(&key(author)).unwrap();
        store.follows(kid).iter().map(|&k| store.key(k)).collect()
    }

    #[test]
    fn a_list_is_sorted_without_repeats_or_its_author() {
        let mut store = Store::new(100);
        assert!(store.insert_follow_list(list(1, 10, &[9, 3, 1, 3, 5])));
        assert_eq!(followed(&store, 1), [key(3), key(5), key(9)]);
    }

    #[test]
    fn the_newest_list_wins_whatever_the_arrival_order() {
        let mut forward = Store::new(100);
        forward.insert_follow_list(list(1, 10, &[2]));
        assert!(forward.insert_follow_list(list(1, 20, &[3])));
        let mut backward = Store::new(100);
        backward.insert_follow_list(list(1, 20, &[3]));
        assert!(!backward.insert_follow_list(list(1, 10, &[2])));
        assert_eq!(followed(&forward, 1), [key(3)]);
        assert_eq!(followed(&backward, 1), [key(3)]);
    }

    #[test]
    fn lists_with_the_same_time_keep_the_same_one_in_any_order() {
        let mut a = Store::new(100);
        a.insert_follow_list(list(1, 10, &[4]));
        a.insert_follow_list(list(1, 10, &[2]));
        let mut b = Store::new(100);
        b.insert_follow_list(list(1, 10, &[2]));
        b.insert_follow_list(list(1, 10, &[4]));
        assert_eq!(followed(&a, 1), followed(&b, 1));
    }

    #[test]
    fn an_oversize_list_is_cut_and_counted() {
        let mut store = Store::new(3);
        store.insert_follow_list(list(1, 10, &[2, 3, 4, 5, 6]));
        assert_eq!(followed(&store, 1), [key(2), key(3), key(4)]);
        store.set_mutes(MuteList {
            created_at: 1,
            muted: vec![key(7), key(8), key(9), key(10)],
        });
        assert_eq!(store.cuts(), (2, 3));
        assert!(store.is_muted(&key(9)) && !store.is_muted(&key(10)));
    }
}
