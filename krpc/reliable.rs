// SPDX-License-Identifier: GPL-2.0
//! Reliable control messages (the rules are in `proto/src/reliable.rs`).
//!
//! [`Outbox`]: every reliable message this node sent and that its
//! destination did not acknowledge yet, with the ids numbered per
//! destination. The cluster service sends each again every
//! [`RESEND_MS`] and at once when a connection to its node comes up,
//! until the acknowledgement arrives or the node is declared dead.
//!
//! [`Windows`]: per sending node, which of its messages this node took,
//! so that a message sent again is acknowledged, not handled again.

use crate::proto::{
    reliable::{ack_gap, Verdict, Window, WINDOW},
    wire::MsgType,
};
use kernel::{new_mutex, prelude::*, sync::Mutex};

/// Reliable messages waiting for their acknowledgement, to all nodes.
pub(crate) const MAX_PENDING: usize = 1024;
/// A message not acknowledged this long is sent again.
pub(crate) const RESEND_MS: u64 = 500;

struct Pending {
    node: u16,
    id: u64,
    kind: MsgType,
    body: KVec<u8>,
    /// When it was last sent (ms), 0 if never.
    sent_ms: u64,
}

struct OutboxState {
    pending: KVec<Pending>,
    /// The next id per destination node.
    next: KVec<(u16, u64)>,
    /// How many times messages were given up: per destination node, and
    /// for every node at once (`give_up(None)`).
    given_up: KVec<(u16, u64)>,
    given_up_all: u64,
}

/// A message to send (again): a copy, so that nobody sends under the lock.
pub(crate) struct Send {
    pub(crate) node: u16,
    pub(crate) id: u64,
    pub(crate) ack_gap: u32,
    pub(crate) kind: MsgType,
    pub(crate) body: KVec<u8>,
}

/// Messages sent and not yet acknowledged.
#[pin_data]
pub(crate) struct Outbox {
    #[pin]
    state: Mutex<OutboxState>,
}

impl OutboxState {
    /// The oldest unacknowledged id to `node`, or `otherwise`.
    fn floor(&self, node: u16, otherwise: u64) -> u64 {
        self.pending.iter().filter(|p| p.node == node).map(|p| p.id).min().unwrap_or(otherwise)
    }

    fn copy(&self, p: &Pending) -> Result<Send> {
        let gap = ack_gap(p.id, self.floor(p.node, p.id)).ok_or(EINVAL)?;
        let mut body = KVec::with_capacity(p.body.len(), GFP_KERNEL)?;
        body.extend_from_slice(&p.body, GFP_KERNEL)?;
        Ok(Send { node: p.node, id: p.id, ack_gap: gap, kind: p.kind, body })
    }
}

impl Outbox {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Outbox {
            state <- new_mutex!(OutboxState { pending: KVec::new(), next: KVec::new(), given_up: KVec::new(), given_up_all: 0 })
        })
    }

    /// Keeps a new message to `node`; returns it, numbered, to send now.
    /// `EBUSY` when too many wait, or when the oldest one to `node` is a
    /// whole window behind (it is still being resent).
    pub(crate) fn add(&self, node: u16, kind: MsgType, body: &[u8], now_ms: u64) -> Result<Send> {
        let mut st = self.state.lock();
        if st.pending.len() >= MAX_PENDING {
            return Err(EBUSY);
        }
        let id = match st.next.iter().find(|(n, _)| *n == node) {
            Some((_, next)) => *next,
            None => 1,
        };
        let gap = ack_gap(id, st.floor(node, id)).ok_or(EBUSY)?;
        let mut kept = KVec::with_capacity(body.len(), GFP_KERNEL)?;
        kept.extend_from_slice(body, GFP_KERNEL)?;
        let mut copy = KVec::with_capacity(body.len(), GFP_KERNEL)?;
        copy.extend_from_slice(body, GFP_KERNEL)?;
        match st.next.iter_mut().find(|(n, _)| *n == node) {
            Some((_, next)) => *next = id + 1,
            None => st.next.push((node, id + 1), GFP_KERNEL)?,
        }
        st.pending.push(Pending { node, id, kind, body: kept, sent_ms: now_ms }, GFP_KERNEL)?;
        Ok(Send { node, id, ack_gap: gap, kind, body: copy })
    }

    /// The acknowledgement of message `id` from `node` came: forgets it.
    /// Its type, or `None` if it was not waiting (a second ack).
    pub(crate) fn ack(&self, node: u16, id: u64) -> Option<MsgType> {
        let mut st = self.state.lock();
        let pos = st.pending.iter().position(|p| p.node == node && p.id == id)?;
        crate::kernel_ext::swap_remove(&mut st.pending, pos).map(|p| p.kind)
    }

    /// Copies of the messages to send again now: those to `node` (a
    /// connection to it came up), or else those sent at least
    /// [`RESEND_MS`] ago. Marks them sent at `now_ms`.
    pub(crate) fn due(&self, node: Option<u16>, now_ms: u64) -> Result<KVec<Send>> {
        let mut st = self.state.lock();
        let mut out = KVec::new();
        for i in 0..st.pending.len() {
            let p = &st.pending[i];
            let due = match node {
                Some(n) => p.node == n,
                None => now_ms.saturating_sub(p.sent_ms) >= RESEND_MS,
            };
            if due {
                let s = st.copy(p)?;
                out.push(s, GFP_KERNEL)?;
                st.pending[i].sent_ms = now_ms;
            }
        }
        Ok(out)
    }

    /// Gives up every message to `node` (or to every node): returns how
    /// many, and the id and type of one of them for the log.
    pub(crate) fn give_up(&self, node: Option<u16>) -> (usize, Option<MsgType>) {
        let mut st = self.state.lock();
        let before = st.pending.len();
        let mut kind = None;
        let mut i = 0;
        while i < st.pending.len() {
            if node.is_none_or(|n| st.pending[i].node == n) {
                kind = crate::kernel_ext::swap_remove(&mut st.pending, i).map(|p| p.kind);
            } else {
                i += 1;
            }
        }
        let n = before - st.pending.len();
        if n > 0 {
            match node {
                None => st.given_up_all += 1,
                Some(node) => match st.given_up.iter_mut().find(|(d, _)| *d == node) {
                    Some((_, count)) => *count += 1,
                    // Without memory for the count, every node's changes.
                    None => {
                        if st.given_up.push((node, 1), GFP_KERNEL).is_err() {
                            st.given_up_all += 1;
                        }
                    }
                },
            }
        }
        (n, kind)
    }

    /// A number that changes whenever messages to `node` are given up: a
    /// sender waiting for the answer to one of them learns that it may
    /// never come.
    pub(crate) fn give_up_epoch(&self, node: u16) -> u64 {
        let st = self.state.lock();
        st.given_up_all + st.given_up.iter().find(|(d, _)| *d == node).map_or(0, |(_, c)| *c)
    }

    /// Messages waiting for their acknowledgement.
    pub(crate) fn len(&self) -> usize {
        self.state.lock().pending.len()
    }
}

/// Per sending node, the reliable messages this node took.
#[pin_data]
pub(crate) struct Windows {
    #[pin]
    windows: Mutex<KVec<(u16, KBox<Window>)>>,
}

impl Windows {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Windows { windows <- new_mutex!(KVec::new()) })
    }

    /// Whether to handle message `id` from `node` (of `incarnation`, sent
    /// with `gap`). Out of memory for a new node's window: `Refused` (the
    /// sender sends it again).
    pub(crate) fn accept(&self, node: u16, incarnation: u32, id: u64, gap: u32) -> Verdict {
        let mut ws = self.windows.lock();
        if let Some((_, w)) = ws.iter_mut().find(|(n, _)| *n == node) {
            return w.accept(incarnation, id, gap);
        }
        let Ok(mut w) = KBox::new(Window::new(incarnation), GFP_KERNEL) else { return Verdict::Refused };
        let v = w.accept(incarnation, id, gap);
        if ws.push((node, w), GFP_KERNEL).is_err() {
            return Verdict::Refused;
        }
        v
    }
}

const _: () = assert!(MAX_PENDING as u64 <= WINDOW);
