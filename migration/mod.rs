// SPDX-License-Identifier: GPL-2.0
//! Live migration (`ssi-ctl migrate PID NODE`): a running process moves to
//! another node over krpc and goes on there, while a deputy keeps its
//! place on its home node (docs/migration.md).
//!
//! - `source.rs`: the moving side. The capture of `checkpoint/` freezes
//!   the process and, through the hand-over hook the source fills
//!   (`checkpoint::handover::Handover`), writes its image straight to the
//!   destination as `MigrateData` frames; the destination restores it and
//!   reports; the source hands over (`MigrateGo`) or, on any failure
//!   before that, lets the process go on where it was.
//! - `remote.rs`: the receiving side, and the process while it runs away
//!   from home (its end goes home as `MigrateExit`, signals come in);
//!   `incoming.rs` its krpc handlers; its parts: `receiver.rs` (the
//!   incoming image; its page data stays in the received frames' buffers,
//!   in the restore's page store, `checkpoint/page_store.rs`, until the
//!   restore copies it in), `page_client.rs` (post-copy and lazy's page
//!   requests), `io_answers.rs` (the answers to forwarded reads and
//!   writes).
//! - `deputy.rs`: the home side: the original task, asleep in the module,
//!   keeping its pid, parent and files; it forwards signals, serves reads
//!   and writes on its files, and ends the way the process ended.
//! - `forward.rs`: the stand-in files a migrated process has for the
//!   files its deputy keeps (pipes, terminals).
//! - `ask.rs`: control from anywhere: a migration asked by another node
//!   (`MigrateAsk`), run here in a thread of its own, and the asking side.
//! - `pages.rs`, `lender.rs`: post-copy and lazy: the destination fetches
//!   the memory after the process resumed (the pages file); the old copy
//!   lends it.
//!
//! This registry lists every deputy and hosted process of this node, and
//! the recent migrations for `/proc/ssi/migrations`.

pub(crate) mod ask;
pub(crate) mod deputy;
pub(crate) mod forward;
pub(crate) mod incoming;
pub(crate) mod io_answers;
pub(crate) mod lease;
pub(crate) mod lender;
pub(crate) mod page_client;
pub(crate) mod pages;
pub(crate) mod precopy;
pub(crate) mod receiver;
pub(crate) mod remote;
pub(crate) mod resume;
pub(crate) mod round_pages;
pub(crate) mod source;
pub(crate) mod stream;
pub(crate) mod sys;
pub(crate) mod watcher;

use crate::{
    checkpoint::{remote::RemoteRestarts, threads::RestoreGroups},
    cluster::Cluster,
    krpc::{
        connection::Connection,
        handlers::{Handler, Incoming},
    },
    kthread::KThread,
    procfs::{ProcShow, SeqFile},
    proto::ctl::strategy_name,
    proto::migration::{Family, Ref},
    proto::wire::{FrameHeader, MsgType},
};
use core::fmt::Write;
use deputy::Deputy;
use kernel::{c_str, new_mutex, prelude::*, str::CStr, sync::Arc, sync::Mutex};
use lender::Lender;
use page_client::PagesIn;
use remote::Hosted;

/// How many times a bulk frame (image data, pages) waits for room in a
/// peer's send queue (2 s each) while the peer stays connected.
const BULK_SEND_TRIES: u32 = 30;

/// `MigrateGo` for move `id` to `node`: asked again while the destination
/// answers `EAGAIN` (it still takes the final state; its handler waits
/// only briefly), for up to `wait_ms` and until `stop` says so; the
/// call's error otherwise.
pub(crate) fn send_go(cluster: &Cluster, node: u16, id: u64, wait_ms: u32, stop: &dyn Fn() -> bool) -> Result {
    let mut b = [0u8; Ref::LEN];
    (Ref { id }).encode(&mut b).map_err(|_| EINVAL)?;
    let deadline = crate::checkpoint::task::mono_ns() + u64::from(wait_ms) * 1_000_000;
    loop {
        match cluster.call_steady(node, MsgType::MigrateGo, &b, GO_CALL_TIMEOUT_MS) {
            Err(e) if e == EAGAIN && crate::checkpoint::task::mono_ns() < deadline && !stop() => continue,
            r => return r.map(|_| ()),
        }
    }
}

/// `MigrateAbort` for move `id` to `node` (reliable, best effort).
pub(crate) fn send_abort(cluster: &Cluster, node: u16, id: u64) {
    let mut b = [0u8; Ref::LEN];
    if (Ref { id }).encode(&mut b).is_ok() {
        let _ = cluster.send_reliable(node, MsgType::MigrateAbort, &b);
    }
}

/// How long one `MigrateGo` call may take.
const GO_CALL_TIMEOUT_MS: u32 = 10_000;

/// Sends a bulk one-way frame to `node`: a slow peer (a full send queue)
/// is waited for as long as it stays connected, up to a minute.
pub(crate) fn send_bulk(cluster: &Cluster, node: u16, kind: MsgType, body: &[u8]) -> Result {
    send_bulk_parts(cluster, node, kind, [body, &[]], &[])
}

/// [`send_bulk`] of a body in parts (`body[0]`, `body[1]`, then each of
/// `more`).
pub(crate) fn send_bulk_parts(cluster: &Cluster, node: u16, kind: MsgType, body: [&[u8]; 2], more: &[&[u8]]) -> Result {
    let mut tries = 1;
    loop {
        match cluster.send_parts_to(node, kind, body, more) {
            Err(e) if e == crate::kernel_ext::etimedout() && tries < BULK_SEND_TRIES && cluster.is_connected(node) => {
                tries += 1;
            }
            r => return r,
        }
    }
}

/// Migrations remembered for `/proc/ssi/migrations`.
const HISTORY: usize = 32;

/// Which side of a migration a record describes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Out,
    In,
}

/// One migration, as `/proc/ssi/migrations` shows it.
#[derive(Clone, Copy)]
pub(crate) struct Record {
    pub(crate) id: u64,
    pub(crate) direction: Direction,
    /// The process here (source: before; destination: after).
    pub(crate) pid: u32,
    /// The other node.
    pub(crate) peer: u16,
    pub(crate) strategy: u8,
    pub(crate) state: &'static str,
    pub(crate) bytes: u64,
    pub(crate) rounds: u32,
    pub(crate) frozen_ns: u64,
    pub(crate) total_ns: u64,
}

/// A migration remembered: its record and, on the destination of a
/// post-copy or lazy one, how its pages came.
#[derive(Clone, Copy)]
struct Entry {
    record: Record,
    pages: PagesIn,
}

impl Entry {
    /// Takes what the incoming migration `h` (this entry's) knows now: the
    /// pid of its process (the restart program may take the image after
    /// a record) and how its pages came.
    fn refresh(&mut self, h: &Hosted) {
        let pid = h.pid();
        if pid != 0 {
            self.record.pid = pid;
        }
        self.pages = h.pages_in();
    }
}

struct State {
    deputies: KVec<Arc<Deputy>>,
    lenders: KVec<Arc<Lender>>,
    hosted: KVec<Arc<Hosted>>,
    history: KVec<Entry>,
}

/// This node's migrations: deputies, hosted processes, recent records.
#[pin_data]
pub(crate) struct Migrations {
    #[pin]
    state: Mutex<State>,
    /// The node's restarts, which start and follow the restores of
    /// incoming processes and of processes coming home.
    pub(crate) restarts: Arc<RemoteRestarts>,
    /// The node's multithreaded restores.
    pub(crate) restore_groups: Arc<RestoreGroups>,
    /// What the stand-ins' writes ask first (`forward::WriteGate`), set
    /// once by a layer above.
    #[pin]
    write_gate: Mutex<Option<Arc<dyn forward::WriteGate>>>,
}

impl Migrations {
    /// No migration yet; restores go through `restarts` and `restore_groups`.
    pub(crate) fn new(restarts: Arc<RemoteRestarts>, restore_groups: Arc<RestoreGroups>) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Migrations {
                state <- new_mutex!(State { deputies: KVec::new(), lenders: KVec::new(), hosted: KVec::new(), history: KVec::new() }),
                restarts,
                restore_groups,
                write_gate <- new_mutex!(None),
            }),
            GFP_KERNEL,
        )
    }

    /// Sets what the stand-ins made from now on ask before a write.
    pub(crate) fn set_write_gate(&self, gate: Arc<dyn forward::WriteGate>) {
        *self.write_gate.lock() = Some(gate);
    }

    /// What a new stand-in asks before a write.
    pub(crate) fn write_gate(&self) -> Option<Arc<dyn forward::WriteGate>> {
        self.write_gate.lock().clone()
    }

    /// Adds or updates the record of migration `r.id` in `r.direction`.
    ///
    /// The strategy is the one the migration runs, settled before its
    /// first record: an update keeps it (a deputy's end names none), and
    /// keeps the counts and times the update has none of (0).
    pub(crate) fn record(&self, r: Record) {
        let mut st = self.state.lock();
        if let Some(old) = st.history.iter_mut().map(|e| &mut e.record).find(|o| o.id == r.id && o.direction == r.direction)
        {
            let known = |new: u64, was: u64| if new == 0 { was } else { new };
            *old = Record {
                strategy: old.strategy,
                bytes: known(r.bytes, old.bytes),
                rounds: if r.rounds == 0 { old.rounds } else { r.rounds },
                frozen_ns: known(r.frozen_ns, old.frozen_ns),
                total_ns: known(r.total_ns, old.total_ns),
                ..r
            };
            return;
        }
        let r = Entry { record: r, pages: PagesIn::default() };
        if st.history.len() >= HISTORY {
            // The list is in age order: the oldest goes.
            for i in 1..st.history.len() {
                st.history.swap(i - 1, i);
            }
            let last = st.history.len() - 1;
            st.history[last] = r;
            return;
        }
        let _ = st.history.push(r, GFP_KERNEL);
    }

    pub(crate) fn add_deputy(&self, d: Arc<Deputy>) -> Result {
        self.state.lock().deputies.push(d, GFP_KERNEL)?;
        Ok(())
    }

    pub(crate) fn remove_deputy(&self, home_id: u64) {
        let mut st = self.state.lock();
        if let Some(i) = st.deputies.iter().position(|d| d.home_id == home_id) {
            drop(crate::kernel_ext::swap_remove(&mut st.deputies, i));
        }
    }

    /// The deputy of `home_id`.
    pub(crate) fn deputy(&self, home_id: u64) -> Option<Arc<Deputy>> {
        self.state.lock().deputies.iter().find(|d| d.home_id == home_id).cloned()
    }

    /// The deputy whose pid is `pid`.
    pub(crate) fn deputy_of_pid(&self, pid: u32) -> Option<Arc<Deputy>> {
        self.state.lock().deputies.iter().find(|d| d.pid == pid).cloned()
    }

    pub(crate) fn add_lender(&self, l: Arc<Lender>) -> Result {
        self.state.lock().lenders.push(l, GFP_KERNEL)?;
        Ok(())
    }

    pub(crate) fn remove_lender(&self, id: u64) {
        let mut st = self.state.lock();
        if let Some(i) = st.lenders.iter().position(|l| l.id == id) {
            drop(crate::kernel_ext::swap_remove(&mut st.lenders, i));
        }
    }

    /// The lender of migration `id`.
    pub(crate) fn lender(&self, id: u64) -> Option<Arc<Lender>> {
        self.state.lock().lenders.iter().find(|l| l.id == id).cloned()
    }

    pub(crate) fn add_hosted(&self, h: Arc<Hosted>) -> Result {
        self.state.lock().hosted.push(h, GFP_KERNEL)?;
        Ok(())
    }

    /// Forgets hosted process (or incoming migration) `id`; its record
    /// keeps its pid and how its pages came.
    pub(crate) fn remove_hosted(&self, id: u64) {
        let mut st = self.state.lock();
        let Some(i) = st.hosted.iter().position(|h| h.id == id) else { return };
        let Some(h) = crate::kernel_ext::swap_remove(&mut st.hosted, i) else { return };
        if let Some(e) = st.history.iter_mut().find(|e| e.record.id == id && e.record.direction == Direction::In) {
            e.refresh(&h);
        }
    }

    /// The hosted process (or incoming migration) `f` picks.
    pub(crate) fn find_hosted(&self, f: impl Fn(&Hosted) -> bool) -> Option<Arc<Hosted>> {
        self.state.lock().hosted.iter().find(|h| f(h)).cloned()
    }

    /// Every hosted process and incoming migration, for the watcher.
    pub(crate) fn all_hosted(&self) -> Result<KVec<Arc<Hosted>>> {
        let st = self.state.lock();
        let mut v = KVec::with_capacity(st.hosted.len(), GFP_KERNEL)?;
        for h in st.hosted.iter() {
            v.push(h.clone(), GFP_KERNEL)?;
        }
        Ok(v)
    }

    /// Incoming migrations and hosted processes.
    pub(crate) fn hosted_count(&self) -> usize {
        self.state.lock().hosted.len()
    }

    /// The pids of this node that take part in a migration, and how, for
    /// the process space: deputies, and the processes that migrated here
    /// (a process coming home is its deputy's until it runs again).
    pub(crate) fn pid_roles(&self) -> Result<KVec<(u32, PidRole)>> {
        let st = self.state.lock();
        let mut v = KVec::with_capacity(st.deputies.len() + st.hosted.len(), GFP_KERNEL)?;
        for d in st.deputies.iter() {
            v.push((d.pid, PidRole::Deputy), GFP_KERNEL)?;
        }
        for h in st.hosted.iter() {
            if let Some(role) = hosted_role(h) {
                v.push((h.pid(), role), GFP_KERNEL)?;
            }
        }
        Ok(v)
    }

    /// The node the process `pid`, which migrated here, came from.
    pub(crate) fn came_from(&self, pid: u32) -> Option<u16> {
        let st = self.state.lock();
        st.hosted.iter().find(|h| !h.returning && h.pid() == pid).map(|h| h.from_node)
    }

    /// How the pid `pid` of this node takes part in a migration, if it
    /// does (as [`Migrations::pid_roles`] lists it); allocates nothing.
    pub(crate) fn role_of(&self, pid: u32) -> Option<PidRole> {
        if pid == 0 {
            return None;
        }
        let st = self.state.lock();
        if st.deputies.iter().any(|d| d.pid == pid) {
            return Some(PidRole::Deputy);
        }
        st.hosted.iter().filter(|h| h.pid() == pid).find_map(|h| hosted_role(h))
    }
}

/// The role of a process that migrated here (`None`: coming home, or no
/// pid yet).
fn hosted_role(h: &remote::Hosted) -> Option<PidRole> {
    if h.returning || h.pid() == 0 {
        return None;
    }
    let running = h.state() == remote::HostedState::Running;
    Some(PidRole::Hosted { home_node: h.home_node, home_pid: h.home_pid, family: h.home_family, running })
}

/// How a pid of this node takes part in a migration ([`Migrations::pid_roles`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PidRole {
    /// A deputy: its process runs on another node.
    Deputy,
    /// A process that migrated here from its home node, where its deputy
    /// has pid `home_pid`. Not `running`: the restart program still
    /// waiting for its image or restoring it, or a copy that moved on
    /// (lending its memory to the next node until it ends).
    Hosted { home_node: u16, home_pid: u32, family: Family, running: bool },
}

/// `/proc/ssi/migrations`: recent migrations, this node's deputies and the
/// processes it runs for other nodes.
pub(crate) struct MigrationsFile;

impl<D: AsRef<Migrations> + 'static> ProcShow<D> for MigrationsFile {
    const NAME: &'static CStr = c_str!("migrations");

    fn show(data: &D, out: &mut SeqFile<'_>) -> Result {
        let st = data.as_ref().state.lock();
        let e = |_| ENOSPC;
        writeln!(
            out,
            "{:<16} {:>3} {:>7} {:>4} {:<8} {:<10} {:>12} {:>6} {:>10} {:>10} {:>8} {:>8}",
            "id", "dir", "pid", "peer", "strategy", "state", "bytes", "rounds", "frozen_us", "total_us", "pushed", "fetched"
        )
        .map_err(e)?;
        for entry in st.history.iter().rev() {
            let mut entry = *entry;
            if entry.record.direction == Direction::In {
                // Still here: as it is now.
                if let Some(h) = st.hosted.iter().find(|h| h.id == entry.record.id) {
                    entry.refresh(h);
                }
            }
            let (r, pages) = (&entry.record, entry.pages);
            writeln!(
                out,
                "{:016x} {:>3} {:>7} {:>4} {:<8} {:<10} {:>12} {:>6} {:>10} {:>10} {:>8} {:>8}",
                r.id,
                if r.direction == Direction::Out { "out" } else { "in" },
                r.pid,
                r.peer,
                strategy_name(r.strategy),
                r.state,
                r.bytes,
                r.rounds,
                r.frozen_ns / 1000,
                r.total_ns / 1000,
                pages.pushed,
                pages.fetched
            )
            .map_err(e)?;
        }
        writeln!(out, "deputies: {}", st.deputies.len()).map_err(e)?;
        writeln!(out, "{:>7} {:<16} {:>4} {:>7}", "pid", "home_id", "node", "pid_there").map_err(e)?;
        for d in st.deputies.iter() {
            let (node, pid) = d.location();
            writeln!(out, "{:>7} {:016x} {:>4} {:>7}", d.pid, d.home_id, node, pid).map_err(e)?;
        }
        writeln!(out, "lenders: {}", st.lenders.len()).map_err(e)?;
        writeln!(out, "{:<16} {:>4} {:>10}", "id", "node", "pages_sent").map_err(e)?;
        for l in st.lenders.iter() {
            let sent = l.pages_sent.load(core::sync::atomic::Ordering::Relaxed);
            writeln!(out, "{:016x} {:>4} {:>10}", l.id, l.node, sent).map_err(e)?;
        }
        writeln!(out, "hosted: {}", st.hosted.len()).map_err(e)?;
        writeln!(out, "{:>7} {:<16} {:>4} {:>7} {:<10}", "pid", "home_id", "home", "home_pid", "state").map_err(e)?;
        for h in st.hosted.iter() {
            writeln!(out, "{:>7} {:016x} {:>4} {:>7} {:<10}", h.pid(), h.home_id, h.home_node, h.home_pid, h.state_name())
                .map_err(e)?;
        }
        Ok(())
    }
}

/// Starts migration's part of the cluster service: registers its message
/// handlers and starts the watcher thread (`ssi-migwatch`: the end of
/// processes that migrated here, leases, stale migrations).
pub(crate) fn start(cluster: &Arc<Cluster>, migrations: &Arc<Migrations>) -> Result<KThread> {
    let handler: Arc<dyn Handler<Cluster>> = Arc::new(MigrationHandler { migrations: migrations.clone() }, GFP_KERNEL)?;
    for kind in MIGRATION_MESSAGES {
        cluster.register_handler(kind, handler.clone())?;
    }
    ask::register(cluster, migrations)?;
    let watcher = Arc::new(watcher::Watcher { cluster: cluster.clone(), migrations: migrations.clone() }, GFP_KERNEL)?;
    KThread::spawn(c_str!("ssi-migwatch"), watcher)
}

/// The message types [`MigrationHandler`] handles.
pub(crate) const MIGRATION_MESSAGES: [MsgType; 16] = [
    MsgType::MigrateLease,
    MsgType::MigratePageRequest,
    MsgType::MigratePageData,
    MsgType::MigrateRelease,
    MsgType::MigratePages,
    MsgType::MigrateKeep,
    MsgType::MigrateBegin,
    MsgType::MigrateData,
    MsgType::MigrateCommit,
    MsgType::MigrateGo,
    MsgType::MigrateAbort,
    MsgType::MigrateExit,
    MsgType::MigrateSignal,
    MsgType::MigrateIo,
    MsgType::MigrateIoDone,
    MsgType::MigrateMoved,
];

/// Handles the `Migrate*` messages of both sides.
pub(crate) struct MigrationHandler {
    migrations: Arc<Migrations>,
}

impl Handler<Cluster> for MigrationHandler {
    fn handle(&self, cluster: &Cluster, msg: &Incoming<'_>) -> Result<KVec<u8>> {
        let m = &self.migrations;
        let from = msg.from_node();
        let body = msg.body;
        let r = match msg.header.kind() {
            Some(MsgType::MigrateBegin) => return incoming::begin(cluster, m, from, body),
            Some(MsgType::MigrateLease) => return lease::handle(m, from, body),
            // Taken with its buffer (`handle_owned`); not reached.
            Some(MsgType::MigrateData) => Err(EINVAL),
            Some(MsgType::MigrateCommit) => return incoming::commit(m, from, body),
            Some(MsgType::MigrateGo) => incoming::go(m, from, body),
            Some(MsgType::MigrateAbort) => incoming::abort(m, from, body),
            Some(MsgType::MigrateExit) => deputy::exit(m, from, body),
            Some(MsgType::MigrateSignal) => incoming::signal(m, from, body),
            Some(MsgType::MigrateIo) => deputy::io(m, from, body),
            Some(MsgType::MigrateIoDone) => forward::io_done(m, from, body),
            Some(MsgType::MigrateMoved) => deputy::moved(m, from, body),
            // Taken with its buffer (`handle_owned`); not reached.
            Some(MsgType::MigratePages) => Err(EINVAL),
            Some(MsgType::MigrateKeep) => incoming::keep(m, from, body),
            Some(MsgType::MigratePageRequest) => lender::page_request(cluster, m, from, body),
            // Taken with its buffer (`handle_owned`); not reached.
            Some(MsgType::MigratePageData) => Err(EINVAL),
            Some(MsgType::MigrateRelease) => lender::release(m, from, body),
            _ => Err(EINVAL),
        };
        r.map(|()| KVec::new())
    }

    fn handle_owned(
        &self,
        cluster: &Cluster,
        conn: &Arc<Connection>,
        header: &FrameHeader,
        body: KVec<u8>,
    ) -> Result<KVec<u8>> {
        let m = &self.migrations;
        let from = conn.peer.node_id;
        // Bulk data: image data, page answers, pre-copy rounds; their pages
        // stay in `body`.
        match header.kind() {
            Some(MsgType::MigrateData) => return incoming::data(m, from, body).map(|()| KVec::new()),
            Some(MsgType::MigratePageData) => return pages::page_data(m, from, body).map(|()| KVec::new()),
            Some(MsgType::MigratePages) => return incoming::pages(m, from, body).map(|()| KVec::new()),
            _ => {}
        }
        self.handle(cluster, &Incoming { conn, header, body: &body })
    }
}
