//! Live migration: the bodies of the `Migrate*` krpc messages
//! (`docs/protocol.md`) and the small pieces of pure logic the module's
//! migration code needs (wait statuses, the exit trampoline search).
//!
//! Every body starts with the migration's id: a random 64-bit number the
//! source picks, never 0, that names one move of one process between two
//! nodes. A process that has migrated carries a second id, its *home* id,
//! which stays the same over every hop and names its deputy on its home
//! node.

use super::le::{Reader, Writer};
use super::wire::WireError;

/// Most data bytes in one `MigrateData` or `MigratePages` frame: 256 KiB
/// less [`MAX_DATA_HEADER`], so that
/// the whole body, header and data, fits a 256 KiB allocation where it is
/// received (a body one byte over 256 KiB takes 512 KiB of contiguous
/// memory).
pub const MAX_DATA: usize = (256 << 10) - MAX_DATA_HEADER;
/// Room for the header in front of the data of those frames.
pub const MAX_DATA_HEADER: usize = 64;
const _: () = assert!(Data::HEADER_LEN <= MAX_DATA_HEADER);
/// Most bytes one `MigrateIo` read or write moves.
pub const MAX_IO: usize = 64 << 10;

fn nonzero(id: u64) -> Result<u64, WireError> {
    if id == 0 {
        Err(WireError::InvalidValue)
    } else {
        Ok(id)
    }
}

/// `MigrateBegin`: the destination prepares to receive an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Begin {
    /// This move's id.
    pub id: u64,
    /// The id of the process's deputy on its home node (the same on every
    /// hop; equal to `id` on the first).
    pub home_id: u64,
    /// The process's home node.
    pub home_node: u16,
    /// Its pid there (the deputy's).
    pub home_pid: u32,
    /// The user asking (root or the process's owner).
    pub uid: u32,
    /// `ctl::STRATEGY_*`.
    pub strategy: u8,
    /// Bytes of the image that follows.
    pub size: u64,
}

impl Begin {
    /// Encoded length.
    pub const LEN: usize = 8 + 8 + 2 + 4 + 4 + 1 + 8;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        nonzero(self.id)?;
        nonzero(self.home_id)?;
        let mut w = Writer::new(out);
        w.u64(self.id)?;
        w.u64(self.home_id)?;
        w.u16(self.home_node)?;
        w.u32(self.home_pid)?;
        w.u32(self.uid)?;
        w.u8(self.strategy)?;
        w.u64(self.size)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Begin, WireError> {
        let mut r = Reader::new(body);
        let b = Begin {
            id: nonzero(r.u64()?)?,
            home_id: nonzero(r.u64()?)?,
            home_node: r.u16()?,
            home_pid: r.u32()?,
            uid: r.u32()?,
            strategy: r.u8()?,
            size: r.u64()?,
        };
        r.finish()?;
        if b.strategy > 3 || b.home_node == 0 || b.home_pid == 0 {
            return Err(WireError::InvalidValue);
        }
        Ok(b)
    }
}

/// `MigrateData`: image bytes at an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Data<'a> {
    /// The move.
    pub id: u64,
    /// Where the bytes go in the image.
    pub offset: u64,
    /// At most [`MAX_DATA`] bytes.
    pub data: &'a [u8],
}

impl<'a> Data<'a> {
    /// Bytes before the data.
    pub const HEADER_LEN: usize = 8 + 8 + 4;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        nonzero(self.id)?;
        if self.data.len() > MAX_DATA {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u64(self.id)?;
        w.u64(self.offset)?;
        w.u32(self.data.len() as u32)?;
        w.bytes(self.data)?;
        Ok(w.pos())
    }

    /// Encodes only the bytes before `len` bytes of data, into
    /// `out[..HEADER_LEN]`: for a sender that put the data right after
    /// them already (the result equals [`Data::encode`]'s).
    pub fn encode_header(
        id: u64,
        offset: u64,
        len: usize,
        out: &mut [u8],
    ) -> Result<usize, WireError> {
        nonzero(id)?;
        if len > MAX_DATA {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u64(id)?;
        w.u64(offset)?;
        w.u32(len as u32)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &'a [u8]) -> Result<Data<'a>, WireError> {
        let mut r = Reader::new(body);
        let id = nonzero(r.u64()?)?;
        let offset = r.u64()?;
        let len = r.u32()? as usize;
        if len > MAX_DATA || offset.checked_add(len as u64).is_none() {
            return Err(WireError::InvalidValue);
        }
        let data = r.bytes(len)?;
        r.finish()?;
        Ok(Data { id, offset, data })
    }
}

/// Most runs in one `MigrateKeep` frame.
pub const MAX_KEEP_RUNS: usize = 4096;
/// Highest user address + 1 (x86-64, 4-level paging).
pub const USER_TOP: u64 = 1 << 47;
/// Page size of pre-copy pages.
pub const PAGE: u64 = 4096;

/// Pages at `addr`, `npages` of them: a run of a pre-copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// Page-aligned user address.
    pub addr: u64,
    /// At least one page.
    pub npages: u32,
}

impl Run {
    /// Whether it is page-aligned, non-empty and below [`USER_TOP`].
    pub fn is_valid(&self) -> bool {
        self.addr.is_multiple_of(PAGE)
            && self.npages > 0
            && self
                .addr
                .checked_add(u64::from(self.npages) * PAGE)
                .is_some_and(|end| end <= USER_TOP)
    }
}

/// `MigrateKeep`: the pre-copied pages the destination keeps (clean at the
/// freeze), sorted by address over all of a migration's frames.
#[derive(Debug, Clone, Copy)]
pub struct Keep<'a> {
    /// The move.
    pub id: u64,
    /// The runs, encoded (12 bytes each: addr, npages); see [`Keep::runs`].
    raw: &'a [u8],
}

impl<'a> Keep<'a> {
    /// Bytes before the runs.
    pub const HEADER_LEN: usize = 12;
    /// Bytes per run.
    pub const RUN_LEN: usize = 12;

    /// Encodes `runs` (at most [`MAX_KEEP_RUNS`]) into `out`.
    pub fn encode(id: u64, runs: &[Run], out: &mut [u8]) -> Result<usize, WireError> {
        nonzero(id)?;
        if runs.len() > MAX_KEEP_RUNS || runs.iter().any(|r| !r.is_valid()) {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u64(id)?;
        w.u32(runs.len() as u32)?;
        for r in runs {
            w.u64(r.addr)?;
            w.u32(r.npages)?;
        }
        Ok(w.pos())
    }

    /// Decodes a body; every run is checked.
    pub fn decode(body: &'a [u8]) -> Result<Keep<'a>, WireError> {
        let mut r = Reader::new(body);
        let id = nonzero(r.u64()?)?;
        let n = r.u32()? as usize;
        if n > MAX_KEEP_RUNS {
            return Err(WireError::InvalidValue);
        }
        let raw = r.bytes(n * Self::RUN_LEN)?;
        r.finish()?;
        let k = Keep { id, raw };
        if k.runs().any(|run| !run.is_valid()) {
            return Err(WireError::InvalidValue);
        }
        Ok(k)
    }

    /// The runs.
    pub fn runs(&self) -> impl Iterator<Item = Run> + 'a {
        self.raw.chunks_exact(Self::RUN_LEN).map(|c| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&c[..8]);
            let mut n = [0u8; 4];
            n.copy_from_slice(&c[8..]);
            Run {
                addr: u64::from_le_bytes(a),
                npages: u32::from_le_bytes(n),
            }
        })
    }
}

/// The end address of `r` (one past its last byte); `r` must be valid.
fn run_end(r: &Run) -> u64 {
    r.addr + u64::from(r.npages) * PAGE
}

/// Whether `next` may follow `last` in a keep list: lists are sorted by
/// address and their runs do not overlap ([`overlap`] and [`gaps`] rely
/// on it).
pub fn keep_follows(last: Option<&Run>, next: &Run) -> bool {
    next.is_valid() && last.is_none_or(|l| run_end(l) <= next.addr)
}

/// The parts of `[addr, addr + npages pages)` that lie in `keep` (sorted,
/// not overlapping), as runs in address order.
pub fn overlap(keep: &[Run], addr: u64, npages: u32) -> impl Iterator<Item = Run> + '_ {
    let end = addr.saturating_add(u64::from(npages) * PAGE);
    let first = keep.partition_point(|r| run_end(r) <= addr);
    keep[first..]
        .iter()
        .take_while(move |r| r.addr < end)
        .filter_map(move |r| {
            let from = r.addr.max(addr);
            let to = run_end(r).min(end);
            (from < to).then(|| Run {
                addr: from,
                npages: ((to - from) / PAGE) as u32,
            })
        })
}

/// The parts of `[start, end)` (page-aligned) that do not lie in `keep`
/// (sorted, not overlapping), as `(from, to)` ranges in address order.
pub fn gaps(keep: &[Run], start: u64, end: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
    let first = keep.partition_point(|r| run_end(r) <= start);
    let inside = keep[first..].iter().take_while(move |r| r.addr < end);
    // Each kept run inside closes the gap before it; a last gap follows.
    let mut at = start;
    let mut tail_done = false;
    let mut runs = inside;
    core::iter::from_fn(move || loop {
        match runs.next() {
            Some(r) => {
                let gap = (at, r.addr.min(end));
                at = at.max(run_end(r).min(end));
                if gap.0 < gap.1 {
                    return Some(gap);
                }
            }
            None if !tail_done => {
                tail_done = true;
                return (at < end).then_some((at, end));
            }
            None => return None,
        }
    })
}

/// What the pagemap of a page says, for pre-copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageState {
    /// Not in memory (never touched: zero, or the file's content).
    Absent,
    /// In memory (or swap), written since the soft-dirty bits were cleared.
    Dirty,
    /// In memory (or swap), not written since.
    Clean,
}

/// Classifies a `/proc/PID/pagemap` entry (bit 63 present, 62 swapped,
/// 61 file page or shared anonymous, 55 soft-dirty). With `anon_only`,
/// file pages count as absent (a private file mapping's unwritten pages
/// come from the file).
pub fn page_state(entry: u64, anon_only: bool) -> PageState {
    let present = entry & (1 << 63) != 0 || entry & (1 << 62) != 0;
    let file = entry & (1 << 61) != 0;
    if !present || (anon_only && file) {
        PageState::Absent
    } else if entry & (1 << 55) != 0 {
        PageState::Dirty
    } else {
        PageState::Clean
    }
}

/// Whether a pre-copy should do another round: the dirty pages of this
/// round (`now`) against the last (`before`), after `rounds` rounds.
/// Stops when the remainder is small, when a round did not shrink it by a
/// tenth, or after `max_rounds`.
pub fn precopy_continue(before: u64, now: u64, rounds: u32, max_rounds: u32, small: u64) -> bool {
    rounds < max_rounds && now > small && now.saturating_mul(10) < before.saturating_mul(9)
}

/// `MigrateCommit`: every byte was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commit {
    /// The move.
    pub id: u64,
    /// The image's size (as in [`Begin`]).
    pub size: u64,
}

impl Commit {
    /// Encoded length.
    pub const LEN: usize = 16;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        nonzero(self.id)?;
        let mut w = Writer::new(out);
        w.u64(self.id)?;
        w.u64(self.size)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Commit, WireError> {
        let mut r = Reader::new(body);
        let c = Commit {
            id: nonzero(r.u64()?)?,
            size: r.u64()?,
        };
        r.finish()?;
        Ok(c)
    }
}

/// `MigrateGo` and `MigrateAbort`: only the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ref {
    /// The move (`MigrateGo`, `MigrateAbort`).
    pub id: u64,
}

impl Ref {
    /// Encoded length.
    pub const LEN: usize = 8;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let mut w = Writer::new(out);
        w.u64(nonzero(self.id)?)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Ref, WireError> {
        let mut r = Reader::new(body);
        let id = nonzero(r.u64()?)?;
        r.finish()?;
        Ok(Ref { id })
    }
}

/// `MigrateExit`: the migrated process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The deputy (home id).
    pub home_id: u64,
    /// How it ended, as `wait()` reports it ([`WaitStatus`]).
    pub status: u32,
}

impl Exit {
    /// Encoded length.
    pub const LEN: usize = 12;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        WaitStatus::from_raw(self.status).ok_or(WireError::InvalidValue)?;
        let mut w = Writer::new(out);
        w.u64(nonzero(self.home_id)?)?;
        w.u32(self.status)?;
        Ok(w.pos())
    }

    /// Decodes a body; the status must be one of an ended process.
    pub fn decode(body: &[u8]) -> Result<Exit, WireError> {
        let mut r = Reader::new(body);
        let e = Exit {
            home_id: nonzero(r.u64()?)?,
            status: r.u32()?,
        };
        r.finish()?;
        WaitStatus::from_raw(e.status).ok_or(WireError::InvalidValue)?;
        Ok(e)
    }
}

/// `MigrateSignal`: a signal sent to the deputy, for the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal {
    /// The deputy (home id).
    pub home_id: u64,
    /// 1..=64.
    pub signo: u32,
}

impl Signal {
    /// Encoded length.
    pub const LEN: usize = 12;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if !(1..=64).contains(&self.signo) {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u64(nonzero(self.home_id)?)?;
        w.u32(self.signo)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Signal, WireError> {
        let mut r = Reader::new(body);
        let s = Signal {
            home_id: nonzero(r.u64()?)?,
            signo: r.u32()?,
        };
        r.finish()?;
        if !(1..=64).contains(&s.signo) {
            return Err(WireError::InvalidValue);
        }
        Ok(s)
    }
}

/// What a [`Io`] asks the deputy to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoOp {
    /// Read up to `len` bytes.
    Read,
    /// Write the data.
    Write,
}

/// `MigrateIo`: a read or write on a descriptor the deputy keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Io<'a> {
    /// The deputy (home id).
    pub home_id: u64,
    /// Matches the answer ([`IoDone`]) to the question; never 0.
    pub seq: u64,
    /// The descriptor in the deputy's table.
    pub fd: u32,
    /// Read or write.
    pub op: IoOp,
    /// Read: how many bytes at most (1..=[`MAX_IO`]).
    pub len: u32,
    /// Write: the bytes (at most [`MAX_IO`]); read: empty.
    pub data: &'a [u8],
}

impl<'a> Io<'a> {
    /// Bytes before the data.
    pub const HEADER_LEN: usize = 8 + 8 + 4 + 1 + 4 + 4;

    fn check(&self) -> Result<(), WireError> {
        let ok = match self.op {
            IoOp::Read => self.data.is_empty() && self.len >= 1 && self.len as usize <= MAX_IO,
            IoOp::Write => self.data.len() <= MAX_IO && self.len as usize == self.data.len(),
        };
        if !ok || self.seq == 0 {
            return Err(WireError::InvalidValue);
        }
        Ok(())
    }

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.check()?;
        let mut w = Writer::new(out);
        w.u64(nonzero(self.home_id)?)?;
        w.u64(self.seq)?;
        w.u32(self.fd)?;
        w.u8(match self.op {
            IoOp::Read => 1,
            IoOp::Write => 2,
        })?;
        w.u32(self.len)?;
        w.u32(self.data.len() as u32)?;
        w.bytes(self.data)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &'a [u8]) -> Result<Io<'a>, WireError> {
        let mut r = Reader::new(body);
        let home_id = nonzero(r.u64()?)?;
        let seq = r.u64()?;
        let fd = r.u32()?;
        let op = match r.u8()? {
            1 => IoOp::Read,
            2 => IoOp::Write,
            _ => return Err(WireError::InvalidValue),
        };
        let len = r.u32()?;
        let n = r.u32()? as usize;
        if n > MAX_IO {
            return Err(WireError::InvalidValue);
        }
        let data = r.bytes(n)?;
        r.finish()?;
        let io = Io {
            home_id,
            seq,
            fd,
            op,
            len,
            data,
        };
        io.check()?;
        Ok(io)
    }
}

/// `MigrateIoDone`: what the deputy's read or write gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoDone<'a> {
    /// The deputy (home id).
    pub home_id: u64,
    /// The question's `seq`.
    pub seq: u64,
    /// Bytes moved (>= 0) or a negative errno.
    pub result: i64,
    /// Read: the bytes read (`result` of them); write: empty.
    pub data: &'a [u8],
}

impl<'a> IoDone<'a> {
    /// Bytes before the data.
    pub const HEADER_LEN: usize = 8 + 8 + 8 + 4;

    fn check(&self) -> Result<(), WireError> {
        let ok = self.seq != 0
            && self.data.len() <= MAX_IO
            && (self.data.is_empty() || self.result == self.data.len() as i64)
            && self.result >= -4095
            && self.result <= MAX_IO as i64;
        if ok {
            Ok(())
        } else {
            Err(WireError::InvalidValue)
        }
    }

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.check()?;
        let mut w = Writer::new(out);
        w.u64(nonzero(self.home_id)?)?;
        w.u64(self.seq)?;
        w.i64(self.result)?;
        w.u32(self.data.len() as u32)?;
        w.bytes(self.data)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &'a [u8]) -> Result<IoDone<'a>, WireError> {
        let mut r = Reader::new(body);
        let home_id = nonzero(r.u64()?)?;
        let seq = r.u64()?;
        let result = r.i64()?;
        let n = r.u32()? as usize;
        if n > MAX_IO {
            return Err(WireError::InvalidValue);
        }
        let data = r.bytes(n)?;
        r.finish()?;
        let d = IoDone {
            home_id,
            seq,
            result,
            data,
        };
        d.check()?;
        Ok(d)
    }
}

/// `MigrateMoved`: the process now runs on another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// The deputy (home id).
    pub home_id: u64,
    /// The node it runs on now.
    pub node: u16,
    /// Its pid there.
    pub pid: u32,
}

impl Moved {
    /// Encoded length.
    pub const LEN: usize = 14;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let mut w = Writer::new(out);
        w.u64(nonzero(self.home_id)?)?;
        w.u16(self.node)?;
        w.u32(self.pid)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Moved, WireError> {
        let mut r = Reader::new(body);
        let m = Moved {
            home_id: nonzero(r.u64()?)?,
            node: r.u16()?,
            pid: r.u32()?,
        };
        r.finish()?;
        if m.node == 0 {
            return Err(WireError::InvalidValue);
        }
        Ok(m)
    }
}

/// Most deputies one `MigrateLease` (or its reply) names.
pub const MAX_LEASES: usize = 128;

/// `MigrateLease` and its reply: a list of deputies (home ids). The node
/// running migrated processes sends the home ids of those it runs for a
/// home node; the home node renews each deputy's lease and answers with
/// the ids it has no deputy for (the process must not go on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease<'a> {
    /// `count` home ids, 8 bytes each, little-endian.
    ids: &'a [u8],
}

impl<'a> Lease<'a> {
    /// Encoded length of a list of `n` ids.
    pub const fn len_of(n: usize) -> usize {
        4 + 8 * n
    }

    /// Writes the list `ids` into `out`; returns the bytes written.
    pub fn encode(ids: &[u64], out: &mut [u8]) -> Result<usize, WireError> {
        if ids.len() > MAX_LEASES {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u32(ids.len() as u32)?;
        for id in ids {
            w.u64(nonzero(*id)?)?;
        }
        Ok(w.pos())
    }

    /// Decodes a body: at most [`MAX_LEASES`] ids, none 0.
    pub fn decode(body: &'a [u8]) -> Result<Lease<'a>, WireError> {
        let mut r = Reader::new(body);
        let n = r.u32()? as usize;
        if n > MAX_LEASES {
            return Err(WireError::InvalidValue);
        }
        let ids = body.get(4..4 + 8 * n).ok_or(WireError::Truncated)?;
        if body.len() != 4 + 8 * n {
            return Err(WireError::TrailingBytes);
        }
        let l = Lease { ids };
        if l.iter().any(|id| id == 0) {
            return Err(WireError::InvalidValue);
        }
        Ok(l)
    }

    /// The home ids.
    pub fn iter(&self) -> impl Iterator<Item = u64> + 'a {
        self.ids
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.ids.len() / 8
    }

    /// Whether it names none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Most bytes of memory one `MigratePageRequest` asks for.
pub const MAX_PAGE_BYTES: u32 = 256 << 10;

/// Most page requests one read of a pages file keeps in flight at once.
pub const MAX_PAGE_REQUESTS_PER_READ: u32 = 4;

/// Most bytes one read of a pages file fetches (its requests in flight
/// together).
pub const MAX_PAGES_READ: u32 = MAX_PAGE_REQUESTS_PER_READ * MAX_PAGE_BYTES;

/// Whether a read of the pages file (`len` bytes at `addr`) is post-copy's
/// push rather than a fault's fetch. The page server pushes the
/// registered `ranges` (sorted) in address order, [`MAX_PAGES_READ`]
/// bytes a read, less only at the end of a range; a fault's read is a few
/// pages from the faulting one. So a read of [`MAX_PAGES_READ`] bytes is
/// the push, and with `pushing` (the page server was told to push) so is
/// the read that takes the push's next piece: where the last push read
/// ended (`pushed_to`, 0 before the first) or at the next range, up to its
/// end or [`MAX_PAGES_READ`]. (A fault on exactly that piece, a few pages
/// at the end of a range, would count as the push.)
pub fn is_push_read(
    pushing: bool,
    ranges: &[(u64, u64)],
    pushed_to: u64,
    addr: u64,
    len: u64,
) -> bool {
    if len == u64::from(MAX_PAGES_READ) {
        return true;
    }
    if !pushing {
        return false;
    }
    let Some(&(start, end)) = ranges.iter().find(|r| r.1 > pushed_to) else {
        return false;
    };
    let next = start.max(pushed_to);
    addr == next && len == (end - next).min(u64::from(MAX_PAGES_READ))
}

/// `MigratePageRequest`: post-copy and lazy: the destination asks the node
/// that still holds the process's memory for the pages at `addr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// The migration (the source's id for it).
    pub id: u64,
    /// Matches the answer ([`PageData`]) to the question; never 0.
    pub seq: u64,
    /// First page (page aligned, below [`USER_TOP`]).
    pub addr: u64,
    /// Bytes: whole pages, 1..=[`MAX_PAGE_BYTES`], ending below [`USER_TOP`].
    pub len: u32,
}

impl PageRequest {
    /// Encoded length.
    pub const LEN: usize = 8 + 8 + 8 + 4;

    fn check(&self) -> Result<(), WireError> {
        let ok = self.seq != 0
            && self.addr.is_multiple_of(PAGE)
            && self.len != 0
            && u64::from(self.len).is_multiple_of(PAGE)
            && self.len <= MAX_PAGE_BYTES
            && self
                .addr
                .checked_add(u64::from(self.len))
                .is_some_and(|end| end <= USER_TOP);
        if ok {
            Ok(())
        } else {
            Err(WireError::InvalidValue)
        }
    }

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.check()?;
        let mut w = Writer::new(out);
        w.u64(nonzero(self.id)?)?;
        w.u64(self.seq)?;
        w.u64(self.addr)?;
        w.u32(self.len)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<PageRequest, WireError> {
        let mut r = Reader::new(body);
        let p = PageRequest {
            id: nonzero(r.u64()?)?,
            seq: r.u64()?,
            addr: r.u64()?,
            len: r.u32()?,
        };
        r.finish()?;
        p.check()?;
        Ok(p)
    }
}

/// `MigratePageData`: the answer to a [`PageRequest`]: `result` is 0 and
/// `data` the pages (as many bytes as asked), or `result` is a negative
/// errno and `data` is empty. Pages the source does not have (never
/// mapped there) come as zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageData<'a> {
    /// The migration.
    pub id: u64,
    /// The question's `seq`.
    pub seq: u64,
    /// 0 or a negative errno.
    pub result: i64,
    /// The pages.
    pub data: &'a [u8],
}

impl<'a> PageData<'a> {
    /// Bytes before the data.
    pub const HEADER_LEN: usize = 8 + 8 + 8 + 4;

    fn check(&self) -> Result<(), WireError> {
        let ok = self.seq != 0
            && self.data.len() <= MAX_PAGE_BYTES as usize
            && (self.data.len() as u64).is_multiple_of(PAGE)
            && (-4095..=0).contains(&self.result)
            && (self.result == 0) != self.data.is_empty();
        if ok {
            Ok(())
        } else {
            Err(WireError::InvalidValue)
        }
    }

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.check()?;
        let mut w = Writer::new(out);
        w.u64(nonzero(self.id)?)?;
        w.u64(self.seq)?;
        w.i64(self.result)?;
        w.u32(self.data.len() as u32)?;
        w.bytes(self.data)?;
        Ok(w.pos())
    }

    /// Writes the header of a successful answer of `len` bytes into
    /// `out`, for a sender that reads the pages into the body right after
    /// it (no copy).
    pub fn encode_header(
        id: u64,
        seq: u64,
        len: usize,
        out: &mut [u8],
    ) -> Result<usize, WireError> {
        if seq == 0
            || len == 0
            || len > MAX_PAGE_BYTES as usize
            || !(len as u64).is_multiple_of(PAGE)
        {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u64(nonzero(id)?)?;
        w.u64(seq)?;
        w.i64(0)?;
        w.u32(len as u32)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &'a [u8]) -> Result<PageData<'a>, WireError> {
        let mut r = Reader::new(body);
        let id = nonzero(r.u64()?)?;
        let seq = r.u64()?;
        let result = r.i64()?;
        let n = r.u32()? as usize;
        if n > MAX_PAGE_BYTES as usize {
            return Err(WireError::InvalidValue);
        }
        let data = r.bytes(n)?;
        r.finish()?;
        let d = PageData {
            id,
            seq,
            result,
            data,
        };
        d.check()?;
        Ok(d)
    }
}

/// How a process ended, in the encoding of `wait()`'s status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStatus {
    /// `exit(code)`.
    Exited(u8),
    /// Killed by signal `sig` (1..=64), `core` if it dumped core.
    Signaled {
        /// The signal.
        sig: u8,
        /// Whether a core was dumped.
        core: bool,
    },
}

impl WaitStatus {
    /// The status of an ended process; None for anything else (stopped,
    /// continued, bits out of range).
    pub fn from_raw(raw: u32) -> Option<WaitStatus> {
        if raw & !0xffff != 0 {
            return None;
        }
        let low = (raw & 0x7f) as u8;
        if low == 0 {
            return Some(WaitStatus::Exited((raw >> 8) as u8));
        }
        if low == 0x7f || raw >> 8 != 0 || low > 64 {
            return None;
        }
        Some(WaitStatus::Signaled {
            sig: low,
            core: raw & 0x80 != 0,
        })
    }

    /// The raw status.
    pub fn raw(self) -> u32 {
        match self {
            WaitStatus::Exited(code) => u32::from(code) << 8,
            WaitStatus::Signaled { sig, core } => u32::from(sig) | if core { 0x80 } else { 0 },
        }
    }
}

/// The offset of the first `syscall` instruction (0f 05) in `text`, where
/// a deputy whose process exited returns to user mode to call
/// `exit_group` (the vDSO's system call fallbacks have one).
pub fn find_syscall(text: &[u8]) -> Option<usize> {
    text.windows(2).position(|w| w == [0x0f, 0x05])
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    #[test]
    fn zero_ids_are_refused() {
        let mut b = [0u8; 64];
        assert_eq!(Ref { id: 0 }.encode(&mut b), Err(WireError::InvalidValue));
        assert_eq!(Ref::decode(&[0; 8]), Err(WireError::InvalidValue));
        assert_eq!(Exit::decode(&[0; 12]), Err(WireError::InvalidValue));
    }

    #[test]
    fn wait_status() {
        assert_eq!(WaitStatus::from_raw(0), Some(WaitStatus::Exited(0)));
        assert_eq!(WaitStatus::from_raw(3 << 8), Some(WaitStatus::Exited(3)));
        assert_eq!(
            WaitStatus::from_raw(15),
            Some(WaitStatus::Signaled {
                sig: 15,
                core: false
            })
        );
        assert_eq!(
            WaitStatus::from_raw(0x8b),
            Some(WaitStatus::Signaled {
                sig: 11,
                core: true
            })
        );
        // Stopped, continued, garbage.
        assert_eq!(WaitStatus::from_raw(0x137f), None);
        assert_eq!(WaitStatus::from_raw(0xffff), None);
        assert_eq!(WaitStatus::from_raw(0x1_0000), None);
        assert_eq!(WaitStatus::from_raw(0x0105), None);
    }

    #[test]
    fn pagemap_classes() {
        assert_eq!(page_state(0, false), PageState::Absent);
        assert_eq!(page_state(1 << 63 | 1 << 55, false), PageState::Dirty);
        assert_eq!(page_state(1 << 63, false), PageState::Clean);
        assert_eq!(page_state(1 << 62 | 1 << 55, false), PageState::Dirty);
        assert_eq!(
            page_state(1 << 63 | 1 << 61 | 1 << 55, true),
            PageState::Absent
        );
        assert_eq!(page_state(1 << 63 | 1 << 61, false), PageState::Clean);
        // Soft-dirty alone (a never touched page of a new mapping).
        assert_eq!(page_state(1 << 55, false), PageState::Absent);
    }

    #[test]
    fn precopy_stops() {
        assert!(precopy_continue(1000, 500, 1, 8, 64));
        assert!(!precopy_continue(1000, 950, 1, 8, 64), "not converging");
        assert!(!precopy_continue(1000, 10, 1, 8, 64), "small enough");
        assert!(!precopy_continue(1000, 500, 8, 8, 64), "enough rounds");
        assert!(!precopy_continue(0, 0, 1, 8, 0));
    }

    #[test]
    fn keep_runs() {
        let runs = [
            Run {
                addr: 0x1000,
                npages: 3,
            },
            Run {
                addr: 0x7fff_f000,
                npages: 1,
            },
        ];
        let mut b = [0u8; 64];
        let n = Keep::encode(9, &runs, &mut b).unwrap();
        let k = Keep::decode(&b[..n]).unwrap();
        assert_eq!(k.id, 9);
        assert!(k.runs().eq(runs.iter().copied()));
        let bad = [Run {
            addr: 0x1001,
            npages: 1,
        }];
        assert_eq!(Keep::encode(9, &bad, &mut b), Err(WireError::InvalidValue));
        let top = [Run {
            addr: USER_TOP - PAGE,
            npages: 2,
        }];
        assert_eq!(Keep::encode(9, &top, &mut b), Err(WireError::InvalidValue));
    }

    #[test]
    fn syscall_search() {
        assert_eq!(find_syscall(&[0x90, 0x0f, 0x05, 0xc3]), Some(1));
        assert_eq!(find_syscall(&[0x0f, 0x0f]), None);
        assert_eq!(find_syscall(&[]), None);
    }

    #[test]
    fn io_shapes() {
        let mut b = [0u8; 128];
        let read = Io {
            home_id: 1,
            seq: 1,
            fd: 0,
            op: IoOp::Read,
            len: 0,
            data: &[],
        };
        assert_eq!(read.encode(&mut b), Err(WireError::InvalidValue));
        let write = Io {
            home_id: 1,
            seq: 1,
            fd: 1,
            op: IoOp::Write,
            len: 3,
            data: b"ab",
        };
        assert_eq!(write.encode(&mut b), Err(WireError::InvalidValue));
        let done = IoDone {
            home_id: 1,
            seq: 2,
            result: 5,
            data: b"abc",
        };
        assert_eq!(done.encode(&mut b), Err(WireError::InvalidValue));
    }

    #[test]
    fn page_shapes() {
        let mut b = [0u8; 64];
        let ok = PageRequest {
            id: 1,
            seq: 1,
            addr: 0x1000,
            len: 4096,
        };
        assert!(ok.encode(&mut b).is_ok());
        for bad in [
            PageRequest { addr: 0x1001, ..ok },
            PageRequest { len: 100, ..ok },
            PageRequest { len: 0, ..ok },
            PageRequest {
                len: MAX_PAGE_BYTES + 4096,
                ..ok
            },
            PageRequest {
                addr: USER_TOP - PAGE,
                len: 8192,
                ..ok
            },
            PageRequest {
                addr: !(PAGE - 1),
                ..ok
            },
            PageRequest { seq: 0, ..ok },
        ] {
            assert_eq!(bad.encode(&mut b), Err(WireError::InvalidValue), "{bad:?}");
        }
        let page = [0u8; 4096];
        let mut big = [0u8; 4200];
        assert!(PageData {
            id: 1,
            seq: 1,
            result: 0,
            data: &page
        }
        .encode(&mut big)
        .is_ok());
        // An error carries no data, a success carries whole pages.
        assert!(PageData {
            id: 1,
            seq: 1,
            result: -14,
            data: &page
        }
        .encode(&mut big)
        .is_err());
        assert!(PageData {
            id: 1,
            seq: 1,
            result: 0,
            data: &[]
        }
        .encode(&mut big)
        .is_err());
        assert!(PageData {
            id: 1,
            seq: 1,
            result: 0,
            data: &page[..100]
        }
        .encode(&mut big)
        .is_err());
        assert!(PageData {
            id: 1,
            seq: 1,
            result: -14,
            data: &[]
        }
        .encode(&mut big)
        .is_ok());
    }

    #[test]
    fn data_header_alone_keeps_the_rules() {
        let mut h = [0u8; Data::HEADER_LEN];
        assert_eq!(
            Data::encode_header(1, 0, MAX_DATA, &mut h),
            Ok(Data::HEADER_LEN)
        );
        assert!(Data::encode_header(0, 0, 1, &mut h).is_err());
        assert!(Data::encode_header(1, 0, MAX_DATA + 1, &mut h).is_err());
        assert!(Data::encode_header(1, 0, 1, &mut h[..Data::HEADER_LEN - 1]).is_err());
    }

    #[test]
    fn keep_overlap_and_gaps() {
        let keep = [
            Run {
                addr: 0x2000,
                npages: 2,
            },
            Run {
                addr: 0x6000,
                npages: 1,
            },
        ];
        let o: Vec<Run> = overlap(&keep, 0x1000, 6).collect();
        assert_eq!(
            o,
            [
                Run {
                    addr: 0x2000,
                    npages: 2
                },
                Run {
                    addr: 0x6000,
                    npages: 1
                }
            ]
        );
        let o: Vec<Run> = overlap(&keep, 0x3000, 1).collect();
        assert_eq!(
            o,
            [Run {
                addr: 0x3000,
                npages: 1
            }]
        );
        assert_eq!(overlap(&keep, 0x4000, 2).count(), 0);
        let g: Vec<(u64, u64)> = gaps(&keep, 0x1000, 0x8000).collect();
        assert_eq!(g, [(0x1000, 0x2000), (0x4000, 0x6000), (0x7000, 0x8000)]);
        let g: Vec<(u64, u64)> = gaps(&keep, 0x3000, 0x7000).collect();
        assert_eq!(g, [(0x4000, 0x6000)]);
        assert_eq!(
            gaps(&[], 0x1000, 0x3000).collect::<Vec<_>>(),
            [(0x1000, 0x3000)]
        );
        assert!(keep_follows(Some(&keep[0]), &keep[1]));
        assert!(!keep_follows(Some(&keep[1]), &keep[0]));
        assert!(!keep_follows(
            Some(&keep[0]),
            &Run {
                addr: 0x3000,
                npages: 1
            }
        ));
        assert!(!keep_follows(
            None,
            &Run {
                addr: 0x3001,
                npages: 1
            }
        ));
    }

    #[test]
    fn lease_lists() {
        let mut buf = [0u8; Lease::len_of(3)];
        let n = Lease::encode(&[1, 2, u64::MAX], &mut buf).unwrap();
        assert_eq!(n, buf.len());
        let l = Lease::decode(&buf).unwrap();
        assert_eq!(l.len(), 3);
        assert!(l.iter().eq([1, 2, u64::MAX]));
        assert_eq!(Lease::decode(&buf[..n - 1]), Err(WireError::Truncated));
        assert_eq!(Lease::encode(&[0], &mut buf), Err(WireError::InvalidValue));
        let mut big = [0u8; 8];
        big[..4].copy_from_slice(&(MAX_LEASES as u32 + 1).to_le_bytes());
        assert_eq!(Lease::decode(&big), Err(WireError::InvalidValue));
        let mut extra = [0u8; Lease::len_of(0) + 1];
        extra[4] = 1;
        assert_eq!(Lease::decode(&extra), Err(WireError::TrailingBytes));
        let empty = Lease::decode(&[0, 0, 0, 0]).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn push_reads() {
        let big = u64::from(MAX_PAGES_READ);
        // Three ranges: 2 pages, 1 MiB and 3 pages, 1 MiB and 2 pages.
        let ranges = [
            (0x1000, 0x3000),
            (0x10_0000, 0x10_0000 + big + 3 * PAGE),
            (0x40_0000, 0x40_0000 + big + 2 * PAGE),
        ];
        // The push in order: each read takes the next piece.
        let mut to = 0;
        let mut reads = Vec::new();
        for &(s, e) in ranges.iter() {
            let mut at = s;
            while at < e {
                let n = (e - at).min(big);
                reads.push((at, n));
                at += n;
            }
        }
        for &(addr, len) in reads.iter() {
            assert!(
                is_push_read(true, &ranges, to, addr, len),
                "{addr:#x} {len}"
            );
            to = addr + len;
        }
        // Past the last range nothing is the push but a full read.
        assert!(!is_push_read(true, &ranges, to, to, PAGE));
        assert!(is_push_read(true, &ranges, to, 0x40_0000, big));
        // Faults: a few pages from the faulting one, elsewhere.
        assert!(!is_push_read(true, &ranges, 0, 0x10_0000, 16 * PAGE));
        assert!(!is_push_read(true, &ranges, 0, 0x2000, PAGE));
        assert!(!is_push_read(true, &ranges, 0x3000, 0x10_1000, 16 * PAGE));
        // A page server that does not push (lazy): only full reads count.
        assert!(!is_push_read(false, &ranges, 0, 0x1000, 2 * PAGE));
        assert!(is_push_read(false, &ranges, 0, 0x10_0000, big));
        // No ranges: only full reads.
        assert!(!is_push_read(true, &[], 0, 0x1000, PAGE));
    }

    proptest! {
        /// Overlap and gaps split a range into the pages in the keep list
        /// and those not, each page once.
        #[test]
        fn overlap_and_gaps_partition_a_range(
            lens in proptest::collection::vec((0u64..6, 1u32..5), 0..12),
            start_page in 0u64..40,
            npages in 0u32..40,
        ) {
            let mut keep: Vec<Run> = Vec::new();
            let mut at = 0x1000u64;
            for (skip, n) in lens {
                let r = Run { addr: at + skip * PAGE, npages: n };
                prop_assert!(keep_follows(keep.last(), &r));
                at = r.addr + u64::from(n) * PAGE;
                keep.push(r);
            }
            let start = 0x1000 + start_page * PAGE;
            let end = start + u64::from(npages) * PAGE;
            let in_keep = |p: u64| keep.iter().any(|r| r.addr <= p && p < r.addr + u64::from(r.npages) * PAGE);
            let mut seen = Vec::new();
            for r in overlap(&keep, start, npages) {
                for k in 0..u64::from(r.npages) {
                    let p = r.addr + k * PAGE;
                    prop_assert!(in_keep(p));
                    seen.push(p);
                }
            }
            for (a, b) in gaps(&keep, start, end) {
                prop_assert!(a < b);
                let mut p = a;
                while p < b {
                    prop_assert!(!in_keep(p));
                    seen.push(p);
                    p += PAGE;
                }
            }
            seen.sort();
            let want: Vec<u64> = (0..u64::from(npages)).map(|k| start + k * PAGE).collect();
            prop_assert_eq!(seen, want);
        }

        #[test]
        fn round_trips(id in 1u64.., home in 1u64.., node in 1u16.., pid in 1u32.., uid in any::<u32>(),
                       strategy in 0u8..4, size in any::<u64>(), seq in 1u64.., fd in any::<u32>(),
                       data in proptest::collection::vec(any::<u8>(), 0..300), sig in 1u32..=64,
                       code in any::<u8>()) {
            let mut b = [0u8; 512];
            let begin = Begin { id, home_id: home, home_node: node, home_pid: pid, uid, strategy, size };
            let n = begin.encode(&mut b).unwrap();
            prop_assert_eq!(n, Begin::LEN);
            prop_assert_eq!(Begin::decode(&b[..n]), Ok(begin));
            let d = Data { id, offset: size / 2, data: &data };
            let n = d.encode(&mut b).unwrap();
            prop_assert_eq!(Data::decode(&b[..n]), Ok(d));
            // The header alone, with the data put after it, is the same frame.
            let mut h = [0u8; 512];
            let hn = Data::encode_header(id, size / 2, data.len(), &mut h).unwrap();
            prop_assert_eq!(hn, Data::HEADER_LEN);
            h[hn..hn + data.len()].copy_from_slice(&data);
            prop_assert_eq!(&h[..n], &b[..n]);
            let c = Commit { id, size };
            let n = c.encode(&mut b).unwrap();
            prop_assert_eq!(Commit::decode(&b[..n]), Ok(c));
            let n = Ref { id }.encode(&mut b).unwrap();
            prop_assert_eq!(Ref::decode(&b[..n]), Ok(Ref { id }));
            let e = Exit { home_id: home, status: WaitStatus::Exited(code).raw() };
            let n = e.encode(&mut b).unwrap();
            prop_assert_eq!(Exit::decode(&b[..n]), Ok(e));
            let s = Signal { home_id: home, signo: sig };
            let n = s.encode(&mut b).unwrap();
            prop_assert_eq!(Signal::decode(&b[..n]), Ok(s));
            let w = Io { home_id: home, seq, fd, op: IoOp::Write, len: data.len() as u32, data: &data };
            let n = w.encode(&mut b).unwrap();
            prop_assert_eq!(Io::decode(&b[..n]), Ok(w));
            let r = Io { home_id: home, seq, fd, op: IoOp::Read, len: 1 + (uid % MAX_IO as u32), data: &[] };
            let n = r.encode(&mut b).unwrap();
            prop_assert_eq!(Io::decode(&b[..n]), Ok(r));
            let done = IoDone { home_id: home, seq, result: data.len() as i64, data: &data };
            let n = done.encode(&mut b).unwrap();
            prop_assert_eq!(IoDone::decode(&b[..n]), Ok(done));
            let m = Moved { home_id: home, node, pid };
            let n = m.encode(&mut b).unwrap();
            prop_assert_eq!(Moved::decode(&b[..n]), Ok(m));
            let addr = (size % (USER_TOP - u64::from(MAX_PAGE_BYTES))) & !(PAGE - 1);
            let q = PageRequest { id, seq, addr, len: (1 + uid % 64) * PAGE as u32 };
            let n = q.encode(&mut b).unwrap();
            prop_assert_eq!(PageRequest::decode(&b[..n]), Ok(q));
            let pages = [code; 8192];
            let mut big = [0u8; 8300];
            let pd = PageData { id, seq, result: 0, data: &pages[..(1 + fd as usize % 2) * 4096] };
            let n = pd.encode(&mut big).unwrap();
            prop_assert_eq!(PageData::decode(&big[..n]), Ok(pd));
            let mut same = [0u8; 8300];
            let h = PageData::encode_header(id, seq, pd.data.len(), &mut same).unwrap();
            same[h..h + pd.data.len()].copy_from_slice(pd.data);
            prop_assert_eq!(&same[..n], &big[..n]);
        }

        #[test]
        fn any_bytes_decode_or_error(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Begin::decode(&bytes);
            let _ = Data::decode(&bytes);
            let _ = Commit::decode(&bytes);
            let _ = Ref::decode(&bytes);
            let _ = Exit::decode(&bytes);
            let _ = Signal::decode(&bytes);
            let _ = Io::decode(&bytes);
            let _ = IoDone::decode(&bytes);
            let _ = Lease::decode(&bytes).map(|l| l.iter().count());
            let _ = Moved::decode(&bytes);
            if let Ok(q) = PageRequest::decode(&bytes) {
                prop_assert!(q.addr.is_multiple_of(PAGE) && q.addr + u64::from(q.len) <= USER_TOP);
            }
            if let Ok(d) = PageData::decode(&bytes) {
                prop_assert!((d.data.len() as u64).is_multiple_of(PAGE));
            }
            if let Ok(k) = Keep::decode(&bytes) {
                prop_assert!(k.runs().all(|r| r.is_valid()));
            }
        }
    }
}
