// SPDX-License-Identifier: GPL-2.0
//! The receiving side of a migration, and the process while it runs away
//! from its home node.
//!
//! `MigrateBegin` makes a [`Hosted`] with a file in kernel memory for the
//! image and starts the restart program (`ctl_path restart --token T
//! --as-uid U --migration`, as for `restart --node`), which asks the module
//! for the image by its token (`/dev/ssi` op 7) and waits there;
//! `MigrateData` frames fill the file in order; `MigrateCommit` lets the
//! program have it (so the program's start is not part of the freeze);
//! eager lets it have the file as soon as the description came, and the
//! process is rebuilt while its pages arrive ([`Hosted::streams`]). It
//! restores the image and, once every check passed,
//! waits in the module for `MigrateGo`: only then does the process run
//! here. Without `MigrateGo` within [`GO_TIMEOUT_MS`] (or with a
//! `MigrateAbort`) the restore gives up before its point of no return and
//! the process goes on at the source.
//!
//! While it runs here, signals from its deputy (`MigrateSignal`) are sent
//! to it, its stand-in files talk to the deputy (`forward.rs`), and the
//! watcher thread reports its end home (`MigrateExit`).

use super::{
    page_store::PageStore,
    round_pages::{self, RoundFrame, RoundPages},
    sys, Direction, Migrations, PagesIn, Record,
};
use crate::{
    checkpoint::{
        restore::MemoryStep,
        task::{self, File, Task},
    },
    cluster::Cluster,
    kernel_ext::StackStr,
    kthread,
    proto::{
        ctl::{STRATEGY_EAGER, STRATEGY_LAZY, STRATEGY_POSTCOPY, STRATEGY_PRECOPY},
        image_split::{ImageSplitter, Piece},
        migration::{is_push_read, Begin, Commit, Data, IoDone, Keep, PageData, Ref, Run, Signal, PAGE, USER_TOP},
        wire::{MsgType, RestartStarted},
    },
};
use kernel::{alloc::KVVec, new_mutex, prelude::*, sync::Arc, sync::Mutex};

/// How long a restored process waits for the source's `MigrateGo`.
const GO_TIMEOUT_MS: u64 = 10_000;
/// Most incoming migrations and hosted processes per node.
const MAX_HOSTED: usize = 256;
/// Largest image an incoming migration may send.
const MAX_IMAGE: u64 = 1 << 40;
/// How long `MigrateBegin` of a post-copy or lazy migration waits for the
/// restart program to be up (the source freezes the process after the
/// answer). It holds the connection's handler thread, so it is short; a
/// slower start only makes the freeze longer.
const PROGRAM_UP_WAIT_MS: u64 = 1500;

/// Where an incoming migration stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum HostedState {
    /// Image bytes are arriving.
    Receiving,
    /// The image is complete; the restart program was started.
    Committed,
    /// Post-copy, lazy: rebuilt from the image sent ahead while the
    /// process ran on at the source; the final image (captured at the
    /// freeze) is arriving.
    Prepared,
    /// Post-copy, lazy: the final image is complete; the process takes
    /// its state.
    Final,
    /// Restored, waiting for `MigrateGo`.
    Ready,
    /// The source handed it over.
    Go,
    /// It runs here.
    Running,
    /// It moved on to another node (its end is not reported).
    Moved,
    /// Given up (abort, timeout, failed restore); nothing runs.
    Failed,
}

impl HostedState {
    /// Not handed over yet: it may still be given up.
    fn before_go(self) -> bool {
        matches!(
            self,
            HostedState::Receiving | HostedState::Committed | HostedState::Prepared | HostedState::Final | HostedState::Ready
        )
    }
}

struct Inner {
    state: HostedState,
    received: u64,
    token: u32,
    /// The restart program, started at `MigrateBegin` (not for a process
    /// coming home: its deputy restores it).
    started: Option<RestartStarted>,
    /// The restart program is up: it asked for the image.
    program_up: bool,
    pid: u32,
    task: Option<Task>,
    since_ns: u64,
    /// The next `MigrateIo` sequence number.
    next_seq: u64,
    /// Answers to `MigrateIo` not yet taken: (seq, result, data).
    io_done: KVec<(u64, i64, KVec<u8>)>,
    /// Pre-copy: the rounds' pages and the keep list (until the restore
    /// took them).
    rounds: Option<RoundPages>,
    /// The image, in kernel memory (until the process runs): without its
    /// page data when that is split off into `pages` (a migration's image
    /// always is).
    image: Option<File>,
    /// Tells the image's page data from its description as it comes.
    splitter: ImageSplitter,
    /// Bytes of description in `image` (the page data is left out: the
    /// file is the image without it).
    described: u64,
    /// The image's page data, in image order (until the restore took it).
    pages: Option<PageStore>,
    /// Post-copy, lazy: the process's userfaultfd (the module's reference,
    /// until every page came or the process is gone).
    uffd: Option<File>,
    /// Post-copy, lazy: the ranges registered with it (empty until then).
    ranges: KVec<(u64, u64)>,
    /// Post-copy, lazy: pages fetched from the lending node, by push and
    /// on demand.
    pages_in: PagesIn,
    /// Post-copy: where the page server's last push read ended (0: none
    /// yet).
    pushed_to: u64,
    /// Post-copy, lazy: every page came (the page server said so).
    pages_done: bool,
    /// Post-copy, lazy: the lending node was told to let go.
    released: bool,
    /// Post-copy, lazy: its memory was lost; the process was killed.
    memory_lost: bool,
    /// Post-copy, lazy: page requests waiting for their answer (an answer
    /// to anything else is dropped).
    awaiting: KVec<u64>,
    /// Post-copy, lazy: answers to page requests not yet taken.
    page_answers: KVec<PageAnswer>,
    /// Post-copy: the requests sent ahead of the page server's next read.
    read_ahead: Option<super::pages::ReadAhead>,
}

/// The answer to a page request: the received frame's body, whose end is
/// the page data (kept as it came, not copied).
pub(crate) struct PageAnswer {
    seq: u64,
    pub(crate) result: i64,
    body: KVec<u8>,
    start: usize,
}

impl PageAnswer {
    /// The pages (empty with an error result).
    pub(crate) fn data(&self) -> &[u8] {
        self.body.get(self.start..).unwrap_or(&[])
    }
}

/// An incoming migration, then the process it became.
#[pin_data]
pub(crate) struct Hosted {
    pub(crate) id: u64,
    pub(crate) home_id: u64,
    pub(crate) home_node: u16,
    pub(crate) home_pid: u32,
    pub(crate) from_node: u16,
    pub(crate) uid: u32,
    pub(crate) strategy: u8,
    pub(crate) size: u64,
    /// The process comes back to its home node (this one): its deputy
    /// restores it.
    pub(crate) returning: bool,
    started_ns: u64,
    /// When its deputy's lease was last renewed (`lease.rs`), 0 if never.
    pub(crate) lease_ns: core::sync::atomic::AtomicU64,
    /// The module stays loaded while the record lives (from `MigrateBegin`
    /// until the process ended or moved on): `rmmod` is refused ("in
    /// use") rather than leaving the process running unseen.
    _module: sys::ModuleRef,
    #[pin]
    inner: Mutex<Inner>,
    /// Rung on every state change and `MigrateIoDone`.
    #[pin]
    pub(crate) bell: sys::Doorbell,
}

impl Hosted {
    /// Its pid here (0 until the restart program asked for the image).
    pub(crate) fn pid(&self) -> u32 {
        self.inner.lock().pid
    }

    pub(crate) fn state(&self) -> HostedState {
        self.inner.lock().state
    }

    /// What the watcher looks at: its state, since when (mono ns), how its
    /// task ended (a wait status) if it did, and whether it has a task.
    pub(crate) fn watch(&self) -> (HostedState, u64, Option<u32>, bool) {
        let i = self.inner.lock();
        (i.state, i.since_ns, i.task.as_ref().and_then(sys::exit_status), i.task.is_some())
    }

    /// Since when (mono ns) it runs here, if it does.
    pub(crate) fn running_since_ns(&self) -> Option<u64> {
        let i = self.inner.lock();
        (i.state == HostedState::Running).then_some(i.since_ns)
    }

    pub(crate) fn token(&self) -> u32 {
        self.inner.lock().token
    }

    pub(crate) fn state_name(&self) -> &'static str {
        match self.state() {
            HostedState::Receiving => "receiving",
            HostedState::Committed => "restoring",
            HostedState::Prepared => "prepared",
            HostedState::Final => "final",
            HostedState::Ready => "ready",
            HostedState::Go => "go",
            HostedState::Running => "running",
            HostedState::Moved => "moved",
            HostedState::Failed => "failed",
        }
    }

    fn set_state(&self, s: HostedState) {
        let mut i = self.inner.lock();
        i.state = s;
        i.since_ns = task::mono_ns();
        drop(i);
        self.bell.ring();
    }

    /// Whether `file` is this migration's image, perhaps reopened (the
    /// restart program must restore that one, not a file of its choosing).
    pub(crate) fn is_image(&self, file: &File) -> bool {
        self.inner.lock().image.as_ref().is_some_and(|i| sys::same_inode(i, file))
    }

    /// The image's page data, split off as it came, for the restore.
    pub(crate) fn take_pages(&self) -> Option<PageStore> {
        self.inner.lock().pages.take()
    }

    /// The image, for a deputy that restores it itself.
    pub(crate) fn take_image(&self) -> Option<File> {
        self.inner.lock().image.take()
    }

    /// Gives it up unless it already runs (or moved on).
    pub(crate) fn fail(&self) {
        let mut i = self.inner.lock();
        if i.state.before_go() {
            i.state = HostedState::Failed;
            i.since_ns = task::mono_ns();
            i.image = None;
            i.pages = None;
            i.rounds = None;
            i.uffd = None;
        }
        drop(i);
        self.bell.ring();
    }

    /// Gives it up, saying why in the log.
    pub(crate) fn fail_because(&self, why: &str) {
        pr_info!("migration {:016x} from node {}: {}: given up\n", self.id, self.from_node, why);
        self.fail();
    }

    /// The process moved on from here: its end is not reported home.
    pub(crate) fn moved_away(&self) {
        self.set_state(HostedState::Moved);
    }

    /// The restart program of this migration asks for the image: a
    /// descriptor of it in the caller's table, once the whole image came,
    /// or, eager ([`Self::streams`]), once its description came (the
    /// program is started when the migration begins and waits here,
    /// killable, until then, or fails at once if the migration is given
    /// up; a migration that stops making progress is given up by the
    /// watcher).
    pub(crate) fn image_fd(&self) -> Result<u32> {
        if !core::mem::replace(&mut self.inner.lock().program_up, true) {
            self.bell.ring();
        }
        loop {
            let seen = self.bell.seen();
            {
                let mut i = self.inner.lock();
                match i.state {
                    HostedState::Committed => {
                        i.pid = task::current_pid();
                        return sys::install_new_fd(i.image.as_ref().ok_or(ENOENT)?);
                    }
                    // The description is whole once page data or the end came.
                    HostedState::Receiving
                        if self.streams()
                            && i.splitter.splits()
                            && (i.splitter.page_bytes() > 0 || i.splitter.is_complete()) =>
                    {
                        i.pid = task::current_pid();
                        return sys::install_new_fd(i.image.as_ref().ok_or(ENOENT)?);
                    }
                    HostedState::Receiving => {}
                    _ => return Err(crate::kernel_ext::ecanceled()),
                }
            }
            if self.bell.wait_killable(seen, 1000) == sys::Woken::Signal {
                return Err(EINTR);
            }
        }
    }

    /// Waits until the restart program asked for the image, the migration
    /// was given up, or `ms` passed.
    fn await_program(&self, ms: u64) {
        let deadline = task::mono_ns() + ms * 1_000_000;
        loop {
            let seen = self.bell.seen();
            {
                let i = self.inner.lock();
                if i.program_up || i.state != HostedState::Receiving {
                    return;
                }
            }
            let now = task::mono_ns();
            if now >= deadline {
                pr_info!("migration {:016x} from node {}: restart program not up after {} ms\n", self.id, self.from_node, ms);
                return;
            }
            let left = ((deadline - now) / 1_000_000).clamp(1, 100) as u32;
            if self.bell.wait_killable(seen, left) == sys::Woken::Signal {
                return;
            }
        }
    }

    /// Restored and checked: waits for the source to hand the process over.
    /// `Err` if it gave up (or did not answer in time): the restore must
    /// stop before its point of no return.
    pub(crate) fn await_go(&self) -> Result {
        let deadline = task::mono_ns() + GO_TIMEOUT_MS * 1_000_000;
        {
            let mut i = self.inner.lock();
            if !matches!(i.state, HostedState::Committed | HostedState::Final) {
                return Err(crate::kernel_ext::ecanceled());
            }
            i.state = HostedState::Ready;
        }
        self.bell.ring();
        loop {
            let seen = self.bell.seen();
            match self.state() {
                HostedState::Go => return Ok(()),
                HostedState::Ready => {}
                _ => return Err(crate::kernel_ext::ecanceled()),
            }
            if task::mono_ns() > deadline || crate::kernel_ext::fatal_signal_pending() {
                self.fail();
                return Err(crate::kernel_ext::etimedout());
            }
            // A pending signal only shortens the sleep (the restarting
            // process has none it may act on yet).
            if self.bell.wait(seen, 200) == sys::Woken::Signal {
                kthread::sleep_ms(10);
            }
        }
    }

    /// A commit says the image being received (in state `from`) is `size`
    /// bytes: if that is what came, whole, it goes to state `to` and the
    /// restart program is woken; otherwise the migration is given up.
    fn image_complete(&self, size: u64, from: HostedState, to: HostedState) -> Result {
        {
            let mut i = self.inner.lock();
            let whole = i.received == size && i.splitter.is_complete();
            // `MigrateBegin`'s size, if it said one, is the first image's.
            let announced = from != HostedState::Receiving || self.size == 0 || size == self.size;
            if i.state != from || !whole || !announced {
                drop(i);
                self.fail_because("commit does not match what was received");
                return Err(EINVAL);
            }
            i.state = to;
            i.since_ns = task::mono_ns();
        }
        self.bell.ring();
        Ok(())
    }

    /// Eager (not coming home): the restore starts once the image's
    /// description came and rebuilds the process while its page data
    /// comes (`checkpoint::restore::Arriving`); the copy into the process
    /// overlaps the transfer instead of following the hand-over.
    pub(crate) fn streams(&self) -> bool {
        self.strategy == STRATEGY_EAGER && !self.returning
    }

    /// Waits until `enough` (called under the lock, while the image is
    /// still being received, and once more when it is whole) says so, or
    /// the image is whole. `Err` if the migration was given up, or the
    /// waiting process is being killed.
    fn await_image(&self, mut enough: impl FnMut(&mut Inner) -> bool) -> Result {
        loop {
            let seen = self.bell.seen();
            {
                let mut i = self.inner.lock();
                if i.state == HostedState::Failed {
                    return Err(crate::kernel_ext::ecanceled());
                }
                if enough(&mut i) || i.state != HostedState::Receiving {
                    return Ok(());
                }
            }
            if crate::kernel_ext::fatal_signal_pending() {
                return Err(EINTR);
            }
            // A pending signal only shortens the sleep (the restarting
            // process blocks all of them).
            if self.bell.wait(seen, 200) == sys::Woken::Signal {
                kthread::sleep_ms(1);
            }
        }
    }

    /// Post-copy, lazy, pre-copy (not coming home): the restore is
    /// prepared from an image sent while the process ran on, and takes the
    /// final state captured at the freeze ([`Self::await_final`]).
    pub(crate) fn prepares(&self) -> bool {
        (self.pages_later() || self.is_precopy()) && !self.returning
    }

    /// Pre-copy: pages come in rounds while the process runs at the source.
    pub(crate) fn is_precopy(&self) -> bool {
        self.strategy == STRATEGY_PRECOPY
    }

    /// A prepared restore rebuilt the process from the image sent ahead:
    /// makes ready for the final image, calls `ready` (which tells the
    /// source) and waits for it: the final image and its page data.
    /// Pre-copy: meanwhile the rounds' pages are written into the process
    /// as they come (`round_pages`), all of them before this returns.
    /// `Err` if the migration was given up, or nothing came for
    /// [`GO_TIMEOUT_MS`].
    pub(crate) fn await_final(&self, ready: impl FnOnce()) -> Result<(File, Option<PageStore>)> {
        let file = sys::image_file(0)?;
        {
            let mut i = self.inner.lock();
            if i.state != HostedState::Committed {
                return Err(crate::kernel_ext::ecanceled());
            }
            i.state = HostedState::Prepared;
            i.since_ns = task::mono_ns();
            i.image = Some(file);
            i.splitter = ImageSplitter::new();
            i.described = 0;
            i.received = 0;
            i.pages = Some(PageStore::new());
        }
        self.bell.ring();
        ready();
        loop {
            let seen = self.bell.seen();
            let mut arrived = {
                let mut i = self.inner.lock();
                let final_came = match i.state {
                    HostedState::Final => true,
                    HostedState::Prepared => false,
                    _ => return Err(crate::kernel_ext::ecanceled()),
                };
                let arrived = i.rounds.as_mut().map_or_else(KVVec::new, |r| r.take_arrived());
                if arrived.is_empty() && final_came {
                    let image = i.image.take().ok_or(ENOENT)?;
                    return Ok((image, i.pages.take()));
                }
                if arrived.is_empty() && task::mono_ns().saturating_sub(i.since_ns) > GO_TIMEOUT_MS * 1_000_000 {
                    drop(i);
                    self.fail_because("the final state did not come in time");
                    return Err(crate::kernel_ext::etimedout());
                }
                arrived
            };
            if !arrived.is_empty() {
                // Pre-copy: outside the lock (the rounds keep coming).
                let written = round_pages::write_in_place(&mut arrived);
                let kept = self.inner.lock().rounds.as_mut().map_or(Ok(()), |r| r.put_written(arrived));
                if let Err(e) = written.and(kept) {
                    self.fail_because("cannot write the pre-copied pages");
                    return Err(e);
                }
                continue;
            }
            if crate::kernel_ext::fatal_signal_pending() {
                self.fail_because("the restoring process was killed");
                return Err(EINTR);
            }
            if self.bell.wait(seen, 200) == sys::Woken::Signal {
                kthread::sleep_ms(1);
            }
        }
    }

    /// In the restoring process, at `step` of its memory (see
    /// [`MemoryStep`]), before the image's own pages are written.
    /// Post-copy, lazy: registers the memory that comes later once the
    /// mappings are final. Pre-copy (`round_pages`): writes the kept pages
    /// from the store into new mappings, keeps what the rounds wrote into
    /// the process rebuilt ahead and drops the rest, or saves the kept
    /// pages before that process is rebuilt again.
    pub(crate) fn preload(&self, step: MemoryStep) -> Result {
        if self.pages_later() {
            if step == MemoryStep::Unmapping {
                return Ok(());
            }
            if self.inner.lock().released {
                // The page server is gone already: nothing would serve
                // the faults.
                return Err(EPIPE);
            }
            let uffd = self.inner.lock().uffd.take().ok_or(EINVAL)?;
            let ranges = super::pages::register_current(&uffd);
            let mut i = self.inner.lock();
            i.uffd = Some(uffd);
            i.ranges = ranges?;
            drop(i);
            self.bell.ring();
            return Ok(());
        }
        if !self.is_precopy() {
            return Ok(());
        }
        // Only the restoring process uses them now: the final image came.
        let mut rounds = self.inner.lock().rounds.take().ok_or(EINVAL)?;
        match step {
            MemoryStep::Mapped => rounds.fill(),
            MemoryStep::Kept => rounds.settle(),
            MemoryStep::Unmapping => {
                let r = rounds.save();
                self.inner.lock().rounds = Some(rounds);
                r
            }
        }
    }

    /// The restore went through: the calling process is this migration's.
    pub(crate) fn set_running(&self) {
        let task = Task::get(task::current_pid());
        let mut i = self.inner.lock();
        i.pid = task::current_pid();
        i.task = task;
        i.state = HostedState::Running;
        // The kernel memory of the image goes (with the restarting
        // program's descriptor, closed by the restore).
        i.image = None;
        i.pages = None;
        i.rounds = None;
        i.since_ns = task::mono_ns();
    }

    /// Post-copy or lazy: the memory comes after the process resumed.
    pub(crate) fn pages_later(&self) -> bool {
        self.strategy == STRATEGY_POSTCOPY || self.strategy == STRATEGY_LAZY
    }

    /// Post-copy, lazy: the restarting process's userfaultfd, registered by
    /// [`Self::preload`].
    pub(crate) fn set_uffd(&self, uffd: File) {
        self.inner.lock().uffd = Some(uffd);
    }

    /// Post-copy: every page came.
    pub(crate) fn all_pages_came(&self) -> bool {
        self.inner.lock().pages_done
    }

    /// The ranges registered for pages that come later.
    pub(crate) fn page_ranges(&self) -> Result<KVec<(u64, u64)>> {
        let i = self.inner.lock();
        let mut v = KVec::with_capacity(i.ranges.len(), GFP_KERNEL)?;
        for r in i.ranges.iter() {
            v.push(*r, GFP_KERNEL)?;
        }
        Ok(v)
    }

    /// The end of the registered range holding `addr`, if one does.
    pub(crate) fn range_end(&self, addr: u64) -> Option<u64> {
        self.inner.lock().ranges.iter().find(|&&(s, e)| s <= addr && addr < e).map(|&(_, e)| e)
    }

    /// Whether a read of the pages file (`len` bytes at `addr`) is the
    /// push, not a fault's fetch ([`is_push_read`]): only post-copy's page
    /// server was told to push.
    pub(crate) fn is_push_read(&self, addr: u64, len: u32) -> bool {
        let mut i = self.inner.lock();
        let pushing = self.strategy == STRATEGY_POSTCOPY;
        let push = is_push_read(pushing, &i.ranges, i.pushed_to, addr, u64::from(len));
        if push {
            i.pushed_to = addr + u64::from(len);
        }
        push
    }

    /// `bytes` of pages came, by the push or on demand.
    pub(crate) fn count_pages_in(&self, bytes: u32, pushed: bool) {
        let mut i = self.inner.lock();
        let pages = u64::from(bytes) / PAGE;
        if pushed {
            i.pages_in.pushed += pages;
        } else {
            i.pages_in.fetched += pages;
        }
        i.since_ns = task::mono_ns();
    }

    /// Post-copy, lazy: the pages that came so far, by how.
    pub(crate) fn pages_in(&self) -> PagesIn {
        self.inner.lock().pages_in
    }

    /// Its memory cannot come any more: the process is killed (SIGKILL).
    ///
    /// An old copy that moved on is killed too: it lends this memory on.
    pub(crate) fn kill_for_lost_memory(&self) {
        self.inner.lock().memory_lost = true;
        let pid = self.pid();
        if pid != 0 && matches!(self.state(), HostedState::Go | HostedState::Running | HostedState::Moved) {
            let _ = sys::kill_pid(pid, 9);
        }
    }

    /// The page server said every page came: the lender lets go.
    pub(crate) fn all_pages_here(&self, cluster: &Cluster, migrations: &Migrations) {
        let pages = {
            let mut i = self.inner.lock();
            i.pages_done = true;
            i.pages_in
        };
        pr_info!(
            "migration {:016x}: all pages of pid {} are here ({} pushed, {} fetched on demand)\n",
            self.id,
            self.pid(),
            pages.pushed,
            pages.fetched
        );
        self.record(migrations, "all-pages");
        // The userfaultfd can go: nothing is missing.
        drop(self.inner.lock().uffd.take());
        self.release_source(cluster);
    }

    /// The page server ended (its pages file closed). Before every page
    /// came, a process still running here cannot go on: it is killed.
    pub(crate) fn page_server_gone(&self, cluster: &Cluster) {
        let done = {
            let i = self.inner.lock();
            i.pages_done || i.memory_lost
        };
        let pid = self.pid();
        let live = matches!(self.state(), HostedState::Go | HostedState::Running | HostedState::Moved);
        if !done && live && pid != 0 && task::process_alive(pid) {
            pr_warn!("migration {:016x}: the page server of pid {} ended before its pages came: the process is killed\n", self.id, pid);
            let _ = sys::kill_pid(pid, 9);
        }
        self.release_source(cluster);
    }

    /// Post-copy, lazy: tells the lending node it may free the memory
    /// (once). The module's userfaultfd reference stays until the record
    /// goes (a process being killed must not fault in zero pages).
    pub(crate) fn release_source(&self, cluster: &Cluster) {
        if !self.pages_later() {
            return;
        }
        let first = {
            let mut i = self.inner.lock();
            let first = !i.released;
            i.released = true;
            first
        };
        if !first {
            return;
        }
        let mut b = [0u8; Ref::LEN];
        if (Ref { id: self.id }).encode(&mut b).is_ok() {
            let _ = cluster.send_reliable(self.from_node, MsgType::MigrateRelease, &b);
        }
    }

    /// A new `MigrateIo` sequence number.
    pub(crate) fn next_seq(&self) -> u64 {
        let mut i = self.inner.lock();
        i.next_seq += 1;
        i.next_seq
    }

    /// A page request `seq` is sent: its answer will be kept.
    pub(crate) fn await_pages(&self, seq: u64) -> Result {
        self.inner.lock().awaiting.push(seq, GFP_KERNEL)?;
        Ok(())
    }

    /// The answer to page request `seq`, if it came.
    pub(crate) fn take_page_answer(&self, seq: u64) -> Option<PageAnswer> {
        let mut i = self.inner.lock();
        let at = i.page_answers.iter().position(|a| a.seq == seq)?;
        crate::kernel_ext::swap_remove(&mut i.page_answers, at)
    }

    /// The requests sent ahead of the page server's next read, if any.
    pub(crate) fn take_read_ahead(&self) -> Option<super::pages::ReadAhead> {
        self.inner.lock().read_ahead.take()
    }

    /// Keeps `ahead` as the read-ahead; the one it replaces, if any.
    pub(crate) fn set_read_ahead(&self, ahead: super::pages::ReadAhead) -> Option<super::pages::ReadAhead> {
        self.inner.lock().read_ahead.replace(ahead)
    }

    /// Page request `seq` is answered or given up: a late answer is dropped.
    pub(crate) fn stop_awaiting(&self, seq: u64) {
        let mut i = self.inner.lock();
        if let Some(at) = i.awaiting.iter().position(|&s| s == seq) {
            crate::kernel_ext::swap_remove(&mut i.awaiting, at);
        }
    }

    /// Takes the answer to `seq`, if it came.
    pub(crate) fn take_io_done(&self, seq: u64) -> Option<(i64, KVec<u8>)> {
        let mut i = self.inner.lock();
        let at = i.io_done.iter().position(|d| d.0 == seq)?;
        crate::kernel_ext::swap_remove(&mut i.io_done, at).map(|d| (d.1, d.2))
    }

    pub(crate) fn record(&self, migrations: &Migrations, state: &'static str) {
        migrations.record(Record {
            id: self.id,
            direction: Direction::In,
            pid: self.pid(),
            peer: self.from_node,
            strategy: self.strategy,
            state,
            bytes: {
                let i = self.inner.lock();
                i.received + i.pages_in.total() * PAGE
            },
            rounds: 1,
            frozen_ns: 0,
            total_ns: task::mono_ns().saturating_sub(self.started_ns),
        });
    }
}


/// `MigrateBegin` from `from`: prepares to receive. The reply body: the
/// restart program's token and pid (none for a process coming home).
pub(crate) fn begin(cluster: &Cluster, migrations: &Arc<Migrations>, from: u16, body: &[u8]) -> Result<KVec<u8>> {
    let b = Begin::decode(body).map_err(|_| EINVAL)?;
    if migrations.hosted_count() >= MAX_HOSTED {
        return Err(EBUSY);
    }
    let returning = b.home_node == cluster.node_id();
    if returning && migrations.deputy(b.home_id).is_none() {
        // Coming home, but its deputy is gone.
        return Err(ESRCH);
    }
    if migrations.find_hosted(|h| h.id == b.id).is_some() {
        return Err(EEXIST);
    }
    if b.size > MAX_IMAGE {
        return Err(EFBIG);
    }
    let file = sys::image_file(b.size)?;
    // Pre-copy: prepared (the rounds written into the process rebuilt
    // ahead) unless it comes home into its deputy.
    let rounds = if b.strategy == STRATEGY_PRECOPY { Some(RoundPages::new(sys::sparse_file(USER_TOP)?, !returning)) } else { None };
    let now = task::mono_ns();
    let h = Arc::pin_init(
        pin_init!(Hosted {
            id: b.id,
            home_id: b.home_id,
            home_node: b.home_node,
            home_pid: b.home_pid,
            from_node: from,
            uid: b.uid,
            strategy: b.strategy,
            size: b.size,
            returning,
            started_ns: now,
            lease_ns: core::sync::atomic::AtomicU64::new(0),
            _module: sys::ModuleRef::take(),
            inner <- new_mutex!(Inner {
                state: HostedState::Receiving,
                received: 0,
                token: 0,
                started: None,
                program_up: false,
                pid: 0,
                task: None,
                since_ns: now,
                next_seq: 0,
                io_done: KVec::new(),
                rounds,
                image: Some(file),
                splitter: ImageSplitter::new(),
                described: 0,
                pages: Some(PageStore::new()),
                uffd: None,
                ranges: KVec::new(),
                pages_in: PagesIn::default(),
                pushed_to: 0,
                pages_done: false,
                released: false,
                memory_lost: false,
                awaiting: KVec::new(),
                page_answers: KVec::new(),
                read_ahead: None,
            }),
            bell <- sys::Doorbell::new(),
        }),
        GFP_KERNEL,
    )?;
    migrations.add_hosted(h.clone())?;
    h.record(migrations, "receiving");
    if !returning {
        // The restart program starts now, while the image comes, and waits
        // in the module for it (`Hosted::image_fd`): its start is not part
        // of the freeze.
        let started = start_restore(migrations, &h, from).inspect_err(|_| h.fail_because("cannot start the restore"))?;
        h.inner.lock().started = Some(started);
        if h.pages_later() {
            // Post-copy, lazy: the freeze that follows is short; the
            // program should be up (its page server started) before it.
            h.await_program(PROGRAM_UP_WAIT_MS);
        }
        let mut out = KVec::from_elem(0u8, RestartStarted::LEN, GFP_KERNEL)?;
        started.encode(&mut out).map_err(|_| EINVAL)?;
        return Ok(out);
    }
    Ok(KVec::new())
}

/// Starts `ctl_path restart --token T --as-uid U --migration` for `h`.
fn start_restore(migrations: &Migrations, h: &Arc<Hosted>, from: u16) -> Result<RestartStarted> {
    let mut uid = StackStr::<16>::new();
    core::fmt::Write::write_fmt(&mut uid, format_args!("{}\0", h.uid)).map_err(|_| EINVAL)?;
    // Post-copy, lazy: the restart program also starts the page server.
    let how: &[u8] = if h.strategy == STRATEGY_POSTCOPY { b"postcopy\0" } else { b"lazy\0" };
    let args: [&[u8]; 5] = [b"--as-uid\0", uid.as_bytes(), b"--migration\0", b"--pages-later\0", how];
    let args = if h.pages_later() { &args[..] } else { &args[..3] };
    migrations.restarts.start_program(from, args, |token| {
        h.inner.lock().token = token;
    })
}

/// `MigrateData` from `from`: image bytes, in order.
/// The page data stays in `body` (kept by the page store), the rest is
/// copied into the image file.
pub(crate) fn data(migrations: &Migrations, from: u16, body: KVec<u8>) -> Result {
    let d = Data::decode(&body).map_err(|_| EINVAL)?;
    let h = migrations.find_hosted(|h| h.id == d.id && h.from_node == from).ok_or(ENOENT)?;
    let mut i = h.inner.lock();
    if i.state == HostedState::Failed {
        // Given up (`MigrateAbort`): frames the source sent before it
        // stopped are dropped quietly.
        return Err(crate::kernel_ext::ecanceled());
    }
    let end = d.offset + d.data.len() as u64;
    let limit = if h.size != 0 { h.size } else { MAX_IMAGE };
    let receiving = matches!(i.state, HostedState::Receiving | HostedState::Prepared);
    if !receiving || d.offset != i.received || end > limit {
        drop(i);
        h.fail_because("image data out of order or too large");
        return Err(EINVAL);
    }
    // The description goes into the image file, one piece after the
    // other; the page data stays in the body, kept by the page store.
    let Inner { image, splitter, pages, described, .. } = &mut *i;
    // The data is the end of the body.
    let mut at = body.len() - d.data.len();
    let mut rest = d.data;
    let mut pos = *described as i64;
    let mut keep = false;
    while !rest.is_empty() {
        let Ok((piece, n)) = splitter.next_piece(rest) else {
            drop(i);
            h.fail_because("malformed image stream");
            return Err(EINVAL);
        };
        let (now, later) = rest.split_at(n);
        let stored = match (piece, image.as_ref(), pages.as_mut()) {
            (Piece::Description, Some(f), _) => f.write_all(now, &mut pos),
            (Piece::PageData, Some(_), Some(p)) => {
                keep = true;
                p.add_piece(at, n)
            }
            _ => Err(ENOENT),
        };
        if let Err(e) = stored {
            drop(i);
            h.fail_because("cannot store image data");
            return Err(e);
        }
        at += n;
        rest = later;
    }
    *described = pos as u64;
    let kept = match pages.as_mut() {
        Some(p) if keep => p.add_body(body),
        _ => Ok(()),
    };
    if let Err(e) = kept {
        drop(i);
        h.fail_because("cannot keep image data");
        return Err(e);
    }
    i.received = end;
    i.since_ns = task::mono_ns();
    drop(i);
    // An eager restore may wait for these bytes.
    h.bell.ring();
    Ok(())
}

/// The page data received since into `store` (the restore's).
fn take_page_data(i: &mut Inner, store: &mut PageStore) -> Result {
    match i.pages.as_mut() {
        Some(p) if p.holds_data() => store.append(core::mem::replace(p, PageStore::new())),
        _ => Ok(()),
    }
}

impl crate::checkpoint::restore::Arriving for Hosted {
    fn await_description(&self, len: u64) -> Result {
        self.await_image(|i| i.described >= len)
    }

    fn await_pages(&self, store: &mut PageStore, npages: u64) -> Result {
        let mut taken = Ok(());
        self.await_image(|i| {
            taken = take_page_data(i, store);
            taken.is_err() || store.pages_left() >= npages
        })?;
        taken?;
        if store.pages_left() < npages {
            // The whole image came without them.
            return Err(EINVAL);
        }
        Ok(())
    }

    fn await_whole(&self, store: &mut PageStore) -> Result {
        let mut taken = Ok(());
        self.await_image(|i| {
            let whole = i.state != HostedState::Receiving;
            if whole {
                taken = take_page_data(i, store);
            }
            whole
        })?;
        taken
    }
}

/// `MigratePages` from `from`: pre-copy pages, kept as they came (their
/// frame) for the restoring process to write (`round_pages`).
pub(crate) fn pages(migrations: &Migrations, from: u16, body: KVec<u8>) -> Result {
    let d = Data::decode(&body).map_err(|_| EINVAL)?;
    let h = migrations.find_hosted(|h| h.id == d.id && h.from_node == from).ok_or(ENOENT)?;
    let run = Run { addr: d.offset, npages: (d.data.len() as u64 / PAGE) as u32 };
    let mut i = h.inner.lock();
    if i.state == HostedState::Failed {
        // Given up: rounds sent before the source heard of it are dropped.
        return Err(crate::kernel_ext::ecanceled());
    }
    let open = matches!(i.state, HostedState::Receiving | HostedState::Committed | HostedState::Prepared);
    if d.data.len() as u64 % PAGE != 0 || !run.is_valid() || !open || !h.is_precopy() {
        drop(i);
        h.fail_because("bad pre-copy pages");
        return Err(EINVAL);
    }
    let kept = match i.rounds.as_mut() {
        Some(r) => RoundFrame::new(body, run.addr, run.npages).and_then(|f| r.add(f)),
        None => Err(EINVAL),
    };
    if let Err(e) = kept {
        drop(i);
        h.fail_because("cannot keep pre-copy pages");
        return Err(e);
    }
    i.since_ns = task::mono_ns();
    drop(i);
    // The restoring process writes them.
    h.bell.ring();
    Ok(())
}

/// `MigrateKeep` from `from`: the pre-copied pages clean at the freeze (in
/// address order, over one or more frames).
pub(crate) fn keep(migrations: &Migrations, from: u16, body: &[u8]) -> Result {
    let k = Keep::decode(body).map_err(|_| EINVAL)?;
    let h = migrations.find_hosted(|h| h.id == k.id && h.from_node == from).ok_or(ENOENT)?;
    let mut i = h.inner.lock();
    let open = matches!(i.state, HostedState::Receiving | HostedState::Prepared);
    if !open || i.rounds.as_mut().is_none_or(|r| r.add_keep(k.runs()).is_err()) {
        drop(i);
        h.fail_because("bad keep list");
        return Err(EINVAL);
    }
    Ok(())
}

/// `MigrateCommit` from `from`: starts the restore; the reply body.
pub(crate) fn commit(migrations: &Migrations, from: u16, body: &[u8]) -> Result<KVec<u8>> {
    let c = Commit::decode(body).map_err(|_| EINVAL)?;
    let h = migrations.find_hosted(|h| h.id == c.id && h.from_node == from).ok_or(ENOENT)?;
    if h.state() == HostedState::Prepared {
        return commit_final(&h, c.size);
    }
    // The restart program waiting for the image goes on.
    h.image_complete(c.size, HostedState::Receiving, HostedState::Committed)?;
    if h.returning {
        return back_home(migrations, from, &h);
    }
    let started = h.inner.lock().started.ok_or(EINVAL)?;
    h.record(migrations, "restoring");
    let mut out = KVec::from_elem(0u8, RestartStarted::LEN, GFP_KERNEL)?;
    started.encode(&mut out).map_err(|_| EINVAL)?;
    Ok(out)
}

/// How long `MigrateGo` waits for the restoring process to take the final
/// image before it answers `EAGAIN` (the source asks again): it holds the
/// connection's handler thread, which must stay well under the time after
/// which a silent node is declared dead. Taking the state of a prepared
/// process takes milliseconds; rebuilding it again may take longer.
const FINAL_TAKEN_MS: u64 = 200;

/// `MigrateCommit` of a prepared migration's final image (`size` bytes),
/// sent one-way: the restoring process takes it; `MigrateGo`, right
/// behind it on the connection, waits for that.
fn commit_final(h: &Arc<Hosted>, size: u64) -> Result<KVec<u8>> {
    h.image_complete(size, HostedState::Prepared, HostedState::Final)?;
    Ok(KVec::new())
}

/// The process comes home: its deputy restores it (reply body of the
/// commit: the token to poll, the deputy's pid).
fn back_home(migrations: &Migrations, from: u16, h: &Arc<Hosted>) -> Result<KVec<u8>> {
    let d = migrations.deputy(h.home_id).ok_or(ESRCH)?;
    let started = migrations.restarts.open_for(from, d.pid).inspect_err(|_| h.fail())?;
    h.inner.lock().token = started.token;
    h.inner.lock().pid = d.pid;
    d.take_back(h.clone());
    h.record(migrations, "restoring");
    let mut out = KVec::from_elem(0u8, RestartStarted::LEN, GFP_KERNEL)?;
    started.encode(&mut out).map_err(|_| EINVAL)?;
    Ok(out)
}

/// `MigrateGo` from `from`: the process may run.
pub(crate) fn go(migrations: &Migrations, from: u16, body: &[u8]) -> Result {
    let r = Ref::decode(body).map_err(|_| EINVAL)?;
    let h = migrations.find_hosted(|h| h.id == r.id && h.from_node == from).ok_or(ENOENT)?;
    // A prepared migration: the restoring process is taking the final
    // state (its commit came just before).
    let deadline = task::mono_ns() + FINAL_TAKEN_MS * 1_000_000;
    loop {
        let seen = h.bell.seen();
        if h.state() != HostedState::Final {
            break;
        }
        if task::mono_ns() > deadline {
            return Err(EAGAIN);
        }
        let _ = h.bell.wait(seen, FINAL_TAKEN_MS as u32);
    }
    let mut i = h.inner.lock();
    if i.state != HostedState::Ready {
        return Err(ENOENT);
    }
    i.state = HostedState::Go;
    drop(i);
    h.bell.ring();
    Ok(())
}

/// `MigrateAbort` from `from`: the source gave up.
pub(crate) fn abort(migrations: &Migrations, from: u16, body: &[u8]) -> Result {
    let r = Ref::decode(body).map_err(|_| EINVAL)?;
    let h = migrations.find_hosted(|h| h.id == r.id && h.from_node == from).ok_or(ENOENT)?;
    h.fail();
    pr_info!("migration {:016x} from node {}: given up by the source\n", r.id, from);
    Ok(())
}

/// `MigrateSignal` from the home node: a signal for a process here.
pub(crate) fn signal(migrations: &Migrations, from: u16, body: &[u8]) -> Result {
    let s = Signal::decode(body).map_err(|_| EINVAL)?;
    let h = migrations
        .find_hosted(|h| h.home_id == s.home_id && h.home_node == from && h.state() == HostedState::Running)
        .ok_or(ESRCH)?;
    sys::kill_pid(h.pid(), s.signo)
}

/// `MigrateIoDone` from the home node: the deputy's answer.
pub(crate) fn io_done(migrations: &Migrations, from: u16, body: &[u8]) -> Result {
    let d = IoDone::decode(body).map_err(|_| EINVAL)?;
    // Not an old copy that moved on (it may still lend its memory here).
    let h = migrations
        .find_hosted(|h| {
            h.home_id == d.home_id && h.home_node == from && !matches!(h.state(), HostedState::Moved | HostedState::Failed)
        })
        .ok_or(ESRCH)?;
    let mut data = KVec::with_capacity(d.data.len(), GFP_KERNEL)?;
    data.extend_from_slice(d.data, GFP_KERNEL)?;
    h.inner.lock().io_done.push((d.seq, d.result, data), GFP_KERNEL)?;
    h.bell.ring();
    Ok(())
}

/// `MigratePageData` from the lending node: the answer to a page request,
/// kept in its own buffer `body` (the pages are its end).
pub(crate) fn page_data(migrations: &Migrations, from: u16, body: KVec<u8>) -> Result {
    let d = PageData::decode(&body).map_err(|_| EINVAL)?;
    let (id, seq, result, start) = (d.id, d.seq, d.result, body.len() - d.data.len());
    let h = migrations.find_hosted(|h| h.id == id && h.from_node == from).ok_or(ESRCH)?;
    let mut i = h.inner.lock();
    // Only for a request still waiting, once (a resent request may be
    // answered twice).
    let Some(at) = i.awaiting.iter().position(|&s| s == seq) else { return Ok(()) };
    crate::kernel_ext::swap_remove(&mut i.awaiting, at);
    i.page_answers.push(PageAnswer { seq, result, body, start }, GFP_KERNEL)?;
    drop(i);
    h.bell.ring();
    Ok(())
}
