//! Replicas (issue 22, silent data corruption): the pure logic.
//!
//! A process protected with `--replicas N` (2 or 3) runs as N copies on
//! distinct nodes: copy 0, the primary, is the process itself (it runs
//! away from its home, so its standard output is forwarded); copies 1 and
//! 2 are restarted from one of its checkpoint images. Every copy stops at
//! the same points: the entry of each write to its forwarded standard
//! output or error, counted from the image the copies started from. At
//! each point it sends its home node a [`Digest`] (`HaDigest`) and waits
//! for the [`Verdict`] (`HaVerdict`): go on (the primary's write reaches
//! the world only if no copy emitted it before), or stop.
//!
//! A digest is a CRC-32C of the registers, of the x87/SSE state and of
//! the memory layout, and the CRC-32C of every page in memory whose
//! content is not all zeros, by address. [`compare`] merges two digests
//! (a page one lists and the other does not is a zero page there);
//! [`locate_bit`] finds the one bit that differs in a page from its two
//! CRCs alone (CRC-32C tells all single-bit errors of a page apart).
//! With 3 copies, [`vote`] names the odd one.
//!
//! ```text
//! HaDigest request (48 bytes + 12 per page)
//! 0  u8  version (1)      1 u8 copy   2 u16 zero
//! 4  u32 generation
//! 8  u64 home id
//! 16 u64 point (writes done since the image the copies started from)
//! 24 u32 registers' CRC   28 u32 x87/SSE state's CRC
//! 32 u32 layout's CRC     36 u32 pages listed
//! 40 u64 zero
//! 48 pages: u64 address (page-aligned, ascending), u32 CRC-32C
//!
//! HaVerdict one-way, reliable (32 bytes)
//! 0  u8  version (1)      1 u8 copy   2 u8 action (0 go, 1 stop)   3 u8 emit
//! 4  u32 generation       8 u64 home id   16 u64 point   24 u64 zero
//!
//! HaReplica request (40 bytes + path)
//! 0  u8  version (1)      1 u8 copy   2 u16 path length (0 for copy 0)
//! 4  u32 generation       8 u64 home id   16 u64 point the copy starts at
//! 24 u64 points emitted already   32 u32 home pid
//! 36 u32 1: the copy stops at points from its start; 0: from its first
//!        checkpoint on (the primary when it is first replicated)
//! 40 the image's path (copies 1, 2: restarted from it)
//! ```

use super::super::image::Crc32c;
use super::super::le::{Reader, Writer};
use super::super::wire::WireError;
use super::HA_VERSION;

/// Fewest and most copies.
pub const MIN_REPLICAS: u32 = 2;
/// (see [`MIN_REPLICAS`])
pub const MAX_REPLICAS: u32 = 3;
/// The most pages a digest lists (256 MiB of non-zero memory).
pub const MAX_DIGEST_PAGES: usize = 65_536;
/// A page.
pub const PAGE: usize = 4096;
/// The longest image path in `HaReplica`.
pub const MAX_REPLICA_PATH: usize = 255;
/// Differing pages [`compare`] looks for a single-bit difference in.
pub const MAX_BIT_LOOKS: u32 = 8;
/// The reflected CRC-32C polynomial.
const POLY: u32 = 0x82F6_3B78;

/// The CRC-32C of a page of zeros.
pub fn zero_page_crc() -> u32 {
    let mut c = Crc32c::new();
    c.update(&[0u8; PAGE]);
    c.finish()
}

/// The fixed part of a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestHead {
    /// Which copy (0: the primary).
    pub copy: u8,
    /// The copies' generation (a rollback starts a new one).
    pub generation: u32,
    /// The process's home id.
    pub home_id: u64,
    /// The point: writes done since the image the copies started from.
    pub point: u64,
    /// CRC-32C of the user registers.
    pub regs_crc: u32,
    /// CRC-32C of the x87/SSE registers (the XSAVE legacy area's).
    pub fpu_crc: u32,
    /// CRC-32C of the layout (mappings, adjacent ones merged).
    pub layout_crc: u32,
    /// Pages listed after the head.
    pub pages: u32,
}

/// A digest: its head and its page list (checked).
#[derive(Debug, Clone, Copy)]
pub struct Digest<'a> {
    /// Its fixed part.
    pub head: DigestHead,
    list: &'a [u8],
}

/// Length of one page entry.
pub const PAGE_ENTRY_LEN: usize = 12;

impl DigestHead {
    /// Encoded length of the head.
    pub const LEN: usize = 48;

    /// Writes the head; the page entries follow ([`put_page`]).
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if self.copy as u32 >= MAX_REPLICAS
            || self.pages as usize > MAX_DIGEST_PAGES
            || self.point == u64::MAX
        {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u8(HA_VERSION)?;
        w.u8(self.copy)?;
        w.u16(0)?;
        w.u32(self.generation)?;
        w.u64(self.home_id)?;
        w.u64(self.point)?;
        w.u32(self.regs_crc)?;
        w.u32(self.fpu_crc)?;
        w.u32(self.layout_crc)?;
        w.u32(self.pages)?;
        w.u64(0)?;
        Ok(w.pos())
    }
}

/// Writes page entry `i` (address, CRC) into a digest body whose head is
/// `DigestHead::LEN` long.
pub fn put_page(body: &mut [u8], i: usize, addr: u64, crc: u32) -> Result<(), WireError> {
    let at = DigestHead::LEN + i * PAGE_ENTRY_LEN;
    let e = body
        .get_mut(at..at + PAGE_ENTRY_LEN)
        .ok_or(WireError::Truncated)?;
    e[..8].copy_from_slice(&addr.to_le_bytes());
    e[8..].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

impl<'a> Digest<'a> {
    /// Reads one: the pages must be page-aligned and ascending.
    pub fn decode(b: &'a [u8]) -> Result<Digest<'a>, WireError> {
        let mut r = Reader::new(b);
        let version = r.u8()?;
        let copy = r.u8()?;
        let zero = r.u16()?;
        if version != HA_VERSION {
            return Err(WireError::BadVersion);
        }
        let generation = r.u32()?;
        let home_id = r.u64()?;
        let point = r.u64()?;
        let regs_crc = r.u32()?;
        let fpu_crc = r.u32()?;
        let layout_crc = r.u32()?;
        let pages = r.u32()?;
        let zero2 = r.u64()?;
        if zero != 0
            || zero2 != 0
            || u32::from(copy) >= MAX_REPLICAS
            || pages as usize > MAX_DIGEST_PAGES
            // u64::MAX is no point (a verdict's "whatever point").
            || point == u64::MAX
        {
            return Err(WireError::InvalidValue);
        }
        let list = r.bytes(pages as usize * PAGE_ENTRY_LEN)?;
        r.finish()?;
        let d = Digest {
            head: DigestHead {
                copy,
                generation,
                home_id,
                point,
                regs_crc,
                fpu_crc,
                layout_crc,
                pages,
            },
            list,
        };
        let mut prev: Option<u64> = None;
        for i in 0..d.len() {
            let (addr, _) = d.page(i);
            if addr % PAGE as u64 != 0 || prev.is_some_and(|p| p >= addr) {
                return Err(WireError::InvalidValue);
            }
            prev = Some(addr);
        }
        Ok(d)
    }

    /// Pages listed.
    pub fn len(&self) -> usize {
        self.list.len() / PAGE_ENTRY_LEN
    }

    /// Whether no page is listed.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Page `i`: (address, CRC). `i < len()`.
    pub fn page(&self, i: usize) -> (u64, u32) {
        let e = &self.list[i * PAGE_ENTRY_LEN..(i + 1) * PAGE_ENTRY_LEN];
        let mut a = [0u8; 8];
        a.copy_from_slice(&e[..8]);
        let mut c = [0u8; 4];
        c.copy_from_slice(&e[8..]);
        (u64::from_le_bytes(a), u32::from_le_bytes(c))
    }
}

/// A page two digests disagree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageDiff {
    /// The page's address.
    pub addr: u64,
    /// Its CRC in each digest (the zero page's where one lists none).
    pub crc_a: u32,
    /// (as `crc_a`)
    pub crc_b: u32,
    /// The one bit that differs (byte * 8 + bit in the page), if exactly
    /// one does.
    pub bit: Option<u32>,
}

/// How two digests differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Diff {
    /// Whether the registers differ.
    pub regs: bool,
    /// Whether the x87/SSE state differs.
    pub fpu: bool,
    /// Whether the layout differs.
    pub layout: bool,
    /// Pages that differ, and the first of them that differs in one bit
    /// (else the first).
    pub pages: u32,
    /// (see `pages`)
    pub first: Option<PageDiff>,
}

impl Diff {
    /// Whether the digests agree.
    pub fn same(&self) -> bool {
        !self.regs && !self.fpu && !self.layout && self.pages == 0
    }
}

/// Compares two digests.
pub fn compare(a: &Digest<'_>, b: &Digest<'_>) -> Diff {
    let zero = zero_page_crc();
    let mut d = Diff {
        regs: a.head.regs_crc != b.head.regs_crc,
        fpu: a.head.fpu_crc != b.head.fpu_crc,
        layout: a.head.layout_crc != b.head.layout_crc,
        pages: 0,
        first: None,
    };
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        let pa = (i < a.len()).then(|| a.page(i));
        let pb = (j < b.len()).then(|| b.page(j));
        let (addr, ca, cb) = match (pa, pb) {
            (Some((x, cx)), Some((y, cy))) if x == y => {
                i += 1;
                j += 1;
                (x, cx, cy)
            }
            (Some((x, cx)), Some((y, _))) if x < y => {
                i += 1;
                (x, cx, zero)
            }
            (Some((x, cx)), None) => {
                i += 1;
                (x, cx, zero)
            }
            (_, Some((y, cy))) => {
                j += 1;
                (y, zero, cy)
            }
            (None, None) => break,
        };
        if ca != cb {
            d.pages += 1;
            // The first page that differs in one bit, else the first;
            // looked for in the first few only (each look is 262,144
            // steps).
            if d.first.is_none_or(|f| f.bit.is_none()) && d.pages <= MAX_BIT_LOOKS {
                let bit = locate_bit(ca, cb);
                if d.first.is_none() || bit.is_some() {
                    d.first = Some(PageDiff {
                        addr,
                        crc_a: ca,
                        crc_b: cb,
                        bit,
                    });
                }
            }
        }
    }
    d
}

fn round(c: u32) -> u32 {
    if c & 1 != 0 {
        (c >> 1) ^ POLY
    } else {
        c >> 1
    }
}

/// The bit (byte * 8 + bit) in which two pages differ, from their CRC-32Cs
/// alone, if they differ in exactly one bit; `None` otherwise (or when a
/// wider difference happens to look like one bit: CRC-32C is linear, so
/// `crc(x) ^ crc(y)` is the CRC of `x ^ y` without its init and final
/// xor, and every single-bit page has its own).
pub fn locate_bit(crc_a: u32, crc_b: u32) -> Option<u32> {
    let syndrome = crc_a ^ crc_b;
    if syndrome == 0 {
        return None;
    }
    // s[j]: the syndrome of bit j of byte i, from the last byte down.
    let mut s = [0u32; 8];
    for (j, v) in s.iter_mut().enumerate() {
        let mut c = 1u32 << j;
        for _ in 0..8 {
            c = round(c);
        }
        *v = c;
    }
    for i in (0..PAGE).rev() {
        for (j, v) in s.iter().enumerate() {
            if *v == syndrome {
                return Some((i * 8 + j) as u32);
            }
        }
        for v in s.iter_mut() {
            for _ in 0..8 {
                *v = round(*v);
            }
        }
    }
    None
}

/// What the copies' digests at one point say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote {
    /// All agree.
    Same,
    /// Copy `usize` disagrees with the others, which agree (3 copies).
    Odd(usize),
    /// No majority: 2 copies that disagree, or 3 that all do.
    NoMajority,
}

/// The vote from which pairs agree: `same[0]` copies 0 and 1, `same[1]`
/// 0 and 2, `same[2]` 1 and 2 (2 copies: only `same[0]` counts).
pub fn vote(copies: usize, same: [bool; 3]) -> Vote {
    if copies < 3 {
        return if same[0] {
            Vote::Same
        } else {
            Vote::NoMajority
        };
    }
    match same {
        [true, true, true] => Vote::Same,
        [false, false, true] => Vote::Odd(0),
        [false, true, false] => Vote::Odd(1),
        [true, false, false] => Vote::Odd(2),
        _ => Vote::NoMajority,
    }
}

/// Whether the write at `point` reaches the world: the primary's, when no
/// copy emitted it before (`emitted` writes were, counted the same way).
pub fn emits(copy: u8, point: u64, emitted: u64) -> bool {
    copy == 0 && point >= emitted
}

/// What a verdict says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Go on.
    Go {
        /// The write reaches the world.
        emit: bool,
    },
    /// Stop: the copy is replaced or rolled back.
    Stop,
}

/// `HaVerdict`: the home node's answer at one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Which copy.
    pub copy: u8,
    /// The copies' generation.
    pub generation: u32,
    /// The process's home id.
    pub home_id: u64,
    /// The point it answers (`ANY_POINT` in the module: whichever).
    pub point: u64,
    /// What the copy does.
    pub action: Action,
}

impl Verdict {
    /// Encoded length.
    pub const LEN: usize = 32;

    /// Writes it; its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if u32::from(self.copy) >= MAX_REPLICAS {
            return Err(WireError::InvalidValue);
        }
        let (action, emit) = match self.action {
            Action::Go { emit } => (0, u8::from(emit)),
            Action::Stop => (1, 0),
        };
        let mut w = Writer::new(out);
        w.u8(HA_VERSION)?;
        w.u8(self.copy)?;
        w.u8(action)?;
        w.u8(emit)?;
        w.u32(self.generation)?;
        w.u64(self.home_id)?;
        w.u64(self.point)?;
        w.u64(0)?;
        Ok(w.pos())
    }

    /// Reads one.
    pub fn decode(b: &[u8]) -> Result<Verdict, WireError> {
        let mut r = Reader::new(b);
        let version = r.u8()?;
        let copy = r.u8()?;
        let action = r.u8()?;
        let emit = r.u8()?;
        if version != HA_VERSION {
            return Err(WireError::BadVersion);
        }
        let generation = r.u32()?;
        let home_id = r.u64()?;
        let point = r.u64()?;
        let zero = r.u64()?;
        r.finish()?;
        let action = match (action, emit) {
            (0, 0 | 1) => Action::Go { emit: emit == 1 },
            (1, 0) => Action::Stop,
            _ => return Err(WireError::InvalidValue),
        };
        if zero != 0 || u32::from(copy) >= MAX_REPLICAS {
            return Err(WireError::InvalidValue);
        }
        Ok(Verdict {
            copy,
            generation,
            home_id,
            point,
            action,
        })
    }
}

/// `HaReplica`: the home node makes a node run copy `copy` of a
/// replicated process: copy 0 is the process already running there (it
/// starts stopping at points from `point` on); copies 1 and 2 are
/// restarted there from the image at `path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaAsk<'a> {
    /// Which copy.
    pub copy: u8,
    /// The copies' generation.
    pub generation: u32,
    /// The process's home id.
    pub home_id: u64,
    /// The point the copy is at when it starts (the image's).
    pub point: u64,
    /// Writes already emitted: the copy's writes below this are not.
    pub emitted: u64,
    /// The process's pid (the same on every node).
    pub home_pid: u32,
    /// Whether it stops at points from its start (a copy started from an
    /// image); otherwise from its first checkpoint on.
    pub armed: bool,
    /// Empty for copy 0; an absolute path otherwise.
    pub path: &'a [u8],
}

impl<'a> ReplicaAsk<'a> {
    /// Length before the path.
    pub const HEADER_LEN: usize = 40;

    fn valid(copy: u8, path: &[u8]) -> bool {
        u32::from(copy) < MAX_REPLICAS
            && path.len() <= MAX_REPLICA_PATH
            && !path.contains(&0)
            && if copy == 0 {
                path.is_empty()
            } else {
                path.first() == Some(&b'/')
            }
    }

    /// Writes it; its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if !Self::valid(self.copy, self.path) || self.point == u64::MAX || self.emitted == u64::MAX
        {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u8(HA_VERSION)?;
        w.u8(self.copy)?;
        w.u16(self.path.len() as u16)?;
        w.u32(self.generation)?;
        w.u64(self.home_id)?;
        w.u64(self.point)?;
        w.u64(self.emitted)?;
        w.u32(self.home_pid)?;
        w.u32(u32::from(self.armed))?;
        w.bytes(self.path)?;
        Ok(w.pos())
    }

    /// Reads one.
    pub fn decode(b: &'a [u8]) -> Result<ReplicaAsk<'a>, WireError> {
        let mut r = Reader::new(b);
        let version = r.u8()?;
        let copy = r.u8()?;
        let len = r.u16()?;
        if version != HA_VERSION {
            return Err(WireError::BadVersion);
        }
        let generation = r.u32()?;
        let home_id = r.u64()?;
        let point = r.u64()?;
        let emitted = r.u64()?;
        let home_pid = r.u32()?;
        let armed = r.u32()?;
        let path = r.bytes(len as usize)?;
        r.finish()?;
        if armed > 1 || !Self::valid(copy, path) || point == u64::MAX || emitted == u64::MAX {
            return Err(WireError::InvalidValue);
        }
        Ok(ReplicaAsk {
            copy,
            generation,
            home_id,
            point,
            emitted,
            home_pid,
            armed: armed == 1,
            path,
        })
    }
}

/// The checkpoint images of a replicated process the home node may roll
/// back to: an image taken after `point` writes is good once the copies
/// agreed at a point at or after it (the state it holds was compared
/// then; a corruption before it would have shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Images {
    /// The newest good image: (seq, point).
    pub good: Option<(u32, u64)>,
    /// Images written and not yet good, oldest first.
    pending: [(u32, u64); 4],
    pending_len: usize,
}

impl Images {
    /// Image `seq` was written at `point`; an image no longer wanted (the
    /// oldest pending one when 4 are), to remove.
    pub fn written(&mut self, seq: u32, point: u64) -> Option<u32> {
        let mut dropped = None;
        if self.pending_len == self.pending.len() {
            dropped = Some(self.pending[0].0);
            self.pending.copy_within(1.., 0);
            self.pending_len -= 1;
        }
        self.pending[self.pending_len] = (seq, point);
        self.pending_len += 1;
        dropped
    }

    /// The copies agreed at `point`: the pending images at or before it
    /// are good; the newest becomes the one to roll back to. The images
    /// no longer wanted (older good ones), to remove, up to 5.
    pub fn agreed(&mut self, point: u64, removed: &mut [u32; 5]) -> usize {
        let mut n = 0;
        let mut keep = 0;
        for i in 0..self.pending_len {
            let (seq, at) = self.pending[i];
            if at <= point {
                if let Some((old, _)) = self.good.replace((seq, at)) {
                    removed[n] = old;
                    n += 1;
                }
            } else {
                self.pending[keep] = (seq, at);
                keep += 1;
            }
        }
        self.pending_len = keep;
        n
    }

    /// Every image it holds: the good one, then the pending ones.
    pub fn seqs(&self) -> impl Iterator<Item = u32> + '_ {
        self.good
            .iter()
            .map(|&(s, _)| s)
            .chain(self.pending[..self.pending_len].iter().map(|&(s, _)| s))
    }

    /// Whether image `seq` is still wanted.
    pub fn wants(&self, seq: u32) -> bool {
        self.good.is_some_and(|(s, _)| s == seq)
            || self.pending[..self.pending_len]
                .iter()
                .any(|&(s, _)| s == seq)
    }

    /// A rollback to the good image: the pending ones are not wanted.
    pub fn roll_back(&mut self, removed: &mut [u32; 4]) -> usize {
        let n = self.pending_len;
        for (r, (s, _)) in removed.iter_mut().zip(self.pending[..n].iter()) {
            *r = *s;
        }
        self.pending_len = 0;
        n
    }
}

#[cfg(test)]
mod tests;
