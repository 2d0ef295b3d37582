//! Exec-time placement: where a program that execs on this node starts,
//! round-robin or on the least loaded node ([`place`]).
//!
//! A program starts here unless this node is busy (its `upper` above
//! `place.busy_above`) and another node would give it at least
//! `place.min_gain` more: the other node's load with the program
//! ([`NodeLoad::as_destination`] plus one task) is that much below this
//! node's with it. A destination also needs free memory above its high
//! watermark. After placing a program elsewhere the caller counts it on
//! the destination ([`LoadCache::note_sent`](super::table::LoadCache::note_sent)
//! with one task), so that a burst of execs spreads instead of all going
//! to the node that looked idle.

use super::balance::{is_destination, memory_room};
use super::params::PolicyParams;
use super::probe::{per_cpu_up, LOAD_ONE};
use super::table::{NodeLoad, NodeSet, NodeTable};

/// How a placing policy picks among the nodes that would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceKind {
    /// The next one after the last chosen, by node id, wrapping.
    RoundRobin,
    /// The least loaded one (with the program), the lowest id of equals.
    LeastLoaded,
}

/// What round-robin remembers between placements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlaceState {
    /// The node chosen last; 0 before the first.
    pub last: u16,
}

/// Node `n`'s load with one more task.
fn load_with_one_more(n: &NodeLoad) -> u32 {
    n.as_destination()
        .saturating_add(per_cpu_up(LOAD_ONE, n.cpus))
}

/// Where a program that execs on `local` starts: `None` here, else the
/// node of `table` in `nodes` that `kind` picks among those that would
/// do. Round-robin advances `state`.
pub fn place(
    kind: PlaceKind,
    local: &NodeLoad,
    table: &NodeTable,
    nodes: NodeSet,
    p: &PolicyParams,
    state: &mut PlaceState,
) -> Option<u16> {
    let here = local.upper.max(local.mean);
    if here <= p.place.busy_above {
        return None;
    }
    let stay = here.saturating_add(per_cpu_up(LOAD_ONE, local.cpus));
    let good = |n: &&NodeLoad| {
        is_destination(n, local.id, nodes)
            && u64::from(load_with_one_more(n)) + u64::from(p.place.min_gain) <= u64::from(stay)
            && memory_room(n, 0, p.memory.high_per_mille)
    };
    let candidates = || table.nodes().iter().filter(good);
    let chosen = match kind {
        PlaceKind::LeastLoaded => candidates().min_by_key(|n| (load_with_one_more(n), n.id))?,
        PlaceKind::RoundRobin => candidates()
            .filter(|n| n.id > state.last)
            .min_by_key(|n| n.id)
            .or_else(|| candidates().min_by_key(|n| n.id))?,
    };
    state.last = chosen.id;
    Some(chosen.id)
}
