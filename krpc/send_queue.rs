// SPDX-License-Identifier: GPL-2.0
//! The send queue of one connection: frames wait here, in order, while
//! another sender is writing to the socket.
//!
//! There is no sender thread. A sender that finds the queue idle writes
//! its own frame straight from its buffer (no copy) and then writes
//! whatever other senders queued meanwhile; a sender that finds a write in
//! progress copies its frame into the queue and returns. The queue is
//! bounded in frames and bytes: when it is full, senders wait for room
//! (back-pressure) at most [`SEND_WAIT_MS`], then fail with `ETIMEDOUT`.
//! Frames are written in the order they were queued, so sequence numbers
//! (assigned at write time) follow the wire order.

use crate::kernel_ext::{enotconn, etimedout};
use crate::proto::wire::MsgType;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    new_condvar, new_mutex,
    prelude::*,
    sync::{CondVar, CondVarTimeoutResult, Mutex},
    time::msecs_to_jiffies,
};

/// Frames waiting at most, per connection.
pub(crate) const MAX_QUEUED_FRAMES: usize = 256;
/// Body bytes waiting at most, per connection (a frame bigger than this
/// still goes through when the queue is empty).
pub(crate) const MAX_QUEUED_BYTES: usize = 4 << 20;
/// How long a sender waits for room in a full queue.
pub(crate) const SEND_WAIT_MS: u32 = 2000;

/// One frame to send, borrowed from the sender. Its body is `body[0]`,
/// `body[1]`, then each of `more` (a sender with data in several buffers
/// does not copy them together: the image of a migrating process is sent
/// from its own pages; most senders leave all but the first empty).
pub(crate) struct Frame<'a> {
    pub(crate) kind: MsgType,
    pub(crate) flags: u16,
    pub(crate) request_id: u64,
    /// Reliable requests only: see `proto::reliable`.
    pub(crate) ack_gap: u32,
    pub(crate) body: [&'a [u8]; 2],
    pub(crate) more: &'a [&'a [u8]],
}

impl<'a> Frame<'a> {
    pub(crate) fn body_len(&self) -> usize {
        self.parts().map(<[u8]>::len).sum()
    }

    /// The parts of the body, in order.
    pub(crate) fn parts(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        Iterator::chain(self.body.iter().copied(), self.more.iter().copied())
    }
}

struct Queued {
    kind: MsgType,
    flags: u16,
    request_id: u64,
    ack_gap: u32,
    body: KVec<u8>,
}

impl Queued {
    fn frame(&self) -> Frame<'_> {
        Frame {
            kind: self.kind,
            flags: self.flags,
            request_id: self.request_id,
            ack_gap: self.ack_gap,
            body: [&self.body, &[]],
            more: &[],
        }
    }
}

struct State {
    frames: KVec<Queued>,
    /// Body bytes queued or being written from the queue.
    bytes: usize,
    /// A sender is writing to the socket (and will drain the queue).
    writing: bool,
    closed: bool,
}

/// The queue; see the module documentation.
#[pin_data]
pub(crate) struct SendQueue {
    #[pin]
    state: Mutex<State>,
    #[pin]
    room: CondVar,
    /// Times a sender had to wait for room.
    pub(crate) waits: AtomicU64,
    /// Senders that gave up on a full queue.
    pub(crate) full: AtomicU64,
    /// Most frames ever waiting at once.
    pub(crate) high_water: AtomicU64,
}

impl SendQueue {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(SendQueue {
            state <- new_mutex!(State { frames: KVec::new(), bytes: 0, writing: false, closed: false }),
            room <- new_condvar!(),
            waits: AtomicU64::new(0),
            full: AtomicU64::new(0),
            high_water: AtomicU64::new(0),
        })
    }

    /// Sends `frame` with `write` (which writes one frame to the socket
    /// and must close the queue when it fails). Returns the outcome of
    /// writing this frame when this sender wrote it, `Ok` when it was
    /// queued for the current writer.
    pub(crate) fn send(&self, frame: Frame<'_>, write: &dyn Fn(&Frame<'_>) -> Result) -> Result {
        let len = frame.body_len();
        let mut st = self.state.lock();
        let mut left = msecs_to_jiffies(SEND_WAIT_MS);
        let mut waited = false;
        loop {
            if st.closed {
                return Err(enotconn());
            }
            if !st.writing && st.frames.is_empty() {
                st.writing = true;
                drop(st);
                let r = write(&frame);
                self.drain(write);
                return r;
            }
            let fits = st.frames.len() < MAX_QUEUED_FRAMES && st.bytes + len <= MAX_QUEUED_BYTES;
            if fits || st.frames.is_empty() {
                let mut body = KVec::with_capacity(len, GFP_KERNEL)?;
                for part in frame.parts() {
                    body.extend_from_slice(part, GFP_KERNEL)?;
                }
                st.frames.push(
                    Queued {
                        kind: frame.kind,
                        flags: frame.flags,
                        request_id: frame.request_id,
                        ack_gap: frame.ack_gap,
                        body,
                    },
                    GFP_KERNEL,
                )?;
                st.bytes += len;
                self.high_water.fetch_max(st.frames.len() as u64, Ordering::Relaxed);
                if st.writing {
                    return Ok(());
                }
                st.writing = true;
                drop(st);
                self.drain(write);
                return Ok(());
            }
            if !waited {
                waited = true;
                self.waits.fetch_add(1, Ordering::Relaxed);
            }
            match self.room.wait_interruptible_timeout(&mut st, left) {
                CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
                CondVarTimeoutResult::Timeout => {
                    self.full.fetch_add(1, Ordering::Relaxed);
                    return Err(etimedout());
                }
                CondVarTimeoutResult::Signal { jiffies } if !crate::kernel_ext::fatal_signal_pending() => {
                    // A sender with a signal pending (the task work of a
                    // migrating process) still waits for room, uninterruptibly.
                    drop(st);
                    crate::kernel_ext::msleep(2);
                    left = jiffies.saturating_sub(msecs_to_jiffies(2));
                    if left == 0 {
                        self.full.fetch_add(1, Ordering::Relaxed);
                        return Err(etimedout());
                    }
                    st = self.state.lock();
                }
                CondVarTimeoutResult::Signal { .. } => return Err(EINTR),
            }
        }
    }

    /// Writes queued frames until the queue is empty, then gives up the
    /// writer role. Called by the writer only.
    fn drain(&self, write: &dyn Fn(&Frame<'_>) -> Result) {
        loop {
            let batch = {
                let mut st = self.state.lock();
                if st.frames.is_empty() || st.closed {
                    st.writing = false;
                    drop(st);
                    self.room.notify_all();
                    return;
                }
                core::mem::take(&mut st.frames)
            };
            for q in batch.iter() {
                // A failed write closes the queue; the rest of the batch is
                // dropped below without being written.
                let failed = write(&q.frame()).is_err();
                let mut st = self.state.lock();
                st.bytes = st.bytes.saturating_sub(q.body.len());
                let closed = st.closed;
                drop(st);
                self.room.notify_all();
                if failed || closed {
                    break;
                }
            }
        }
    }

    /// Drops what is queued and refuses further frames; wakes waiting
    /// senders.
    pub(crate) fn close(&self) {
        let dropped = {
            let mut st = self.state.lock();
            st.closed = true;
            st.bytes = 0;
            core::mem::take(&mut st.frames)
        };
        drop(dropped);
        self.room.notify_all();
    }

    /// Frames and body bytes waiting now.
    pub(crate) fn backlog(&self) -> (usize, usize) {
        let st = self.state.lock();
        (st.frames.len(), st.bytes)
    }
}
