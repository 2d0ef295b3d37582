//! One entry of the table: [`NodeId`], [`NodeState`], [`Node`], the table's
//! capacity [`MAX_NODES`], and [`incarnation_newer`], how incarnations
//! compare.

use super::super::identity::MAX_NODE_ID;
use super::super::wire::{Resources, MAX_NODES_IN_REPLY};

/// Most nodes the table holds (equal to [`MAX_NODES_IN_REPLY`], so a whole
/// view fits in one [`JoinReply`](super::super::wire::JoinReply)).
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
    pub(super) const EMPTY: Node = Node {
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
