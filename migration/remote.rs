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
//!
//! A [`Hosted`] is its identity, where it stands ([`HostedState`]), its
//! restart program and task, and three parts:
//! - the image receiver (`receiver.rs`), under the same lock as the
//!   state, which its every step checks or moves;
//! - post-copy, lazy: the page client (`page_client.rs`), with its own
//!   lock;
//! - the answers to its forwarded reads and writes (`io_answers.rs`), with
//!   their own lock.
//!
//! Its doorbell is rung on every change any of them waits for. Locks: a
//! part's lock may be taken under [`Hosted::inner`] (a failure lets the
//! userfaultfd go with the image), never the other way round; none of
//! them is held while the registry's (`Migrations`) is taken, which
//! finds a hosted process by what it reads under them.
//!
//! The krpc handlers of the receiving side are in `incoming.rs`.

use super::{
    io_answers::IoAnswers,
    page_client::{PageClient, PagesIn},
    receiver::ImageReceiver,
    round_pages::{self, RoundPages},
    sys, Direction, Migrations, Record,
};
use crate::{
    checkpoint::{
        page_store::PageStore,
        restore::MemoryStep,
        task::{self, File, Task},
    },
    cluster::Cluster,
    kthread,
    proto::{
        ctl::{STRATEGY_EAGER, STRATEGY_LAZY, STRATEGY_POSTCOPY, STRATEGY_PRECOPY},
        migration::{Begin, Family, Ref, PAGE},
        wire::{MsgType, RestartStarted},
    },
};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{new_mutex, prelude::*, sync::Mutex};

/// How long a restored process waits for the source's `MigrateGo`.
const GO_TIMEOUT_MS: u64 = 10_000;

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
            HostedState::Receiving
                | HostedState::Committed
                | HostedState::Prepared
                | HostedState::Final
                | HostedState::Ready
        )
    }
}

/// What [`Hosted::inner`] protects: where it stands, its restart program
/// and task, and the image receiver, whose steps check and move the state.
pub(super) struct Inner {
    pub(super) state: HostedState,
    /// When (mono ns) it last made progress: most state changes, image
    /// bytes, pre-copy pages, pages fetched (the watcher drops a migration
    /// stalled too long; while it runs, its lease counts from it).
    pub(super) since_ns: u64,
    pub(super) token: u32,
    /// The restart program, started at `MigrateBegin` (not for a process
    /// coming home: its deputy restores it).
    pub(super) started: Option<RestartStarted>,
    /// The restart program is up: it asked for the image.
    program_up: bool,
    pub(super) pid: u32,
    task: Option<Task>,
    /// The image and what came with it, until the restore took it.
    pub(super) receiver: ImageReceiver,
}

/// An incoming migration, then the process it became.
#[pin_data]
pub(crate) struct Hosted {
    pub(crate) id: u64,
    pub(crate) home_id: u64,
    pub(crate) home_node: u16,
    pub(crate) home_pid: u32,
    /// Its parent, process group and session at home, as listed.
    pub(crate) home_family: Family,
    /// When it started at home (ns since the epoch; 0: unknown).
    pub(crate) start_ns: u64,
    pub(crate) from_node: u16,
    pub(crate) uid: u32,
    pub(crate) strategy: u8,
    pub(crate) size: u64,
    /// The process comes back to its home node (this one): its deputy
    /// restores it.
    pub(crate) returning: bool,
    started_ns: u64,
    /// When its deputy's lease was last renewed (`lease.rs`), 0 if never.
    pub(crate) lease_ns: AtomicU64,
    /// The module stays loaded while the record lives (from `MigrateBegin`
    /// until the process ended or moved on): `rmmod` is refused ("in
    /// use") rather than leaving the process running unseen.
    _module: sys::ModuleRef,
    /// The last sequence number given to a request of the process: its
    /// reads and writes (`MigrateIo`) and its page requests share them.
    seq: AtomicU64,
    #[pin]
    pub(super) inner: Mutex<Inner>,
    /// Post-copy, lazy: its memory as it comes after the process resumed.
    #[pin]
    pub(crate) page_client: PageClient,
    /// Answers to its forwarded reads and writes.
    #[pin]
    pub(crate) io: IoAnswers,
    /// Rung on every state change, image bytes, pre-copy pages, page
    /// answer and `MigrateIoDone`.
    #[pin]
    pub(crate) bell: sys::Doorbell,
}

impl Hosted {
    /// A new incoming migration from `from_node`, announced by `b`, its image
    /// written into `image`.
    pub(super) fn new(
        b: &Begin,
        from_node: u16,
        returning: bool,
        image: File,
        rounds: Option<RoundPages>,
    ) -> impl PinInit<Self> {
        let Begin { id, home_id, home_node, home_pid, home_family, start_ns, uid, strategy, size } = *b;
        let started_ns = task::mono_ns();
        let inner = new_mutex!(Inner {
            state: HostedState::Receiving,
            since_ns: started_ns,
            token: 0,
            started: None,
            program_up: false,
            pid: 0,
            task: None,
            receiver: ImageReceiver::new(image, rounds),
        });
        let page_client = PageClient::new(strategy == STRATEGY_POSTCOPY);
        let (lease_ns, seq, _module) = (AtomicU64::new(0), AtomicU64::new(0), sys::ModuleRef::take());
        // (Each field alone: the macro's recursion grows with its tokens.)
        pin_init!(Hosted {
            id,
            home_id,
            home_node,
            home_pid,
            home_family,
            start_ns,
            from_node,
            uid,
            strategy,
            size,
            returning,
            started_ns,
            lease_ns,
            _module,
            seq,
            inner <- inner,
            page_client <- page_client,
            io <- IoAnswers::new(),
            bell <- sys::Doorbell::new(),
        })
    }

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

    /// Something came: it is not stalled.
    pub(super) fn touch(&self) {
        self.inner.lock().since_ns = task::mono_ns();
    }

    /// Whether `file` is this migration's image, perhaps reopened (the
    /// restart program must restore that one, not a file of its choosing).
    pub(crate) fn is_image(&self, file: &File) -> bool {
        self.inner.lock().receiver.is_image(file)
    }

    /// The image's page data, split off as it came, for the restore.
    pub(crate) fn take_pages(&self) -> Option<PageStore> {
        self.inner.lock().receiver.take_pages()
    }

    /// The image, for a deputy that restores it itself.
    pub(crate) fn take_image(&self) -> Option<File> {
        self.inner.lock().receiver.take_image()
    }

    /// Gives it up unless it already runs (or moved on).
    pub(crate) fn fail(&self) {
        let mut i = self.inner.lock();
        if i.state.before_go() {
            i.state = HostedState::Failed;
            i.since_ns = task::mono_ns();
            i.receiver.clear();
            self.page_client.drop_uffd();
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
                        return i.receiver.install_fd();
                    }
                    // The description is whole once page data or the end came.
                    HostedState::Receiving if self.streams() && i.receiver.description_whole() => {
                        i.pid = task::current_pid();
                        return i.receiver.install_fd();
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
    pub(super) fn await_program(&self, ms: u64) {
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
                pr_info!(
                    "migration {:016x} from node {}: restart program not up after {} ms\n",
                    self.id,
                    self.from_node,
                    ms
                );
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
    pub(super) fn image_complete(&self, size: u64, from: HostedState, to: HostedState) -> Result {
        {
            let mut i = self.inner.lock();
            let whole = i.receiver.is_whole(size);
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

    /// Whether its image is split as it comes (a migration's stream, whose
    /// pages carry no CRC); known once its header came.
    pub(crate) fn splits(&self) -> bool {
        self.inner.lock().receiver.splits()
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
            i.receiver.start_final(file);
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
                let arrived = i.receiver.take_arrived();
                if arrived.is_empty() && final_came {
                    return i.receiver.take_final();
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
                let kept = self.inner.lock().receiver.put_written(arrived);
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
            self.page_client.register()?;
            self.bell.ring();
            return Ok(());
        }
        if !self.is_precopy() {
            return Ok(());
        }
        // Only the restoring process uses them now: the final image came.
        let mut rounds = self.inner.lock().receiver.take_rounds().ok_or(EINVAL)?;
        match step {
            MemoryStep::Mapped => rounds.fill(),
            MemoryStep::Kept => rounds.settle(),
            MemoryStep::Unmapping => {
                let r = rounds.save();
                self.inner.lock().receiver.put_rounds(rounds);
                r
            }
        }
    }

    /// The restore went through: the calling process is this migration's.
    pub(crate) fn set_running(&self) {
        if self.start_ns != 0 {
            // It keeps its start time (ps's START, TIME's elapsed).
            task::set_current_age(crate::kernel_ext::real_time_ns().saturating_sub(self.start_ns));
        }
        let task = Task::get(task::current_pid());
        let mut i = self.inner.lock();
        i.pid = task::current_pid();
        i.task = task;
        i.state = HostedState::Running;
        // The kernel memory of the image goes (with the restarting
        // program's descriptor, closed by the restore).
        i.receiver.clear();
        i.since_ns = task::mono_ns();
    }

    /// Post-copy or lazy: the memory comes after the process resumed.
    pub(crate) fn pages_later(&self) -> bool {
        self.strategy == STRATEGY_POSTCOPY || self.strategy == STRATEGY_LAZY
    }

    /// Post-copy, lazy: the restarting process's userfaultfd, registered by
    /// [`Self::preload`].
    pub(crate) fn set_uffd(&self, uffd: File) {
        self.page_client.set_uffd(uffd);
    }

    /// Post-copy: every page came.
    pub(crate) fn all_pages_came(&self) -> bool {
        self.page_client.all_came()
    }

    /// `bytes` of pages came, by the push or on demand.
    pub(crate) fn count_pages_in(&self, bytes: u32, pushed: bool) {
        self.page_client.count_in(bytes, pushed);
        self.touch();
    }

    /// Post-copy, lazy: the pages that came so far, by how.
    pub(crate) fn pages_in(&self) -> PagesIn {
        self.page_client.pages_in()
    }

    /// Its memory cannot come any more: the process is killed (SIGKILL).
    ///
    /// An old copy that moved on is killed too: it lends this memory on.
    pub(crate) fn kill_for_lost_memory(&self) {
        self.page_client.set_memory_lost();
        let pid = self.pid();
        if pid != 0 && matches!(self.state(), HostedState::Go | HostedState::Running | HostedState::Moved) {
            let _ = sys::kill_pid(pid, 9);
        }
    }

    /// The page server said every page came: the lender lets go.
    pub(crate) fn all_pages_here(&self, cluster: &Cluster, migrations: &Migrations) {
        let pages = self.page_client.set_all_came();
        pr_info!(
            "migration {:016x}: all pages of pid {} are here ({} pushed, {} fetched on demand)\n",
            self.id,
            self.pid(),
            pages.pushed,
            pages.fetched
        );
        self.record(migrations, "all-pages");
        // The userfaultfd can go: nothing is missing.
        self.page_client.drop_uffd();
        self.release_source(cluster);
    }

    /// The page server ended (its pages file closed). Before every page
    /// came, a process still running here cannot go on: it is killed.
    pub(crate) fn page_server_gone(&self, cluster: &Cluster) {
        let done = self.page_client.done_or_lost();
        let pid = self.pid();
        let live = matches!(self.state(), HostedState::Go | HostedState::Running | HostedState::Moved);
        if !done && live && pid != 0 && task::process_alive(pid) {
            pr_warn!(
                "migration {:016x}: the page server of pid {} ended before its pages came: the process is killed\n",
                self.id,
                pid
            );
            let _ = sys::kill_pid(pid, 9);
        }
        self.release_source(cluster);
    }

    /// Post-copy, lazy: tells the lending node it may free the memory
    /// (once). The module's userfaultfd reference stays until the record
    /// goes (a process being killed must not fault in zero pages).
    pub(crate) fn release_source(&self, cluster: &Cluster) {
        if !self.pages_later() || !self.page_client.release_once() {
            return;
        }
        let mut b = [0u8; Ref::LEN];
        if (Ref { id: self.id }).encode(&mut b).is_ok() {
            let _ = cluster.send_reliable(self.from_node, MsgType::MigrateRelease, &b);
        }
    }

    /// A new sequence number, for a `MigrateIo` or a page request.
    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn record(&self, migrations: &Migrations, state: &'static str) {
        // No lock of its own is held while the registry's is taken.
        let received = self.inner.lock().receiver.received();
        let bytes = received + self.page_client.pages_in().total() * PAGE;
        migrations.record(Record {
            id: self.id,
            direction: Direction::In,
            pid: self.pid(),
            peer: self.from_node,
            strategy: self.strategy,
            state,
            bytes,
            rounds: 1,
            frozen_ns: 0,
            total_ns: task::mono_ns().saturating_sub(self.started_ns),
        });
    }
}

/// The restore of an eager migration, while its image arrives.
impl crate::checkpoint::restore::Arriving for Hosted {
    fn await_description(&self, len: u64) -> Result {
        self.await_image(|i| i.receiver.described() >= len)
    }

    fn await_pages(&self, store: &mut PageStore, npages: u64) -> Result {
        let mut taken = Ok(());
        self.await_image(|i| {
            taken = i.receiver.take_page_data(store);
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
                taken = i.receiver.take_page_data(store);
            }
            whole
        })?;
        taken
    }
}
