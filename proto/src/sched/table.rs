//! What a node knows of the others' load: the long-lived [`LoadCache`]
//! of their reports (with this node's own recent sends to them) and the
//! [`NodeTable`] snapshot of it the policies decide on; the [`NodeSet`]
//! a scheduler works on.

use super::filter::{AgeCache, CacheFull};
use super::probe::{per_cpu_up, LoadProbe, Memory};
use super::report::LoadReport;

/// Most nodes a table holds.
pub const MAX_TABLE_NODES: usize = 32;
/// The highest node id a [`NodeSet`] can name one by one (ids of nodes
/// with a pid range); larger ids are only in [`NodeSet::All`].
pub const MAX_SET_NODE: u16 = 63;
/// A process that arrived on a node is counted on top of its reports
/// until a report this many reports newer than the last one seen at the
/// arrival comes: by then the process is in the node's own load.
pub const PENDING_REPORTS: u64 = 2;

/// The nodes a scheduler works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeSet {
    /// Every node.
    All,
    /// The nodes whose bit is set: bit `i` is node id `i`, 1..=63.
    Only(u64),
}

impl NodeSet {
    /// No node.
    pub const EMPTY: NodeSet = NodeSet::Only(0);

    /// Whether node `id` is in the set.
    pub fn contains(self, id: u16) -> bool {
        match self {
            NodeSet::All => id != 0,
            NodeSet::Only(mask) => id != 0 && id <= MAX_SET_NODE && mask & (1 << id) != 0,
        }
    }

    /// The set with node `id` added; `None` if `id` is 0 or above
    /// [`MAX_SET_NODE`].
    pub fn with(self, id: u16) -> Option<NodeSet> {
        if id == 0 || id > MAX_SET_NODE {
            return None;
        }
        Some(match self {
            NodeSet::All => NodeSet::All,
            NodeSet::Only(mask) => NodeSet::Only(mask | 1 << id),
        })
    }

    /// Whether it names no node.
    pub fn is_empty(self) -> bool {
        self == NodeSet::EMPTY
    }

    /// Whether it is [`NodeSet::All`] or a mask of valid ids only.
    pub fn is_valid(self) -> bool {
        match self {
            NodeSet::All => true,
            NodeSet::Only(mask) => mask & 1 == 0,
        }
    }
}

/// One node as the policies see it. Loads are per CPU in 1/1024 of a
/// task, memory in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeLoad {
    /// Node id.
    pub id: u16,
    /// Alive, as membership says; a dead node is never a destination.
    pub alive: bool,
    /// Online CPUs.
    pub cpus: u32,
    /// Fast-rising load.
    pub upper: u32,
    /// Averaged load.
    pub mean: u32,
    /// Free memory.
    pub free_kib: u64,
    /// All memory.
    pub total_kib: u64,
    /// User processes it could move away.
    pub movable: u32,
    /// Milliseconds since its report came (0 for this node).
    pub age_ms: u64,
    /// Load this node sent it that its report may not show yet: on its
    /// way, or arrived since (per its CPU).
    pub pending_load: u32,
    /// Memory this node sent it that its report may not show yet.
    pub pending_kib: u64,
}

impl NodeLoad {
    /// This node, from its own probes.
    pub fn local(id: u16, probe: &LoadProbe, mem: &Memory, movable: u32) -> NodeLoad {
        NodeLoad {
            id,
            alive: true,
            cpus: probe.cpus(),
            upper: probe.upper(),
            mean: probe.mean(),
            free_kib: mem.free_kib,
            total_kib: mem.total_kib,
            movable,
            ..NodeLoad::default()
        }
    }

    /// The load a sender counts on when it may send work there: the
    /// higher of the two values, plus what was sent since.
    pub fn as_destination(&self) -> u32 {
        self.upper.max(self.mean).saturating_add(self.pending_load)
    }

    /// Free memory less what was sent there since its report.
    pub fn free_as_destination(&self) -> u64 {
        self.free_kib.saturating_sub(self.pending_kib)
    }

    /// Its report's values (`seq` 0).
    pub fn report(&self) -> LoadReport {
        LoadReport {
            seq: 0,
            cpus: self.cpus,
            upper: self.upper.max(self.mean),
            mean: self.mean,
            free_kib: self.free_kib.min(self.total_kib),
            total_kib: self.total_kib,
            movable: self.movable,
        }
    }
}

/// The nodes the policies decide on: a snapshot, at most
/// [`MAX_TABLE_NODES`], one entry per id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeTable {
    nodes: [NodeLoad; MAX_TABLE_NODES],
    len: usize,
}

impl Default for NodeTable {
    fn default() -> Self {
        NodeTable::new()
    }
}

impl NodeTable {
    /// No node.
    pub fn new() -> NodeTable {
        NodeTable {
            nodes: [NodeLoad::default(); MAX_TABLE_NODES],
            len: 0,
        }
    }

    /// Adds `n`, or replaces the entry of its id; `false` if the table
    /// is full.
    pub fn put(&mut self, n: NodeLoad) -> bool {
        if let Some(e) = self.nodes[..self.len].iter_mut().find(|e| e.id == n.id) {
            *e = n;
            return true;
        }
        match self.nodes.get_mut(self.len) {
            Some(slot) => {
                *slot = n;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// Node `id`'s entry.
    pub fn get(&self, id: u16) -> Option<&NodeLoad> {
        self.nodes().iter().find(|e| e.id == id)
    }

    /// The entries, in the order they were put.
    pub fn nodes(&self) -> &[NodeLoad] {
        self.nodes.get(..self.len).unwrap_or(&[])
    }
}

/// Load (per CPU of the node) and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Amount {
    load: u32,
    kib: u64,
}

impl Amount {
    fn plus(self, o: Amount) -> Amount {
        Amount {
            load: self.load.saturating_add(o.load),
            kib: self.kib.saturating_add(o.kib),
        }
    }

    fn minus(self, o: Amount) -> Amount {
        Amount {
            load: self.load.saturating_sub(o.load),
            kib: self.kib.saturating_sub(o.kib),
        }
    }
}

/// What the cache keeps of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Known {
    report: LoadReport,
    alive: bool,
    /// Sent, not arrived yet.
    on_the_way: Amount,
    /// Arrived, maybe not in the reports yet.
    arrived: Amount,
    /// The report that shows what arrived.
    arrived_shows_at_seq: u64,
}

impl Known {
    fn amount(&self, demand: u32, rss_kib: u64) -> Amount {
        Amount {
            load: per_cpu_up(demand, self.report.cpus),
            kib: rss_kib,
        }
    }
}

/// The other nodes' last reports, used up to an age limit, and the load
/// and memory this node sent each that their reports may not show yet
/// (so that two decisions in a row do not both count on the same idle
/// node). Long-lived: fed every report ([`Self::on_report`]) and every
/// migration this node starts ([`Self::note_sent`]) and ends
/// ([`Self::note_arrived`], [`Self::note_failed`]); the policies get its
/// [`Self::table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadCache {
    cache: AgeCache<Known, MAX_TABLE_NODES>,
}

impl LoadCache {
    /// An empty cache whose reports are used up to `max_age_ms` old.
    pub fn new(max_age_ms: u64) -> LoadCache {
        LoadCache {
            cache: AgeCache::new(max_age_ms),
        }
    }

    /// Takes node `from`'s report, received at `now_ms`. A report not
    /// newer (by `seq`) than the one held is dropped (`Ok(false)`),
    /// unless the one held is too old: a node that restarted counts
    /// from 0 again (membership should [`Self::forget`] it when it
    /// rejoins).
    pub fn on_report(&mut self, from: u16, r: &LoadReport, now_ms: u64) -> Result<bool, CacheFull> {
        let fresh = self.cache.get(from, now_ms).copied();
        let mut k = match fresh {
            Some(k) if r.seq <= k.report.seq => return Ok(false),
            Some(k) => k,
            None => Known {
                report: *r,
                alive: self.cache.get_any(from).is_none_or(|(k, _)| k.alive),
                on_the_way: Amount::default(),
                arrived: Amount::default(),
                arrived_shows_at_seq: 0,
            },
        };
        k.report = *r;
        if r.seq >= k.arrived_shows_at_seq {
            k.arrived = Amount::default();
        }
        self.cache.put(from, k, now_ms)?;
        Ok(true)
    }

    /// Counts a process of run-queue weight `demand` (1/1024 of a task)
    /// and `rss_kib` that this node starts moving to `dest` on top of its
    /// reports, until [`Self::note_arrived`] or [`Self::note_failed`].
    pub fn note_sent(&mut self, dest: u16, demand: u32, rss_kib: u64) {
        if let Some(k) = self.cache.get_mut(dest) {
            k.on_the_way = k.on_the_way.plus(k.amount(demand, rss_kib));
        }
    }

    /// The process of [`Self::note_sent`] runs on `dest`: it is counted
    /// until `dest`'s reports show it ([`PENDING_REPORTS`] reports on).
    pub fn note_arrived(&mut self, dest: u16, demand: u32, rss_kib: u64) {
        if let Some(k) = self.cache.get_mut(dest) {
            let a = k.amount(demand, rss_kib);
            k.on_the_way = k.on_the_way.minus(a);
            k.arrived = k.arrived.plus(a);
            k.arrived_shows_at_seq = k.report.seq.saturating_add(PENDING_REPORTS);
        }
    }

    /// The move of [`Self::note_sent`] failed: the process stayed here.
    pub fn note_failed(&mut self, dest: u16, demand: u32, rss_kib: u64) {
        if let Some(k) = self.cache.get_mut(dest) {
            k.on_the_way = k.on_the_way.minus(k.amount(demand, rss_kib));
        }
    }

    /// Marks node `id` alive or dead (as membership says).
    pub fn set_alive(&mut self, id: u16, alive: bool) {
        if let Some(k) = self.cache.get_mut(id) {
            k.alive = alive;
        }
    }

    /// Forgets node `id` (it left, or rejoined with a new incarnation).
    pub fn forget(&mut self, id: u16) {
        self.cache.remove(id);
    }

    /// The nodes whose report is not too old at `now_ms`, as the policies
    /// see them.
    pub fn table(&self, now_ms: u64) -> NodeTable {
        let mut t = NodeTable::new();
        for (id, age_ms, k) in self.cache.fresh(now_ms) {
            let r = &k.report;
            let pending = k.on_the_way.plus(k.arrived);
            t.put(NodeLoad {
                id,
                alive: k.alive,
                cpus: r.cpus,
                upper: r.upper,
                mean: r.mean,
                free_kib: r.free_kib,
                total_kib: r.total_kib,
                movable: r.movable,
                age_ms,
                pending_load: pending.load,
                pending_kib: pending.kib,
            });
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(seq: u64, load: u32) -> LoadReport {
        LoadReport {
            seq,
            cpus: 2,
            upper: load,
            mean: load,
            free_kib: 1000,
            total_kib: 2000,
            movable: 1,
        }
    }

    #[test]
    fn node_sets() {
        let s = NodeSet::EMPTY.with(1).unwrap().with(63).unwrap();
        assert!(s.contains(1) && s.contains(63) && !s.contains(2) && !s.contains(0));
        assert!(!s.contains(64) && !s.is_empty() && s.is_valid());
        assert_eq!(s.with(64), None);
        assert_eq!(s.with(0), None);
        assert!(NodeSet::All.contains(4095) && !NodeSet::All.contains(0));
        assert!(!NodeSet::Only(1).is_valid());
        assert!(NodeSet::EMPTY.is_empty());
        assert_eq!(NodeSet::All.with(3), Some(NodeSet::All));
    }

    #[test]
    fn table_puts_and_replaces() {
        let mut t = NodeTable::new();
        for id in 1..=MAX_TABLE_NODES as u16 {
            assert!(t.put(NodeLoad {
                id,
                ..NodeLoad::default()
            }));
        }
        assert!(!t.put(NodeLoad {
            id: 100,
            ..NodeLoad::default()
        }));
        assert!(t.put(NodeLoad {
            id: 3,
            cpus: 9,
            ..NodeLoad::default()
        }));
        assert_eq!(t.nodes().len(), MAX_TABLE_NODES);
        assert_eq!(t.get(3).map(|n| n.cpus), Some(9));
        assert_eq!(t.get(100), None);
    }

    #[test]
    fn cache_counts_sends_until_reports_show_them() {
        let mut c = LoadCache::new(1000);
        assert_eq!(c.on_report(2, &report(5, 1024), 0), Ok(true));
        c.note_sent(2, 1024, 300);
        c.note_sent(9, 1024, 300); // unknown: nothing
        let t = c.table(10);
        let n = t.get(2).unwrap();
        assert_eq!((n.pending_load, n.pending_kib, n.age_ms), (512, 300, 10));
        assert_eq!(n.as_destination(), 1536);
        assert_eq!(n.free_as_destination(), 700);
        assert_eq!(t.get(9), None);
        // Late and duplicate reports are dropped.
        assert_eq!(c.on_report(2, &report(5, 0), 20), Ok(false));
        // On its way: counted whatever the reports say.
        assert_eq!(c.on_report(2, &report(6, 1024), 20), Ok(true));
        assert_eq!(c.on_report(2, &report(9, 1024), 20), Ok(true));
        assert_eq!(c.table(20).get(2).unwrap().pending_load, 512);
        // Arrived: counted until two more reports.
        c.note_arrived(2, 1024, 300);
        assert_eq!(c.on_report(2, &report(10, 1024), 25), Ok(true));
        assert_eq!(c.table(25).get(2).unwrap().pending_kib, 300);
        // A failed move is forgotten at once.
        c.note_sent(2, 2048, 100);
        c.note_failed(2, 2048, 100);
        assert_eq!(c.table(25).get(2).unwrap().pending_load, 512);
        assert_eq!(c.on_report(2, &report(11, 1536), 30), Ok(true));
        let n = *c.table(30).get(2).unwrap();
        assert_eq!((n.pending_load, n.as_destination()), (0, 1536));
        // Dead nodes stay dead through reports until marked alive.
        c.set_alive(2, false);
        assert_eq!(c.on_report(2, &report(12, 0), 40), Ok(true));
        assert!(!c.table(40).get(2).unwrap().alive);
        c.set_alive(2, true);
        // Too old: gone from the table; a restarted node's seq 1 is taken.
        assert!(c.table(1041).get(2).is_none());
        assert_eq!(c.on_report(2, &report(1, 0), 1041), Ok(true));
        c.forget(2);
        assert!(c.table(1041).nodes().is_empty());
    }

    #[test]
    fn local_entry_and_report() {
        let mut p = LoadProbe::new(&super::super::probe::Smoothing::DEFAULT);
        p.sample(4096, 2);
        let mem = Memory {
            free_kib: 10,
            total_kib: 20,
        };
        let n = NodeLoad::local(4, &p, &mem, 3);
        assert_eq!((n.id, n.cpus, n.upper, n.movable), (4, 2, 1792, 3));
        assert!(n.alive && n.age_ms == 0);
        let r = n.report();
        assert_eq!((r.upper, r.free_kib, r.total_kib), (1792, 10, 20));
    }
}
