// SPDX-License-Identifier: GPL-2.0
//! The watcher thread (`ssi-migwatch`) of a node that receives and runs
//! migrated processes: every [`WATCH_MS`] it reports home the end of the
//! processes it runs (`MigrateExit`, reliable), forgets incoming
//! migrations that failed, stalled or lost their source, and every
//! `lease::RENEW_MS` renews the leases of the processes it runs.

use super::{
    lease,
    remote::{Hosted, HostedState},
    Migrations,
};
use crate::{
    checkpoint::task,
    cluster::Cluster,
    kthread::{self, ThreadBody},
    proto::{migration::Exit, wire::MsgType},
};
use kernel::{prelude::*, sync::Arc};

/// How often the watcher looks at hosted processes.
const WATCH_MS: u32 = 50;
/// An incoming migration that makes no progress for this long is dropped.
const STALE_NS: u64 = 120_000_000_000;
/// An incoming migration whose source is unreachable and that made no
/// progress for this long is dropped.
const ORPHAN_NS: u64 = 10_000_000_000;

/// The watcher: reports the end of hosted processes home and forgets
/// migrations that failed or stalled.
pub(crate) struct Watcher {
    pub(crate) cluster: Arc<Cluster>,
    pub(crate) migrations: Arc<super::Migrations>,
}

impl ThreadBody for Watcher {
    fn run(&self) {
        let migrations = self.migrations.clone();
        let mut renewed_ns = 0u64;
        while !kthread::should_stop() {
            kthread::sleep_ms(WATCH_MS);
            let now = task::mono_ns();
            if now.saturating_sub(renewed_ns) >= lease::RENEW_MS * 1_000_000 {
                renewed_ns = now;
                lease::renew(&self.cluster, &migrations);
            }
            let Ok(all) = migrations.all_hosted() else { continue };
            for h in all.iter() {
                self.look_at(&migrations, h);
            }
        }
    }
}

impl Watcher {
    fn look_at(&self, migrations: &Migrations, h: &Arc<Hosted>) {
        let now = task::mono_ns();
        let (state, since, ended, has_task) = h.watch();
        match state {
            HostedState::Go if restarting_gone(h) => {
                // Handed over, then lost before it ran (the restore failed
                // after its point of no return): it ended killed.
                self.report_end(migrations, h, 9);
            }
            HostedState::Running => {
                let Some(status) = ended else { return };
                self.report_end(migrations, h, status);
            }
            HostedState::Moved => {
                if ended.is_some() || !has_task {
                    h.release_source(&self.cluster);
                    migrations.remove_hosted(h.id);
                }
            }
            HostedState::Failed => {
                h.record(migrations, "failed");
                migrations.remove_hosted(h.id);
            }
            HostedState::Receiving
            | HostedState::Committed
            | HostedState::Prepared
            | HostedState::Final
            | HostedState::Ready
            | HostedState::Go => {
                let idle = now.saturating_sub(since);
                let orphan = idle > ORPHAN_NS && !self.cluster.is_connected(h.from_node);
                // (The restart program has a pid here once it has the
                // image: an eager one may die while the image comes.)
                if idle > STALE_NS || orphan || restarting_gone(h) {
                    pr_info!("migration {:016x} from node {}: dropped ({:?})\n", h.id, h.from_node, state);
                    h.fail();
                    h.record(migrations, "failed");
                    migrations.remove_hosted(h.id);
                }
            }
        }
    }

    /// Tells the home node how the process ended, and forgets it.
    fn report_end(&self, migrations: &Migrations, h: &Arc<Hosted>, status: u32) {
        let exit = Exit { home_id: h.home_id, status };
        let mut buf = [0u8; Exit::LEN];
        let sent = exit
            .encode(&mut buf)
            .map_err(|_| EINVAL)
            .and_then(|_| self.cluster.send_reliable(h.home_node, MsgType::MigrateExit, &buf));
        if let Err(e) = sent {
            pr_warn!(
                "migrated process {} (pid {} on node {}) ended, but node {} was not told (error {})\n",
                h.pid(),
                h.home_pid,
                h.home_node,
                h.home_node,
                e.to_errno()
            );
        }
        h.record(migrations, "ended");
        h.release_source(&self.cluster);
        migrations.remove_hosted(h.id);
    }
}

/// Whether the process restoring or restored for `h` is gone.
fn restarting_gone(h: &Hosted) -> bool {
    let pid = h.pid();
    pid != 0 && !task::process_alive(pid)
}
