//! The moving policies: the MOSIX-like dynamic load balancer
//! ([`dynamic_balance`]) and the memory-pressure balancer
//! ([`memory_pressure`]). Each looks at this node, the table of the
//! others and this node's processes ([`Candidate`]s), and decides one
//! [`Decision`]: a [`Move`], or why nothing moves ([`Stay`]).
//!
//! The balancer's rules (loads per CPU, 1/1024 of a task):
//!
//! - only a busy node sends: its `mean` is above `busy_above` (a short
//!   burst does not raise the mean much);
//! - a destination is an alive node of the scheduler's set, not this
//!   one, counted at its `upper` plus what this node sent it since its
//!   report ([`NodeLoad::as_destination`]);
//! - a process of run-queue weight `d` ([`Candidate::demand`]) moves
//!   from a source of load `S` (`cs` CPUs) to a destination of load `D`
//!   (`cd` CPUs) only if all of these hold:
//!   - `S - d/cs >= D + d/cd`: after the move the source is at least as
//!     loaded as the destination (work is never sent to a node that
//!     ends up more loaded than the source);
//!   - `S > D + d/cd + margin`: the source was above the destination's
//!     new load by more than the margin (hysteresis);
//!   - `d/cs + d/cd >= margin`: the move shifts at least the margin (an
//!     idle process is not worth moving);
//! - the process has been on this node at least `min_residency_ms`, and
//!   goes back to a node it left (one of the last [`MAX_LEFT`]) only
//!   `return_after_ms` after it left;
//! - the destination keeps more free memory than its high watermark;
//! - pinned and unmovable processes are skipped, and so are those whose
//!   move would cost more than `cost.max_ms`;
//! - the destination is the least loaded one where some process fits;
//!   the process is the one that leaves the two nodes closest, then the
//!   one moved least often, then the one here longest.
//!
//! The destination checks the rule again with its own load before it
//! takes the process ([`admit`]).
//!
//! With these rules, two nodes never trade a process back and forth on
//! the same loads: after a move the source is at least as loaded as the
//! destination, and a move back would need it strictly less loaded. When
//! loads change (a job ends, two nodes sent work to the same idle one),
//! the return rule keeps a process from going round in a circle.

use super::cost::{move_cost_ms, Strategy};
use super::params::PolicyParams;
use super::probe::{kib_of, per_cpu, per_cpu_up, watermark_kib};
use super::table::{NodeLoad, NodeSet, NodeTable};

/// Loads closer than this count as equally good when choosing a
/// process, so that a process moved less often, or here longer, wins.
const LOAD_GRAIN: u32 = 64;

/// Why a process cannot be moved at all, as the caller found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmovable {
    /// It uses something a migration cannot carry (a device mapping, a
    /// socket, ...).
    Unsupported,
    /// It is traced.
    Traced,
    /// It is exiting.
    Exiting,
    /// It is being migrated already.
    Migrating,
    /// Another reason.
    Other,
}

impl Unmovable {
    /// A short name, for logs and `/proc`.
    pub fn name(self) -> &'static str {
        match self {
            Unmovable::Unsupported => "unsupported",
            Unmovable::Traced => "traced",
            Unmovable::Exiting => "exiting",
            Unmovable::Migrating => "migrating",
            Unmovable::Other => "other",
        }
    }
}

/// How many of the nodes a process left a [`Candidate`] remembers.
pub const MAX_LEFT: usize = 4;

/// A node a process left, and how long ago.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Left {
    /// The node; 0 for none.
    pub node: u16,
    /// Milliseconds since it left.
    pub ms_ago: u64,
}

/// A process of this node a policy may move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Candidate {
    /// Its pid.
    pub pid: u32,
    /// Its run-queue weight over the last window, 1/1024 of a task: the
    /// part of the time it was runnable ([`runnable_share`](super::probe::runnable_share)),
    /// or an estimate from its CPU share ([`demand`](super::probe::demand)).
    pub demand: u32,
    /// Its resident memory, bytes.
    pub rss_bytes: u64,
    /// Milliseconds since it arrived on this node (or started, if it
    /// started here).
    pub residency_ms: u64,
    /// How many times it has migrated.
    pub moves: u32,
    /// The last nodes it left, most recent first (node 0: none).
    pub left: [Left; MAX_LEFT],
    /// Pinned here by the operator (or by its CPU affinity).
    pub pinned: bool,
    /// `Some` if it cannot be moved.
    pub unmovable: Option<Unmovable>,
}

/// Why a policy passed over a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Pinned.
    Pinned,
    /// Cannot be moved.
    Unmovable(Unmovable),
    /// Arrived (or started) too recently.
    TooRecent,
    /// Its move would take longer than `cost.max_ms`.
    TooCostly,
    /// It would only go back to a node it left, too soon.
    WouldReturn,
    /// No destination has the memory for it above its high watermark.
    NoRoom,
    /// Moving it would leave a destination more loaded than the source,
    /// or shift less than the margin (counted, but alone it makes the
    /// nodes [`Stay::Balanced`]).
    NoFit,
}

/// How many processes were passed over, by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SkipCounts {
    /// [`Skip::Pinned`].
    pub pinned: u32,
    /// [`Skip::Unmovable`].
    pub unmovable: u32,
    /// [`Skip::TooRecent`].
    pub too_recent: u32,
    /// [`Skip::TooCostly`].
    pub too_costly: u32,
    /// [`Skip::WouldReturn`].
    pub would_return: u32,
    /// [`Skip::NoRoom`].
    pub no_room: u32,
    /// [`Skip::NoFit`].
    pub no_fit: u32,
}

impl SkipCounts {
    /// Counts one process passed over for `why`.
    pub fn count(&mut self, why: Skip) {
        let n = match why {
            Skip::Pinned => &mut self.pinned,
            Skip::Unmovable(_) => &mut self.unmovable,
            Skip::TooRecent => &mut self.too_recent,
            Skip::TooCostly => &mut self.too_costly,
            Skip::WouldReturn => &mut self.would_return,
            Skip::NoRoom => &mut self.no_room,
            Skip::NoFit => &mut self.no_fit,
        };
        *n = n.saturating_add(1);
    }
}

/// A migration to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    /// The process.
    pub pid: u32,
    /// Where to.
    pub dest: u16,
    /// How.
    pub strategy: Strategy,
    /// Its run-queue weight, 1/1024 of a task: what the caller takes off
    /// its probe ([`LoadProbe::depart`](super::probe::LoadProbe::depart))
    /// and counts on the destination ([`LoadCache::note_sent`](super::table::LoadCache::note_sent)).
    pub demand: u32,
    /// Its resident memory, KiB.
    pub rss_kib: u64,
    /// This node's load after the move, as the policy counted it.
    pub source_after: u32,
    /// The destination's load after the move, as the policy counted it.
    pub dest_after: u32,
    /// The estimated time the move takes, ms.
    pub cost_ms: u64,
}

/// Why nothing moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stay {
    /// This node needs nothing moved: its load is not above
    /// `busy_above` (balancer), its free memory not under the low
    /// watermark (memory pressure).
    NoNeed,
    /// No alive node of the set to send to.
    NoDestination,
    /// No destination is less loaded by more than the margin, or no
    /// process would leave the nodes closer by the load rules.
    Balanced,
    /// Some process would help but may not go; the counts say why.
    NoProcess(SkipCounts),
}

/// What a policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Move a process.
    Migrate(Move),
    /// Move nothing.
    Stay(Stay),
}

/// Whether the policies may send work from node `local` to `n`.
pub fn is_destination(n: &NodeLoad, local: u16, nodes: NodeSet) -> bool {
    n.alive && n.id != local && n.cpus > 0 && nodes.contains(n.id)
}

/// Why the balancer passes over `c` whatever the destination, if it
/// does.
pub fn balance_skip(c: &Candidate, p: &PolicyParams) -> Option<Skip> {
    movable_skip(c, p.balance.min_residency_ms).or_else(|| {
        (move_cost_ms(c.rss_bytes, &p.cost) > u64::from(p.cost.max_ms)).then_some(Skip::TooCostly)
    })
}

/// Why memory pressure passes over `c` whatever the destination, if it
/// does.
pub fn memory_skip(c: &Candidate, p: &PolicyParams) -> Option<Skip> {
    movable_skip(c, p.memory.min_residency_ms)
}

fn movable_skip(c: &Candidate, min_residency_ms: u32) -> Option<Skip> {
    if c.pinned {
        Some(Skip::Pinned)
    } else if let Some(u) = c.unmovable {
        Some(Skip::Unmovable(u))
    } else if c.residency_ms < u64::from(min_residency_ms) {
        Some(Skip::TooRecent)
    } else {
        None
    }
}

/// Whether `dest` is a node `c` left less than `return_after_ms` ago.
pub fn returns_too_soon(c: &Candidate, dest: u16, return_after_ms: u32) -> bool {
    c.left
        .iter()
        .any(|l| l.node != 0 && l.node == dest && l.ms_ago < u64::from(return_after_ms))
}

/// The loads of source and destination after moving a process of
/// run-queue weight `d`, if the balancer's load rules allow the move:
/// the source stays at least as loaded as the destination, was above the
/// destination's new load by more than `margin`, and the move shifts at
/// least `margin`.
pub fn cpu_move_fits(
    src: u32,
    src_cpus: u32,
    dst: u32,
    dst_cpus: u32,
    d: u32,
    margin: u32,
) -> Option<(u32, u32)> {
    let off = per_cpu(d, src_cpus);
    let on = per_cpu_up(d, dst_cpus);
    let src_after = src.checked_sub(off)?;
    let dst_after = dst.checked_add(on)?;
    let above = u64::from(src) > u64::from(dst_after) + u64::from(margin);
    let shifts = u64::from(off) + u64::from(on) >= u64::from(margin);
    (src_after >= dst_after && above && shifts).then_some((src_after, dst_after))
}

/// Whether `n` has room for `rss_kib` more and stays above its high
/// watermark.
pub fn memory_room(n: &NodeLoad, rss_kib: u64, high_per_mille: u32) -> bool {
    n.free_as_destination()
        .checked_sub(rss_kib)
        .is_some_and(|left| left >= watermark_kib(n.total_kib, high_per_mille))
}

/// The dynamic load balancer: at most one process to move from `local`
/// (this node, from its probes) to a node of `table` in `nodes`, chosen
/// among `candidates` (this node's processes of the scheduler's set).
/// See the module's documentation for the rules.
pub fn dynamic_balance(
    local: &NodeLoad,
    table: &NodeTable,
    candidates: &[Candidate],
    nodes: NodeSet,
    p: &PolicyParams,
) -> Decision {
    let b = &p.balance;
    let src = local.mean;
    if src <= b.busy_above {
        return Decision::Stay(Stay::NoNeed);
    }
    let dests = || {
        table
            .nodes()
            .iter()
            .filter(|n| is_destination(n, local.id, nodes))
    };
    let Some(least) = dests().map(NodeLoad::as_destination).min() else {
        return Decision::Stay(Stay::NoDestination);
    };
    if u64::from(src) <= u64::from(least) + u64::from(b.margin) {
        return Decision::Stay(Stay::Balanced);
    }
    let mut skipped = SkipCounts::default();
    let mut best: Option<(BalanceKey, Move)> = None;
    for c in candidates {
        if let Some(why) = balance_skip(c, p) {
            skipped.count(why);
            continue;
        }
        let d = c.demand;
        let rss_kib = kib_of(c.rss_bytes);
        // Whether it may go somewhere; if not, the most telling reason.
        let mut fits = false;
        let mut why = Skip::NoFit;
        for n in dests() {
            let dst = n.as_destination();
            let Some((source_after, dest_after)) =
                cpu_move_fits(src, local.cpus, dst, n.cpus, d, b.margin)
            else {
                continue;
            };
            if returns_too_soon(c, n.id, b.return_after_ms) {
                why = Skip::WouldReturn;
                continue;
            }
            if !memory_room(n, rss_kib, p.memory.high_per_mille) {
                why = Skip::NoRoom;
                continue;
            }
            fits = true;
            let key = BalanceKey {
                dest_load: dst,
                dest_free: u64::MAX - n.free_as_destination(),
                dest: n.id,
                gap_after: (source_after - dest_after) / LOAD_GRAIN,
                moves: c.moves,
                recent: u64::MAX - c.residency_ms,
                rss: c.rss_bytes,
                pid: c.pid,
            };
            if best.as_ref().is_none_or(|(k, _)| key < *k) {
                let m = Move {
                    pid: c.pid,
                    dest: n.id,
                    strategy: p.strategy.for_size(c.rss_bytes),
                    demand: d,
                    rss_kib,
                    source_after,
                    dest_after,
                    cost_ms: move_cost_ms(c.rss_bytes, &p.cost),
                };
                best = Some((key, m));
            }
        }
        if !fits {
            skipped.count(why);
        }
    }
    let only_load = SkipCounts {
        no_fit: skipped.no_fit,
        ..SkipCounts::default()
    };
    match best {
        Some((_, m)) => Decision::Migrate(m),
        None if skipped == only_load => Decision::Stay(Stay::Balanced),
        None => Decision::Stay(Stay::NoProcess(skipped)),
    }
}

/// Whether this node (`local`, from its own probes) takes a process of
/// run-queue weight `demand` that a source offers after counting its own
/// load after the move at `source_after` ([`Move::source_after`]): only
/// if this node's load with the process (its `upper`, which already
/// holds the processes it agreed to take) is not above the source's. The
/// balancer's rule checked again on the destination's own, fresh load:
/// several nodes that saw this one idle in the same reports do not all
/// send it work. A node that takes the process counts it at once
/// ([`LoadProbe::reserve`](super::probe::LoadProbe::reserve)), until it
/// lands or the move fails.
pub fn admit(local: &NodeLoad, demand: u32, source_after: u32) -> bool {
    let after = u64::from(local.upper.max(local.mean)) + u64::from(per_cpu_up(demand, local.cpus));
    after <= u64::from(source_after)
}

/// The order of the balancer's choices: least loaded destination first
/// (then the one with the most free memory, then the lowest id), then the
/// process leaving the nodes closest, moved least often, here longest,
/// smallest, lowest pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct BalanceKey {
    dest_load: u32,
    dest_free: u64,
    dest: u16,
    gap_after: u32,
    moves: u32,
    recent: u64,
    rss: u64,
    pid: u32,
}

/// The memory-pressure balancer: when `local`'s free memory is under its
/// low watermark, the largest process (of `candidates`, this node's
/// processes of the scheduler's set) that fits on a node of `nodes` with
/// its free memory staying above that node's high watermark, to the node
/// with the most free memory left. Lazy moves leave the pages on this
/// node until touched, so a large process that would go lazy goes
/// post-copy instead.
pub fn memory_pressure(
    local: &NodeLoad,
    table: &NodeTable,
    candidates: &[Candidate],
    nodes: NodeSet,
    p: &PolicyParams,
) -> Decision {
    let m = &p.memory;
    if local.free_kib >= watermark_kib(local.total_kib, m.low_per_mille) {
        return Decision::Stay(Stay::NoNeed);
    }
    let dests = || {
        table
            .nodes()
            .iter()
            .filter(|n| is_destination(n, local.id, nodes))
    };
    if dests().next().is_none() {
        return Decision::Stay(Stay::NoDestination);
    }
    let mut skipped = SkipCounts::default();
    let mut best: Option<(MemoryKey, Move)> = None;
    for c in candidates {
        if let Some(why) = memory_skip(c, p) {
            skipped.count(why);
            continue;
        }
        let rss_kib = kib_of(c.rss_bytes);
        if rss_kib == 0 {
            skipped.count(Skip::NoFit);
            continue;
        }
        let d = c.demand;
        let mut placed = false;
        for n in dests().filter(|n| memory_room(n, rss_kib, m.high_per_mille)) {
            placed = true;
            let dest_after = n.as_destination().saturating_add(per_cpu_up(d, n.cpus));
            let left = n.free_as_destination() - rss_kib;
            let key = MemoryKey {
                rss: u64::MAX - rss_kib,
                left: u64::MAX - left,
                dest_after,
                dest: n.id,
                pid: c.pid,
            };
            if best.as_ref().is_none_or(|(k, _)| key < *k) {
                let strategy = match p.strategy.for_size(c.rss_bytes) {
                    s if s.leaves_pages_behind() => Strategy::Postcopy,
                    s => s,
                };
                let mv = Move {
                    pid: c.pid,
                    dest: n.id,
                    strategy,
                    demand: d,
                    rss_kib,
                    source_after: local.mean.saturating_sub(per_cpu(d, local.cpus)),
                    dest_after,
                    cost_ms: move_cost_ms(c.rss_bytes, &p.cost),
                };
                best = Some((key, mv));
            }
        }
        if !placed {
            skipped.count(Skip::NoRoom);
        }
    }
    match best {
        Some((_, mv)) => Decision::Migrate(mv),
        None => Decision::Stay(Stay::NoProcess(skipped)),
    }
}

/// The order of memory pressure's choices: the largest process, to the
/// node left with the most free memory, then the least loaded, lowest
/// id; lowest pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct MemoryKey {
    rss: u64,
    left: u64,
    dest_after: u32,
    dest: u16,
    pid: u32,
}
