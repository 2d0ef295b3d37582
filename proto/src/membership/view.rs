//! The table itself: [`View`] (its epoch, local node and sorted entries),
//! its queries and [`Totals`], the primitives the operations of
//! `events.rs` build on (find, insert, the checks of a peer's message),
//! [`View::forget`] and the conversion to a [`JoinReply`].

use super::super::wire::{JoinReply, NodeEntry};
use super::error::MembershipError;
use super::node::{Node, NodeId, NodeState, MAX_NODES};

/// Sums over the alive nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Alive nodes.
    pub alive_nodes: u32,
    /// Their CPUs.
    pub cpus: u32,
    /// Their total memory, KiB.
    pub mem_total_kib: u64,
    /// Their free memory, KiB.
    pub mem_free_kib: u64,
}

/// The membership table and its epoch.
///
/// About 4 KiB: in the kernel keep it in a heap allocation or a static,
/// not on the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub(super) epoch: u64,
    pub(super) local: Option<NodeId>,
    pub(super) len: usize,
    pub(super) nodes: [Node; MAX_NODES],
}

impl Default for View {
    fn default() -> View {
        View::new()
    }
}

impl View {
    /// An empty view, epoch 0, local node not set.
    pub const fn new() -> View {
        View {
            epoch: 0,
            local: None,
            len: 0,
            nodes: [Node::EMPTY; MAX_NODES],
        }
    }

    /// The epoch: raised by one on every membership change.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The local node, once [`View::set_local`] was called.
    pub fn local(&self) -> Option<NodeId> {
        self.local
    }

    /// All entries, sorted by node id.
    pub fn nodes(&self) -> &[Node] {
        self.nodes.get(..self.len).unwrap_or(&[])
    }

    /// Iterates over all entries, sorted by node id.
    pub fn iter(&self) -> core::slice::Iter<'_, Node> {
        self.nodes().iter()
    }

    /// Number of entries (any state).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entry of `id`.
    pub fn get(&self, id: NodeId) -> Option<&Node> {
        self.find(id).ok().and_then(|i| self.nodes().get(i))
    }

    /// `Ok(index)` of `id`, or `Err(index)` where it would be inserted.
    /// A linear scan: the table is small, and unlike `binary_search` this
    /// has no panic path even with core's debug assertions on.
    pub(super) fn find(&self, id: NodeId) -> Result<usize, usize> {
        for (i, n) in self.nodes().iter().enumerate() {
            if n.id == id {
                return Ok(i);
            }
            if n.id > id {
                return Err(i);
            }
        }
        Err(self.len)
    }

    pub(super) fn get_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        let i = self.find(id).ok()?;
        self.nodes.get_mut(..self.len).and_then(|s| s.get_mut(i))
    }

    pub(super) fn bump(&mut self) {
        self.epoch = self.epoch.saturating_add(1);
    }

    /// Inserts `node` at `pos` (from a failed [`View::find`]).
    pub(super) fn insert_at(&mut self, pos: usize, node: Node) -> Result<(), MembershipError> {
        if self.len >= MAX_NODES || pos > self.len {
            return Err(MembershipError::TableFull);
        }
        // Shift `pos..len` up by one (by hand: slice rotation keeps a
        // bounds assertion the optimizer cannot always remove).
        let mut i = self.len;
        while i > pos {
            let prev = self
                .nodes
                .get(i.saturating_sub(1))
                .copied()
                .unwrap_or(Node::EMPTY);
            if let Some(slot) = self.nodes.get_mut(i) {
                *slot = prev;
            }
            i = i.saturating_sub(1);
        }
        let slot = self.nodes.get_mut(pos).ok_or(MembershipError::TableFull)?;
        *slot = node;
        self.len = self.len.saturating_add(1);
        Ok(())
    }

    pub(super) fn check_remote(&self, id: NodeId) -> Result<(), MembershipError> {
        if !id.is_valid() {
            return Err(MembershipError::BadNodeId);
        }
        if self.local == Some(id) {
            return Err(MembershipError::LocalNode);
        }
        Ok(())
    }

    /// Fills `out` with this view: the epoch and every entry (alive or
    /// not), sorted by node id.
    pub fn fill_join_reply(&self, out: &mut JoinReply) {
        out.clear();
        out.view_epoch = self.epoch;
        let mut count: u16 = 0;
        for (slot, node) in out.entries.iter_mut().zip(self.nodes()) {
            *slot = NodeEntry {
                node_id: node.id.0,
                incarnation: node.incarnation,
                address: node.address,
                port: node.port,
                alive: node.state == NodeState::Alive,
            };
            count = count.saturating_add(1);
        }
        out.count = count;
    }

    /// A peer's join reply (`teller`'s view, `reply`) says this node, in
    /// its current incarnation, is dead. Whether this node should take a
    /// new incarnation and rejoin: after a partition both sides declared
    /// each other dead, and only the smaller side must rejoin, so that
    /// the larger side's incarnations (and the reliable messages between
    /// its nodes) survive the heal. This node rejoins unless the teller is
    /// not alive in this view and the teller's view has fewer alive nodes
    /// than this one; on equal sides the higher node id rejoins.
    pub fn should_rejoin(&self, teller: NodeId, reply: &JoinReply) -> bool {
        let teller_alive_here = self
            .get(teller)
            .is_some_and(|n| n.state == NodeState::Alive);
        if teller_alive_here {
            return true;
        }
        let here = self.totals().alive_nodes;
        let there = reply.used().iter().filter(|e| e.alive).count() as u32;
        match here.cmp(&there) {
            core::cmp::Ordering::Greater => false,
            core::cmp::Ordering::Less => true,
            core::cmp::Ordering::Equal => self.local.is_some_and(|me| me.0 > teller.0),
        }
    }

    /// Removes a dead or departed node from the table, to make room. Its
    /// incarnation is forgotten too, so a stale message could bring it
    /// back: forget only nodes gone for long. Returns whether it was there.
    /// Not a membership change (the epoch stays).
    pub fn forget(&mut self, id: NodeId) -> Result<bool, MembershipError> {
        if !id.is_valid() {
            return Err(MembershipError::BadNodeId);
        }
        let Ok(pos) = self.find(id) else {
            return Ok(false);
        };
        let alive = self
            .nodes()
            .get(pos)
            .is_some_and(|n| n.state == NodeState::Alive);
        if alive || self.local == Some(id) {
            return Err(MembershipError::StillAlive);
        }
        // Shift the entries after `pos` down by one (by hand, as in
        // insert_at).
        let len = self.len;
        let mut i = pos;
        while i < len {
            let next = self
                .nodes
                .get(i.saturating_add(1))
                .copied()
                .unwrap_or(Node::EMPTY);
            if let Some(slot) = self.nodes.get_mut(i) {
                *slot = next;
            }
            i = i.saturating_add(1);
        }
        if let Some(last) = self.nodes.get_mut(len.saturating_sub(1)) {
            *last = Node::EMPTY;
        }
        self.len = len.saturating_sub(1);
        Ok(true)
    }

    /// Sums over the alive nodes (saturating).
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for n in self.iter().filter(|n| n.state == NodeState::Alive) {
            t.alive_nodes = t.alive_nodes.saturating_add(1);
            t.cpus = t.cpus.saturating_add(n.resources.cpus);
            t.mem_total_kib = t.mem_total_kib.saturating_add(n.resources.mem_total_kib);
            t.mem_free_kib = t.mem_free_kib.saturating_add(n.resources.mem_free_kib);
        }
        t
    }
}
