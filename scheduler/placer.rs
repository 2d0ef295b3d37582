// SPDX-License-Identifier: GPL-2.0
//! Exec-time placement (`ssi-place`): a program that starts (execs) on
//! this node while it is busy starts on the node an enabled
//! `round_robin` or `least_loaded` scheduler picks (`proto::sched::place`),
//! moved there eagerly right after its exec, while its image is smallest,
//! with the deputy at home as for any migration (so its parent, pid,
//! terminal and pipes stay as they were).
//!
//! The exec hook (`modules/exec_hook.rs`) queues every exec of a user
//! process; this thread takes them off the queue. Never placed: a process
//! the configuration pins or whose ancestor on this node it pins; one
//! whose parent is a kernel thread (usermode helpers, among them the
//! restart program of every migration); `ssi-ctl` itself (it talks to
//! this node's module); a process that migrated here or is a deputy.

use super::{balancer::pinned, SchedService};
use crate::{
    cluster::Cluster,
    exec_hook::ExecHook,
    kernel_ext::mono_ms,
    kthread::{self, ThreadBody},
    procspace::sys as procs,
    proto::{
        ctl::STRATEGY_EAGER,
        sched::{place, tasks, Offer, OfferKind, PolicyKind, ProcessIds},
    },
};
use kernel::{prelude::*, sync::Arc};

/// The name of the control tool, which always runs where it was started.
const SSI_CTL: &[u8] = b"ssi-ctl";

/// The `ssi-place` thread's body: owns the exec hook while it runs.
pub(crate) struct Placer {
    pub(crate) cluster: Arc<Cluster>,
    pub(crate) sched: Arc<SchedService>,
    pub(crate) hook: ExecHook,
}

impl ThreadBody for Placer {
    fn run(&self) {
        while !kthread::should_stop() {
            self.hook.wait(1_000);
            while let Some(pid) = self.hook.next() {
                if kthread::should_stop() {
                    return;
                }
                // The decision's frame is gone before the migration's
                // deep stack starts.
                if let Some((dest, policy, load)) = self.consider(pid) {
                    self.place_on(pid, dest, policy, load);
                }
            }
        }
    }
}

impl Placer {
    /// Where process `pid`, which has just exec'd here, should run if
    /// not here: the node (the process already counted there, and as
    /// departing here), the placing policy and this node's load.
    #[inline(never)]
    fn consider(&self, pid: u32) -> Option<(u16, PolicyKind, u32)> {
        let c = self.sched.config();
        // No placing scheduler: nothing to look at.
        if !c.schedulers().iter().any(|s| s.enabled && s.policy.place_kind().is_some()) {
            return None;
        }
        let own = self.cluster.node_id();
        let Some(f) = pid.checked_sub(1).and_then(|after| procs::next_process(after, &mut [])) else { return None };
        if f.tgid != pid || f.kthread != 0 || f.parent_kthread != 0 {
            return None;
        }
        let comm_len = f.comm.iter().position(|&b| b == 0).unwrap_or(f.comm.len());
        if &f.comm[..comm_len] == SSI_CTL {
            return None;
        }
        let ids = ProcessIds { pid, uid: f.uid, sid: f.session, pgid: f.pgrp };
        let Some(s) = c.scheduler_for(&ids, own, |k| k.place_kind().is_some()) else { return None };
        let Some(kind) = s.policy.place_kind() else { return None };
        if pinned(&c, pid) || self.sched.migrations.role_of(pid).is_some() {
            return None;
        }
        let (dest, load) = {
            let mut st = self.sched.state.lock();
            let (local, table) = st.loads(own, 0, mono_ms());
            let mut ps = st.placing.last;
            let dest = place(kind, &local, &table, s.nodes, &c.params.policy, &mut ps);
            st.placing.last = ps;
            if let Some(d) = dest {
                // Counted there at once, and no more here: a burst of
                // execs spreads.
                st.note_sent(d, tasks(1), 0);
                st.placing.departing += 1;
            }
            (dest, local.upper.max(local.mean))
        };
        dest.map(|d| (d, s.policy, load))
    }

    /// Offers process `pid` to node `dest` for `policy` and migrates it
    /// there if it takes it.
    #[inline(never)]
    fn place_on(&self, pid: u32, dest: u16, policy: PolicyKind, load: u32) {
        // The destination takes it only if it is then no more loaded
        // than this node is now (without the new program, which its
        // samples do not count yet).
        let offer = Offer {
            kind: OfferKind::Load,
            pid,
            demand: tasks(1),
            source_after: load,
            rss_kib: 0,
            hold_ms: Offer::hold_for(0),
        };
        if !self.sched.offer(&self.cluster, dest, &offer) {
            let mut st = self.sched.state.lock();
            st.placing.departing = st.placing.departing.saturating_sub(1);
            st.note_outcome(dest, tasks(1), 0, false);
            return;
        }
        pr_info!("scheduler: placing pid {} ({}) on node {} at exec\n", pid, policy.name(), dest);
        let ok = self.sched.move_process(&self.cluster, pid, dest, STRATEGY_EAGER, policy).is_ok();
        let mut st = self.sched.state.lock();
        st.placing.departing = st.placing.departing.saturating_sub(1);
        st.note_outcome(dest, tasks(1), 0, ok);
        if ok {
            st.placing.placed += 1;
        } else {
            st.placing.failed += 1;
        }
    }
}
