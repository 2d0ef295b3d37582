// SPDX-License-Identifier: GPL-2.0
//! Restart of a multithreaded process: the threads meet in the module.
//!
//! `ssi-ctl restart` starts one thread per extra thread of the image; each
//! enters `/dev/ssi` with its index ([`RestoreGroups::join`]) and waits.
//! The caller's main thread checks the image, waits until every extra
//! thread is in ([`RestoreGroups::wait_joined`]: none of them runs user
//! code while the address space is replaced), rebuilds the process and
//! hands each thread its own state ([`RestoreGroups::release`]), which the
//! thread applies to itself on its way out. If the main thread fails
//! before the point of no return it aborts the group and every waiting
//! thread returns an error.

use super::task;
use super::thread_plan::ThreadPlan;
use crate::kernel_ext::{ecanceled, swap_remove};
use kernel::{
    new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, CondVar, CondVarTimeoutResult, Mutex},
    time::msecs_to_jiffies,
};

/// How long the main thread waits for the others to come in.
const JOIN_TIMEOUT_MS: u64 = 10_000;

/// The threads' own states, by image index (index 0, the main thread's,
/// is applied by the main thread itself).
pub(crate) struct ThreadPlans {
    pub(crate) threads: KVec<ThreadPlan>,
}

enum GroupState {
    Waiting,
    Released(Arc<ThreadPlans>),
    Aborted,
}

/// The threads of one restarting process.
struct Group {
    tgid: u32,
    /// Threads in the module.
    joined: usize,
    state: GroupState,
}

/// Every restarting multithreaded process of this node.
#[pin_data]
pub(crate) struct RestoreGroups {
    #[pin]
    groups: Mutex<KVec<Group>>,
    #[pin]
    changed: CondVar,
}

impl RestoreGroups {
    /// No group yet.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(pin_init!(RestoreGroups { groups <- new_mutex!(KVec::new()), changed <- new_condvar!() }), GFP_KERNEL)
    }

    /// Thread `index` of the calling process waits for its state; returns
    /// the group's plans once the main thread rebuilt the process.
    pub(crate) fn join(&self, index: u32) -> Result<Arc<ThreadPlans>> {
        if index == 0 {
            return Err(EINVAL);
        }
        let tgid = task::task_state()?.tgid;
        let mut groups = self.groups.lock();
        match groups.iter_mut().find(|g| g.tgid == tgid) {
            Some(g) => g.joined += 1,
            None => groups.push(Group { tgid, joined: 1, state: GroupState::Waiting }, GFP_KERNEL)?,
        }
        self.changed.notify_all();
        loop {
            let g = groups.iter().position(|g| g.tgid == tgid).ok_or(EINVAL)?;
            let outcome = match &groups[g].state {
                GroupState::Waiting => None,
                GroupState::Released(plans) => Some(Ok(plans.clone())),
                GroupState::Aborted => Some(Err(ecanceled())),
            };
            let interrupted = outcome.is_none() && self.changed.wait_interruptible(&mut groups);
            if outcome.is_some() || interrupted {
                let gi = groups.iter().position(|g| g.tgid == tgid).ok_or(EINVAL)?;
                groups[gi].joined -= 1;
                if groups[gi].joined == 0 && !matches!(groups[gi].state, GroupState::Waiting) {
                    drop(swap_remove(&mut groups, gi));
                }
                return outcome.unwrap_or(Err(EINTR));
            }
        }
    }

    /// The main thread of `tgid` waits until `others` threads joined;
    /// `EAGAIN` if they do not within [`JOIN_TIMEOUT_MS`] (the group is
    /// aborted then).
    pub(crate) fn wait_joined(&self, tgid: u32, others: usize) -> Result {
        let start = task::mono_ns();
        let mut groups = self.groups.lock();
        loop {
            let joined = groups.iter().find(|g| g.tgid == tgid).map_or(0, |g| g.joined);
            if joined == others {
                return Ok(());
            }
            if joined > others || task::mono_ns().saturating_sub(start) / 1_000_000 > JOIN_TIMEOUT_MS {
                drop(groups);
                self.abort(tgid);
                return Err(EAGAIN);
            }
            if let CondVarTimeoutResult::Signal { .. } =
                self.changed.wait_interruptible_timeout(&mut groups, msecs_to_jiffies(200))
            {
                drop(groups);
                self.abort(tgid);
                return Err(EINTR);
            }
        }
    }

    /// The process is rebuilt: the waiting threads take their states.
    pub(crate) fn release(&self, tgid: u32, plans: Arc<ThreadPlans>) {
        let mut groups = self.groups.lock();
        if let Some(g) = groups.iter_mut().find(|g| g.tgid == tgid) {
            g.state = GroupState::Released(plans);
        }
        self.changed.notify_all();
    }

    /// The restart of `tgid` failed: its waiting threads return an error.
    pub(crate) fn abort(&self, tgid: u32) {
        let mut groups = self.groups.lock();
        if let Some(gi) = groups.iter().position(|g| g.tgid == tgid) {
            if groups[gi].joined == 0 {
                drop(swap_remove(&mut groups, gi));
            } else {
                groups[gi].state = GroupState::Aborted;
            }
        }
        self.changed.notify_all();
    }
}
