//! The owner's follow graph: a breadth-first search from the owner over the
//! stored follow lists, up to `depth` steps, in compressed sparse rows.
//!
//! Node numbers follow key order, and each row lists its neighbours in
//! that order, so the graph (and every sum taken over it) is the same
//! whatever order the lists arrived in. Both directions are kept: rows of
//! follows for the score, and rows of followers (the reverse index) so
//! "followed by N people you follow" costs one row.
//!
//! Keys that must not pass trust on, the owner's mutes and publicly known
//! keys, stay in the graph but their lists are not read.

use super::limits::Limits;
use super::store::{Kid, Store};

/// A node's number: its rank by key among the graph's keys.
pub(crate) type Node = u32;

/// No node: a key outside the graph.
const NONE: Node = Node::MAX;
/// Not reached (yet) by the search.
const FAR: u8 = u8::MAX;
/// Reached but left out by `max_keys`.
const LEFT_OUT: u8 = u8::MAX - 1;

/// The graph around the owner, as of its last build.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Graph {
    /// Node → store number, in key order.
    kid: Vec<Kid>,
    /// Store number → node, `NONE` for keys outside (as long as the store
    /// was when built).
    node: Vec<Node>,
    /// Node → follow steps from the owner.
    dist: Vec<u8>,
    owner: Node,
    depth: u8,
    out_start: Vec<u32>,
    out: Vec<Node>,
    in_start: Vec<u32>,
    inward: Vec<Node>,
    keys_left_out: u64,
    edges_left_out: u64,
}

impl Graph {
    /// Searches from `owner` over `store`'s lists, reading no list of a key
    /// `silenced` marks (indexed by store number), within `limits`.
    pub(crate) fn build(store: &Store, owner: Kid, silenced: &[bool], limits: &Limits) -> Self {
        let keys = store.len();
        let mut dist = vec![FAR; keys];
        // How much of each source's list was read (the edge cap may stop
        // part way through a list).
        let mut read = vec![0u32; keys];
        let mut followers = vec![0u32; keys];
        let mut members = vec![owner];
        let mut level = vec![owner];
        dist[owner as usize] = 0;
        let mut budget = limits.max_edges;
        let (mut keys_left_out, mut edges_left_out) = (0u64, 0u64);
        for step in 1..=limits.depth {
            // Where the edge cap may stop this step part way, the order
            // lists are read in decides what is kept: key order, never
            // arrival order. Otherwise the order changes nothing.
            let listed: usize = level.iter().map(|&k| store.follows(k).len()).sum();
            if listed > budget {
                level.sort_unstable_by_key(|&k| store.key(k));
            }
            let mut reached = Vec::new();
            for &source in &level {
                if silenced[source as usize] {
                    continue;
                }
                let list = store.follows(source);
                let take = list.len().min(budget);
                budget -= take;
                edges_left_out += (list.len() - take) as u64;
                read[source as usize] = take as u32;
                for &target in &list[..take] {
                    match dist[target as usize] {
                        FAR => {
                            if followers[target as usize] == 0 {
                                reached.push(target);
                            }
                            followers[target as usize] += 1;
                        }
                        LEFT_OUT => edges_left_out += 1,
                        _ => {}
                    }
                }
            }
            let room = limits.max_keys.saturating_sub(members.len());
            if reached.len() > room {
                // Most followed first, then by key: never by arrival order.
                reached.sort_unstable_by(|&a, &b| {
                    followers[b as usize]
                        .cmp(&followers[a as usize])
                        .then_with(|| store.key(a).cmp(&store.key(b)))
                });
                for &left in &reached[room..] {
                    dist[left as usize] = LEFT_OUT;
                    keys_left_out += 1;
                    edges_left_out += u64::from(followers[left as usize]);
                }
                reached.truncate(room);
            }
            for &kid in &reached {
                dist[kid as usize] = step;
            }
            members.extend_from_slice(&reached);
            level = reached;
            if level.is_empty() {
                break;
            }
        }
        members.sort_unstable_by_key(|&k| store.key(k));
        let mut node = vec![NONE; keys];
        for (n, &kid) in members.iter().enumerate() {
            node[kid as usize] = n as Node;
        }
        // Rows of follows: a list is sorted by key and node numbers follow
        // key order, so each row comes out sorted.
        let mut out_start = Vec::with_capacity(members.len() + 1);
        let mut out = Vec::new();
        out_start.push(0);
        for &kid in &members {
            let list = &store.follows(kid)[..read[kid as usize] as usize];
            out.extend(
                list.iter()
                    .map(|&t| node[t as usize])
                    .filter(|&n| n != NONE),
            );
            out_start.push(out.len() as u32);
        }
        let (in_start, inward) = reverse(&out_start, &out);
        Self {
            dist: members.iter().map(|&k| dist[k as usize]).collect(),
            owner: node[owner as usize],
            kid: members,
            node,
            depth: limits.depth,
            out_start,
            out,
            in_start,
            inward,
            keys_left_out,
            edges_left_out,
        }
    }

    /// This graph with `author`'s row replaced by its list in `store`, made
    /// without a new search over the lists: the same graph
    /// [`build`](Self::build) would give, for the cost of copying the rows
    /// (and, if a distance may have moved, one pass over them). `None`
    /// where only a build can tell: when the change would have a list read
    /// that was not, or no longer read one that was (a new key's, a key
    /// brought within the depth or pushed out of it), when a key that
    /// follows others loses its way in, or when a cap was or would be met.
    pub(crate) fn patched(
        &self,
        store: &Store,
        author: Kid,
        silenced: &[bool],
        limits: &Limits,
    ) -> Option<Self> {
        if self.keys_left_out > 0 || self.edges_left_out > 0 {
            return None;
        }
        let a = self.node(author)?;
        let step = self.dist(a) + 1;
        let list = store.follows(author);
        let old_row = self.follows(a);
        if step > self.depth || self.out.len() - old_row.len() + list.len() > limits.max_edges {
            return None;
        }
        // Whether a build would read `kid`'s list if it were near enough.
        let reads = |kid: Kid| {
            !silenced.get(kid as usize).copied().unwrap_or(false) && !store.follows(kid).is_empty()
        };
        // The author's new row in this graph's numbers, new keys numbered
        // after the last node in the order they come.
        let mut added = Vec::new();
        let mut moved = false;
        let row: Vec<Node> = list
            .iter()
            .map(|&target| match self.node(target) {
                Some(n) => {
                    moved |= self.dist(n) > step;
                    Some(n)
                }
                None if step < self.depth && reads(target) => None,
                None => {
                    added.push(target);
                    Some((self.len() + added.len() - 1) as Node)
                }
            })
            .collect::<Option<_>>()?;
        // An unfollow may lengthen a path where no other follower is one
        // step nearer.
        let listed = |kid: Kid| {
            list.binary_search_by_key(&store.key(kid), |&k| store.key(k))
                .is_ok()
        };
        moved |= old_row.iter().any(|&n| {
            self.dist(n) > 0
                && !listed(self.kid(n))
                && !self
                    .followers(n)
                    .iter()
                    .any(|&f| f != a && self.dist(f) + 1 == self.dist(n))
        });
        let distances = if moved {
            self.distances(a, &row, added.len())
        } else {
            let mut same = self.dist.clone();
            same.resize(self.len() + added.len(), step);
            same
        };
        // Every list read before must be read still, and no other; a key
        // no longer reached leaves the graph if it follows no one in it.
        let mut dropped = Vec::new();
        for n in 0..self.len() as Node {
            let (before, after) = (self.dist(n), distances[n as usize]);
            if after == FAR {
                if !self.follows(n).is_empty() {
                    return None;
                }
                dropped.push(n);
            } else if (before < self.depth) != (after < self.depth) && reads(self.kid(n)) {
                return None;
            }
        }
        if self.len() + added.len() - dropped.len() > limits.max_keys {
            return None;
        }
        // The new order: the old nodes less the dropped, the added merged
        // in by key (`list`, and so `added`, is in key order).
        let mut kid = Vec::with_capacity(self.len() + added.len());
        let mut dist = Vec::with_capacity(kid.capacity());
        let mut renumber = vec![NONE; self.len()];
        let mut added = added.into_iter().peekable();
        for old in 0..self.len() as Node {
            let old_kid = self.kid(old);
            while let Some(&new) = added.peek()
                && store.key(new) < store.key(old_kid)
            {
                kid.push(new);
                dist.push(step);
                added.next();
            }
            if dropped.binary_search(&old).is_ok() {
                continue;
            }
            renumber[old as usize] = kid.len() as Node;
            kid.push(old_kid);
            dist.push(distances[old as usize]);
        }
        for new in added {
            kid.push(new);
            dist.push(step);
        }
        let mut node = vec![NONE; store.len()];
        for (n, &k) in kid.iter().enumerate() {
            node[k as usize] = n as Node;
        }
        // Rows are copied with the new numbers, which keep their order;
        // only `author`'s row, and its place in its targets' rows of
        // followers, change.
        let new_author = node[author as usize];
        let row: Vec<Node> = list.iter().map(|&t| node[t as usize]).collect();
        let edges = self.out.len() - old_row.len() + row.len();
        let mut out_start = Vec::with_capacity(kid.len() + 1);
        let mut out = Vec::with_capacity(edges);
        let mut in_start = Vec::with_capacity(kid.len() + 1);
        let mut inward = Vec::with_capacity(edges);
        out_start.push(0);
        in_start.push(0);
        for (n, &k) in kid.iter().enumerate() {
            let old = self.node(k);
            if k == author {
                out.extend_from_slice(&row);
            } else if let Some(old) = old {
                out.extend(self.follows(old).iter().map(|&t| renumber[t as usize]));
            }
            out_start.push(out.len() as u32);
            let from = inward.len();
            if let Some(old) = old {
                inward.extend(
                    self.followers(old)
                        .iter()
                        .map(|&f| renumber[f as usize])
                        .filter(|&f| f != new_author),
                );
            }
            if row.binary_search(&(n as Node)).is_ok() {
                let at = inward[from..].partition_point(|&f| f < new_author);
                inward.insert(from + at, new_author);
            }
            in_start.push(inward.len() as u32);
        }
        Some(Self {
            owner: renumber[self.owner as usize],
            kid,
            node,
            dist,
            depth: self.depth,
            out_start,
            out,
            in_start,
            inward,
            keys_left_out: 0,
            edges_left_out: 0,
        })
    }

    /// Steps from the owner, within the depth, over these rows with
    /// `author`'s replaced by `row`, for the nodes and `extra` new keys
    /// numbered after them ([`FAR`] where not reached).
    fn distances(&self, author: Node, row: &[Node], extra: usize) -> Vec<u8> {
        let mut dist = vec![FAR; self.len() + extra];
        dist[self.owner as usize] = 0;
        let mut level = vec![self.owner];
        let mut step = 0;
        while !level.is_empty() && step < self.depth {
            step += 1;
            let mut next = Vec::new();
            for &n in &level {
                let follows = match n {
                    n if n == author => row,
                    n if (n as usize) < self.len() => self.follows(n),
                    _ => &[],
                };
                for &t in follows {
                    if dist[t as usize] == FAR {
                        dist[t as usize] = step;
                        next.push(t);
                    }
                }
            }
            level = next;
        }
        dist
    }

    /// How many keys the graph holds.
    pub(crate) fn len(&self) -> usize {
        self.kid.len()
    }

    /// How many follows the graph holds.
    pub(crate) fn edges(&self) -> usize {
        self.out.len()
    }

    /// The owner's node.
    pub(crate) fn owner(&self) -> Node {
        self.owner
    }

    /// The depth the graph was built to.
    pub(crate) fn depth(&self) -> u8 {
        self.depth
    }

    /// The node of store number `kid`, if that key is in the graph.
    pub(crate) fn node(&self, kid: Kid) -> Option<Node> {
        self.node.get(kid as usize).copied().filter(|&n| n != NONE)
    }

    /// The store number of `node`.
    pub(crate) fn kid(&self, node: Node) -> Kid {
        self.kid[node as usize]
    }

    /// Follow steps from the owner to `node`.
    pub(crate) fn dist(&self, node: Node) -> u8 {
        self.dist[node as usize]
    }

    /// Whether the owner follows `node` (and it is not the owner).
    pub(crate) fn followed_by_owner(&self, node: Node) -> bool {
        self.dist[node as usize] == 1
    }

    /// Whom `node` follows, in node order.
    pub(crate) fn follows(&self, node: Node) -> &[Node] {
        let n = node as usize;
        &self.out[self.out_start[n] as usize..self.out_start[n + 1] as usize]
    }

    /// Who follows `node`, in node order.
    pub(crate) fn followers(&self, node: Node) -> &[Node] {
        let n = node as usize;
        &self.inward[self.in_start[n] as usize..self.in_start[n + 1] as usize]
    }

    /// Keys and follows the size caps left out of this build.
    pub(crate) fn left_out(&self) -> (u64, u64) {
        (self.keys_left_out, self.edges_left_out)
    }
}

/// The rows of followers for rows of follows: a counting sort by target,
/// filled in source order so each row is sorted.
fn reverse(out_start: &[u32], out: &[Node]) -> (Vec<u32>, Vec<Node>) {
    let nodes = out_start.len() - 1;
    let mut in_start = vec![0u32; nodes + 1];
    for &target in out {
        in_start[target as usize + 1] += 1;
    }
    for n in 0..nodes {
        in_start[n + 1] += in_start[n];
    }
    let mut next = in_start.clone();
    let mut inward = vec![0; out.len()];
    for source in 0..nodes {
        for &target in &out[out_start[source] as usize..out_start[source + 1] as usize] {
            inward[next[target as usize] as usize] = source as Node;
            next[target as usize] += 1;
        }
    }
    (in_start, inward)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::input::FollowList;
    use crate::score::store::test_lists::{key, store};

    fn build(store: &mut Store, limits: Limits) -> Graph {
        let owner = store.intern(key(1));
        let silenced = vec![false; store.len()];
        Graph::build(store, owner, &silenced, &limits)
    }

    fn keys_of(graph: &Graph, store: &Store, nodes: &[Node]) -> Vec<u8> {
        nodes
            .iter()
            .map(|&n| store.key(graph.kid(n)).0[0])
            .collect()
    }

    #[test]
    fn lists_beyond_the_depth_are_not_read() {
        // 1 → 2 → 3 → 4: at depth 2, 3 is in the graph but its list is not read.
        let mut s = store(&[(1, &[2]), (2, &[3]), (3, &[4])]);
        let g = build(&mut s, Limits::default());
        assert_eq!(g.len(), 3);
        let three = g.node(s.lookup(&key(3)).unwrap()).unwrap();
        assert_eq!(g.dist(three), 2);
        assert!(g.follows(three).is_empty());
        assert!(s.lookup(&key(4)).and_then(|k| g.node(k)).is_none());
    }

    #[test]
    fn nodes_and_rows_follow_key_order_and_followers_are_indexed() {
        let mut s = store(&[(1, &[9, 5, 7]), (9, &[5]), (7, &[5, 1])]);
        let g = build(&mut s, Limits::default());
        let ordered: Vec<u8> = (0..g.len() as Node).map(|n| s.key(g.kid(n)).0[0]).collect();
        assert_eq!(ordered, [1, 5, 7, 9]);
        assert_eq!(keys_of(&g, &s, g.follows(g.owner())), [5, 7, 9]);
        let five = g.node(s.lookup(&key(5)).unwrap()).unwrap();
        assert_eq!(keys_of(&g, &s, g.followers(five)), [1, 7, 9]);
        assert!(g.followed_by_owner(five));
    }

    #[test]
    fn the_key_cap_keeps_the_most_followed_and_counts_the_rest() {
        // 1 follows 2, 3, 4; 2 and 3 both follow 6, 4 follows 5.
        let mut s = store(&[(1, &[2, 3, 4]), (2, &[6]), (3, &[6]), (4, &[5])]);
        let limits = Limits {
            max_keys: 5,
            ..Limits::default()
        };
        let g = build(&mut s, limits);
        assert_eq!(g.len(), 5);
        assert!(g.node(s.lookup(&key(6)).unwrap()).is_some());
        assert!(g.node(s.lookup(&key(5)).unwrap()).is_none());
        assert_eq!(g.left_out(), (1, 1));
    }

    #[test]
    fn the_edge_cap_stops_reading_and_counts_the_rest() {
        let mut s = store(&[(1, &[2, 3]), (2, &[3, 4, 5])]);
        let limits = Limits {
            max_edges: 3,
            ..Limits::default()
        };
        let g = build(&mut s, limits);
        assert_eq!(g.edges(), 3);
        assert_eq!(g.left_out(), (0, 2));
    }

    /// `author`'s list replaced by `follows`: the patched graph, checked
    /// equal to a new build whenever there is one.
    fn patch(store: &mut Store, limits: Limits, author: u8, follows: &[u8]) -> Option<Graph> {
        let before = build(store, limits);
        store.insert_follow_list(FollowList {
            author: key(author),
            created_at: 2,
            follows: follows.iter().map(|&n| key(n)).collect(),
        });
        let author = store.lookup(&key(author)).unwrap();
        let patched = before.patched(store, author, &vec![false; store.len()], &limits);
        if let Some(patched) = &patched {
            assert_eq!(*patched, build(store, limits), "a patch is a build");
        }
        patched
    }

    #[test]
    fn a_patch_gives_the_graph_a_build_gives_or_declines() {
        // 1 → 2, 3; 2 → 4, 5; 3 → 5; depth 2.
        let lists: &[(u8, &[u8])] = &[(1, &[2, 3]), (2, &[4, 5]), (3, &[5]), (4, &[6])];
        let limits = Limits::default();
        let patched = |author, follows: &[u8]| patch(&mut store(lists), limits, author, follows);
        // Following a key already two steps out, and a new key.
        assert!(patched(3, &[4, 5, 9]).is_some());
        // Unfollowing a key that has another way in, and a leaf only 2 followed.
        assert!(patched(2, &[5]).is_some());
        // The owner following a new key with no list of its own.
        assert!(patched(1, &[2, 3, 8]).is_some());
        // The owner following 4, whose list would now be read: declined.
        assert!(patched(1, &[2, 3, 4]).is_none());
        // The owner dropping 2, the only way to 4: declined.
        assert!(patched(1, &[3]).is_none());
        // Three steps deep, the owner following 4 moves 4 and 6 nearer
        // without changing whose lists are read: patched.
        let deeper = Limits {
            depth: 3,
            ..Limits::default()
        };
        assert!(patch(&mut store(lists), deeper, 1, &[2, 3, 4]).is_some());
    }

    #[test]
    fn patches_agree_with_builds_on_a_larger_network() {
        use crate::score::synthetic::{self, Spec};
        let spec = Spec {
            keys: 300,
            edges: 3000,
            seed: 3,
        };
        let owner = synthetic::key(spec.seed, 20);
        let lists: Vec<FollowList> = synthetic::follow_lists(spec).collect();
        let limits = Limits {
            depth: 3,
            ..Limits::default()
        };
        let (mut patched, mut read) = (0, 0);
        for (i, list) in lists.iter().enumerate().step_by(3) {
            let mut s = Store::new(100);
            for l in &lists {
                s.insert_follow_list(l.clone());
            }
            let owner_kid = s.intern(owner);
            let silenced = vec![false; s.len()];
            let before = Graph::build(&s, owner_kid, &silenced, &limits);
            let author = s.lookup(&list.author).unwrap();
            if before
                .node(author)
                .is_none_or(|n| before.dist(n) >= limits.depth)
            {
                continue;
            }
            read += 1;
            // Drop one follow in five, add one of the graph's keys and a new one.
            let mut changed = list.clone();
            changed.created_at = 2;
            changed.follows = (list.follows.iter().enumerate())
                .filter(|(j, _)| j % 5 != 0)
                .map(|(_, k)| *k)
                .collect();
            changed
                .follows
                .push(synthetic::key(spec.seed, (i * 13) % spec.keys));
            changed.follows.push(synthetic::key(99, i));
            s.insert_follow_list(changed);
            let silenced = vec![false; s.len()];
            if let Some(graph) = before.patched(&s, author, &silenced, &limits) {
                patched += 1;
                assert_eq!(graph, Graph::build(&s, owner_kid, &silenced, &limits));
            }
        }
        assert!(
            patched * 2 > read,
            "only {patched} of {read} changes could be patched"
        );
    }

    #[test]
    fn a_silenced_key_keeps_its_place_but_passes_nothing_on() {
        let mut s = store(&[(1, &[2]), (2, &[3])]);
        let owner = s.intern(key(1));
        let mut silenced = vec![false; s.len()];
        silenced[s.lookup(&key(2)).unwrap() as usize] = true;
        let g = Graph::build(&s, owner, &silenced, &Limits::default());
        assert_eq!(g.len(), 2);
        let two = g.node(s.lookup(&key(2)).unwrap()).unwrap();
        assert!(g.follows(two).is_empty());
    }
}
