// SPDX-License-Identifier: GPL-2.0
//! The balancer thread (`ssi-sched`): every `load.period_ms` it samples
//! this node's load, sends the reports its filter lets out, keeps the
//! other nodes' loads, and, while an enabled `balance` or `memory`
//! scheduler covers this node, decides with `proto::sched` whether one of
//! its processes moves, and moves it (one migration at a time, on this
//! thread, as `ssi-ctl migrate` would).

use super::{send_config, status::Load, sys, SchedService};
use crate::{
    checkpoint::task::Task,
    cluster::Cluster,
    kernel_ext::{mono_ms, swap_remove, StackStr},
    kthread::{self, ThreadBody},
    migration::PidRole,
    procspace::sys as procs,
    proto::{
        pid_range,
        sched::{
            dynamic_balance, judge, memory_pressure, runnable_share, tasks, Candidate, Command, Config, Decision, Left,
            LoadCache, LoadProbe, LoadReport, Memory, Move, NodeLoad, NodeTable, Offer, OfferKind, OfferReply, PlaceState,
            PolicyKind, PolicyParams, ProcessIds, ReportFilter, ReportParams, Smoothing, Stay, Unmovable, REPORT_LEN,
        },
        wire::MsgType,
    },
};
use core::{
    fmt::{self, Write},
    sync::atomic::Ordering,
};
use kernel::{prelude::*, sync::Arc};

/// Processes followed at most (their CPU time between two looks).
const MAX_TRACKS: usize = 1024;
/// Recent migrations and refusals kept for the status.
const MAX_EVENTS: usize = 16;
/// Processes remembered as not movable, at most.
const MAX_UNMOVABLE: usize = 64;
/// A process that could not be moved is tried again after this long.
const UNMOVABLE_MS: u64 = 60_000;
/// How often a node sends its configuration to every node, changed or
/// not (a few hundred bytes to each).
const CONFIG_RESEND_MS: u64 = 5_000;

/// A process of this node the balancer follows.
#[derive(Clone, Copy)]
struct Track {
    pid: u32,
    /// When the balancer first saw it on this node.
    since_ms: u64,
    /// Its CPU time and wait for a CPU at the last look, and when.
    cpu_ns: u64,
    wait_ns: u64,
    at_ns: u64,
    /// Its run-queue weight over the last window.
    demand: u32,
    /// The node it came from (0: started here).
    came_from: u16,
    /// Seen at the last look.
    seen: bool,
}

/// A migration the balancer made, or tried.
#[derive(Clone, Copy)]
struct Event {
    at_ms: u64,
    pid: u32,
    dest: u16,
    policy: PolicyKind,
    strategy: u8,
    /// 0, or the errno it failed with.
    errno: u32,
    took_ms: u64,
}

/// A process the balancer does not try to move again for a while.
#[derive(Clone, Copy)]
struct NotMovable {
    pid: u32,
    since_ms: u64,
    errno: u32,
    reason: [u8; 64],
    reason_len: u8,
}

/// What the balancer knows and did.
pub(crate) struct State {
    smoothing: Smoothing,
    probe: LoadProbe,
    report_params: ReportParams,
    filter: ReportFilter,
    seq: u64,
    cache: LoadCache,
    mem: Memory,
    /// The configuration sent and the offers taken and declined.
    peers: Peers,
    tracks: KVec<Track>,
    events: KVec<Event>,
    unmovable: KVec<NotMovable>,
    /// The last decision, as text.
    last: StackStr<160>,
    /// Exec-time placement's part (`placer.rs`).
    pub(crate) placing: Placing,
}

/// Exec-time placement's part of the state.
pub(crate) struct Placing {
    /// Round-robin placement's last choice.
    pub(crate) last: PlaceState,
    /// Programs placed on another node at exec, and how many of those
    /// migrations failed.
    pub(crate) placed: u64,
    pub(crate) failed: u64,
    /// Processes the placer decided to move that are still here (their
    /// migration queued or under way): not counted in this node's load.
    pub(crate) departing: u32,
}

/// What a node keeps of its exchanges with the others.
struct Peers {
    /// The nodes the configuration was sent to since they joined.
    greeted: u64,
    /// When it was last sent to every node.
    config_sent_ms: u64,
    /// The processes offered to this node that it took: counted on its
    /// probe until their hold ends.
    holds: KVec<Hold>,
    /// What each node that declined an offer said its load was, and
    /// until when that stands in for its report (by node id).
    declined: [Declined; 64],
}

impl Peers {
    const fn new() -> Self {
        Peers { greeted: 0, config_sent_ms: 0, holds: KVec::new(), declined: [Declined { until_ms: 0, load: 0 }; 64] }
    }
}

/// A process this node took from an offer, counted until `until_ms`.
struct Hold {
    demand: u32,
    until_ms: u64,
}

/// A destination's own load, from its answer to an offer it declined.
#[derive(Clone, Copy)]
struct Declined {
    until_ms: u64,
    load: u32,
}

/// Offers held at most (more are declined).
const MAX_HOLDS: usize = 64;
/// How long a destination's answer to a declined offer stands in for
/// its report.
const DECLINED_MS: u64 = 2_000;

impl State {
    /// The state of a node that knows nothing yet, in a new allocation:
    /// it is several KiB (the load cache), so it is built in place, not
    /// on the stack.
    pub(crate) fn new() -> Result<KBox<Self>> {
        let s = Smoothing::DEFAULT;
        let r = ReportParams::DEFAULT;
        KBox::init(
            kernel::init!(State {
                smoothing: s,
                probe: LoadProbe::new(&s),
                report_params: r,
                filter: ReportFilter::new(&r),
                seq: 0,
                cache: LoadCache::new(u64::from(r.max_age_ms)),
                mem: Memory::default(),
                peers: Peers::new(),
                tracks: KVec::new(),
                events: KVec::new(),
                unmovable: KVec::new(),
                last: StackStr::new(),
                placing: Placing { last: PlaceState::default(), placed: 0, failed: 0, departing: 0 },
            }),
            GFP_KERNEL,
        )
    }

    /// Starts again (the cluster service started): nothing known of the
    /// others, probes and filter per `params`; the counters stay.
    pub(crate) fn restart(&mut self, params: &crate::proto::sched::Params) {
        self.smoothing = params.load;
        self.probe = LoadProbe::new(&params.load);
        self.report_params = params.report;
        self.filter = ReportFilter::new(&params.report);
        self.seq = 0;
        self.cache = LoadCache::new(u64::from(params.report.max_age_ms));
        for h in self.peers.holds.iter() {
            self.probe.cancel(h.demand);
        }
        self.peers = Peers::new();
        self.tracks = KVec::new();
        self.unmovable = KVec::new();
        self.placing.last = PlaceState::default();
    }

    /// Takes changed parameters of the probe and the filter.
    fn apply(&mut self, params: &crate::proto::sched::Params) {
        if params.load != self.smoothing {
            self.smoothing = params.load;
            self.probe = LoadProbe::new(&params.load);
        }
        if params.report != self.report_params {
            self.report_params = params.report;
            self.filter = ReportFilter::new(&params.report);
            self.cache = LoadCache::new(u64::from(params.report.max_age_ms));
        }
    }

    /// This node's load as the policies read it (`movable` processes it
    /// could move), and the others' now.
    pub(crate) fn loads(&self, own: u16, movable: u32, now_ms: u64) -> (NodeLoad, NodeTable) {
        (NodeLoad::local(own, &self.probe, &self.mem, movable), self.cache.table(now_ms))
    }

    /// Counts a process sent to `dest` by a policy: off this node's probe,
    /// onto the destination's pending load.
    pub(crate) fn note_sent(&mut self, dest: u16, demand: u32, rss_kib: u64) {
        self.probe.depart(demand);
        self.cache.note_sent(dest, demand, rss_kib);
    }

    /// The outcome of a move [`State::note_sent`] counted.
    pub(crate) fn note_outcome(&mut self, dest: u16, demand: u32, rss_kib: u64, ok: bool) {
        if ok {
            self.cache.note_arrived(dest, demand, rss_kib);
        } else {
            self.cache.note_failed(dest, demand, rss_kib);
            self.probe.arrive(demand);
        }
    }

    /// Records a migration a policy made or tried.
    pub(crate) fn record(&mut self, pid: u32, dest: u16, policy: PolicyKind, strategy: u8, errno: u32, took_ms: u64) {
        self.event(Event { at_ms: mono_ms(), pid, dest, policy, strategy, errno, took_ms });
    }

    /// Judges a move offered to this node (`SchedOffer`) on its own load
    /// at the last sample; one it takes is counted on its probe at once,
    /// until the offer's hold ends.
    pub(crate) fn judge_offer(&mut self, own: u16, o: &Offer, params: &PolicyParams, now_ms: u64) -> OfferReply {
        let local = NodeLoad::local(own, &self.probe, &self.mem, 0);
        let mut r = judge(o, &local, params);
        if r.taken {
            let hold = Hold { demand: o.demand, until_ms: now_ms.saturating_add(u64::from(o.hold_ms)) };
            if self.peers.holds.len() < MAX_HOLDS && self.peers.holds.push(hold, GFP_KERNEL).is_ok() {
                self.probe.reserve(o.demand);
            } else {
                r.taken = false;
            }
        }
        r
    }

    /// Ends the holds of the offers taken whose time is up: the process
    /// runs here by now (its load is in the samples) or does not come.
    fn end_holds(&mut self, now_ms: u64) {
        let mut i = 0;
        while i < self.peers.holds.len() {
            if self.peers.holds[i].until_ms <= now_ms {
                if let Some(h) = crate::kernel_ext::swap_remove(&mut self.peers.holds, i) {
                    self.probe.cancel(h.demand);
                }
            } else {
                i += 1;
            }
        }
    }

    /// Remembers what node `dest`, declining an offer, said its load is.
    pub(super) fn declined(&mut self, dest: u16, load: u32, now_ms: u64) {
        if let Some(d) = self.peers.declined.get_mut(usize::from(dest)) {
            *d = Declined { until_ms: now_ms + DECLINED_MS, load };
        }
    }

    /// The others' loads for a decision: the load cache's, with the
    /// load a node gave when it declined an offer in the last
    /// `DECLINED_MS` where that is higher.
    fn table_for_decision(&self, now_ms: u64) -> NodeTable {
        let mut table = self.cache.table(now_ms);
        for (id, d) in self.peers.declined.iter().enumerate() {
            if d.until_ms <= now_ms {
                continue;
            }
            if let Some(n) = table.get(id as u16).copied() {
                table.put(NodeLoad { upper: n.upper.max(d.load), mean: n.mean.max(d.load), ..n });
            }
        }
        table
    }

    /// Takes node `from`'s load report.
    pub(crate) fn on_report(&mut self, from: u16, r: &LoadReport, now_ms: u64) {
        let _ = self.cache.on_report(from, r, now_ms);
    }

    /// This node's load as its probe smoothed it (upper, mean, CPUs) and
    /// its memory, at the last sample (configfs `probes/`).
    pub(crate) fn local_load(&self) -> (u32, u32, u32, Memory) {
        (self.probe.upper(), self.probe.mean(), self.probe.cpus(), self.mem)
    }

    pub(super) fn say(&mut self, args: fmt::Arguments<'_>) {
        self.last = StackStr::new();
        let _ = self.last.write_fmt(args);
    }

    fn event(&mut self, e: Event) {
        if self.events.len() >= MAX_EVENTS {
            // The oldest goes; the others keep their order.
            let v = self.events.as_mut_slice();
            v.copy_within(1.., 0);
            if let Some(last) = v.last_mut() {
                *last = e;
            }
        } else {
            let _ = self.events.push(e, GFP_KERNEL);
        }
    }

    fn not_movable(&mut self, pid: u32) -> Option<&NotMovable> {
        self.unmovable.iter().find(|u| u.pid == pid)
    }

    /// Remembers that `pid` could not be moved, and why.
    pub(crate) fn refused(&mut self, pid: u32, errno: u32, why: &str) {
        if self.unmovable.len() >= MAX_UNMOVABLE || self.not_movable(pid).is_some() {
            return;
        }
        let mut u = NotMovable { pid, since_ms: mono_ms(), errno, reason: [0; 64], reason_len: 0 };
        // Whole characters only.
        let mut n = why.len().min(u.reason.len());
        while !why.is_char_boundary(n) {
            n -= 1;
        }
        u.reason[..n].copy_from_slice(&why.as_bytes()[..n]);
        u.reason_len = n as u8;
        let _ = self.unmovable.push(u, GFP_KERNEL);
    }

    /// Writes the load table, the last decision, the recent migrations
    /// and the processes not moved.
    pub(crate) fn write(&self, out: &mut impl Write) -> fmt::Result {
        let now = mono_ms();
        writeln!(
            out,
            "load: upper {} mean {} cpus {}",
            Load(self.probe.upper()),
            Load(self.probe.mean()),
            self.probe.cpus()
        )?;
        writeln!(out, "memory: free {} KiB of {} KiB", self.mem.free_kib, self.mem.total_kib)?;
        writeln!(out, "placed_at_exec: {}", self.placing.placed)?;
        writeln!(out, "placed_at_exec_failed: {}", self.placing.failed)?;
        let last = self.last.as_str();
        writeln!(out, "last_decision: {}", if last.is_empty() { "none" } else { last })?;
        writeln!(out, "nodes:")?;
        for n in self.cache.table(now).nodes() {
            writeln!(
                out,
                "  node {} {} upper {} mean {} cpus {} free {} KiB age {} ms",
                n.id,
                if n.alive { "alive" } else { "dead" },
                Load(n.upper),
                Load(n.mean),
                n.cpus,
                n.free_kib,
                n.age_ms
            )?;
        }
        writeln!(out, "recent:")?;
        for e in self.events.iter() {
            write!(
                out,
                "  {} s ago: pid {} to node {} ({}, {}): ",
                now.saturating_sub(e.at_ms) / 1000,
                e.pid,
                e.dest,
                e.policy.name(),
                crate::proto::ctl::strategy_name(e.strategy)
            )?;
            if e.errno == 0 {
                writeln!(out, "migrated in {} ms", e.took_ms)?;
            } else {
                writeln!(out, "failed (error {})", e.errno)?;
            }
        }
        writeln!(out, "not_moved:")?;
        for u in self.unmovable.iter() {
            let why = core::str::from_utf8(&u.reason[..usize::from(u.reason_len)]).unwrap_or("?");
            writeln!(out, "  pid {}: {} (error {})", u.pid, why, u.errno)?;
        }
        Ok(())
    }
}

/// Whether process `pid` of this node, or one of its ancestors here, is
/// pinned.
pub(crate) fn pinned(c: &Config, pid: u32) -> bool {
    if c.pins().is_empty() {
        return false;
    }
    if c.pin_of(pid).is_some() {
        return true;
    }
    let mut buf = [0u32; sys::MAX_ANCESTORS];
    sys::ancestors(pid, &mut buf).iter().any(|&a| c.pin_of(a).is_some())
}

/// Why nothing moved, in words.
struct StayText(Stay);

impl fmt::Display for StayText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = match self.0 {
            Stay::NoNeed => return f.write_str("not busy"),
            Stay::NoDestination => return f.write_str("no node to send to"),
            Stay::Balanced => return f.write_str("balanced"),
            Stay::NoProcess(c) => c,
        };
        f.write_str("no process may go (")?;
        let mut sep = "";
        for (n, what) in [
            (c.pinned, "pinned"),
            (c.unmovable, "not movable"),
            (c.too_recent, "too recent"),
            (c.too_costly, "too costly"),
            (c.would_return, "would return"),
            (c.no_room, "no room"),
            (c.no_fit, "no fit"),
        ] {
            if n > 0 {
                write!(f, "{sep}{n} {what}")?;
                sep = ", ";
            }
        }
        f.write_str(")")
    }
}

/// Keeps the elements of `v` that `keep` accepts (in another order).
fn retain<T>(v: &mut KVec<T>, keep: impl Fn(&T) -> bool) {
    let mut i = 0;
    while i < v.len() {
        if keep(&v[i]) {
            i += 1;
        } else {
            swap_remove(v, i);
        }
    }
}

/// The `ssi-sched` thread's body.
pub(crate) struct Balancer {
    pub(crate) cluster: Arc<Cluster>,
    pub(crate) sched: Arc<SchedService>,
}

impl ThreadBody for Balancer {
    fn run(&self) {
        self.reset();
        while !kthread::should_stop() {
            let c = self.sched.config();
            // The move runs here, after the period's work has returned:
            // a migration's own stack is deep, the decision's large.
            if let Some((m, policy, load)) = self.tick(&c) {
                self.act(&m, policy, load);
            }
            kthread::sleep_ms(c.params.load.period_ms.max(10));
        }
    }
}

impl Balancer {
    /// Nothing known of the others: the service (re)started. On this
    /// thread, not in `start`, which runs at the bottom of the deep stack
    /// of a write to `enabled` (a node died joining when it did); not
    /// inlined, so that its temporaries stay off the loop's frame.
    #[inline(never)]
    fn reset(&self) {
        self.sched.state.lock().restart(&self.sched.config().params);
    }

    /// One period: sample, report, greet new nodes, decide: the move
    /// to make, if any, with its policy and this node's load.
    #[inline(never)]
    fn tick(&self, c: &Config) -> Option<(Move, PolicyKind, u32)> {
        let now = mono_ms();
        let own = self.cluster.node_id();
        let sample = sys::sample();
        let alive = self.alive_nodes();
        // Greet the nodes that joined since the last look with the
        // configuration (a joining node has none).
        let (greeted, resend) = {
            let mut st = self.sched.state.lock();
            st.end_holds(now);
            let out = &mut st.peers;
            let resend = c.generation > 0 && now.saturating_sub(out.config_sent_ms) >= CONFIG_RESEND_MS;
            if resend {
                out.config_sent_ms = now;
            }
            (out.greeted, resend)
        };
        if resend {
            // Again now and then, so that a node that missed a change
            // (a lost message, a change made while it was cut off) gets
            // it; two configurations of one generation settle on the
            // higher origin's.
            send_config(&self.cluster, c, None);
            self.sched.stats.configs_resent.fetch_add(1, Ordering::Relaxed);
            self.drop_stale_pins(c, own);
        } else {
            for id in (1..64u16).filter(|&id| alive & (1 << id) != 0 && greeted & (1 << id) == 0) {
                if id != own && c.generation > 0 {
                    send_config(&self.cluster, c, Some(id));
                }
            }
        }
        let covering = |k: PolicyKind| c.schedulers().iter().any(|s| s.enabled && s.policy == k && s.nodes.contains(own));
        let (balance, memory) = (covering(PolicyKind::Balance), covering(PolicyKind::Memory));
        let mut cands = KVec::new();
        if balance || memory {
            self.look(c, own, now, &mut cands);
        }
        let (local, report) = {
            let mut st = self.sched.state.lock();
            st.peers.greeted = alive;
            st.apply(&c.params);
            // What the placer is moving away runs here until it is captured.
            let runnable = sample.runnable.saturating_sub(st.placing.departing);
            st.probe.sample(tasks(runnable), sample.cpus);
            st.mem = Memory { free_kib: sample.available_kib, total_kib: sample.total_kib };
            for id in 1..64u16 {
                st.cache.set_alive(id, alive & (1 << id) != 0);
            }
            let movable = cands.iter().filter(|c: &&Candidate| c.unmovable.is_none() && !c.pinned).count();
            let local = NodeLoad::local(own, &st.probe, &st.mem, movable as u32);
            let mut r = local.report();
            st.seq += 1;
            r.seq = st.seq;
            let send = st.filter.offer(&r, now);
            (local, send.then_some(r))
        };
        if let Some(r) = report {
            let mut body = [0u8; REPORT_LEN];
            if let Ok(n) = r.encode(&mut body) {
                self.cluster.broadcast(MsgType::SchedLoad, &body[..n]);
                self.sched.stats.reports_out.fetch_add(1, Ordering::Relaxed);
            }
        }
        if !(balance || memory) {
            return None;
        }
        self.decide(c, own, &local, &cands, balance, memory)
    }

    /// Unpins the processes of this node's pid range that ended: a pin
    /// names a pid, which a later process may get. (A process that
    /// migrated keeps its deputy here, under its pid, while it lives.)
    #[inline(never)]
    fn drop_stale_pins(&self, c: &Config, own: u16) {
        let Ok(range) = pid_range::range_of(u32::from(own)) else { return };
        for p in c.pins().iter().filter(|p| range.contains(p.pid)) {
            if Task::get(p.pid).is_some() {
                continue;
            }
            let mut what = StackStr::<64>::new();
            let _ = write!(what, "unpin {} (the process ended)", p.pid);
            let _ = self.sched.change(&self.cluster, what.as_str(), &Command::Unpin(p.pid));
        }
    }

    /// The ids of this node and the nodes it is connected to, as a mask.
    fn alive_nodes(&self) -> u64 {
        let own = 1u64 << (self.cluster.node_id() & 63);
        let Ok(conns) = self.cluster.connections() else { return own };
        conns.iter().filter(|c| !c.is_closed() && c.peer.node_id < 64).fold(own, |m, c| m | (1 << c.peer.node_id))
    }

    /// Looks at this node's user processes: their run-queue weight since
    /// the last look, and which a balancing scheduler handles.
    fn look(&self, c: &Config, own: u16, now_ms: u64, out: &mut KVec<Candidate>) {
        let roles = self.sched.migrations.pid_roles().unwrap_or_default();
        let now_ns = crate::kernel_ext::mono_ns();
        let mut st = self.sched.state.lock();
        for t in st.tracks.iter_mut() {
            t.seen = false;
        }
        let mut cursor = 0;
        // The parents of every process: one with children here is not
        // moved (migration refuses it: its wait could not reach them).
        let mut parents = KVec::new();
        while let Some(f) = procs::next_process(cursor, &mut []) {
            if f.tgid <= cursor {
                break;
            }
            cursor = f.tgid;
            let _ = parents.push(f.ppid, GFP_KERNEL);
            if f.kthread != 0 {
                continue;
            }
            let role = roles.iter().find(|(p, _)| *p == f.tgid).map(|&(_, r)| r);
            let came_from = match role {
                None => 0,
                // A deputy's process runs elsewhere; a copy not yet running
                // is still arriving.
                Some(PidRole::Deputy | PidRole::Hosted { running: false, .. }) => continue,
                Some(PidRole::Hosted { .. }) => self.sched.migrations.came_from(f.tgid).unwrap_or(0),
            };
            let ids = ProcessIds { pid: f.tgid, uid: f.uid, sid: f.session, pgid: f.pgrp };
            let handled = c.scheduler_for(&ids, own, |k| k == PolicyKind::Balance || k == PolicyKind::Memory).is_some();
            let i = match st.tracks.iter().position(|t| t.pid == f.tgid) {
                Some(i) => i,
                None => {
                    if st.tracks.len() >= MAX_TRACKS {
                        continue;
                    }
                    let t = Track {
                        pid: f.tgid,
                        since_ms: now_ms,
                        cpu_ns: f.cpu_ns,
                        wait_ns: f.run_delay_ns,
                        at_ns: now_ns,
                        demand: 0,
                        came_from,
                        seen: true,
                    };
                    if st.tracks.push(t, GFP_KERNEL).is_err() {
                        continue;
                    }
                    st.tracks.len() - 1
                }
            };
            let t = &mut st.tracks[i];
            t.seen = true;
            let wall = now_ns.saturating_sub(t.at_ns);
            // At least a second of window: a shorter one says little.
            if wall >= 1_000_000_000 {
                t.demand = runnable_share(f.cpu_ns.saturating_sub(t.cpu_ns), f.run_delay_ns.saturating_sub(t.wait_ns), wall);
                (t.cpu_ns, t.wait_ns, t.at_ns) = (f.cpu_ns, f.run_delay_ns, now_ns);
            }
            if !handled {
                continue;
            }
            let t = *t;
            let mut left = [Left::default(); crate::proto::sched::MAX_LEFT];
            let residency_ms = now_ms.saturating_sub(t.since_ms);
            if t.came_from != 0 {
                left[0] = Left { node: t.came_from, ms_ago: residency_ms };
            }
            let unmovable = st
                .not_movable(f.tgid)
                .filter(|u| now_ms.saturating_sub(u.since_ms) < UNMOVABLE_MS)
                .map(|_| Unmovable::Unsupported);
            let cand = Candidate {
                pid: f.tgid,
                demand: t.demand,
                rss_bytes: f.rss_anon + f.rss_file + f.rss_shmem,
                residency_ms,
                moves: u32::from(t.came_from != 0),
                left,
                pinned: pinned(c, f.tgid),
                unmovable,
            };
            if out.push(cand, GFP_KERNEL).is_err() {
                break;
            }
        }
        for c in out.iter_mut().filter(|c| c.unmovable.is_none()) {
            if parents.contains(&c.pid) {
                c.unmovable = Some(Unmovable::Other);
            }
        }
        // Forget the processes that ended or left, and old refusals.
        retain(&mut st.tracks, |t| t.seen);
        retain(&mut st.unmovable, |u| now_ms.saturating_sub(u.since_ms) < UNMOVABLE_MS);
    }

    /// Runs the policies and starts the migration one chose.
    #[inline(never)]
    fn decide(
        &self,
        c: &Config,
        own: u16,
        local: &NodeLoad,
        cands: &[Candidate],
        balance: bool,
        memory: bool,
    ) -> Option<(Move, PolicyKind, u32)> {
        let now = mono_ms();
        let table = self.sched.state.lock().table_for_decision(now);
        self.sched.stats.decisions.fetch_add(1, Ordering::Relaxed);
        let scheds = c.schedulers().iter().filter(|s| s.enabled && s.nodes.contains(own));
        let mut decision = (PolicyKind::Balance, Decision::Stay(Stay::NoNeed));
        for s in scheds {
            let d = match s.policy {
                PolicyKind::Memory if memory => memory_pressure(local, &table, cands, s.nodes, &c.params.policy),
                PolicyKind::Balance if balance => dynamic_balance(local, &table, cands, s.nodes, &c.params.policy),
                _ => continue,
            };
            decision = (s.policy, d);
            if matches!(d, Decision::Migrate(_)) {
                break;
            }
        }
        let (policy, d) = decision;
        let m = match d {
            Decision::Migrate(m) => m,
            Decision::Stay(why) => {
                self.sched.state.lock().say(format_args!("stay, load {}: {}", Load(local.mean), StayText(why)));
                return None;
            }
        };
        Some((m, policy, local.mean))
    }

    /// Makes move `m` of `policy` (this node's load `load`): offers it to
    /// the destination, then migrates the process if it takes it.
    #[inline(never)]
    fn act(&self, m: &Move, policy: PolicyKind, load: u32) {
        let offer = Offer {
            kind: if policy == PolicyKind::Memory { OfferKind::Memory } else { OfferKind::Load },
            pid: m.pid,
            demand: m.demand,
            source_after: m.source_after,
            rss_kib: u32::try_from(m.rss_kib).unwrap_or(u32::MAX),
            hold_ms: Offer::hold_for(m.cost_ms),
        };
        if !self.sched.offer(&self.cluster, m.dest, &offer) {
            return;
        }
        {
            let mut st = self.sched.state.lock();
            st.say(format_args!(
                "move pid {} to node {} ({}): load {} -> {} here, {} there",
                m.pid,
                m.dest,
                policy.name(),
                Load(load),
                Load(m.source_after),
                Load(m.dest_after)
            ));
            st.note_sent(m.dest, m.demand, m.rss_kib);
        }
        pr_info!(
            "scheduler: moving pid {} to node {} ({}, {}): load {} -> {} here, {} there\n",
            m.pid,
            m.dest,
            policy.name(),
            crate::proto::ctl::strategy_name(m.strategy.code()),
            Load(load),
            Load(m.source_after),
            Load(m.dest_after)
        );
        let ok = self.sched.move_process(&self.cluster, m.pid, m.dest, m.strategy.code(), policy).is_ok();
        self.sched.state.lock().note_outcome(m.dest, m.demand, m.rss_kib, ok);
    }
}
