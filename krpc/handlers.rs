// SPDX-License-Identifier: GPL-2.0
//! Message handlers: what runs when a request or one-way message of a
//! given type arrives.
//!
//! A subsystem implements [`Handler`] and registers it for its message
//! types ([`Handlers::register`]). Handlers run on the receiving
//! connection's handler thread, one message at a time per connection, in
//! arrival order, and may sleep. For a request, the handler's `Ok(body)`
//! goes back as the reply and its `Err(e)` as an error reply carrying the
//! errno, which the caller gets back as its error. A request of a type
//! nobody handles gets an `EOPNOTSUPP` error reply.
//!
//! `C` is the context handlers get (the cluster service), so that krpc
//! does not depend on its users and handlers need no reference cycle.

use super::connection::Connection;
use crate::proto::wire::{FrameHeader, MsgType};
use kernel::{new_mutex, prelude::*, sync::Arc, sync::Mutex};

/// A message as a handler sees it.
pub(crate) struct Incoming<'a> {
    pub(crate) conn: &'a Arc<Connection>,
    pub(crate) header: &'a FrameHeader,
    pub(crate) body: &'a [u8],
}

impl Incoming<'_> {
    /// The node the message came from.
    pub(crate) fn from_node(&self) -> u16 {
        self.conn.peer.node_id
    }

    /// The sender's incarnation (from its handshake).
    pub(crate) fn from_incarnation(&self) -> u32 {
        self.conn.peer.incarnation
    }

    /// Whether the sender waits for a reply.
    pub(crate) fn is_request(&self) -> bool {
        self.header.request_id != 0
    }
}

/// Handles the messages of the types it is registered for.
pub(crate) trait Handler<C>: Send + Sync {
    /// Handles `msg`. For a request the result is the reply; for a
    /// one-way message an error is only counted.
    fn handle(&self, ctx: &C, msg: &Incoming<'_>) -> Result<KVec<u8>>;

    /// [`Handler::handle`], given the body's own buffer: a handler that
    /// keeps bulk data can keep the buffer instead of copying it. By
    /// default the buffer goes once `handle` returned.
    fn handle_owned(&self, ctx: &C, conn: &Arc<Connection>, header: &FrameHeader, body: KVec<u8>) -> Result<KVec<u8>> {
        self.handle(ctx, &Incoming { conn, header, body: &body })
    }
}

const TYPES: usize = 256;

/// The handler table, indexed by message type.
#[pin_data]
pub(crate) struct Handlers<C: 'static> {
    #[pin]
    table: Mutex<[Option<Arc<dyn Handler<C>>>; TYPES]>,
}

impl<C: 'static> Handlers<C> {
    /// An empty table.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Handlers { table <- new_mutex!([const { None }; TYPES]) })
    }

    /// Makes `handler` handle messages of type `kind`. `EEXIST` if the
    /// type already has a handler.
    pub(crate) fn register(&self, kind: MsgType, handler: Arc<dyn Handler<C>>) -> Result {
        let mut table = self.table.lock();
        let slot = &mut table[usize::from(kind.as_u8())];
        if slot.is_some() {
            return Err(EEXIST);
        }
        *slot = Some(handler);
        Ok(())
    }

    /// Removes every handler (the service stops).
    pub(crate) fn unregister_all(&self) {
        // One slot at a time: the table is too big for a copy on the stack.
        for kind in 0..TYPES {
            let old = self.table.lock()[kind].take();
            drop(old);
        }
    }

    /// The handler of message type `raw_kind`, if any.
    pub(crate) fn get(&self, raw_kind: u8) -> Option<Arc<dyn Handler<C>>> {
        self.table.lock()[usize::from(raw_kind)].clone()
    }
}
