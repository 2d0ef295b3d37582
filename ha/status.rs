// SPDX-License-Identifier: GPL-2.0
//! `/proc/ssi/ha` (read by `ssi-ctl ha status`): counters, then one line
//! per protected process of this node, as `key=value` fields:
//!
//! ```text
//! node: 1
//! directory: /cluster/ssi-ha
//! default_interval_s: 30
//! fence_ms: 20000
//! protected: 1
//! ...counters...
//! process: pid=70012 interval_s=2 phase=running node=2 newest=4 kept=3,4 age_ms=812 bytes=139264 frozen_us=5120 written=4 failed=0 restarts=0
//! process: pid=70013 ... restarts=0 replicas=3 generation=1 copies=2:70013,3:131090,1:65601 compared=41 emitted=44 good=6 corruptions=0 rollbacks=0 replaced=0
//! copy: home=1 pid=70013 copy=0 local_pid=70013 generation=1 point=44 armed=1
//! ```
//!
//! A replicated process's line adds its copies (`node:pid`, or the state
//! of one that does not run: `wanted`, `starting`), the points compared,
//! the writes that reached the world, the newest good image (0: none
//! yet), and the disagreements, rollbacks and replacements. `copy:` lines
//! are the copies that run on this node, of any home.
//!
//! `node` is where it runs (its home, this node, when 0 would be
//! ambiguous: this node's id); `newest` 0 and `age_ms` -1 before the
//! first complete image.

use super::{guard::TIMING, HaService};
use crate::procfs::{ProcShow, SeqFile};
use crate::proto::ha::Phase;
use core::{
    fmt::{self, Write},
    sync::atomic::Ordering,
};
use kernel::{c_str, prelude::*, str::CStr};

impl HaService {
    /// Writes the status text.
    pub(crate) fn write_status(&self, out: &mut dyn Write) -> fmt::Result {
        let own = self.own_node();
        let s = &self.stats;
        writeln!(out, "node: {}", own)?;
        writeln!(out, "directory: {}", self.dir().as_str())?;
        let st = self.state.lock();
        writeln!(out, "default_interval_s: {}", st.default_interval_s)?;
        writeln!(out, "fence_ms: {}", TIMING.fence_ms())?;
        writeln!(out, "protected: {}", st.entries.len())?;
        for (name, v) in [
            ("checkpoints_asked", &s.checkpoints_asked),
            ("checkpoints_written", &s.checkpoints_written),
            ("checkpoints_failed", &s.checkpoints_failed),
            ("checkpoints_for_others", &s.checkpoints_for_others),
            ("restarts", &s.restarts),
            ("restarts_failed", &s.restarts_failed),
            ("given_up", &s.given_up),
            ("malformed", &s.malformed),
            ("corruptions", &s.corruptions),
        ] {
            writeln!(out, "{}: {}", name, v.load(Ordering::Relaxed))?;
        }
        writeln!(out, "checkpoints_queued_here: {}", st.jobs.len())?;
        let c = &self.copies;
        writeln!(out, "replica_points: {}", c.points.load(Ordering::Relaxed))?;
        writeln!(out, "replica_digest_us: {}", c.digest_ns.load(Ordering::Relaxed) / 1000)?;
        writeln!(out, "replica_wait_us: {}", c.wait_ns.load(Ordering::Relaxed) / 1000)?;
        writeln!(out, "replica_stops: {}", c.stopped.load(Ordering::Relaxed))?;
        let now = crate::kernel_ext::mono_ms();
        for e in st.entries.iter() {
            let p = &e.prot;
            write!(
                out,
                "process: pid={} interval_s={} phase={} node={} newest={} kept=",
                p.pid,
                p.interval_ms / 1000,
                if p.checkpointing() && p.phase == Phase::Running { "checkpointing" } else { p.phase.name() },
                if e.node == 0 { own } else { e.node },
                p.newest()
            )?;
            let mut first = true;
            for k in p.kept() {
                write!(out, "{}{}", if first { "" } else { "," }, k)?;
                first = false;
            }
            if first {
                write!(out, "-")?;
            }
            if p.newest() == 0 {
                write!(out, " age_ms=-1")?;
            } else {
                write!(out, " age_ms={}", now.saturating_sub(p.good_at_ms))?;
            }
            write!(
                out,
                " bytes={} frozen_us={} written={} failed={} restarts={}",
                p.good_bytes,
                p.good_frozen_ns / 1000,
                p.written,
                p.failed,
                p.restarts
            )?;
            if let Some(r) = &e.replicas {
                write!(out, " ")?;
                r.show(out)?;
            }
            writeln!(out)?;
        }
        drop(st);
        self.copies.show(out)?;
        Ok(())
    }
}

/// `/proc/ssi/ha`.
pub(crate) struct HaFile;

impl<D: AsRef<HaService> + 'static> ProcShow<D> for HaFile {
    const NAME: &'static CStr = c_str!("ha");

    fn show(data: &D, out: &mut SeqFile<'_>) -> Result {
        data.as_ref().write_status(out).map_err(|_| ENOSPC)
    }
}
