//! The operations that change the view, by the rules of the module doc:
//! setting the local node, heartbeats, death notices, leaves, frames heard
//! from a peer, expiry, and merging a peer's [`JoinReply`]. Each returns
//! what changed.

use super::super::wire::{JoinReply, Resources};
use super::change::{Change, Changes};
use super::error::MembershipError;
use super::node::{incarnation_newer, Node, NodeId, NodeState};
use super::view::View;

impl View {
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
}
