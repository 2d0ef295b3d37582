//! Cluster membership: a fixed-capacity table of the nodes this node knows
//! about, and the rules that change it.
//!
//! The table ([`View`]) holds at most [`MAX_NODES`] nodes, sorted by node
//! id, one entry per id. Each has a state ([`NodeState`]), the incarnation
//! it was last seen with (a node picks a new, larger incarnation each time
//! its module starts), its krpc address, the time it was last heard from
//! and its last reported [`Resources`](super::wire::Resources). Times are
//! caller-supplied monotonic milliseconds.
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
//!
//! # Files
//!
//! Each file depends only on the ones listed before it:
//!
//! - `error.rs`: [`MembershipError`];
//! - `node.rs`: [`NodeId`], [`NodeState`], [`Node`], [`MAX_NODES`],
//!   [`incarnation_newer`];
//! - `change.rs`: [`Change`], [`Changes`];
//! - `view.rs`: [`View`] (the table, its queries, [`View::forget`],
//!   [`View::fill_join_reply`]), [`Totals`];
//! - `events.rs`: the operations that change the view
//!   ([`View::set_local`], [`View::on_heartbeat`], [`View::on_node_dead`],
//!   [`View::on_leave`], [`View::heard_from`], [`View::expire`],
//!   [`View::merge_join_reply`], ...);
//! - `tests/`: unit and property tests.
//!
//! This file only declares them and re-exports their public items, so
//! that every item is reached as `membership::Item`; the files are
//! private.

mod change;
mod error;
mod events;
mod node;
mod view;

#[cfg(test)]
mod tests;

pub use change::{Change, Changes};
pub use error::MembershipError;
pub use node::{incarnation_newer, Node, NodeId, NodeState, MAX_NODES};
pub use view::{Totals, View};
