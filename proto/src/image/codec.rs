//! Shared pieces of the body codecs: the image format's fields on top of
//! the little-endian reader and writer (`bool`, counts, paths), small
//! value checks, fixed-size records and lists of them ([`RecordList`],
//! [`SigInfo`], [`SigAction`]), the `body_codec!` macro that gives a body
//! its `encode`/`decode`, and [`FileRef`], the file reference that
//! Process, Vma and File bodies share.

use super::super::le::{self, Reader, Writer};
use super::consts::*;
use super::error::ImageError;

impl From<le::Truncated> for ImageError {
    fn from(_: le::Truncated) -> Self {
        ImageError::Truncated
    }
}

impl From<le::NoRoom> for ImageError {
    fn from(_: le::NoRoom) -> Self {
        ImageError::BufferTooSmall
    }
}

impl From<le::Trailing> for ImageError {
    fn from(_: le::Trailing) -> Self {
        ImageError::TrailingBytes
    }
}

/// Fields of the image format beyond plain integers, read.
pub(super) trait ReadFields<'a> {
    /// A 0/1 byte.
    fn bool(&mut self) -> Result<bool, ImageError>;
    /// A u32 count, refused above `max` before anything is read for it.
    fn count(&mut self, max: usize) -> Result<usize, ImageError>;
    /// A u16-length-prefixed path, checked with [`check_path`].
    fn path(&mut self) -> Result<&'a [u8], ImageError>;
}

impl<'a> ReadFields<'a> for Reader<'a> {
    fn bool(&mut self) -> Result<bool, ImageError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(ImageError::InvalidValue),
        }
    }

    fn count(&mut self, max: usize) -> Result<usize, ImageError> {
        let n = usize::try_from(self.u32()?).map_err(|_| ImageError::CountTooLarge)?;
        if n > max {
            return Err(ImageError::CountTooLarge);
        }
        Ok(n)
    }

    fn path(&mut self) -> Result<&'a [u8], ImageError> {
        let n = usize::from(self.u16()?);
        if n == 0 || n > MAX_PATH {
            return Err(ImageError::InvalidPath);
        }
        let p = self.bytes(n)?;
        check_path(p)?;
        Ok(p)
    }
}

/// Fields of the image format beyond plain integers, written.
pub(super) trait WriteFields {
    /// A count as u32.
    fn count(&mut self, n: usize) -> Result<(), ImageError>;
    /// A u16-length-prefixed path, checked with [`check_path`].
    fn path(&mut self, p: &[u8]) -> Result<(), ImageError>;
}

impl WriteFields for Writer<'_> {
    fn count(&mut self, n: usize) -> Result<(), ImageError> {
        Ok(self.u32(u32::try_from(n).map_err(|_| ImageError::CountTooLarge)?)?)
    }

    fn path(&mut self, p: &[u8]) -> Result<(), ImageError> {
        check_path(p)?;
        self.u16(u16::try_from(p.len()).map_err(|_| ImageError::InvalidPath)?)?;
        Ok(self.bytes(p)?)
    }
}

/// A path is 1..=[`MAX_PATH`] bytes, starts with `/` and has no NUL. Any
/// other bytes are allowed (Linux paths need not be UTF-8).
pub(super) fn check_path(p: &[u8]) -> Result<(), ImageError> {
    if p.is_empty() || p.len() > MAX_PATH || p.first() != Some(&b'/') || p.contains(&0) {
        return Err(ImageError::InvalidPath);
    }
    Ok(())
}

/// Encoded length of a path: u16 length + bytes.
pub(super) fn path_len(p: &[u8]) -> usize {
    2usize.saturating_add(p.len())
}

pub(super) fn is_page_aligned(addr: u64) -> bool {
    addr.is_multiple_of(PAGE_SIZE as u64)
}

/// Signal numbers (exit signal, parent-death signal): 0 (none) or 1..=NSIG.
pub(super) fn signal_ok(sig: u32) -> bool {
    sig as usize <= NSIG
}

// ---------------------------------------------------------------------------
// Fixed-size records and lists of them

/// A fixed-size little-endian record kept in a [`RecordList`].
pub trait Record: Copy + PartialEq {
    /// Encoded size in bytes (not 0).
    const LEN: usize;
    /// Decodes from `bytes`; `None` unless it is exactly [`Record::LEN`]
    /// bytes long.
    fn read_le(bytes: &[u8]) -> Option<Self>;
    /// Writes the record into `out`, which is [`Record::LEN`] bytes long
    /// (if shorter, only what fits is written).
    fn write_le(&self, out: &mut [u8]);
}

impl Record for u32 {
    const LEN: usize = 4;
    fn read_le(bytes: &[u8]) -> Option<u32> {
        <[u8; 4]>::try_from(bytes).ok().map(u32::from_le_bytes)
    }
    fn write_le(&self, out: &mut [u8]) {
        let _ = Writer::new(out).u32(*self);
    }
}

impl Record for u64 {
    const LEN: usize = 8;
    fn read_le(bytes: &[u8]) -> Option<u64> {
        <[u8; 8]>::try_from(bytes).ok().map(u64::from_le_bytes)
    }
    fn write_le(&self, out: &mut [u8]) {
        let _ = Writer::new(out).u64(*self);
    }
}

/// A list of records, either as encoded in the image (what decoding
/// returns: no copy is made) or as a slice in memory (what a writer
/// usually has). Both compare equal when they hold the same records.
#[derive(Debug, Clone, Copy)]
pub enum RecordList<'a, T> {
    /// Records as in the image: `len() * T::LEN` bytes.
    Encoded(&'a [u8]),
    /// Records in memory.
    Items(&'a [T]),
}

impl<'a, T: Record> RecordList<'a, T> {
    /// Number of records (for `Encoded`, whole records only).
    pub fn len(&self) -> usize {
        match self {
            // checked_div: no panic even for a (useless) zero-length record.
            RecordList::Encoded(b) => b.len().checked_div(T::LEN).unwrap_or(0),
            RecordList::Items(s) => s.len(),
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<T> {
        match self {
            RecordList::Encoded(b) => {
                let start = i.checked_mul(T::LEN)?;
                let end = start.checked_add(T::LEN)?;
                T::read_le(b.get(start..end)?)
            }
            RecordList::Items(s) => s.get(i).copied(),
        }
    }

    /// The records, in order.
    pub fn iter(&self) -> RecordIter<'a, T> {
        RecordIter {
            list: *self,
            next: 0,
        }
    }

    /// Encoded length in bytes.
    pub(super) fn encoded_len(&self) -> usize {
        self.len().saturating_mul(T::LEN)
    }

    /// Reads `count` records (the caller has bounded `count`).
    pub(super) fn read(r: &mut Reader<'a>, count: usize) -> Result<RecordList<'a, T>, ImageError> {
        let n = count.checked_mul(T::LEN).ok_or(ImageError::CountTooLarge)?;
        Ok(RecordList::Encoded(r.bytes(n)?))
    }

    pub(super) fn write(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
        match self {
            RecordList::Encoded(b) => {
                if !self.is_whole() {
                    return Err(ImageError::InvalidValue);
                }
                Ok(w.bytes(b)?)
            }
            RecordList::Items(s) => {
                for item in s.iter() {
                    item.write_le(w.reserve(T::LEN)?);
                }
                Ok(())
            }
        }
    }

    /// Whether an `Encoded` list holds whole records only.
    pub(super) fn is_whole(&self) -> bool {
        match self {
            RecordList::Encoded(b) => b.len().checked_rem(T::LEN) == Some(0),
            RecordList::Items(_) => true,
        }
    }
}

impl<T: Record> PartialEq for RecordList<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        self.is_whole() == other.is_whole()
            && self.len() == other.len()
            && self.iter().eq(other.iter())
    }
}

impl<T: Record> Eq for RecordList<'_, T> {}

impl<T> Default for RecordList<'_, T> {
    fn default() -> Self {
        RecordList::Items(&[])
    }
}

/// Iterator over a [`RecordList`].
#[derive(Debug, Clone)]
pub struct RecordIter<'a, T> {
    list: RecordList<'a, T>,
    next: usize,
}

impl<T: Record> Iterator for RecordIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let item = self.list.get(self.next)?;
        self.next = self.next.saturating_add(1);
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.list.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

/// One raw `siginfo_t` (kernel ABI layout; opaque here except for the
/// signal number in its first 4 bytes, which must be 1..=[`NSIG`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigInfo(pub [u8; SIGINFO_LEN]);

impl SigInfo {
    /// `si_signo`: the little-endian i32 at offset 0.
    pub fn signo(&self) -> i32 {
        let [a, b, c, d, ..] = self.0;
        i32::from_le_bytes([a, b, c, d])
    }
}

impl Default for SigInfo {
    fn default() -> SigInfo {
        SigInfo([0; SIGINFO_LEN])
    }
}

impl Record for SigInfo {
    const LEN: usize = SIGINFO_LEN;
    fn read_le(bytes: &[u8]) -> Option<SigInfo> {
        <[u8; SIGINFO_LEN]>::try_from(bytes).ok().map(SigInfo)
    }
    fn write_le(&self, out: &mut [u8]) {
        let _ = Writer::new(out).bytes(&self.0);
    }
}

/// A queue of pending signals.
pub type SigInfoList<'a> = RecordList<'a, SigInfo>;

/// Checks a pending-signal queue: at most [`MAX_PENDING_SIGNALS`] entries,
/// each with a signal number in 1..=NSIG.
pub(super) fn check_pending(list: &SigInfoList<'_>) -> Result<(), ImageError> {
    if !list.is_whole() {
        return Err(ImageError::InvalidValue);
    }
    if list.len() > MAX_PENDING_SIGNALS {
        return Err(ImageError::CountTooLarge);
    }
    for info in list.iter() {
        let signo = info.signo();
        if signo < 1 || signo as usize > NSIG {
            return Err(ImageError::InvalidValue);
        }
    }
    Ok(())
}

/// One signal's disposition (`struct k_sigaction` as x86_64 saves it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SigAction {
    /// `sa_handler` (0 = `SIG_DFL`, 1 = `SIG_IGN`, else an address).
    pub handler: u64,
    /// `sa_flags`.
    pub flags: u64,
    /// `sa_restorer`.
    pub restorer: u64,
    /// `sa_mask`: bit `n - 1` is signal `n`.
    pub mask: u64,
}

impl Record for SigAction {
    const LEN: usize = 32;
    fn read_le(bytes: &[u8]) -> Option<SigAction> {
        if bytes.len() != Self::LEN {
            return None;
        }
        let mut r = Reader::new(bytes);
        Some(SigAction {
            handler: r.u64().ok()?,
            flags: r.u64().ok()?,
            restorer: r.u64().ok()?,
            mask: r.u64().ok()?,
        })
    }
    fn write_le(&self, out: &mut [u8]) {
        let mut w = Writer::new(out);
        let _ = w
            .u64(self.handler)
            .and_then(|()| w.u64(self.flags))
            .and_then(|()| w.u64(self.restorer))
            .and_then(|()| w.u64(self.mask));
    }
}

// ---------------------------------------------------------------------------
// Bodies

/// Generates `encode` and `decode` for a body type that has `validate`,
/// `write_to` and `read_from`.
macro_rules! body_codec {
    ($ty:ident) => {
        impl<'a> $ty<'a> {
            /// Checks the value ([`Self::validate`]), then encodes it into
            /// `out`; returns the bytes written (`encoded_len()`).
            pub fn encode(&self, out: &mut [u8]) -> Result<usize, ImageError> {
                self.validate()?;
                let mut w = Writer::new(out);
                self.write_to(&mut w)?;
                Ok(w.pos())
            }

            /// Decodes exactly `body` into a view borrowing it; refuses short
            /// input, trailing bytes and anything [`Self::validate`] refuses.
            pub fn decode(body: &'a [u8]) -> Result<$ty<'a>, ImageError> {
                let mut r = Reader::new(body);
                let v = $ty::read_from(&mut r)?;
                r.finish()?;
                v.validate()?;
                Ok(v)
            }
        }
    };
}
pub(super) use body_codec;

/// A file named by path, with the identity it had at checkpoint time, so
/// that restart can refuse a file that was replaced. No device number: it
/// differs between nodes mounting the same file system.
///
/// ```text
/// off len field
/// 0   8   size
/// 8   8   mtime_sec (i64)
/// 16  4   mtime_nsec (< 1e9)
/// 20  8   ino
/// 28  2   path_len (1..=MAX_PATH)
/// 30  ..  path (absolute, no NUL)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileRef<'a> {
    /// Absolute path, 1..=[`MAX_PATH`] bytes, no NUL.
    pub path: &'a [u8],
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds.
    pub mtime_sec: i64,
    /// Modification time, nanoseconds (below 10⁹).
    pub mtime_nsec: u32,
    /// Inode number.
    pub ino: u64,
}

impl<'a> FileRef<'a> {
    /// Encoded length without the path bytes.
    pub const FIXED_LEN: usize = 8 + 8 + 4 + 8 + 2;
    /// Largest encoded length.
    pub const MAX_LEN: usize = FileRef::FIXED_LEN + MAX_PATH;

    /// Checks the path and the nanoseconds.
    pub fn validate(&self) -> Result<(), ImageError> {
        check_path(self.path)?;
        if self.mtime_nsec >= 1_000_000_000 {
            return Err(ImageError::InvalidValue);
        }
        Ok(())
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        (FileRef::FIXED_LEN - 2).saturating_add(path_len(self.path))
    }

    pub(super) fn write_to(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
        w.u64(self.size)?;
        w.i64(self.mtime_sec)?;
        w.u32(self.mtime_nsec)?;
        w.u64(self.ino)?;
        w.path(self.path)
    }

    pub(super) fn read_from(r: &mut Reader<'a>) -> Result<FileRef<'a>, ImageError> {
        Ok(FileRef {
            size: r.u64()?,
            mtime_sec: r.i64()?,
            mtime_nsec: r.u32()?,
            ino: r.u64()?,
            path: r.path()?,
        })
    }
}

body_codec!(FileRef);
