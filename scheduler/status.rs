// SPDX-License-Identifier: GPL-2.0
//! What the scheduler does and why: counters, this node's load, the other
//! nodes' as its reports say, the schedulers in force, the last
//! decisions and migrations, and the processes it does not move with the
//! reason (`/proc/ssi/scheduler`, which `ssi-ctl balance status` reads).

use super::SchedService;
use crate::procfs::{ProcShow, SeqFile};
use crate::proto::sched::{Config, PolicyKind};
use core::{
    fmt::{self, Write},
    sync::atomic::{AtomicU64, Ordering},
};
use kernel::{c_str, prelude::*, str::CStr};

/// The scheduler's counters.
pub(crate) struct Stats {
    /// Load reports sent and taken.
    pub(crate) reports_out: AtomicU64,
    pub(crate) reports_in: AtomicU64,
    /// Malformed `SchedLoad`/`SchedConfig`/`SchedChange` bodies refused.
    pub(crate) malformed: AtomicU64,
    /// Changes this node made as the coordinator (its own and other
    /// nodes').
    pub(crate) changes_made: AtomicU64,
    /// Moves this node offered to their destination: taken, declined,
    /// not answered.
    pub(crate) offers_sent_taken: AtomicU64,
    pub(crate) offers_sent_declined: AtomicU64,
    pub(crate) offers_sent_unanswered: AtomicU64,
    /// Moves other nodes offered to this one: taken, declined.
    pub(crate) offers_received_taken: AtomicU64,
    pub(crate) offers_received_declined: AtomicU64,
    /// Times this node sent its configuration again (every
    /// `CONFIG_RESEND_MS`, so that a lost copy is made up for).
    pub(crate) configs_resent: AtomicU64,
    /// Migrations the balancer started, and of those, failed.
    pub(crate) moves: AtomicU64,
    pub(crate) moves_failed: AtomicU64,
    /// Balancing decisions taken (one per period while a balancing
    /// scheduler covers this node).
    pub(crate) decisions: AtomicU64,
}

impl Stats {
    /// Every counter zero.
    pub(crate) const fn new() -> Self {
        Stats {
            reports_out: AtomicU64::new(0),
            reports_in: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            changes_made: AtomicU64::new(0),
            configs_resent: AtomicU64::new(0),
            offers_sent_taken: AtomicU64::new(0),
            offers_sent_declined: AtomicU64::new(0),
            offers_sent_unanswered: AtomicU64::new(0),
            offers_received_taken: AtomicU64::new(0),
            offers_received_declined: AtomicU64::new(0),
            moves: AtomicU64::new(0),
            moves_failed: AtomicU64::new(0),
            decisions: AtomicU64::new(0),
        }
    }
}

/// A load per CPU in 1/1024 of a task, as `1.25`.
pub(crate) struct Load(pub(crate) u32);

impl fmt::Display for Load {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hundredths = (u64::from(self.0) * 100 + 512) / 1024;
        write!(f, "{}.{:02}", hundredths / 100, hundredths % 100)
    }
}

/// Writes the schedulers of `c`, one line each.
fn write_schedulers(out: &mut impl Write, c: &Config) -> fmt::Result {
    writeln!(out, "generation: {} (changed on node {})", c.generation, c.origin)?;
    writeln!(out, "schedulers: {}", c.schedulers().len())?;
    for s in c.schedulers() {
        writeln!(out, "scheduler: {}", s)?;
    }
    writeln!(out, "pins: {}", c.pins().len())?;
    for p in c.pins() {
        match p.node {
            0 => writeln!(out, "pin: {}", p.pid)?,
            n => writeln!(out, "pin: {} on node {}", p.pid, n)?,
        }
    }
    Ok(())
}

/// Whether `c` has an enabled scheduler of a policy `wanted` accepts.
pub(crate) fn any_enabled(c: &Config, wanted: impl Fn(PolicyKind) -> bool) -> bool {
    c.schedulers().iter().any(|s| s.enabled && wanted(s.policy))
}

impl SchedService {
    /// Writes the status text: `key: value` lines, then tables.
    pub(crate) fn write_status(&self, out: &mut impl Write) -> fmt::Result {
        let c = self.config();
        let st = &self.stats;
        let balancing = any_enabled(&c, |k| k == PolicyKind::Balance || k == PolicyKind::Memory);
        writeln!(out, "node: {}", self.own_node())?;
        writeln!(out, "balancing: {}", if balancing { "on" } else { "off" })?;
        write_schedulers(out, &c)?;
        writeln!(out, "decisions: {}", st.decisions.load(Ordering::Relaxed))?;
        writeln!(out, "migrations: {}", st.moves.load(Ordering::Relaxed))?;
        writeln!(out, "migrations_failed: {}", st.moves_failed.load(Ordering::Relaxed))?;
        writeln!(out, "offers_sent_taken: {}", st.offers_sent_taken.load(Ordering::Relaxed))?;
        writeln!(out, "offers_sent_declined: {}", st.offers_sent_declined.load(Ordering::Relaxed))?;
        writeln!(out, "offers_sent_unanswered: {}", st.offers_sent_unanswered.load(Ordering::Relaxed))?;
        writeln!(out, "offers_received_taken: {}", st.offers_received_taken.load(Ordering::Relaxed))?;
        writeln!(out, "offers_received_declined: {}", st.offers_received_declined.load(Ordering::Relaxed))?;
        writeln!(out, "reports_sent: {}", st.reports_out.load(Ordering::Relaxed))?;
        writeln!(out, "reports_taken: {}", st.reports_in.load(Ordering::Relaxed))?;
        writeln!(out, "malformed: {}", st.malformed.load(Ordering::Relaxed))?;
        writeln!(out, "configurations_taken: {}", self.configs_taken.load(Ordering::Relaxed))?;
        writeln!(out, "configurations_resent: {}", st.configs_resent.load(Ordering::Relaxed))?;
        writeln!(out, "changes_made: {}", st.changes_made.load(Ordering::Relaxed))?;
        writeln!(out, "execs_dropped: {}", crate::exec_hook::dropped())?;
        self.state.lock().write(out)
    }
}

/// `/proc/ssi/scheduler`.
pub(crate) struct SchedulerFile;

impl<D: AsRef<SchedService> + 'static> ProcShow<D> for SchedulerFile {
    const NAME: &'static CStr = c_str!("scheduler");

    fn show(data: &D, out: &mut SeqFile<'_>) -> Result {
        data.as_ref().write_status(out).map_err(|_| ENOSPC)
    }
}
