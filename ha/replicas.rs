// SPDX-License-Identifier: GPL-2.0
//! The home node's side of a replicated process (silent data
//! corruption, `proto::ha::replica`): where its copies run, their digests
//! at the current point, and what to do when they disagree.
//!
//! All copies meet at every point: each waits in its write for the
//! verdict, which comes once every copy that runs or is being started
//! sent its digest for that point. A copy behind the others (one started
//! from an older image) gets its verdicts at once until it catches up.
//! - All agree: every copy goes on; the primary's write reaches the
//!   world unless it did before (a copy restarted from an image redoes
//!   writes the world has seen: they are not emitted again). The images
//!   taken at or before the point are good (`Images::agreed`).
//! - With 3 copies, one disagrees: it is stopped and replaced by a copy
//!   restarted from the newest good image; the others wait at the point
//!   until it catches up and is compared there.
//! - Otherwise (2 copies that disagree): every copy is stopped and all
//!   restart from the newest good image, as a new generation.
//!
//! A replaced primary is restarted through its deputy
//! (`migration::resume`, on another node than the one it ran on, so the
//! deputy no longer believes that node), and only then stopped.

use crate::{
    kernel_ext::mono_ms,
    proto::ha::replica::{compare, emits, vote, Action, Diff, Digest, Images, Verdict, Vote},
};
use kernel::prelude::*;

/// How long copies wait at a point for a copy that does not come before
/// that copy is replaced.
pub(crate) const COPY_TIMEOUT_MS: u64 = 60_000;
/// How long after a failed start the next try comes.
const RETRY_MS: u64 = 2_000;

/// Where a copy stands, as its home node sees it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum SlotState {
    /// Not run (a replica before the first image).
    Empty,
    /// To be started (from `ReplicaSet::from`).
    Wanted,
    Starting,
    Running,
}

impl SlotState {
    fn name(self) -> &'static str {
        match self {
            SlotState::Empty => "none",
            SlotState::Wanted => "wanted",
            SlotState::Starting => "starting",
            SlotState::Running => "running",
        }
    }
}

pub(crate) struct Slot {
    pub(crate) state: SlotState,
    pub(crate) node: u16,
    pub(crate) pid: u32,
    /// Its digest at a point, waiting for the others'.
    digest: Option<(u64, KVec<u8>)>,
    /// Not before this (mono ms): a failed start waits.
    retry_at_ms: u64,
    /// The primary it replaces, to stop once it runs: (node, generation,
    /// point).
    pub(crate) old: Option<(u16, u32, u64)>,
}

impl Slot {
    const fn empty() -> Slot {
        Slot { state: SlotState::Empty, node: 0, pid: 0, digest: None, retry_at_ms: 0, old: None }
    }
}

/// A copy to start, taken by the `ssi-ha` thread.
pub(crate) struct Start {
    pub(crate) copy: u8,
    pub(crate) generation: u32,
    /// The image and the point it holds.
    pub(crate) seq: u32,
    pub(crate) point: u64,
    pub(crate) emitted: u64,
    /// The nodes of the other copies (0: none).
    pub(crate) others: [u16; 3],
    pub(crate) old: Option<(u16, u32, u64)>,
}

/// What to send and remove once the service's lock is dropped.
#[derive(Default)]
pub(crate) struct Outbox {
    pub(crate) verdicts: KVec<(u16, Verdict)>,
    /// Images no longer wanted.
    pub(crate) remove: KVec<u32>,
}

/// A replicated process, at its home node.
pub(crate) struct ReplicaSet {
    /// Copies (2 or 3).
    pub(crate) n: u8,
    pub(crate) generation: u32,
    /// Writes of the primary that reached the world.
    pub(crate) emitted: u64,
    pub(crate) images: Images,
    pub(crate) slots: [Slot; 3],
    /// The image copies are started from, and its point (seq 0: none yet).
    pub(crate) from: (u32, u64),
    /// Points compared; disagreements; rollbacks; copies replaced.
    pub(crate) compared: u64,
    pub(crate) corruptions: u32,
    pub(crate) rollbacks: u32,
    pub(crate) replaced: u32,
    /// Since when copies wait at the newest point (mono ms).
    waiting_since: Option<u64>,
}

impl ReplicaSet {
    /// `n` copies of a process that runs on `node`.
    pub(crate) fn new(n: u8, node: u16, pid: u32) -> ReplicaSet {
        let mut slots = [Slot::empty(), Slot::empty(), Slot::empty()];
        slots[0].state = SlotState::Running;
        slots[0].node = node;
        slots[0].pid = pid;
        ReplicaSet {
            n,
            generation: 1,
            emitted: 0,
            images: Images::default(),
            slots,
            from: (0, 0),
            compared: 0,
            corruptions: 0,
            rollbacks: 0,
            replaced: 0,
            waiting_since: None,
        }
    }

    /// Image `seq` was written at `point`; the first one starts the
    /// replicas.
    pub(crate) fn image_written(&mut self, seq: u32, point: u64, out: &mut Outbox) -> Result {
        if let Some(old) = self.images.written(seq, point).filter(|&old| old != self.from.0) {
            out.remove.push(old, GFP_KERNEL)?;
        }
        if self.from.0 == 0 {
            self.from = (seq, point);
            for s in self.slots[1..self.n as usize].iter_mut() {
                s.state = SlotState::Wanted;
            }
        }
        Ok(())
    }

    /// Whether image `seq` must stay.
    pub(crate) fn wants(&self, seq: u32) -> bool {
        self.images.wants(seq) || self.from.0 == seq
    }

    /// The next copy to start, if one is wanted (it is starting then).
    pub(crate) fn next_start(&mut self, now: u64) -> Option<Start> {
        let mut others = [0u16; 3];
        for (o, s) in others.iter_mut().zip(self.slots.iter()) {
            if matches!(s.state, SlotState::Running | SlotState::Starting) {
                // 0 for a copy still being started somewhere not known yet.
                *o = s.node;
            }
        }
        let (generation, (seq, point), emitted) = (self.generation, self.from, self.emitted);
        let i = self.slots[..self.n as usize].iter().position(|s| s.state == SlotState::Wanted && now >= s.retry_at_ms)?;
        let s = &mut self.slots[i];
        s.state = SlotState::Starting;
        others[i] = 0;
        Some(Start { copy: i as u8, generation, seq, point, emitted, others, old: s.old })
    }

    /// Copy `copy` of `generation` is being started on `node`: only that
    /// node's digests count for it.
    pub(crate) fn starting_on(&mut self, copy: u8, generation: u32, node: u16) {
        if let Some(s) = self.slots.get_mut(copy as usize).filter(|s| s.state == SlotState::Starting) {
            if generation == self.generation {
                s.node = node;
            }
        }
    }

    /// Copy `copy` of `generation` started on `node` as `pid` (`None`:
    /// it could not).
    pub(crate) fn started(&mut self, copy: u8, generation: u32, r: Option<(u16, u32)>, now: u64) {
        if generation != self.generation {
            return;
        }
        let Some(s) = self.slots.get_mut(copy as usize) else { return };
        if s.state != SlotState::Starting {
            return;
        }
        match r {
            Some((node, pid)) => {
                s.state = SlotState::Running;
                s.node = node;
                s.pid = pid;
                s.old = None;
            }
            None => {
                s.state = SlotState::Wanted;
                s.retry_at_ms = now + RETRY_MS;
            }
        }
    }

    /// A digest `d` (body `body`) came from `from`. Returns a line to log
    /// when the copies disagree.
    pub(crate) fn digest(
        &mut self,
        d: &Digest<'_>,
        body: &[u8],
        from: u16,
        out: &mut Outbox,
        why: &mut Option<Disagreement>,
    ) -> Result {
        let h = d.head;
        let i = h.copy as usize;
        let stop =
            Verdict { copy: h.copy, generation: h.generation, home_id: h.home_id, point: h.point, action: Action::Stop };
        if i >= self.n as usize {
            out.verdicts.push((from, stop), GFP_KERNEL)?;
            return Ok(());
        }
        // A primary being replaced waits at its point: it is stopped once
        // its replacement runs and the deputy follows that one (stopped
        // earlier, its end would be believed and the process lost).
        if self.slots[i].old.is_some_and(|(node, g, _)| node == from && g == h.generation) {
            return Ok(());
        }
        let live = matches!(self.slots[i].state, SlotState::Running | SlotState::Starting) && self.slots[i].node == from;
        if h.generation != self.generation || !live {
            out.verdicts.push((from, stop), GFP_KERNEL)?;
            return Ok(());
        }
        let mut copy = KVec::with_capacity(body.len(), GFP_KERNEL)?;
        copy.extend_from_slice(body, GFP_KERNEL)?;
        let s = &mut self.slots[i];
        s.state = SlotState::Running;
        s.node = from;
        s.digest = Some((h.point, copy));
        self.decide(h.home_id, out, why)
    }

    /// Answers what can be answered.
    fn decide(&mut self, home_id: u64, out: &mut Outbox, why: &mut Option<Disagreement>) -> Result {
        let n = self.n as usize;
        let newest = self.slots[..n].iter().filter_map(|s| s.digest.as_ref().map(|(p, _)| *p)).max();
        let Some(point) = newest else { return Ok(()) };
        // Copies behind the others catch up unchecked; while one does,
        // the others' wait is not held against anyone.
        for i in 0..n {
            let behind = self.slots[i].digest.as_ref().is_some_and(|(p, _)| *p < point);
            if behind {
                if let Some((p, _)) = self.slots[i].digest.take() {
                    self.go(i, p, home_id, out)?;
                    self.waiting_since = Some(mono_ms());
                }
            }
        }
        let waited = self.slots[..n].iter().filter(|s| s.state != SlotState::Empty);
        if waited.clone().any(|s| s.digest.is_none()) {
            self.waiting_since.get_or_insert(mono_ms());
            return Ok(());
        }
        let idx: KVec<usize> = {
            let mut v = KVec::new();
            for (i, s) in self.slots[..n].iter().enumerate() {
                if s.digest.is_some() {
                    v.push(i, GFP_KERNEL)?;
                }
            }
            v
        };
        self.waiting_since = None;
        fn digest(s: &Slot) -> Option<Digest<'_>> {
            s.digest.as_ref().and_then(|(_, b)| Digest::decode(b).ok())
        }
        let mut same = [true; 3];
        let mut diffs = [Diff::default(); 3];
        let pairs = [(0usize, 1usize), (0, 2), (1, 2)];
        for (k, &(a, b)) in pairs.iter().enumerate() {
            if a >= idx.len() || b >= idx.len() {
                continue;
            }
            let (Some(da), Some(db)) = (digest(&self.slots[idx[a]]), digest(&self.slots[idx[b]])) else {
                same[k] = false;
                continue;
            };
            diffs[k] = compare(&da, &db);
            same[k] = diffs[k].same();
        }
        match vote(idx.len(), same) {
            Vote::Same => {
                for &i in idx.iter() {
                    if let Some((p, _)) = self.slots[i].digest.take() {
                        self.go(i, p, home_id, out)?;
                    }
                }
                self.compared += 1;
                let mut removed = [0u32; 5];
                let k = self.images.agreed(point, &mut removed);
                // Copies start from the newest good image from now on;
                // the older good ones go.
                if let Some(g) = self.images.good {
                    self.from = g;
                }
                for &r in removed[..k].iter().filter(|&&r| r != self.from.0) {
                    out.remove.push(r, GFP_KERNEL)?;
                }
            }
            Vote::Odd(k) => {
                // `k` and `g` are positions in `idx`, as the pairs are.
                let g = if k == 0 { 1 } else { 0 };
                let (odd, good) = (idx[k], idx[g]);
                let pair = pairs.iter().position(|&(a, b)| (a, b) == (k.min(g), k.max(g)));
                self.corruptions += 1;
                self.replaced += 1;
                *why = Some(Disagreement {
                    point,
                    copies: (odd.min(good) as u8, odd.max(good) as u8),
                    nodes: (self.slots[odd.min(good)].node, self.slots[odd.max(good)].node),
                    diff: pair.map_or(Diff::default(), |p| diffs[p]),
                    odd: Some(odd as u8),
                    image: self.from.0,
                });
                self.stop(odd, home_id, out)?;
            }
            Vote::NoMajority => {
                self.corruptions += 1;
                *why = Some(Disagreement {
                    point,
                    copies: (idx[0] as u8, idx.get(1).copied().unwrap_or(0) as u8),
                    nodes: (self.slots[idx[0]].node, self.slots[idx.get(1).copied().unwrap_or(0)].node),
                    diff: diffs[0],
                    odd: None,
                    image: self.from.0,
                });
                self.roll_back(home_id, out)?;
            }
        }
        Ok(())
    }

    /// Copy `i` goes on past `point`.
    fn go(&mut self, i: usize, point: u64, home_id: u64, out: &mut Outbox) -> Result {
        let emit = emits(i as u8, point, self.emitted);
        if emit {
            self.emitted = point.saturating_add(1);
        }
        let v = Verdict { copy: i as u8, generation: self.generation, home_id, point, action: Action::Go { emit } };
        out.verdicts.push((self.slots[i].node, v), GFP_KERNEL)?;
        Ok(())
    }

    /// Copy `i` is stopped and wanted again (from `from`); a primary is
    /// stopped once its replacement runs.
    fn stop(&mut self, i: usize, home_id: u64, out: &mut Outbox) -> Result {
        let s = &mut self.slots[i];
        let point = s.digest.take().map_or(super::copies::ANY_POINT, |(p, _)| p);
        if matches!(s.state, SlotState::Running | SlotState::Starting) {
            if i == 0 {
                s.old = Some((s.node, self.generation, point));
            } else {
                let v = Verdict { copy: i as u8, generation: self.generation, home_id, point, action: Action::Stop };
                out.verdicts.push((s.node, v), GFP_KERNEL)?;
            }
        }
        s.state = SlotState::Wanted;
        s.node = 0;
        s.retry_at_ms = 0;
        Ok(())
    }

    /// Every copy restarts from the newest good image (or, if none, the
    /// one they started from), as a new generation.
    pub(crate) fn roll_back(&mut self, home_id: u64, out: &mut Outbox) -> Result {
        for i in 0..self.n as usize {
            self.stop(i, home_id, out)?;
        }
        // The replicas' stops above name the old generation; a copy of it
        // still about is refused from now on.
        self.generation += 1;
        self.rollbacks += 1;
        let target = self.images.good.unwrap_or(self.from);
        let mut gone = [0u32; 4];
        let k = self.images.roll_back(&mut gone);
        for &g in gone[..k].iter().filter(|&&g| g != target.0) {
            out.remove.push(g, GFP_KERNEL)?;
        }
        self.from = target;
        self.waiting_since = None;
        Ok(())
    }

    /// Copies that keep the others waiting too long are replaced.
    pub(crate) fn check_waits(&mut self, home_id: u64, now: u64, out: &mut Outbox) -> Result<bool> {
        let Some(since) = self.waiting_since else { return Ok(false) };
        if now.saturating_sub(since) < COPY_TIMEOUT_MS {
            return Ok(false);
        }
        self.waiting_since = None;
        let mut any = false;
        for i in 0..self.n as usize {
            let s = &self.slots[i];
            if s.state == SlotState::Running && s.digest.is_none() {
                self.stop(i, home_id, out)?;
                self.replaced += 1;
                any = true;
            }
        }
        Ok(any)
    }

    /// The process ended: its replicas are stopped.
    pub(crate) fn end(&mut self, home_id: u64, out: &mut Outbox) -> Result {
        for i in 1..self.n as usize {
            let s = &self.slots[i];
            if matches!(s.state, SlotState::Running | SlotState::Starting) {
                let v = Verdict {
                    copy: i as u8,
                    generation: self.generation,
                    home_id,
                    point: super::copies::ANY_POINT,
                    action: Action::Stop,
                };
                out.verdicts.push((s.node, v), GFP_KERNEL)?;
            }
        }
        Ok(())
    }

    /// Every image it keeps, into `out` (0s after).
    pub(crate) fn image_seqs(&self, out: &mut [u32]) {
        for (o, s) in out.iter_mut().zip(Iterator::chain(self.images.seqs(), core::iter::once(self.from.0))) {
            *o = s;
        }
    }

    /// `node:pid` of each copy, `-` for one that does not run.
    pub(crate) fn show(&self, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        write!(out, "replicas={} generation={} copies=", self.n, self.generation)?;
        for (i, s) in self.slots[..self.n as usize].iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            match s.state {
                SlotState::Running => write!(out, "{sep}{}:{}", s.node, s.pid)?,
                st => write!(out, "{sep}{}", st.name())?,
            }
        }
        let good = self.images.good.map_or(0, |(s, _)| s);
        write!(
            out,
            " compared={} emitted={} good={} corruptions={} rollbacks={} replaced={}",
            self.compared, self.emitted, good, self.corruptions, self.rollbacks, self.replaced
        )
    }
}

/// Two copies that disagreed, for the log.
pub(crate) struct Disagreement {
    pub(crate) point: u64,
    pub(crate) copies: (u8, u8),
    pub(crate) nodes: (u16, u16),
    pub(crate) diff: Diff,
    /// The odd copy, when the others agree.
    pub(crate) odd: Option<u8>,
    /// The image the copies restart from.
    pub(crate) image: u32,
}

impl Disagreement {
    /// Logs it for process `pid`.
    pub(crate) fn log(&self, pid: u32) {
        let d = &self.diff;
        let mut page = crate::kernel_ext::StackStr::<160>::new();
        match d.first {
            Some(f) => {
                use core::fmt::Write;
                let _ = match f.bit {
                    Some(b) => write!(
                        page,
                        "page 0x{:x} bit {} (byte 0x{:x} bit {}), {} page(s) differ",
                        f.addr,
                        b,
                        b / 8,
                        b % 8,
                        d.pages
                    ),
                    None => write!(page, "page 0x{:x} (more than one bit), {} page(s) differ", f.addr, d.pages),
                };
            }
            None => {
                use core::fmt::Write;
                let _ = write!(page, "no page differs");
            }
        }
        let what = if self.odd.is_some() { "the odd copy is replaced" } else { "every copy rolls back" };
        pr_warn!(
            "ha: process {}: corruption at point {}: copy {} (node {}) and copy {} (node {}) differ: {}; registers {}, x87/SSE {}, layout {}; {} (odd copy {}), from image {}\n",
            pid,
            self.point,
            self.copies.0,
            self.nodes.0,
            self.copies.1,
            self.nodes.1,
            page.as_str(),
            same_or_differ(d.regs),
            same_or_differ(d.fpu),
            same_or_differ(d.layout),
            what,
            self.odd.map_or(-1, i32::from),
            self.image
        );
    }
}

fn same_or_differ(differs: bool) -> &'static str {
    if differs {
        "differ"
    } else {
        "agree"
    }
}
