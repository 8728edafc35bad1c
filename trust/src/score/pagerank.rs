//! Personalized PageRank from the owner: the share of time a walker spends
//! on each key when it follows a random follow at each step and, with
//! probability [`RESTART`] (and from any key that follows no one), goes
//! back to the owner.
//!
//! The mass `x` solves `x = ε·e_owner + (1 − ε)·x·P`, where `P` moves a
//! key's mass evenly to those it follows and a key that follows no one
//! gives its mass back to the owner. It is found by power iteration,
//! pulling each key's mass over its followers' row in node order. Every
//! sum runs in the same order on the same graph, so the result is
//! bit-identical from run to run and whatever order the inputs came in.
//!
//! - [`solve`] starts from the owner alone and stops when a step changes
//!   the vector by less than [`TOLERANCE`] (L1): the canonical result.
//! - [`refine`] starts from the previous result after the graph changed
//!   (a list or two) and stops when no key's mass moved by more than
//!   [`REFINED`] of itself (or, for keys too small for their score to
//!   show it, of the mass where the score reaches 0). A change that
//!   touches a few keys settles in a handful of steps.

use super::graph::{Graph, Node};

/// ε, the chance of going back to the owner at each step. 0.3 rather than
/// PageRank's usual 0.15: trust should fade fast with distance (each step
/// keeps 70 %), a sybil region gains at most 1/ε = 3.3 times what its
/// attack edges carry (`docs/trust-model.md`), and the iteration converges
/// as 0.7^k or faster.
pub(crate) const RESTART: f64 = 0.3;
/// The L1 change of one step below which the iteration stops. The
/// remaining error is at most (1 − ε)/ε times this, 2.3e-10 of a total
/// mass of 1.
pub(crate) const TOLERANCE: f64 = 1e-10;
/// A bound on steps, reached only if rounding keeps the change above the
/// tolerance (0.7^200 is far below it).
pub(crate) const MAX_ITERATIONS: u32 = 200;
/// [`refine`] stops when no node's mass moved by more than this share of
/// itself in the last step (or of the floor it is given). The error left
/// shrinks at least by (1 − ε) a step, so each node ends within about
/// this much, times (1 − ε)/ε, of its exact mass: 0.23 %, a score within
/// 0.02 of a point.
pub(crate) const REFINED: f64 = 1e-3;

/// How a solution was reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Solved {
    /// Steps of the power iteration.
    pub(crate) steps: u64,
    /// The L1 change of the last step.
    pub(crate) change: f64,
}

/// The personalized PageRank of every node, by power iteration from the
/// owner alone.
pub(crate) fn solve(graph: &Graph) -> (Vec<f64>, Solved) {
    let mut mass = vec![0.0; graph.len()];
    mass[graph.owner() as usize] = 1.0;
    let solved = iterate(graph, &mut mass);
    (mass, solved)
}

/// Power iteration on `mass` until one step changes it by less than
/// [`TOLERANCE`] (L1), or [`MAX_ITERATIONS`] steps.
fn iterate(graph: &Graph, mass: &mut Vec<f64>) -> Solved {
    sweep(graph, mass, |_, _, change| change < TOLERANCE)
}

/// Brings `mass`, a solution for a slightly different graph (already moved
/// to this graph's node numbers, new keys at 0), to a solution for
/// `graph`: power iteration from there until no node's mass moves by more
/// than [`REFINED`] of itself or of `floor`, whichever is larger
/// (the mass below which precision no longer shows, see
/// [`standing`](super::standing)).
pub(crate) fn refine(graph: &Graph, mass: &mut Vec<f64>, floor: f64) -> Solved {
    sweep(graph, mass, |next, mass, _| {
        next.iter()
            .zip(mass)
            .all(|(a, b)| (a - b).abs() <= REFINED * b.max(floor))
    })
}

/// Power iteration steps on `mass` until `settled(next, mass, L1 change)`
/// holds for a step, or [`MAX_ITERATIONS`] steps.
fn sweep(
    graph: &Graph,
    mass: &mut Vec<f64>,
    settled: impl Fn(&[f64], &[f64], f64) -> bool,
) -> Solved {
    let nodes = graph.len();
    let walk = 1.0 - RESTART;
    let share = shares(graph);
    let mut next = vec![0.0; nodes];
    let mut passed = vec![0.0; nodes];
    let mut solved = Solved {
        steps: 0,
        change: f64::INFINITY,
    };
    while solved.steps < u64::from(MAX_ITERATIONS) {
        let mut dangling = 0.0;
        for ((p, &m), &s) in passed.iter_mut().zip(mass.iter()).zip(&share) {
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
        let change: f64 = next
            .iter()
            .zip(mass.iter())
            .map(|(a, b)| (a - b).abs())
            .sum();
        let done = settled(&next, mass, change);
        std::mem::swap(mass, &mut next);
        solved.steps += 1;
        solved.change = change;
        if done {
            break;
        }
    }
    solved
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
        let (s0, before) = graph(&[(1, &[2, 3]), (2, &[3, 4]), (3, &[1])]);
        let (old, _) = solve(&before);
        // 4 now follows 2 and 3, and 3 follows 5: new rows, a new node.
        let (s, after) = graph(&[(1, &[2, 3]), (2, &[3, 4]), (3, &[1, 5]), (4, &[2, 3])]);
        let mut moved = vec![0.0; after.len()];
        for (n, m) in moved.iter_mut().enumerate() {
            let key = s.key(after.kid(n as Node));
            if let Some(was) = s0.lookup(&key).and_then(|kid| before.node(kid)) {
                *m = old[was as usize];
            }
        }
        let refined = refine(&after, &mut moved, 1e-12);
        let (exact, _) = solve(&after);
        assert!(refined.steps > 0);
        for (n, (r, e)) in moved.iter().zip(&exact).enumerate() {
            let off = (r - e).abs() / e;
            assert!(off < 2.0 * REFINED / RESTART, "node {n}: {off}");
        }
        let five = mass_of(&s, &after, &moved, 5);
        assert!(five > 0.0, "the new key got its share");
        let gap: f64 = old.iter().zip(&exact).map(|(a, b)| (a - b).abs()).sum();
        assert!(
            gap > 1e-2,
            "the change must matter for the test to mean anything"
        );
    }
}
