// SPDX-License-Identifier: GPL-2.0
//! The inbox of one connection: requests and one-way messages that the
//! socket-reading thread received, waiting for the connection's handler
//! thread, where handlers may sleep (send, call other nodes, take locks).
//!
//! The inbox is bounded in frames and bytes. When it is full the reading
//! thread stops reading until the handler catches up, so a fast or
//! hostile peer is slowed down by TCP flow control instead of making this
//! node allocate without bound. Replies never come here: the reading
//! thread hands them to their waiting callers directly.

use crate::proto::wire::FrameHeader;
use kernel::{
    new_condvar, new_mutex,
    prelude::*,
    sync::{CondVar, CondVarTimeoutResult, Mutex},
    time::msecs_to_jiffies,
};

/// Frames waiting at most, per connection.
pub(crate) const MAX_INBOX_FRAMES: usize = 256;
/// Body bytes waiting or being handled at most, per connection (one frame
/// of any legal size is always accepted into an empty inbox).
pub(crate) const MAX_INBOX_BYTES: usize = 4 << 20;
/// How often waiting sides look at their stop conditions.
const POLL_MS: u32 = 200;

/// A received frame waiting for its handler.
pub(crate) struct Delivery {
    pub(crate) header: FrameHeader,
    pub(crate) body: KVec<u8>,
}

struct State {
    items: KVec<Delivery>,
    /// Body bytes queued or being handled.
    bytes: usize,
    /// Frames taken and not yet reported handled.
    in_hand: usize,
    /// No more frames come (the connection ended); what waits is still
    /// handled.
    finished: bool,
}

/// The inbox; see the module documentation.
#[pin_data]
pub(crate) struct Inbox {
    #[pin]
    state: Mutex<State>,
    #[pin]
    changed: CondVar,
}

impl Inbox {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Inbox {
            state <- new_mutex!(State { items: KVec::new(), bytes: 0, in_hand: 0, finished: false }),
            changed <- new_condvar!(),
        })
    }

    /// Queues `d` for the handler, waiting while the inbox is full.
    /// Fails when the inbox is finished or `give_up()` becomes true.
    pub(crate) fn push(&self, d: Delivery, give_up: &dyn Fn() -> bool) -> Result {
        let len = d.body.len();
        let mut st = self.state.lock();
        loop {
            if st.finished || give_up() {
                return Err(crate::kernel_ext::eshutdown());
            }
            let fits = st.items.len() < MAX_INBOX_FRAMES && st.bytes + len <= MAX_INBOX_BYTES;
            if fits || (st.items.is_empty() && st.bytes == 0) {
                st.items.push(d, GFP_KERNEL)?;
                st.bytes += len;
                drop(st);
                self.changed.notify_all();
                return Ok(());
            }
            // Timeout or wake-up alike: look at the conditions again.
            let _ = self.changed.wait_interruptible_timeout(&mut st, msecs_to_jiffies(POLL_MS));
        }
    }

    /// Takes every waiting frame, in arrival order; waits up to
    /// `POLL_MS` for one (a finished inbox that was drained stays empty:
    /// the handler thread sleeps here until it is stopped). The caller
    /// reports each handled frame with [`Inbox::handled`].
    pub(crate) fn take(&self) -> KVec<Delivery> {
        let mut st = self.state.lock();
        if st.items.is_empty() {
            if let CondVarTimeoutResult::Signal { .. } =
                self.changed.wait_interruptible_timeout(&mut st, msecs_to_jiffies(POLL_MS))
            {
                return KVec::new();
            }
        }
        let items = core::mem::take(&mut st.items);
        st.in_hand += items.len();
        items
    }

    /// A frame of `len` body bytes taken with [`Inbox::take`] was handled.
    pub(crate) fn handled(&self, len: usize) {
        let mut st = self.state.lock();
        st.bytes = st.bytes.saturating_sub(len);
        st.in_hand = st.in_hand.saturating_sub(1);
        drop(st);
        self.changed.notify_all();
    }

    /// No more frames will come; what waits is still handled (a peer's
    /// last words, such as its Leave, arrive just before its connection
    /// ends). Wakes both sides.
    pub(crate) fn finish(&self) {
        self.state.lock().finished = true;
        self.changed.notify_all();
    }

    /// Waits until every frame received was handled, at most `ms`
    /// milliseconds; false on timeout.
    pub(crate) fn wait_handled(&self, ms: u32) -> bool {
        let mut st = self.state.lock();
        let mut left = msecs_to_jiffies(ms);
        while !st.items.is_empty() || st.in_hand != 0 {
            match self.changed.wait_interruptible_timeout(&mut st, left) {
                CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
                _ => return false,
            }
        }
        true
    }

    /// Frames and body bytes waiting or being handled now.
    pub(crate) fn backlog(&self) -> (usize, usize) {
        let st = self.state.lock();
        (st.items.len(), st.bytes)
    }
}
