//! Post-copy and lazy migration's page fetches: the `MigratePageRequest`
//! and `MigratePageData` bodies ([`PageRequest`], [`PageData`]), their
//! limits, and [`is_push_read`], which tells the page server's push from a
//! fault's fetch.

use super::super::le::{Reader, Writer};
use super::super::wire::WireError;
use super::precopy::{PAGE, USER_TOP};
use super::transfer::nonzero;

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
