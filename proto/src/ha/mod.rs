//! High availability (issue 22): the pure logic of protecting a process.
//!
//! A protected process is followed by its home node (where it started;
//! while it runs elsewhere its deputy holds its place there). Every
//! interval the home node has the node that runs it write a checkpoint
//! image to the shared file system (`HaCheckpoint`, answered later with
//! `HaDone`); when that node is lost, the home node restarts the process
//! from its newest complete image on another node, with the same pid,
//! once the lease rule guarantees the lost copy stopped (the fence).
//!
//! [`Protection`] is the home node's state machine of one protected
//! process; [`Protection::tick`] says what to do now from the
//! [`Facts`] the caller sees. The wire bodies are [`CheckpointAsk`]
//! and [`CheckpointDone`].
//!
//! Images form chains: a full image, then incremental images that each
//! hold the pages dirtied since the one before (docs/image-format.md,
//! "Incremental images"); the home node asks for a full image every
//! `full_every` images, and the node that writes them writes a full one
//! whenever it cannot base it on the parent asked for (it did not write
//! that one, or somebody else cleared the process's soft-dirty bits
//! since). The home node keeps the newest chain: from its full image to
//! its newest image.
//!
//! ```text
//! HaCheckpoint request (24 bytes)   HaDone one-way (56 bytes)
//! 0  u8  version (1)                0  u8  version (1)
//! 1  u8  zero                       1  u8  zero
//! 2  u16 zero                       2  u16 zero
//! 4  u32 home pid                   4  u32 seq
//! 8  u64 home id                    8  u64 home id
//! 16 u32 seq                        16 u32 errno (0: written)
//! 20 u32 parent seq (0: full)       20 u32 parent seq (0: full)
//!                                   24 u64 image bytes
//!                                   32 u64 frozen ns
//!                                   40 u64 pages
//!                                   48 u64 point (replicas: the
//!                                      writes counted at the capture)
//! ```
//!
//! Replicas (silent data corruption) are [`replica`].

use super::le::{Reader, Writer};
use super::wire::WireError;

/// The version of both bodies.
pub const HA_VERSION: u8 = 1;

/// The shortest checkpoint interval, seconds.
pub const MIN_INTERVAL_S: u32 = 1;
/// The longest checkpoint interval, seconds.
pub const MAX_INTERVAL_S: u32 = 3_600;
/// The longest chain: a full image and its increments.
pub const MAX_CHAIN: usize = super::image::MAX_CHAIN;
/// A full image every this many images, by default.
pub const DEFAULT_FULL_EVERY: u32 = 8;
/// A checkpoint not answered within this long is given up (the next one
/// is asked for at the next interval).
pub const CHECKPOINT_TIMEOUT_MS: u64 = 120_000;
/// How long after a failed restart the next try comes.
pub const RESTART_RETRY_MS: u64 = 2_000;
/// Restarts tried for one loss before the process is given up.
pub const MAX_RESTART_TRIES: u32 = 3;

/// The lease rule the fence is computed from (`migration/lease.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long the running side goes without a renewal before it kills
    /// its copy (and the home side before it gives the process up).
    pub lease_lost_ms: u64,
    /// How often the running side renews (and checks) its leases.
    pub renew_ms: u64,
    /// Added for clocks, scheduling and the kill itself.
    pub margin_ms: u64,
}

impl Timing {
    /// How long after the last renewal the home side saw the lost copy
    /// is certainly stopped: the running side counts from a renewal it
    /// saw after the home side did (its answer), checks once per renewal
    /// period, and then kills: `lease_lost_ms + 2 * renew_ms + margin_ms`.
    pub fn fence_ms(&self) -> u64 {
        self.lease_lost_ms
            .saturating_add(self.renew_ms.saturating_mul(2))
            .saturating_add(self.margin_ms)
    }
}

/// What the caller sees of a protected process now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// Monotonic time, ms.
    pub now_ms: u64,
    /// The node that runs it: this one, or another one that is connected
    /// (`false`: it runs on a node this one lost).
    pub reachable: bool,
    /// Time since the lease of its deputy was last renewed (0 when it
    /// runs here).
    pub lease_silence_ms: u64,
}

/// What to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing.
    Wait,
    /// Ask for checkpoint `seq`.
    Checkpoint {
        /// Its sequence number (the image's name).
        seq: u32,
        /// The image it may be based on (0: a full image).
        parent: u32,
    },
    /// Restart the process from image `seq`, the newest complete one
    /// (with its chain, [`Protection::kept`]).
    Restart {
        /// The image.
        seq: u32,
    },
    /// The process cannot be restarted: let it end (its deputy ends
    /// killed, as without protection).
    GiveUp(GiveUpReason),
}

/// Why a lost process is not restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUpReason {
    /// No checkpoint of it was complete when its node was lost.
    NoImage,
    /// Every restart tried failed.
    RestartsFailed,
}

impl GiveUpReason {
    /// Words for the log.
    pub fn describe(&self) -> &'static str {
        match self {
            GiveUpReason::NoImage => "no complete checkpoint of it exists",
            GiveUpReason::RestartsFailed => "every restart tried failed",
        }
    }
}

/// Where a protected process stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// It runs; checkpoints are taken every interval.
    Running,
    /// Its node is lost; waiting for the fence (since `since_ms`).
    Lost,
    /// A restart is under way.
    Restarting,
    /// It was given up.
    GivenUp,
}

impl Phase {
    /// Its name in `/proc/ssi/ha`.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Running => "running",
            Phase::Lost => "lost",
            Phase::Restarting => "restarting",
            Phase::GivenUp => "given-up",
        }
    }
}

/// The home node's state of one protected process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protection {
    /// Its (cluster-wide) pid.
    pub pid: u32,
    /// Checkpoint interval, ms.
    pub interval_ms: u64,
    /// Where it stands.
    pub phase: Phase,
    /// The next image's sequence number (from 1).
    next_seq: u32,
    /// The checkpoint asked for and not answered: (seq, asked at ms).
    in_flight: Option<(u32, u64)>,
    /// When the last checkpoint was asked for (ms).
    last_asked_ms: Option<u64>,
    /// A full image every this many (1..=[`MAX_CHAIN`]).
    pub full_every: u32,
    /// The newest chain of complete images, its full image first.
    chain: [u32; MAX_CHAIN],
    chain_len: usize,
    /// When the newest complete image was written (ms).
    pub good_at_ms: u64,
    /// Its size and the process's freeze for it.
    pub good_bytes: u64,
    /// The process's freeze for the newest complete image, ns.
    pub good_frozen_ns: u64,
    /// Checkpoints written, failed.
    pub written: u64,
    /// Checkpoints that failed or were not answered.
    pub failed: u64,
    /// Restarts done.
    pub restarts: u32,
    /// Restarts tried for the current loss, and when the last one failed.
    tries: u32,
    retry_at_ms: u64,
}

impl Protection {
    /// Protects `pid` with checkpoints every `interval_s` seconds
    /// (clamped to [`MIN_INTERVAL_S`]..=[`MAX_INTERVAL_S`]), a full image
    /// every `full_every` (clamped to 1..=[`MAX_CHAIN`]).
    pub fn new(pid: u32, interval_s: u32, full_every: u32) -> Protection {
        Protection {
            pid,
            interval_ms: u64::from(interval_s.clamp(MIN_INTERVAL_S, MAX_INTERVAL_S)) * 1000,
            phase: Phase::Running,
            next_seq: 1,
            in_flight: None,
            last_asked_ms: None,
            full_every: full_every.clamp(1, MAX_CHAIN as u32),
            chain: [0; MAX_CHAIN],
            chain_len: 0,
            good_at_ms: 0,
            good_bytes: 0,
            good_frozen_ns: 0,
            written: 0,
            failed: 0,
            restarts: 0,
            tries: 0,
            retry_at_ms: 0,
        }
    }

    /// The newest complete image (0: none yet).
    pub fn newest(&self) -> u32 {
        self.kept().last().copied().unwrap_or(0)
    }

    /// The newest chain of complete images, its full image first: the
    /// images kept.
    pub fn kept(&self) -> &[u32] {
        &self.chain[..self.chain_len]
    }

    /// Whether a checkpoint is being written.
    pub fn checkpointing(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Sets the interval (clamped as in [`Protection::new`]).
    pub fn set_interval(&mut self, interval_s: u32) {
        self.interval_ms = u64::from(interval_s.clamp(MIN_INTERVAL_S, MAX_INTERVAL_S)) * 1000;
    }

    /// What to do now; see the module documentation.
    pub fn tick(&mut self, f: &Facts, timing: &Timing) -> Action {
        if let Some((_, asked)) = self.in_flight {
            if f.now_ms.saturating_sub(asked) >= CHECKPOINT_TIMEOUT_MS {
                self.in_flight = None;
                self.failed += 1;
            }
        }
        match self.phase {
            Phase::GivenUp | Phase::Restarting => Action::Wait,
            Phase::Running if f.reachable => {
                let due = self
                    .last_asked_ms
                    .is_none_or(|t| f.now_ms.saturating_sub(t) >= self.interval_ms);
                if self.in_flight.is_some() || !due {
                    return Action::Wait;
                }
                let seq = self.next_seq;
                self.next_seq = self.next_seq.wrapping_add(1).max(1);
                self.in_flight = Some((seq, f.now_ms));
                self.last_asked_ms = Some(f.now_ms);
                let parent = if self.chain_len < self.full_every as usize {
                    self.newest()
                } else {
                    0
                };
                Action::Checkpoint { seq, parent }
            }
            Phase::Running | Phase::Lost => {
                if f.reachable {
                    // Back before the fence: it never stopped.
                    self.phase = Phase::Running;
                    return Action::Wait;
                }
                self.phase = Phase::Lost;
                // A checkpoint being written there will not complete.
                if self.in_flight.take().is_some() {
                    self.failed += 1;
                }
                if f.lease_silence_ms < timing.fence_ms() || f.now_ms < self.retry_at_ms {
                    return Action::Wait;
                }
                match self.newest() {
                    0 => {
                        self.phase = Phase::GivenUp;
                        Action::GiveUp(GiveUpReason::NoImage)
                    }
                    seq => {
                        self.phase = Phase::Restarting;
                        self.tries += 1;
                        Action::Restart { seq }
                    }
                }
            }
        }
    }

    /// Checkpoint `seq` ended: `ok` (written whole, based on image
    /// `parent`, 0 for a full image, `bytes` long, the process frozen
    /// `frozen_ns`) or not. Returns the images no longer kept (to remove):
    /// a new full image replaces the whole chain before it; an image that
    /// cannot join the chain (based on another parent than its newest
    /// image, or the chain is full) is not kept either. An answer to a
    /// checkpoint not asked for (or given up) changes nothing.
    pub fn done(
        &mut self,
        seq: u32,
        ok: bool,
        parent: u32,
        bytes: u64,
        frozen_ns: u64,
        now_ms: u64,
    ) -> Removed {
        let mut removed = Removed::default();
        match self.in_flight {
            Some((s, _)) if s == seq => self.in_flight = None,
            _ => return removed,
        }
        if !ok {
            self.failed += 1;
            return removed;
        }
        if parent == 0 {
            for &old in self.kept() {
                removed.push(old);
            }
            self.chain_len = 0;
        } else if parent != self.newest() || self.chain_len >= MAX_CHAIN {
            self.failed += 1;
            removed.push(seq);
            return removed;
        }
        self.chain[self.chain_len] = seq;
        self.chain_len += 1;
        self.written += 1;
        self.good_at_ms = now_ms;
        self.good_bytes = bytes;
        self.good_frozen_ns = frozen_ns;
        removed
    }

    /// The restart asked for by [`Action::Restart`] succeeded: it runs
    /// again (the next checkpoint comes after an interval).
    pub fn restarted(&mut self, now_ms: u64) {
        self.phase = Phase::Running;
        self.restarts += 1;
        self.tries = 0;
        self.last_asked_ms = Some(now_ms);
    }

    /// The restart failed: tried again after [`RESTART_RETRY_MS`], at
    /// most [`MAX_RESTART_TRIES`] times; then the process is given up
    /// (the returned action).
    pub fn restart_failed(&mut self, now_ms: u64) -> Action {
        if self.tries >= MAX_RESTART_TRIES {
            self.phase = Phase::GivenUp;
            return Action::GiveUp(GiveUpReason::RestartsFailed);
        }
        self.phase = Phase::Lost;
        self.retry_at_ms = now_ms.saturating_add(RESTART_RETRY_MS);
        Action::Wait
    }
}

/// Images no longer kept, to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Removed {
    seqs: [u32; MAX_CHAIN + 1],
    len: usize,
}

impl Removed {
    fn push(&mut self, seq: u32) {
        if self.len < self.seqs.len() {
            self.seqs[self.len] = seq;
            self.len += 1;
        }
    }

    /// The images.
    pub fn seqs(&self) -> &[u32] {
        &self.seqs[..self.len]
    }
}

/// `HaCheckpoint`: the home node asks the node running a protected
/// process for checkpoint `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointAsk {
    /// The process's home id (its migrations' `home_id`).
    pub home_id: u64,
    /// Its pid (the same on every node).
    pub home_pid: u32,
    /// The image's sequence number (not 0).
    pub seq: u32,
    /// The image it may be based on (0: a full image).
    pub parent: u32,
}

impl CheckpointAsk {
    /// Encoded length.
    pub const LEN: usize = 24;

    /// Writes it; its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if self.seq == 0 || self.parent == self.seq {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        head(&mut w)?;
        w.u32(self.home_pid)?;
        w.u64(self.home_id)?;
        w.u32(self.seq)?;
        w.u32(self.parent)?;
        Ok(w.pos())
    }

    /// Reads one.
    pub fn decode(b: &[u8]) -> Result<CheckpointAsk, WireError> {
        let mut r = Reader::new(b);
        read_head(&mut r)?;
        let home_pid = r.u32()?;
        let home_id = r.u64()?;
        let seq = r.u32()?;
        let parent = r.u32()?;
        r.finish()?;
        if seq == 0 || parent == seq {
            return Err(WireError::InvalidValue);
        }
        Ok(CheckpointAsk {
            home_id,
            home_pid,
            seq,
            parent,
        })
    }
}

/// `HaDone`: how checkpoint `seq` of a protected process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointDone {
    /// The process's home id.
    pub home_id: u64,
    /// The image's sequence number (not 0).
    pub seq: u32,
    /// 0: written whole; otherwise why not (a positive errno).
    pub errno: u32,
    /// The image it is based on (0: a full image).
    pub parent: u32,
    /// The image's size.
    pub bytes: u64,
    /// How long the process was frozen, ns.
    pub frozen_ns: u64,
    /// Memory pages in the image.
    pub pages: u64,
    /// A replicated process's point at the capture (writes counted since
    /// its copies' image, [`replica`]); 0 otherwise.
    pub point: u64,
}

impl CheckpointDone {
    /// Encoded length.
    pub const LEN: usize = 56;

    /// Writes it; its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if self.seq == 0 || self.parent == self.seq {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        head(&mut w)?;
        w.u32(self.seq)?;
        w.u64(self.home_id)?;
        w.u32(self.errno)?;
        w.u32(self.parent)?;
        w.u64(self.bytes)?;
        w.u64(self.frozen_ns)?;
        w.u64(self.pages)?;
        w.u64(self.point)?;
        Ok(w.pos())
    }

    /// Reads one.
    pub fn decode(b: &[u8]) -> Result<CheckpointDone, WireError> {
        let mut r = Reader::new(b);
        read_head(&mut r)?;
        let seq = r.u32()?;
        let home_id = r.u64()?;
        let errno = r.u32()?;
        let parent = r.u32()?;
        let bytes = r.u64()?;
        let frozen_ns = r.u64()?;
        let pages = r.u64()?;
        let point = r.u64()?;
        r.finish()?;
        if seq == 0 || parent == seq || errno > 4095 {
            return Err(WireError::InvalidValue);
        }
        Ok(CheckpointDone {
            home_id,
            seq,
            errno,
            parent,
            bytes,
            frozen_ns,
            pages,
            point,
        })
    }
}

fn head(w: &mut Writer<'_>) -> Result<(), WireError> {
    w.u8(HA_VERSION)?;
    w.u8(0)?;
    w.u16(0)?;
    Ok(())
}

fn read_head(r: &mut Reader<'_>) -> Result<(), WireError> {
    let version = r.u8()?;
    let zero = r.u8()?;
    let zero2 = r.u16()?;
    if version != HA_VERSION {
        return Err(WireError::BadVersion);
    }
    if zero != 0 || zero2 != 0 {
        return Err(WireError::InvalidValue);
    }
    Ok(())
}

pub mod replica;

#[cfg(test)]
mod tests;
