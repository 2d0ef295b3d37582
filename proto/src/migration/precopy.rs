//! Pre-copy's pages: the page size and the user address limit, [`Run`],
//! the `MigrateKeep` body ([`Keep`]), where a range meets a keep list
//! ([`overlap`], [`gaps`]), pagemap entries ([`page_state`]) and when to
//! stop the rounds ([`precopy_continue`]).

use super::super::le::{Reader, Writer};
use super::super::wire::WireError;
use super::transfer::nonzero;

/// Most runs in one `MigrateKeep` frame.
pub const MAX_KEEP_RUNS: usize = 4096;
/// Highest user address + 1 (x86-64, 4-level paging).
pub const USER_TOP: u64 = 1 << 47;
pub use super::super::page::PAGE;

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
