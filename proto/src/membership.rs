//! Cluster membership: a fixed-capacity table of the nodes this node knows
//! about, and the rules that change it.
//!
//! The table ([`View`]) holds at most [`MAX_NODES`] nodes, sorted by node
//! id, one entry per id. Each has a state ([`NodeState`]), the incarnation
//! it was last seen with (a node picks a new, larger incarnation each time
//! its module starts), its krpc address, the time it was last heard from
//! and its last reported [`Resources`]. Times are caller-supplied monotonic
//! milliseconds.
//!
//! The view has an epoch that goes up by one on every membership change:
//! a join, a death, a leave, a rejoin with a newer incarnation. Every
//! operation returns what changed ([`Change`], or [`Changes`] for
//! operations that can change several nodes) so that the caller can log it
//! and tell the other nodes.
//!
//! Rules:
//! - a heartbeat from an unknown node makes it join; from a known node
//!   with the same incarnation it refreshes `last_heard` and the resources
//!   of an alive node (a dead or departed node comes back only with a newer
//!   incarnation); with a newer incarnation the node rejoins; with an older
//!   one it is stale and ignored;
//! - a death notice from a peer counts only if its incarnation is the one
//!   known (stale notices are ignored);
//! - a leave counts if its incarnation is the known one or newer;
//! - [`View::expire`] declares dead the alive nodes not heard from for too
//!   long, never the local node;
//! - messages from peers about the local node are refused with
//!   [`MembershipError::LocalNode`] (a heartbeat with the local id means two
//!   nodes were given the same id).
//!
//! Nothing here allocates or panics; a full table is an error.

use super::identity::MAX_NODE_ID;
use super::wire::{JoinReply, NodeEntry, Resources, MAX_NODES_IN_REPLY};

/// Most nodes the table holds (equal to [`MAX_NODES_IN_REPLY`], so a whole
/// view fits in one [`JoinReply`]).
pub const MAX_NODES: usize = 64;

const _: () = assert!(MAX_NODES <= MAX_NODES_IN_REPLY);

/// A node id, valid in 1..=4095.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NodeId(pub u16);

impl NodeId {
    /// The id `raw`, if it is valid (1..=4095).
    pub fn new(raw: u16) -> Option<NodeId> {
        let id = NodeId(raw);
        if id.is_valid() {
            Some(id)
        } else {
            None
        }
    }

    /// Whether the id is in 1..=4095.
    pub fn is_valid(self) -> bool {
        self.0 != 0 && u32::from(self.0) <= MAX_NODE_ID
    }

    /// The raw value.
    pub fn get(self) -> u16 {
        self.0
    }
}

/// What this node believes about another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeState {
    /// Heard from recently.
    Alive,
    /// Declared dead (silent too long, or a peer said so).
    Dead,
    /// Left the cluster on purpose.
    Left,
}

impl NodeState {
    /// Lower-case name, for display.
    pub fn name(self) -> &'static str {
        match self {
            NodeState::Alive => "alive",
            NodeState::Dead => "dead",
            NodeState::Left => "left",
        }
    }
}

/// One entry of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// The node.
    pub id: NodeId,
    /// What is believed about it.
    pub state: NodeState,
    /// Incarnation last seen.
    pub incarnation: u32,
    /// krpc listener address (IPv4, network order).
    pub address: [u8; 4],
    /// krpc listener port.
    pub port: u16,
    /// When it was last heard from (caller's monotonic milliseconds).
    pub last_heard: u64,
    /// Resources it last reported.
    pub resources: Resources,
}

impl Node {
    const EMPTY: Node = Node {
        id: NodeId(0),
        state: NodeState::Dead,
        incarnation: 0,
        address: [0; 4],
        port: 0,
        last_heard: 0,
        resources: Resources::ZERO,
    };
}

/// Whether incarnation `a` is newer than `b`, in serial-number arithmetic
/// (RFC 1982): incarnations grow with time and may wrap; `a` is newer when
/// it is ahead of `b` by less than half the number space. Nodes derive them
/// from the real-time clock (see docs/protocol.md).
pub fn incarnation_newer(a: u32, b: u32) -> bool {
    let d = a.wrapping_sub(b);
    d != 0 && d < 1 << 31
}

/// What an operation changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// Nothing (a refresh, or a stale or redundant message).
    None,
    /// A node not known before joined.
    Joined(NodeId),
    /// A known node came back with a new incarnation.
    Rejoined(NodeId),
    /// A node was declared dead.
    Died(NodeId),
    /// A node left.
    Left(NodeId),
}

impl Change {
    /// Whether this is a membership change (anything but [`Change::None`]).
    pub fn is_change(self) -> bool {
        self != Change::None
    }

    /// The node concerned, if any.
    pub fn node(self) -> Option<NodeId> {
        match self {
            Change::None => None,
            Change::Joined(id) | Change::Rejoined(id) | Change::Died(id) | Change::Left(id) => {
                Some(id)
            }
        }
    }

    /// A verb for logs: "joined", "rejoined", "died", "left" or "none".
    pub fn describe(self) -> &'static str {
        match self {
            Change::None => "none",
            Change::Joined(_) => "joined",
            Change::Rejoined(_) => "rejoined",
            Change::Died(_) => "died",
            Change::Left(_) => "left",
        }
    }
}

/// The changes made by an operation on several nodes, in table order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    items: [Change; MAX_NODES],
    len: usize,
    table_full: bool,
}

impl Changes {
    const fn new() -> Changes {
        Changes {
            items: [Change::None; MAX_NODES],
            len: 0,
            table_full: false,
        }
    }

    fn push(&mut self, c: Change) {
        if !c.is_change() {
            return;
        }
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = c;
            self.len = self.len.saturating_add(1);
        }
    }

    /// The changes.
    pub fn as_slice(&self) -> &[Change] {
        self.items.get(..self.len).unwrap_or(&[])
    }

    /// Iterates over the changes.
    pub fn iter(&self) -> core::slice::Iter<'_, Change> {
        self.as_slice().iter()
    }

    /// Number of changes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether some nodes could not be added because the table was full.
    pub fn table_full(&self) -> bool {
        self.table_full
    }
}

impl<'a> IntoIterator for &'a Changes {
    type Item = &'a Change;
    type IntoIter = core::slice::Iter<'a, Change>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Why an operation was refused. The view is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipError {
    /// Node id 0 or above 4095.
    BadNodeId,
    /// The table already holds [`MAX_NODES`] nodes.
    TableFull,
    /// A peer's message about the local node (for a heartbeat: two nodes
    /// share an id).
    LocalNode,
    /// The local node was already set, with another id.
    LocalChanged,
    /// [`View::forget`] of an alive or the local node.
    StillAlive,
    /// The local node is not set.
    NoLocal,
}

impl MembershipError {
    /// A short explanation, for logs and error messages.
    pub fn describe(self) -> &'static str {
        match self {
            MembershipError::BadNodeId => "node id out of range",
            MembershipError::TableFull => "membership table full",
            MembershipError::LocalNode => "message about the local node",
            MembershipError::LocalChanged => "local node id already set to another id",
            MembershipError::StillAlive => "node is alive or local",
            MembershipError::NoLocal => "local node not set",
        }
    }
}

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
    epoch: u64,
    local: Option<NodeId>,
    len: usize,
    nodes: [Node; MAX_NODES],
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
    fn find(&self, id: NodeId) -> Result<usize, usize> {
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

    fn get_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        let i = self.find(id).ok()?;
        self.nodes.get_mut(..self.len).and_then(|s| s.get_mut(i))
    }

    fn bump(&mut self) {
        self.epoch = self.epoch.saturating_add(1);
    }

    /// Inserts `node` at `pos` (from a failed [`View::find`]).
    fn insert_at(&mut self, pos: usize, node: Node) -> Result<(), MembershipError> {
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

    fn check_remote(&self, id: NodeId) -> Result<(), MembershipError> {
        if !id.is_valid() {
            return Err(MembershipError::BadNodeId);
        }
        if self.local == Some(id) {
            return Err(MembershipError::LocalNode);
        }
        Ok(())
    }

    /// Sets (or updates) the local node; it is alive and never expires.
    /// Returns `Joined` the first time, `Rejoined` when the incarnation
    /// changes, `None` when only the address or port changes.
    pub fn set_local(
        &mut self,
        id: NodeId,
        incarnation: u32,
        address: [u8; 4],
        port: u16,
    ) -> Result<Change, MembershipError> {
        if !id.is_valid() {
            return Err(MembershipError::BadNodeId);
        }
        if matches!(self.local, Some(l) if l != id) {
            return Err(MembershipError::LocalChanged);
        }
        let change = match self.find(id) {
            Ok(_) => {
                let node = self.get_mut(id).ok_or(MembershipError::TableFull)?;
                let rejoined = node.incarnation != incarnation || node.state != NodeState::Alive;
                node.address = address;
                node.port = port;
                if rejoined {
                    node.incarnation = incarnation;
                    node.state = NodeState::Alive;
                    self.bump();
                    Change::Rejoined(id)
                } else {
                    Change::None
                }
            }
            Err(pos) => {
                let node = Node {
                    id,
                    state: NodeState::Alive,
                    incarnation,
                    address,
                    port,
                    last_heard: 0,
                    resources: Resources::ZERO,
                };
                self.insert_at(pos, node)?;
                self.bump();
                Change::Joined(id)
            }
        };
        self.local = Some(id);
        Ok(change)
    }

    /// Records the local node's own resources (for [`View::totals`]).
    pub fn update_local(
        &mut self,
        resources: Resources,
        now_ms: u64,
    ) -> Result<(), MembershipError> {
        let id = self.local.ok_or(MembershipError::NoLocal)?;
        let node = self.get_mut(id).ok_or(MembershipError::NoLocal)?;
        node.resources = resources;
        node.last_heard = now_ms;
        Ok(())
    }

    /// A heartbeat (or join request) from node `id`, received directly
    /// from it.
    pub fn on_heartbeat(
        &mut self,
        id: NodeId,
        incarnation: u32,
        address: [u8; 4],
        port: u16,
        resources: Resources,
        now_ms: u64,
    ) -> Result<Change, MembershipError> {
        self.check_remote(id)?;
        let fresh = Node {
            id,
            state: NodeState::Alive,
            incarnation,
            address,
            port,
            last_heard: now_ms,
            resources,
        };
        let pos = match self.find(id) {
            Ok(_) => {
                let node = self.get_mut(id).ok_or(MembershipError::TableFull)?;
                if incarnation_newer(node.incarnation, incarnation) {
                    return Ok(Change::None);
                }
                if incarnation == node.incarnation {
                    if node.state == NodeState::Alive {
                        node.last_heard = now_ms;
                        node.resources = resources;
                        node.address = address;
                        node.port = port;
                    }
                    return Ok(Change::None);
                }
                *node = fresh;
                self.bump();
                return Ok(Change::Rejoined(id));
            }
            Err(pos) => pos,
        };
        self.insert_at(pos, fresh)?;
        self.bump();
        Ok(Change::Joined(id))
    }

    /// A peer says node `id` died in `incarnation`. Counts only if that is
    /// the incarnation known and the node is alive.
    pub fn on_node_dead(
        &mut self,
        id: NodeId,
        incarnation: u32,
    ) -> Result<Change, MembershipError> {
        self.check_remote(id)?;
        let Some(node) = self.get_mut(id) else {
            return Ok(Change::None);
        };
        if node.incarnation != incarnation || node.state != NodeState::Alive {
            return Ok(Change::None);
        }
        node.state = NodeState::Dead;
        self.bump();
        Ok(Change::Died(id))
    }

    /// Node `id` leaves in `incarnation`. Counts if that is the incarnation
    /// known (the node alive or dead) or a newer one (which it then
    /// records); unknown nodes and older incarnations are ignored.
    pub fn on_leave(&mut self, id: NodeId, incarnation: u32) -> Result<Change, MembershipError> {
        self.check_remote(id)?;
        let Some(node) = self.get_mut(id) else {
            return Ok(Change::None);
        };
        if incarnation_newer(node.incarnation, incarnation)
            || (incarnation == node.incarnation && node.state == NodeState::Left)
        {
            return Ok(Change::None);
        }
        node.incarnation = incarnation;
        node.state = NodeState::Left;
        self.bump();
        Ok(Change::Left(id))
    }

    /// Any authenticated frame from node `id` (of `incarnation`) arrived at
    /// `now_ms`: an alive node of that incarnation was heard from. A busy
    /// connection whose heartbeats wait behind bulk data in the receiver's
    /// queue is not taken for a dead node. Whether it refreshed anything.
    pub fn heard_from(&mut self, id: NodeId, incarnation: u32, now_ms: u64) -> bool {
        if self.local == Some(id) {
            return false;
        }
        match self.get_mut(id) {
            Some(node) if node.state == NodeState::Alive && node.incarnation == incarnation => {
                node.last_heard = node.last_heard.max(now_ms);
                true
            }
            _ => false,
        }
    }

    /// Declares dead every alive node other than the local one whose
    /// `last_heard` is more than `dead_after_ms` before `now_ms`.
    pub fn expire(&mut self, now_ms: u64, dead_after_ms: u64) -> Changes {
        let mut changes = Changes::new();
        let local = self.local;
        let len = self.len;
        for node in self.nodes.iter_mut().take(len) {
            if node.state == NodeState::Alive
                && Some(node.id) != local
                && now_ms.saturating_sub(node.last_heard) > dead_after_ms
            {
                node.state = NodeState::Dead;
                changes.push(Change::Died(node.id));
            }
        }
        for _ in changes.iter() {
            self.bump();
        }
        changes
    }

    /// Merges a peer's [`JoinReply`] (second-hand information):
    /// - alive entries of unknown nodes join (heard at `now_ms`, resources
    ///   unknown until their first heartbeat);
    /// - alive entries with a newer incarnation rejoin;
    /// - dead entries with the known incarnation of an alive node make it
    ///   die;
    /// - everything else (the local node, invalid ids, same or older
    ///   incarnations, dead unknown nodes) is ignored: second-hand news
    ///   never refreshes `last_heard` nor revives an incarnation.
    ///
    /// Entries that do not fit in the table are skipped and reported by
    /// [`Changes::table_full`].
    pub fn merge_join_reply(&mut self, reply: &JoinReply, now_ms: u64) -> Changes {
        let mut changes = Changes::new();
        let used = reply.used();
        for (k, e) in used.iter().enumerate() {
            let id = NodeId(e.node_id);
            // A reply lists each node once: later duplicates are ignored
            // (incarnations compare as serial numbers, which are not
            // transitive, so a list could otherwise cycle a node through
            // incarnations back to the one it had).
            if self.check_remote(id).is_err() || used[..k].iter().any(|p| p.node_id == e.node_id) {
                continue;
            }
            let change = if e.alive {
                match self.get(id) {
                    Some(n) if !incarnation_newer(e.incarnation, n.incarnation) => Change::None,
                    _ => match self.on_heartbeat(
                        id,
                        e.incarnation,
                        e.address,
                        e.port,
                        Resources::ZERO,
                        now_ms,
                    ) {
                        Ok(c) => c,
                        Err(_) => {
                            changes.table_full = true;
                            Change::None
                        }
                    },
                }
            } else {
                self.on_node_dead(id, e.incarnation).unwrap_or(Change::None)
            };
            changes.push(change);
        }
        changes
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

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    const ADDR: [u8; 4] = [10, 99, 0, 1];

    fn id(n: u16) -> NodeId {
        NodeId(n)
    }

    fn res(cpus: u32, total: u64, free: u64) -> Resources {
        Resources {
            cpus,
            mem_total_kib: total,
            mem_free_kib: free,
            load: [0; 3],
        }
    }

    fn view_with_local() -> View {
        let mut v = View::new();
        assert_eq!(
            v.set_local(id(1), 100, ADDR, 7070),
            Ok(Change::Joined(id(1)))
        );
        v
    }

    #[test]
    fn any_frame_keeps_a_node_alive() {
        let mut v = View::new();
        v.set_local(id(1), 1, [10, 0, 0, 1], 7070).unwrap();
        v.on_heartbeat(id(2), 5, [10, 0, 0, 2], 7070, Resources::default(), 100)
            .unwrap();
        assert!(v.heard_from(id(2), 5, 4000));
        assert!(v.expire(6000, 5000).is_empty());
        // Another incarnation, an unknown node, the local node: nothing.
        assert!(!v.heard_from(id(2), 6, 9000));
        assert!(!v.heard_from(id(3), 1, 9000));
        assert!(!v.heard_from(id(1), 1, 9000));
        assert_eq!(v.expire(9500, 5000).len(), 1);
        // A dead node is not revived by a late frame.
        assert!(!v.heard_from(id(2), 5, 9600));
    }

    #[test]
    fn node_ids() {
        assert_eq!(NodeId::new(0), None);
        assert_eq!(NodeId::new(1), Some(NodeId(1)));
        assert_eq!(NodeId::new(4095), Some(NodeId(4095)));
        assert_eq!(NodeId::new(4096), None);
        assert_eq!(NodeId(7).get(), 7);
        let mut v = View::new();
        for bad in [0, 4096, u16::MAX] {
            let b = NodeId(bad);
            assert_eq!(v.set_local(b, 1, ADDR, 1), Err(MembershipError::BadNodeId));
            assert_eq!(
                v.on_heartbeat(b, 1, ADDR, 1, Resources::ZERO, 0),
                Err(MembershipError::BadNodeId)
            );
            assert_eq!(v.on_node_dead(b, 1), Err(MembershipError::BadNodeId));
            assert_eq!(v.on_leave(b, 1), Err(MembershipError::BadNodeId));
            assert_eq!(v.forget(b), Err(MembershipError::BadNodeId));
        }
        assert_eq!(v, View::new());
    }

    #[test]
    fn set_local() {
        let mut v = View::default();
        assert_eq!(v.local(), None);
        assert_eq!(
            v.update_local(Resources::ZERO, 0),
            Err(MembershipError::NoLocal)
        );
        assert_eq!(v.set_local(id(5), 1, ADDR, 7070), Ok(Change::Joined(id(5))));
        assert_eq!(v.epoch(), 1);
        assert_eq!(v.local(), Some(id(5)));
        assert_eq!(
            v.set_local(id(6), 1, ADDR, 7070),
            Err(MembershipError::LocalChanged)
        );
        // Same incarnation: only the address changes, not the membership.
        assert_eq!(v.set_local(id(5), 1, [1, 1, 1, 1], 7071), Ok(Change::None));
        assert_eq!(v.epoch(), 1);
        assert_eq!(
            v.get(id(5)).map(|n| (n.address, n.port)),
            Some(([1, 1, 1, 1], 7071))
        );
        assert_eq!(
            v.set_local(id(5), 2, ADDR, 7070),
            Ok(Change::Rejoined(id(5)))
        );
        assert_eq!(v.epoch(), 2);
        assert_eq!(v.update_local(res(4, 100, 50), 9), Ok(()));
        assert_eq!(
            v.totals(),
            Totals {
                alive_nodes: 1,
                cpus: 4,
                mem_total_kib: 100,
                mem_free_kib: 50
            }
        );
        // Peers' messages about the local node are refused and change nothing.
        let before = v.clone();
        assert_eq!(
            v.on_heartbeat(id(5), 99, ADDR, 1, Resources::ZERO, 5),
            Err(MembershipError::LocalNode)
        );
        assert_eq!(v.on_node_dead(id(5), 2), Err(MembershipError::LocalNode));
        assert_eq!(v.on_leave(id(5), 2), Err(MembershipError::LocalNode));
        assert_eq!(v.forget(id(5)), Err(MembershipError::StillAlive));
        assert_eq!(v, before);
    }

    #[test]
    fn set_local_over_a_known_entry() {
        let mut v = View::new();
        assert_eq!(
            v.on_heartbeat(id(2), 3, ADDR, 1, Resources::ZERO, 0),
            Ok(Change::Joined(id(2)))
        );
        assert_eq!(v.set_local(id(2), 3, ADDR, 1), Ok(Change::None));
        assert_eq!(v.len(), 1);
        let mut v = View::new();
        v.on_heartbeat(id(2), 3, ADDR, 1, Resources::ZERO, 0)
            .unwrap();
        v.on_node_dead(id(2), 3).unwrap();
        assert_eq!(v.set_local(id(2), 3, ADDR, 1), Ok(Change::Rejoined(id(2))));
        assert_eq!(v.get(id(2)).map(|n| n.state), Some(NodeState::Alive));
    }

    #[test]
    fn heartbeat_rules() {
        let mut v = view_with_local();
        let r1 = res(2, 1000, 500);
        let r2 = res(2, 1000, 400);
        // Unknown: joins.
        assert_eq!(
            v.on_heartbeat(id(3), 10, ADDR, 7070, r1, 100),
            Ok(Change::Joined(id(3)))
        );
        assert_eq!(v.epoch(), 2);
        let n = *v.get(id(3)).unwrap();
        assert_eq!(
            (n.state, n.incarnation, n.last_heard, n.resources),
            (NodeState::Alive, 10, 100, r1)
        );
        // Same incarnation: refresh only.
        assert_eq!(
            v.on_heartbeat(id(3), 10, ADDR, 7070, r2, 200),
            Ok(Change::None)
        );
        assert_eq!(v.epoch(), 2);
        let n = *v.get(id(3)).unwrap();
        assert_eq!((n.last_heard, n.resources), (200, r2));
        // Older incarnation: stale, nothing changes.
        let before = v.clone();
        assert_eq!(
            v.on_heartbeat(id(3), 9, [9; 4], 1, r1, 300),
            Ok(Change::None)
        );
        assert_eq!(v, before);
        // Newer incarnation: rejoins.
        assert_eq!(
            v.on_heartbeat(id(3), 11, [9; 4], 1, r1, 400),
            Ok(Change::Rejoined(id(3)))
        );
        assert_eq!(v.epoch(), 3);
        let n = *v.get(id(3)).unwrap();
        assert_eq!(
            (n.state, n.incarnation, n.address, n.port, n.last_heard),
            (NodeState::Alive, 11, [9; 4], 1, 400)
        );
    }

    #[test]
    fn incarnations_compare_across_wrap() {
        assert!(incarnation_newer(2, 1));
        assert!(!incarnation_newer(1, 2));
        assert!(!incarnation_newer(5, 5));
        assert!(incarnation_newer(3, u32::MAX - 2));
        assert!(!incarnation_newer(u32::MAX - 2, 3));
    }

    #[test]
    fn dead_nodes_revive_only_with_a_newer_incarnation() {
        let mut v = view_with_local();
        v.on_heartbeat(id(3), 10, ADDR, 1, res(1, 1, 1), 0).unwrap();
        assert_eq!(v.on_node_dead(id(3), 10), Ok(Change::Died(id(3))));
        let e = v.epoch();
        let before = v.clone();
        assert_eq!(
            v.on_heartbeat(id(3), 10, ADDR, 1, res(8, 8, 8), 50),
            Ok(Change::None)
        );
        assert_eq!(v, before);
        assert_eq!(
            v.on_heartbeat(id(3), 11, ADDR, 1, res(8, 8, 8), 50),
            Ok(Change::Rejoined(id(3)))
        );
        assert_eq!(v.epoch(), e + 1);
        assert_eq!(v.get(id(3)).map(|n| n.state), Some(NodeState::Alive));
        // Same for departed nodes.
        assert_eq!(v.on_leave(id(3), 11), Ok(Change::Left(id(3))));
        let before = v.clone();
        assert_eq!(
            v.on_heartbeat(id(3), 11, ADDR, 1, res(8, 8, 8), 60),
            Ok(Change::None)
        );
        assert_eq!(v, before);
        assert_eq!(
            v.on_heartbeat(id(3), 12, ADDR, 1, res(8, 8, 8), 60),
            Ok(Change::Rejoined(id(3)))
        );
    }

    #[test]
    fn node_dead_rules() {
        let mut v = view_with_local();
        assert_eq!(v.on_node_dead(id(3), 10), Ok(Change::None)); // unknown
        assert_eq!(v.len(), 1);
        v.on_heartbeat(id(3), 10, ADDR, 1, Resources::ZERO, 0)
            .unwrap();
        let before = v.clone();
        assert_eq!(v.on_node_dead(id(3), 9), Ok(Change::None)); // stale
        assert_eq!(v.on_node_dead(id(3), 11), Ok(Change::None)); // not the known incarnation
        assert_eq!(v, before);
        assert_eq!(v.on_node_dead(id(3), 10), Ok(Change::Died(id(3))));
        assert_eq!(v.epoch(), before.epoch() + 1);
        assert_eq!(v.on_node_dead(id(3), 10), Ok(Change::None)); // already dead
        assert_eq!(v.epoch(), before.epoch() + 1);
    }

    #[test]
    fn leave_rules() {
        let mut v = view_with_local();
        assert_eq!(v.on_leave(id(3), 10), Ok(Change::None)); // unknown
        v.on_heartbeat(id(3), 10, ADDR, 1, Resources::ZERO, 0)
            .unwrap();
        let before = v.clone();
        assert_eq!(v.on_leave(id(3), 9), Ok(Change::None)); // stale
        assert_eq!(v, before);
        assert_eq!(v.on_leave(id(3), 10), Ok(Change::Left(id(3))));
        assert_eq!(v.get(id(3)).map(|n| n.state), Some(NodeState::Left));
        assert_eq!(v.on_leave(id(3), 10), Ok(Change::None)); // already left
                                                             // A dead node can still leave; a newer incarnation is recorded.
        v.on_heartbeat(id(4), 1, ADDR, 1, Resources::ZERO, 0)
            .unwrap();
        v.on_node_dead(id(4), 1).unwrap();
        assert_eq!(v.on_leave(id(4), 1), Ok(Change::Left(id(4))));
        v.on_heartbeat(id(5), 1, ADDR, 1, Resources::ZERO, 0)
            .unwrap();
        assert_eq!(v.on_leave(id(5), 3), Ok(Change::Left(id(5))));
        assert_eq!(
            v.get(id(5)).map(|n| (n.state, n.incarnation)),
            Some((NodeState::Left, 3))
        );
        assert_eq!(v.totals().alive_nodes, 1);
    }

    #[test]
    fn expiry() {
        let mut v = view_with_local();
        v.on_heartbeat(id(2), 1, ADDR, 1, Resources::ZERO, 1000)
            .unwrap();
        v.on_heartbeat(id(3), 1, ADDR, 1, Resources::ZERO, 2000)
            .unwrap();
        v.on_heartbeat(id(4), 1, ADDR, 1, Resources::ZERO, 500)
            .unwrap();
        v.on_node_dead(id(4), 1).unwrap();
        let e = v.epoch();
        // Exactly dead_after old: still alive.
        assert!(v.expire(4000, 3000).is_empty());
        // Clock before last_heard: nothing expires.
        assert!(v.expire(0, 0).is_empty());
        let c = v.expire(4001, 3000);
        assert_eq!(c.as_slice(), &[Change::Died(id(2))]);
        assert_eq!(v.epoch(), e + 1);
        let c = v.expire(u64::MAX, 0);
        assert_eq!(c.len(), 1);
        assert_eq!(c.iter().copied().collect::<Vec<_>>(), [Change::Died(id(3))]);
        assert!(!c.table_full());
        assert_eq!(v.epoch(), e + 2);
        // The local node never expires.
        assert_eq!(v.get(id(1)).map(|n| n.state), Some(NodeState::Alive));
        assert!(v.expire(u64::MAX, 0).is_empty());
        assert_eq!(v.totals().alive_nodes, 1);
    }

    #[test]
    fn totals_over_alive_nodes() {
        let mut v = view_with_local();
        v.update_local(res(4, 1000, 100), 0).unwrap();
        v.on_heartbeat(id(2), 1, ADDR, 1, res(8, 2000, 200), 0)
            .unwrap();
        v.on_heartbeat(id(3), 1, ADDR, 1, res(16, 4000, 400), 0)
            .unwrap();
        assert_eq!(
            v.totals(),
            Totals {
                alive_nodes: 3,
                cpus: 28,
                mem_total_kib: 7000,
                mem_free_kib: 700
            }
        );
        v.on_node_dead(id(3), 1).unwrap();
        assert_eq!(
            v.totals(),
            Totals {
                alive_nodes: 2,
                cpus: 12,
                mem_total_kib: 3000,
                mem_free_kib: 300
            }
        );
        v.on_heartbeat(id(4), 1, ADDR, 1, res(u32::MAX, u64::MAX, u64::MAX), 0)
            .unwrap();
        assert_eq!(
            v.totals(),
            Totals {
                alive_nodes: 3,
                cpus: u32::MAX,
                mem_total_kib: u64::MAX,
                mem_free_kib: u64::MAX
            }
        );
    }

    #[test]
    fn table_full_and_forget() {
        let mut v = view_with_local();
        for n in 2..=64u16 {
            assert_eq!(
                v.on_heartbeat(id(n * 10), 1, ADDR, 1, Resources::ZERO, 0),
                Ok(Change::Joined(id(n * 10)))
            );
        }
        assert_eq!(v.len(), MAX_NODES);
        let before = v.clone();
        assert_eq!(
            v.on_heartbeat(id(4000), 1, ADDR, 1, Resources::ZERO, 0),
            Err(MembershipError::TableFull)
        );
        assert_eq!(
            v.on_heartbeat(id(5), 1, ADDR, 1, Resources::ZERO, 0),
            Err(MembershipError::TableFull)
        );
        assert_eq!(v, before);
        // Known nodes still work.
        assert_eq!(
            v.on_heartbeat(id(20), 2, ADDR, 1, Resources::ZERO, 0),
            Ok(Change::Rejoined(id(20)))
        );
        // Sorted by id.
        assert!(v.nodes().windows(2).all(|w| w[0].id < w[1].id));
        // Make room.
        assert_eq!(v.forget(id(30)), Err(MembershipError::StillAlive));
        v.on_node_dead(id(30), 1).unwrap();
        let e = v.epoch();
        assert_eq!(v.forget(id(30)), Ok(true));
        assert_eq!(v.forget(id(30)), Ok(false));
        assert_eq!(v.epoch(), e);
        assert_eq!(v.len(), MAX_NODES - 1);
        assert!(v.get(id(30)).is_none());
        assert_eq!(
            v.on_heartbeat(id(5), 1, ADDR, 1, Resources::ZERO, 0),
            Ok(Change::Joined(id(5)))
        );
        assert!(v.nodes().windows(2).all(|w| w[0].id < w[1].id));
        assert_eq!(v.iter().count(), MAX_NODES);
        // A join reply cannot add more either.
        let mut jr = JoinReply {
            count: 1,
            ..JoinReply::default()
        };
        jr.entries[0] = NodeEntry {
            node_id: 4001,
            incarnation: 1,
            address: ADDR,
            port: 1,
            alive: true,
        };
        let c = v.merge_join_reply(&jr, 0);
        assert!(c.is_empty() && c.table_full());
        // set_local on a full table.
        let mut w = View::new();
        for n in 1..=64u16 {
            w.on_heartbeat(id(n), 1, ADDR, 1, Resources::ZERO, 0)
                .unwrap();
        }
        assert_eq!(
            w.set_local(id(100), 1, ADDR, 1),
            Err(MembershipError::TableFull)
        );
        assert_eq!(w.local(), None);
    }

    #[test]
    fn join_reply_round_trip() {
        let mut a = view_with_local();
        a.on_heartbeat(id(2), 5, [1, 2, 3, 4], 7000, res(1, 1, 1), 10)
            .unwrap();
        a.on_heartbeat(id(3), 6, [1, 2, 3, 5], 7001, res(1, 1, 1), 10)
            .unwrap();
        a.on_node_dead(id(3), 6).unwrap();
        // Stale content is overwritten.
        let mut jr = JoinReply {
            count: 9,
            view_epoch: 77,
            ..JoinReply::default()
        };
        jr.entries[5].node_id = 99;
        a.fill_join_reply(&mut jr);
        assert_eq!(jr.view_epoch, a.epoch());
        assert_eq!(jr.count, 3);
        assert_eq!(
            jr.entries[1],
            NodeEntry {
                node_id: 2,
                incarnation: 5,
                address: [1, 2, 3, 4],
                port: 7000,
                alive: true
            }
        );
        assert!(!jr.entries[2].alive);
        assert!(jr.entries[3..].iter().all(|e| *e == NodeEntry::EMPTY));
        // Encodes.
        let mut buf = [0u8; JoinReply::MAX_LEN];
        let n = jr.encode(&mut buf).unwrap();
        assert_eq!(JoinReply::decode(&buf[..n]), Ok(jr.clone()));

        // A joiner merges it: node 1 and 2 join (alive), 3 is dead and unknown: skipped.
        let mut b = View::new();
        b.set_local(id(9), 1, ADDR, 1).unwrap();
        let e = b.epoch();
        let c = b.merge_join_reply(&jr, 500);
        assert_eq!(
            c.as_slice(),
            &[Change::Joined(id(1)), Change::Joined(id(2))]
        );
        assert_eq!(b.epoch(), e + 2);
        let n2 = *b.get(id(2)).unwrap();
        assert_eq!(
            (
                n2.incarnation,
                n2.address,
                n2.port,
                n2.last_heard,
                n2.resources
            ),
            (5, [1, 2, 3, 4], 7000, 500, Resources::ZERO)
        );
        assert!(b.get(id(3)).is_none());
        // Merging again changes nothing (no refresh from second-hand news).
        let before = b.clone();
        assert!(b.merge_join_reply(&jr, 900).is_empty());
        assert_eq!(b, before);
    }

    #[test]
    fn merge_rules() {
        let mut v = view_with_local();
        v.on_heartbeat(id(2), 5, ADDR, 1, res(3, 3, 3), 10).unwrap();
        v.on_heartbeat(id(3), 5, ADDR, 1, res(3, 3, 3), 10).unwrap();
        v.on_heartbeat(id(4), 5, ADDR, 1, res(3, 3, 3), 10).unwrap();
        v.on_node_dead(id(4), 5).unwrap();
        let mut jr = JoinReply {
            view_epoch: 1000,
            ..JoinReply::default()
        };
        let entries = [
            NodeEntry {
                node_id: 1,
                incarnation: 999,
                address: ADDR,
                port: 1,
                alive: false,
            }, // local: ignored
            NodeEntry {
                node_id: 2,
                incarnation: 6,
                address: [7; 4],
                port: 2,
                alive: true,
            }, // newer: rejoin
            NodeEntry {
                node_id: 3,
                incarnation: 5,
                address: ADDR,
                port: 1,
                alive: false,
            }, // same inc, dead: dies
            NodeEntry {
                node_id: 4,
                incarnation: 5,
                address: ADDR,
                port: 1,
                alive: true,
            }, // same inc: no revival
            NodeEntry {
                node_id: 5,
                incarnation: 1,
                address: ADDR,
                port: 1,
                alive: true,
            }, // unknown: joins
            NodeEntry {
                node_id: 0,
                incarnation: 1,
                address: ADDR,
                port: 1,
                alive: true,
            }, // invalid: skipped
        ];
        jr.entries[..entries.len()].copy_from_slice(&entries);
        jr.count = entries.len() as u16;
        let e = v.epoch();
        let c = v.merge_join_reply(&jr, 50);
        assert_eq!(
            c.as_slice(),
            &[
                Change::Rejoined(id(2)),
                Change::Died(id(3)),
                Change::Joined(id(5))
            ]
        );
        assert_eq!(v.epoch(), e + 3);
        assert_eq!(
            v.get(id(1)).map(|n| (n.state, n.incarnation)),
            Some((NodeState::Alive, 100))
        );
        assert_eq!(
            v.get(id(2))
                .map(|n| (n.incarnation, n.address, n.resources)),
            Some((6, [7; 4], Resources::ZERO))
        );
        assert_eq!(v.get(id(4)).map(|n| n.state), Some(NodeState::Dead));
        assert!(v.get(id(0)).is_none());
        // A count beyond the array is clamped, not a panic.
        jr.count = u16::MAX;
        let _ = v.merge_join_reply(&jr, 60);
    }

    #[test]
    fn change_helpers() {
        assert!(!Change::None.is_change());
        assert_eq!(Change::None.node(), None);
        for c in [
            Change::Joined(id(2)),
            Change::Rejoined(id(2)),
            Change::Died(id(2)),
            Change::Left(id(2)),
        ] {
            assert!(c.is_change());
            assert_eq!(c.node(), Some(id(2)));
            assert!(!c.describe().is_empty());
        }
        for s in [NodeState::Alive, NodeState::Dead, NodeState::Left] {
            assert!(!s.name().is_empty());
        }
        for e in [
            MembershipError::BadNodeId,
            MembershipError::TableFull,
            MembershipError::LocalNode,
            MembershipError::LocalChanged,
            MembershipError::StillAlive,
            MembershipError::NoLocal,
        ] {
            assert!(!e.describe().is_empty());
        }
        let mut count = 0;
        for _ in &Changes::new() {
            count += 1;
        }
        assert_eq!(count, 0);
    }

    // ---- property tests: random operation sequences ----

    #[derive(Debug, Clone)]
    enum Op {
        SetLocal(u16, u32),
        UpdateLocal(u32, u64),
        Heartbeat(u16, u32, u32, u64, u64),
        Dead(u16, u32),
        Leave(u16, u32),
        Tick(u64),
        Expire(u64),
        Merge(u64, Vec<(u16, u32, bool)>),
        Forget(u16),
        /// Heartbeats from `k` new nodes, to reach a full table.
        Fill(u16),
    }

    fn any_id() -> impl Strategy<Value = u16> {
        prop_oneof![
            10 => 1u16..=6,
            3 => 1u16..=4095,
            1 => Just(0u16),
            1 => 4096u16..=u16::MAX,
        ]
    }

    fn inc() -> impl Strategy<Value = u32> {
        prop_oneof![8 => 0u32..4, 1 => any::<u32>()]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            1 => (any_id(), inc()).prop_map(|(i, n)| Op::SetLocal(i, n)),
            1 => (any::<u32>(), any::<u64>()).prop_map(|(c, m)| Op::UpdateLocal(c, m)),
            10 => (any_id(), inc(), any::<u32>(), any::<u64>(), any::<u64>()).prop_map(|(i, n, c, a, b)| Op::Heartbeat(i, n, c, a, b)),
            4 => (any_id(), inc()).prop_map(|(i, n)| Op::Dead(i, n)),
            3 => (any_id(), inc()).prop_map(|(i, n)| Op::Leave(i, n)),
            4 => prop_oneof![0u64..5000, Just(u64::MAX / 4)].prop_map(Op::Tick),
            3 => (0u64..5000).prop_map(Op::Expire),
            2 => (any::<u64>(), proptest::collection::vec((any_id(), inc(), any::<bool>()), 0..12)).prop_map(|(e, l)| Op::Merge(e, l)),
            1 => any_id().prop_map(Op::Forget),
            1 => (0u16..70).prop_map(Op::Fill),
        ]
    }

    /// The incarnation an op carries for a remote node, if the op can be
    /// stale (older than the known incarnation).
    fn remote_inc(op: &Op) -> Option<(u16, u32)> {
        match *op {
            Op::Heartbeat(i, n, ..) | Op::Dead(i, n) | Op::Leave(i, n) => Some((i, n)),
            _ => None,
        }
    }

    fn check_invariants(v: &View) -> Result<(), TestCaseError> {
        let nodes = v.nodes();
        prop_assert_eq!(nodes.len(), v.len());
        prop_assert!(v.len() <= MAX_NODES);
        // Strictly sorted: at most one entry per id.
        prop_assert!(nodes.windows(2).all(|w| w[0].id < w[1].id));
        prop_assert!(nodes.iter().all(|n| n.id.is_valid()));
        // Totals are the sums over alive nodes.
        let mut t = Totals::default();
        for n in nodes.iter().filter(|n| n.state == NodeState::Alive) {
            t.alive_nodes += 1;
            t.cpus = t.cpus.saturating_add(n.resources.cpus);
            t.mem_total_kib = t.mem_total_kib.saturating_add(n.resources.mem_total_kib);
            t.mem_free_kib = t.mem_free_kib.saturating_add(n.resources.mem_free_kib);
        }
        prop_assert_eq!(v.totals(), t);
        // The local node is always there and alive.
        if let Some(l) = v.local() {
            prop_assert_eq!(v.get(l).map(|n| n.state), Some(NodeState::Alive));
        }
        // A join reply of the view round-trips through the wire format.
        let mut jr = JoinReply::default();
        v.fill_join_reply(&mut jr);
        prop_assert_eq!(usize::from(jr.count), v.len());
        let mut buf = [0u8; JoinReply::MAX_LEN];
        let n = jr
            .encode(&mut buf)
            .map_err(|e| TestCaseError::fail(e.describe()))?;
        prop_assert_eq!(JoinReply::decode(&buf[..n]), Ok(jr));
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn random_operation_sequences(ops in proptest::collection::vec(op(), 0..80)) {
            let mut v = View::new();
            let mut now = 0u64;
            for op in ops {
                let before = v.clone();
                let stale = remote_inc(&op).and_then(|(i, n)| {
                    let known = v.get(NodeId(i))?;
                    let is_stale = match op {
                        Op::Dead(..) => n != known.incarnation,
                        _ => incarnation_newer(known.incarnation, n),
                    };
                    Some(is_stale)
                }).unwrap_or(false);
                let changed: usize = match op.clone() {
                    Op::SetLocal(i, n) => {
                        usize::from(v.set_local(NodeId(i), n, [1; 4], 7070).is_ok_and(Change::is_change))
                    }
                    Op::UpdateLocal(cpus, mem) => {
                        let _ = v.update_local(res(cpus, mem, mem / 2), now);
                        0
                    }
                    Op::Heartbeat(i, n, cpus, a, b) => {
                        let r = v.on_heartbeat(NodeId(i), n, [2; 4], 1, res(cpus, a.max(b), a.min(b)), now);
                        if let Ok(c) = r {
                            let node = v.get(NodeId(i)).copied();
                            match c {
                                Change::Joined(_) => prop_assert!(before.get(NodeId(i)).is_none()),
                                Change::Rejoined(_) => prop_assert!(before.get(NodeId(i)).is_some_and(|o| incarnation_newer(n, o.incarnation))),
                                _ => {}
                            }
                            if c.is_change() {
                                prop_assert_eq!(node.map(|x| (x.state, x.incarnation, x.last_heard)), Some((NodeState::Alive, n, now)));
                            }
                        }
                        usize::from(r.is_ok_and(Change::is_change))
                    }
                    Op::Dead(i, n) => {
                        let r = v.on_node_dead(NodeId(i), n);
                        if r == Ok(Change::Died(NodeId(i))) {
                            prop_assert_eq!(v.get(NodeId(i)).map(|x| (x.state, x.incarnation)), Some((NodeState::Dead, n)));
                        }
                        usize::from(r.is_ok_and(Change::is_change))
                    }
                    Op::Leave(i, n) => usize::from(v.on_leave(NodeId(i), n).is_ok_and(Change::is_change)),
                    Op::Tick(d) => {
                        now = now.saturating_add(d);
                        0
                    }
                    Op::Expire(after) => {
                        let c = v.expire(now, after);
                        for ch in &c {
                            prop_assert!(matches!(ch, Change::Died(_)));
                            prop_assert_ne!(ch.node(), v.local());
                        }
                        // Nothing alive and remote is left overdue.
                        for n in v.iter() {
                            if n.state == NodeState::Alive && Some(n.id) != v.local() {
                                prop_assert!(now.saturating_sub(n.last_heard) <= after);
                            }
                        }
                        c.len()
                    }
                    Op::Merge(epoch, list) => {
                        let mut jr = JoinReply { view_epoch: epoch, ..JoinReply::default() };
                        for (k, (i, n, alive)) in list.into_iter().enumerate() {
                            jr.entries[k] = NodeEntry { node_id: i, incarnation: n, address: [3; 4], port: 3, alive };
                            jr.count = k as u16 + 1;
                        }
                        let c = v.merge_join_reply(&jr, now);
                        // Second-hand news never touches known nodes' times or resources.
                        for n in before.iter() {
                            let after = v.get(n.id).unwrap();
                            if after.incarnation == n.incarnation {
                                prop_assert_eq!((after.last_heard, after.resources), (n.last_heard, n.resources));
                            }
                        }
                        c.len()
                    }
                    Op::Fill(k) => {
                        let mut joined = 0;
                        for j in 0..k {
                            match v.on_heartbeat(NodeId(1000 + j), 1, [4; 4], 1, res(1, 1, 1), now) {
                                Ok(c) => joined += usize::from(c.is_change()),
                                Err(MembershipError::LocalNode) => {
                                    prop_assert_eq!(v.local(), Some(NodeId(1000 + j)));
                                }
                                Err(e) => {
                                    prop_assert_eq!(e, MembershipError::TableFull);
                                    prop_assert_eq!(v.len(), MAX_NODES);
                                }
                            }
                        }
                        joined
                    }
                    Op::Forget(i) => {
                        let r = v.forget(NodeId(i));
                        if r == Ok(true) {
                            prop_assert!(v.get(NodeId(i)).is_none());
                            prop_assert!(before.get(NodeId(i)).is_some_and(|n| n.state != NodeState::Alive));
                        }
                        0
                    }
                };
                // The epoch never decreases and counts the changes exactly.
                prop_assert_eq!(v.epoch(), before.epoch() + changed as u64);
                // A stale incarnation never changes anything.
                if stale {
                    prop_assert_eq!(&v, &before);
                }
                // Refused operations change nothing.
                check_invariants(&v)?;
                if let Some(l) = before.local() {
                    prop_assert_eq!(v.local(), Some(l));
                }
            }
        }

        #[test]
        fn errors_leave_the_view_unchanged(ops in proptest::collection::vec(op(), 0..40), probe in op()) {
            let mut v = View::new();
            for op in ops {
                if let Op::Heartbeat(i, n, ..) = op {
                    let _ = v.on_heartbeat(NodeId(i), n, [0; 4], 1, Resources::ZERO, 0);
                }
                if let Op::SetLocal(i, n) = op {
                    let _ = v.set_local(NodeId(i), n, [0; 4], 1);
                }
            }
            let before = v.clone();
            let r = match probe {
                Op::SetLocal(i, n) => v.set_local(NodeId(i), n, [0; 4], 1).err(),
                Op::Heartbeat(i, n, ..) => v.on_heartbeat(NodeId(i), n, [0; 4], 1, Resources::ZERO, 0).err(),
                Op::Dead(i, n) => v.on_node_dead(NodeId(i), n).err(),
                Op::Leave(i, n) => v.on_leave(NodeId(i), n).err(),
                Op::Forget(i) => v.forget(NodeId(i)).err(),
                _ => None,
            };
            if r.is_some() {
                prop_assert_eq!(v, before);
            }
        }
    }
}
