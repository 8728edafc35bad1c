//! Personalized PageRank from the owner: the share of time a walker spends
//! on each key when it follows a random follow at each step and, with
//! probability [`RESTART`] (and from any key that follows no one), goes
//! back to the owner.
//!
//! The mass `x` solves `x = ε·e_owner + (1 − ε)·x·P`, where `P` moves a
//! key's mass evenly to those it follows and a key that follows no one
//! gives its mass back to the owner. Two ways to get there:
//!
//! - [`solve`]: power iteration from `e_owner`, pulling each key's mass
//!   over its followers' row in node order, until one step changes the
//!   vector by less than [`TOLERANCE`] (L1). Every sum runs in the same
//!   order on the same graph, so the result is bit-identical from run to
//!   run and whatever order the inputs came in.
//! - [`refine`]: after a small change to the graph, starts from the old
//!   vector, computes its residual on the new graph in one pass and
//!   pushes only where the residual is larger than [`PUSH_THRESHOLD`]:
//!   the work follows the change instead of the graph's size.

use std::collections::VecDeque;

use super::graph::{Graph, Node};

/// ε, the chance of going back to the owner at each step. 0.3 rather than
/// PageRank's usual 0.15: trust should fade fast with distance (each step
/// keeps 70 %), a sybil region gains at most 1/ε = 3.3 times what its
/// attack edges carry (`docs/trust-model.md`), and the iteration converges
/// as 0.7^k, in about 70 steps.
pub(crate) const RESTART: f64 = 0.3;
/// The L1 change of one step below which the iteration stops. The
/// remaining error is at most (1 − ε)/ε times this, 2.3e-10 of a total
/// mass of 1.
pub(crate) const TOLERANCE: f64 = 1e-10;
/// A bound on steps, reached only if rounding keeps the change above the
/// tolerance (0.7^200 is far below it).
pub(crate) const MAX_ITERATIONS: u32 = 200;
/// A node whose residual is larger than this is pushed by [`refine`].
/// What is left unpushed is at most this much per node, so the refined
/// vector is within `nodes × PUSH_THRESHOLD / ε` (L1) of the exact one.
pub(crate) const PUSH_THRESHOLD: f64 = 1e-13;

/// How a solution was reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Solved {
    /// Steps of the power iteration, or pushes of a refinement.
    pub(crate) steps: u64,
    /// The L1 change of the last step (power iteration), or the L1
    /// residual left unpushed (refinement).
    pub(crate) change: f64,
}

/// The personalized PageRank of every node, by power iteration.
pub(crate) fn solve(graph: &Graph) -> (Vec<f64>, Solved) {
    let nodes = graph.len();
    let walk = 1.0 - RESTART;
    let share = shares(graph);
    let mut mass = vec![0.0; nodes];
    mass[graph.owner() as usize] = 1.0;
    let mut next = vec![0.0; nodes];
    let mut passed = vec![0.0; nodes];
    let mut solved = Solved {
        steps: 0,
        change: f64::INFINITY,
    };
    while solved.steps < u64::from(MAX_ITERATIONS) && solved.change >= TOLERANCE {
        let mut dangling = 0.0;
        for ((p, &m), &s) in passed.iter_mut().zip(&mass).zip(&share) {
            *p = m * s;
            if s == 0.0 {
                dangling += m;
            }
        }
        for (n, x) in next.iter_mut().enumerate() {
            let mut inflow = 0.0;
            for &from in graph.followers(n as Node) {
                inflow += passed[from as usize];
            }
            *x = walk * inflow;
        }
        next[graph.owner() as usize] += RESTART + walk * dangling;
        let change: f64 = next.iter().zip(&mass).map(|(a, b)| (a - b).abs()).sum();
        std::mem::swap(&mut mass, &mut next);
        solved.steps += 1;
        solved.change = change;
    }
    (mass, solved)
}

/// Brings `mass`, a solution for a slightly different graph (already moved
/// to this graph's node numbers, new keys at 0), to a solution for `graph`.
pub(crate) fn refine(graph: &Graph, mass: &mut [f64]) -> Solved {
    let nodes = graph.len();
    let walk = 1.0 - RESTART;
    let share = shares(graph);
    let owner_node = graph.owner();
    let owner = owner_node as usize;
    // The residual r = ε·e_owner + (1 − ε)·x·P − x, in one pulling pass.
    let mut dangling = 0.0;
    for n in 0..nodes {
        if share[n] == 0.0 {
            dangling += mass[n];
        }
    }
    let mut residual = vec![0.0; nodes];
    for (n, r) in residual.iter_mut().enumerate() {
        let mut inflow = 0.0;
        for &from in graph.followers(n as Node) {
            inflow += mass[from as usize] * share[from as usize];
        }
        *r = walk * inflow - mass[n];
    }
    residual[owner] += RESTART + walk * dangling;
    // Push: a node takes its residual into its mass and passes (1 − ε) of
    // it on along its follows (to the owner if it follows no one). The
    // queue is filled and drained in node order, so the same change to the
    // same state gives the same result.
    let mut queued = vec![false; nodes];
    let mut queue: VecDeque<Node> = (0..nodes as Node)
        .filter(|&n| residual[n as usize].abs() > PUSH_THRESHOLD)
        .collect();
    for &n in &queue {
        queued[n as usize] = true;
    }
    let mut pushes = 0u64;
    while let Some(n) = queue.pop_front() {
        let n = n as usize;
        queued[n] = false;
        let r = std::mem::take(&mut residual[n]);
        mass[n] += r;
        pushes += 1;
        let follows = graph.follows(n as Node);
        let (targets, each): (&[Node], f64) = if follows.is_empty() {
            (std::slice::from_ref(&owner_node), walk * r)
        } else {
            (follows, walk * r * share[n])
        };
        for &t in targets {
            let t = t as usize;
            residual[t] += each;
            if !queued[t] && residual[t].abs() > PUSH_THRESHOLD {
                queued[t] = true;
                queue.push_back(t as Node);
            }
        }
    }
    Solved {
        steps: pushes,
        change: residual.iter().map(|r| r.abs()).sum(),
    }
}

/// 1 / (number of follows) of each node; 0 for a node that follows no one.
fn shares(graph: &Graph) -> Vec<f64> {
    (0..graph.len() as Node)
        .map(|n| match graph.follows(n).len() {
            0 => 0.0,
            d => 1.0 / d as f64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::limits::Limits;
    use crate::score::store::Store;
    use crate::score::store::test_lists::{key, store};

    fn graph(lists: &[(u8, &[u8])]) -> (Store, Graph) {
        let mut store = store(lists);
        let owner = store.intern(key(1));
        let silenced = vec![false; store.len()];
        let limits = Limits {
            depth: 10,
            ..Limits::default()
        };
        let graph = Graph::build(&store, owner, &silenced, &limits);
        (store, graph)
    }

    fn mass_of(store: &Store, graph: &Graph, mass: &[f64], n: u8) -> f64 {
        mass[graph.node(store.lookup(&key(n)).unwrap()).unwrap() as usize]
    }

    #[test]
    fn a_chain_matches_the_closed_form() {
        // 1 → 2 → 3, 3 follows no one: its mass goes back to 1.
        // x2 = 0.7·x1, x3 = 0.7·x2, x1 = 0.3 + 0.7·x3, summing to 1.
        let (s, g) = graph(&[(1, &[2]), (2, &[3])]);
        let (mass, solved) = solve(&g);
        let x1 = 1.0 / (1.0 + 0.7 + 0.49);
        assert!((mass_of(&s, &g, &mass, 1) - x1).abs() < 1e-9);
        assert!((mass_of(&s, &g, &mass, 2) - 0.7 * x1).abs() < 1e-9);
        assert!((mass_of(&s, &g, &mass, 3) - 0.49 * x1).abs() < 1e-9);
        assert!(solved.change < TOLERANCE);
        assert!((mass.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn refining_after_a_change_lands_on_the_full_solution() {
        let (s, before) = graph(&[(1, &[2, 3]), (2, &[3, 4]), (3, &[1])]);
        let (old, _) = solve(&before);
        // 4 now follows 2 and 3: same nodes, one more row.
        let (s2, after) = graph(&[(1, &[2, 3]), (2, &[3, 4]), (3, &[1]), (4, &[2, 3])]);
        assert_eq!(s.len(), s2.len());
        let mut moved = old.clone();
        let refined = refine(&after, &mut moved);
        let (exact, _) = solve(&after);
        let error: f64 = moved.iter().zip(&exact).map(|(a, b)| (a - b).abs()).sum();
        assert!(refined.steps > 0);
        assert!(error < 1e-9, "error {error}");
        let gap: f64 = old.iter().zip(&exact).map(|(a, b)| (a - b).abs()).sum();
        assert!(
            gap > 1e-3,
            "the change must matter for the test to mean anything"
        );
    }
}
