// SPDX-License-Identifier: GPL-2.0
//! Outstanding krpc requests and their waiters.
//!
//! A caller registers a request ([`Calls::begin`]), sends it, then waits
//! ([`Calls::wait`]) until the reply arrives ([`Calls::complete`]), the
//! peer's connection ends ([`Calls::fail_node`]), the service stops
//! ([`Calls::fail_all`]) or the timeout expires. The waiter always removes
//! its own slot, so no outcome leaks one; the table is bounded.

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    new_condvar, new_mutex,
    prelude::*,
    sync::{CondVar, CondVarTimeoutResult, Mutex},
    time::msecs_to_jiffies,
};

/// Requests in flight at once, from all callers.
pub(crate) const MAX_CALLS: usize = 256;

struct Slot {
    id: u64,
    node: u16,
    /// `None` while waiting.
    result: Option<Result<KVec<u8>>>,
}

/// The table of outstanding requests.
#[pin_data]
pub(crate) struct Calls {
    #[pin]
    slots: Mutex<KVec<Slot>>,
    #[pin]
    changed: CondVar,
    next_id: AtomicU64,
}

impl Calls {
    /// An empty table.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Calls {
            slots <- new_mutex!(KVec::new()),
            changed <- new_condvar!(),
            next_id: AtomicU64::new(1),
        })
    }

    /// A request id no call uses (for requests nobody waits for).
    pub(crate) fn fresh_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers a request to `node`; returns its request id.
    pub(crate) fn begin(&self, node: u16) -> Result<u64> {
        let id = self.fresh_id();
        let mut slots = self.slots.lock();
        if slots.len() >= MAX_CALLS {
            return Err(EBUSY);
        }
        slots.push(Slot { id, node, result: None }, GFP_KERNEL)?;
        Ok(id)
    }

    fn take(slots: &mut KVec<Slot>, id: u64) -> Option<Slot> {
        let pos = slots.iter().position(|s| s.id == id)?;
        crate::kernel_ext::swap_remove(slots, pos)
    }

    /// Forgets a request that could not be sent.
    pub(crate) fn cancel(&self, id: u64) {
        Self::take(&mut self.slots.lock(), id);
    }

    /// Waits for the outcome of request `id`, at most `timeout_ms`. With
    /// `interruptible`, a signal ends the wait (`EINTR`); without, only a
    /// fatal one does (a migrating process's task work has to finish its
    /// exchange even when a signal arrives meanwhile).
    pub(crate) fn wait(&self, id: u64, timeout_ms: u32, interruptible: bool) -> Result<KVec<u8>> {
        let mut slots = self.slots.lock();
        let mut left = msecs_to_jiffies(timeout_ms);
        loop {
            if slots.iter().any(|s| s.id == id && s.result.is_some()) {
                let slot = Self::take(&mut slots, id).ok_or(EINVAL)?;
                return slot.result.unwrap_or(Err(EINVAL));
            }
            match self.changed.wait_interruptible_timeout(&mut slots, left) {
                CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
                CondVarTimeoutResult::Timeout => {
                    // A reply may have raced with the timeout: take it.
                    let slot = Self::take(&mut slots, id);
                    return match slot.and_then(|s| s.result) {
                        Some(r) => r,
                        None => Err(crate::kernel_ext::etimedout()),
                    };
                }
                CondVarTimeoutResult::Signal { jiffies } if !interruptible && !crate::kernel_ext::fatal_signal_pending() => {
                    // The wait returns at once while the signal is pending:
                    // sleep a little without the lock, uninterruptibly.
                    drop(slots);
                    crate::kernel_ext::msleep(2);
                    left = jiffies.saturating_sub(msecs_to_jiffies(2));
                    if left == 0 {
                        left = 1;
                    }
                    slots = self.slots.lock();
                }
                CondVarTimeoutResult::Signal { .. } => {
                    Self::take(&mut slots, id);
                    return Err(EINTR);
                }
            }
        }
    }

    /// Delivers the reply to request `id` from `node`. False if nobody
    /// waits for it (late, unknown or from the wrong node).
    pub(crate) fn complete(&self, node: u16, id: u64, result: Result<KVec<u8>>) -> bool {
        let mut slots = self.slots.lock();
        let Some(slot) = slots.iter_mut().find(|s| s.id == id && s.node == node && s.result.is_none()) else {
            return false;
        };
        slot.result = Some(result);
        drop(slots);
        self.changed.notify_all();
        true
    }

    /// Fails every request waiting on `node` (its connection ended).
    pub(crate) fn fail_node(&self, node: u16, err: Error) {
        let mut slots = self.slots.lock();
        for s in slots.iter_mut().filter(|s| s.node == node && s.result.is_none()) {
            s.result = Some(Err(err));
        }
        drop(slots);
        self.changed.notify_all();
    }

    /// Fails every request (the service stops).
    pub(crate) fn fail_all(&self, err: Error) {
        let mut slots = self.slots.lock();
        for s in slots.iter_mut().filter(|s| s.result.is_none()) {
            s.result = Some(Err(err));
        }
        drop(slots);
        self.changed.notify_all();
    }

    /// Requests in flight (for /proc/ssi/krpc).
    pub(crate) fn in_flight(&self) -> usize {
        self.slots.lock().len()
    }
}
