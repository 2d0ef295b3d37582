// SPDX-License-Identifier: GPL-2.0
//! krpc: kernel-to-kernel RPC between ssi nodes over authenticated TCP
//! connections. The wire format is in `proto/src/wire/`; this folder has
//! the kernel side: sockets, HMAC, connections with their send queues and
//! inboxes, the handler table, calls waiting for replies, reliable control messages
//! (sent again until acknowledged, taken once), fault injection for tests,
//! and counters. The
//! cluster service (`modules/cluster.rs`) runs the connections.

pub(crate) mod calls;
pub(crate) mod connection;
pub(crate) mod faults;
pub(crate) mod frame_mac;
pub(crate) mod handlers;
pub(crate) mod hmac;
pub(crate) mod inbox;
pub(crate) mod reliable;
pub(crate) mod send_queue;
pub(crate) mod socket;
pub(crate) mod stats;
