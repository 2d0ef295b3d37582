//! Bodies of the address-space sections: [`MmBody`] (the `mm_struct`
//! layout), [`VmaBody`] (one mapping) and [`PagesBody`] (a run of page
//! data), with the page-run checks and [`is_zero_page`].

use super::super::le::{Reader, Writer};
use super::codec::*;
use super::consts::*;
use super::error::ImageError;

/// Mm section: the address-space layout of the process (`mm_struct`
/// fields) and the number of Vma sections that follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MmBody<'a> {
    /// Start of the code segment.
    pub start_code: u64,
    /// End of the code segment (>= start).
    pub end_code: u64,
    /// Start of the data segment.
    pub start_data: u64,
    /// End of the data segment (>= start).
    pub end_data: u64,
    /// Start of the heap.
    pub start_brk: u64,
    /// Current program break (>= start_brk).
    pub brk: u64,
    /// Top of the initial stack.
    pub start_stack: u64,
    /// Start of the argument strings.
    pub arg_start: u64,
    /// End of the argument strings (>= start).
    pub arg_end: u64,
    /// Start of the environment strings.
    pub env_start: u64,
    /// End of the environment strings (>= start).
    pub env_end: u64,
    /// Number of Vma sections that follow (at most [`MAX_VMAS`]).
    pub nr_vmas: u32,
    /// Saved auxiliary vector: key/value word pairs (an even number, at
    /// most [`MAX_AUXV_WORDS`]).
    pub auxv: RecordList<'a, u64>,
}

impl<'a> MmBody<'a> {
    /// Encoded length of the fixed fields, up to and including the auxv
    /// count.
    pub const FIXED_LEN: usize = 11 * 8 + 4 + 4;
    /// Largest encoded length.
    pub const MAX_LEN: usize = MmBody::FIXED_LEN + MAX_AUXV_WORDS * 8;

    /// Checks the ranges and counts.
    pub fn validate(&self) -> Result<(), ImageError> {
        let ranges = [
            (self.start_code, self.end_code),
            (self.start_data, self.end_data),
            (self.start_brk, self.brk),
            (self.arg_start, self.arg_end),
            (self.env_start, self.env_end),
        ];
        if ranges.iter().any(|&(start, end)| start > end) {
            return Err(ImageError::InvalidRange);
        }
        if self.nr_vmas > MAX_VMAS {
            return Err(ImageError::CountTooLarge);
        }
        if !self.auxv.is_whole() {
            return Err(ImageError::InvalidValue);
        }
        if self.auxv.len() > MAX_AUXV_WORDS {
            return Err(ImageError::CountTooLarge);
        }
        if !self.auxv.len().is_multiple_of(2) {
            return Err(ImageError::InvalidValue);
        }
        Ok(())
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        MmBody::FIXED_LEN.saturating_add(self.auxv.encoded_len())
    }

    pub(super) fn write_to(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
        for v in [
            self.start_code,
            self.end_code,
            self.start_data,
            self.end_data,
            self.start_brk,
            self.brk,
            self.start_stack,
            self.arg_start,
            self.arg_end,
            self.env_start,
            self.env_end,
        ] {
            w.u64(v)?;
        }
        w.u32(self.nr_vmas)?;
        w.count(self.auxv.len())?;
        self.auxv.write(w)
    }

    fn read_from(r: &mut Reader<'a>) -> Result<MmBody<'a>, ImageError> {
        let mut f = [0u64; 11];
        for v in f.iter_mut() {
            *v = r.u64()?;
        }
        let [start_code, end_code, start_data, end_data, start_brk, brk, start_stack, arg_start, arg_end, env_start, env_end] =
            f;
        let nr_vmas = r.u32()?;
        let nauxv = r.count(MAX_AUXV_WORDS)?;
        let auxv = RecordList::read(r, nauxv)?;
        Ok(MmBody {
            start_code,
            end_code,
            start_data,
            end_data,
            start_brk,
            brk,
            start_stack,
            arg_start,
            arg_end,
            env_start,
            env_end,
            nr_vmas,
            auxv,
        })
    }
}

body_codec!(MmBody);

/// What a VMA maps. The kind decides whether the VMA has a file and
/// whether it is shared ([`MAP_SHARED`]) or private ([`MAP_PRIVATE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum VmaKind {
    /// Private anonymous memory.
    Anon = 1,
    /// Shared anonymous memory (shmem); its pages are in the image.
    AnonShared = 2,
    /// Private file mapping; dirtied (copied-on-write) pages are in the
    /// image, the rest comes from the file.
    FilePrivate = 3,
    /// Shared file mapping; its contents are the file's.
    FileShared = 4,
    /// The heap (`brk` area), private anonymous.
    Heap = 5,
    /// A stack, private anonymous.
    Stack = 6,
    /// The vDSO (provided by the restarting kernel, not restored from the
    /// image).
    Vdso = 7,
    /// The vvar page(s) (likewise).
    Vvar = 8,
    /// The legacy vsyscall page (likewise).
    Vsyscall = 9,
}

impl VmaKind {
    /// The kind with wire value `v`, if this version knows it.
    pub fn from_u8(v: u8) -> Option<VmaKind> {
        Some(match v {
            1 => VmaKind::Anon,
            2 => VmaKind::AnonShared,
            3 => VmaKind::FilePrivate,
            4 => VmaKind::FileShared,
            5 => VmaKind::Heap,
            6 => VmaKind::Stack,
            7 => VmaKind::Vdso,
            8 => VmaKind::Vvar,
            9 => VmaKind::Vsyscall,
            _ => return None,
        })
    }

    /// The wire value.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// Whether VMAs of this kind map a file (and carry a [`FileRef`]).
    pub fn has_file(self) -> bool {
        matches!(self, VmaKind::FilePrivate | VmaKind::FileShared)
    }

    /// Whether VMAs of this kind are [`MAP_SHARED`] (else [`MAP_PRIVATE`]).
    pub fn is_shared(self) -> bool {
        matches!(self, VmaKind::AnonShared | VmaKind::FileShared)
    }
}

/// Vma section: one virtual memory area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmaBody<'a> {
    /// First address (page-aligned).
    pub start: u64,
    /// End address, exclusive (page-aligned, above `start`).
    pub end: u64,
    /// Offset in the file, in pages (for anonymous VMAs, what the kernel
    /// had); `pgoff + pages` must fit in a 64-bit byte offset.
    pub pgoff: u64,
    /// Raw kernel `vm_flags` (informational; restart derives the real
    /// flags from `prot` and `map_flags`).
    pub vm_flags: u64,
    /// Protection: only [`KNOWN_PROT`] bits.
    pub prot: u32,
    /// Map flags: see [`KNOWN_MAP_FLAGS`]; the sharing bit must agree with
    /// `kind`.
    pub map_flags: u32,
    /// What the VMA maps.
    pub kind: VmaKind,
    /// The mapped file: present iff `kind.has_file()`.
    pub file: Option<FileRef<'a>>,
}

impl<'a> VmaBody<'a> {
    /// Encoded length without the file.
    pub const FIXED_LEN: usize = 8 + 8 + 8 + 8 + 4 + 4 + 1;
    /// Largest encoded length.
    pub const MAX_LEN: usize = VmaBody::FIXED_LEN + FileRef::MAX_LEN;

    /// Number of pages the VMA spans (0 if the range is invalid).
    pub fn pages(&self) -> u64 {
        self.end.saturating_sub(self.start) / PAGE_SIZE as u64
    }

    /// Checks alignment, range, flags and that the file agrees with the
    /// kind.
    pub fn validate(&self) -> Result<(), ImageError> {
        if !is_page_aligned(self.start) || !is_page_aligned(self.end) {
            return Err(ImageError::Misaligned);
        }
        if self.start >= self.end {
            return Err(ImageError::InvalidRange);
        }
        // The byte offset of the VMA's end in its file must fit in a u64.
        let end_pgoff = self
            .pgoff
            .checked_add(self.pages())
            .ok_or(ImageError::InvalidRange)?;
        if end_pgoff > u64::MAX / PAGE_SIZE as u64 {
            return Err(ImageError::InvalidRange);
        }
        if self.prot & !KNOWN_PROT != 0 || self.map_flags & !KNOWN_MAP_FLAGS != 0 {
            return Err(ImageError::InvalidFlags);
        }
        let sharing = self.map_flags & (MAP_SHARED | MAP_PRIVATE);
        let expected = if self.kind.is_shared() {
            MAP_SHARED
        } else {
            MAP_PRIVATE
        };
        if sharing != expected {
            return Err(ImageError::InvalidFlags);
        }
        match (self.kind.has_file(), &self.file) {
            (true, Some(f)) => f.validate(),
            (false, None) => Ok(()),
            _ => Err(ImageError::InvalidValue),
        }
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        VmaBody::FIXED_LEN.saturating_add(self.file.map_or(0, |f| f.encoded_len()))
    }

    pub(super) fn write_to(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
        w.u64(self.start)?;
        w.u64(self.end)?;
        w.u64(self.pgoff)?;
        w.u64(self.vm_flags)?;
        w.u32(self.prot)?;
        w.u32(self.map_flags)?;
        w.u8(self.kind.as_u8())?;
        match &self.file {
            Some(f) => f.write_to(w),
            None => Ok(()),
        }
    }

    fn read_from(r: &mut Reader<'a>) -> Result<VmaBody<'a>, ImageError> {
        let start = r.u64()?;
        let end = r.u64()?;
        let pgoff = r.u64()?;
        let vm_flags = r.u64()?;
        let prot = r.u32()?;
        let map_flags = r.u32()?;
        let kind = VmaKind::from_u8(r.u8()?).ok_or(ImageError::InvalidKind)?;
        let file = if kind.has_file() {
            Some(FileRef::read_from(r)?)
        } else {
            None
        };
        Ok(VmaBody {
            start,
            end,
            pgoff,
            vm_flags,
            prot,
            map_flags,
            kind,
            file,
        })
    }
}

body_codec!(VmaBody);

/// Pages section: a run of consecutive pages of memory contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PagesBody<'a> {
    /// Address of the first page (page-aligned).
    pub start: u64,
    /// The pages: 1..=[`MAX_PAGES_PER_SECTION`] × [`PAGE_SIZE`] bytes.
    pub data: &'a [u8],
}

impl<'a> PagesBody<'a> {
    /// Length of the part before the page data (start, npages, flags).
    pub const PREFIX_LEN: usize = 8 + 4 + 4;
    /// Largest encoded length.
    pub const MAX_LEN: usize = PagesBody::PREFIX_LEN + MAX_PAGES_PER_SECTION as usize * PAGE_SIZE;

    /// Number of whole pages in `data`.
    pub fn npages(&self) -> u32 {
        u32::try_from(self.data.len() / PAGE_SIZE).unwrap_or(u32::MAX)
    }

    /// End address of the run (exclusive), if it does not overflow.
    pub fn end(&self) -> Option<u64> {
        pages_end(self.start, self.npages())
    }

    /// Checks the data length, alignment and that the run does not wrap.
    pub fn validate(&self) -> Result<(), ImageError> {
        check_page_run(self.start, self.npages())?;
        if !self.data.len().is_multiple_of(PAGE_SIZE) {
            return Err(ImageError::InvalidValue);
        }
        Ok(())
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        PagesBody::PREFIX_LEN.saturating_add(self.data.len())
    }

    /// Writes the [`PagesBody::PREFIX_LEN`]-byte prefix of a Pages body
    /// whose `npages` pages the caller then writes itself (so that a writer
    /// can stream pages without copying them into one buffer). Returns the
    /// bytes written.
    pub fn encode_prefix(start: u64, npages: u32, out: &mut [u8]) -> Result<usize, ImageError> {
        check_page_run(start, npages)?;
        let mut w = Writer::new(out);
        write_pages_prefix(&mut w, start, npages)?;
        Ok(w.pos())
    }

    pub(super) fn write_to(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
        write_pages_prefix(w, self.start, self.npages())?;
        Ok(w.bytes(self.data)?)
    }

    /// Reads the prefix: (start, npages).
    pub(super) fn read_prefix(r: &mut Reader<'_>) -> Result<(u64, u32), ImageError> {
        let start = r.u64()?;
        let npages = r.u32()?;
        if npages == 0 {
            return Err(ImageError::InvalidValue);
        }
        if npages > MAX_PAGES_PER_SECTION {
            return Err(ImageError::CountTooLarge);
        }
        if r.u32()? != 0 {
            return Err(ImageError::ReservedNotZero);
        }
        Ok((start, npages))
    }

    fn read_from(r: &mut Reader<'a>) -> Result<PagesBody<'a>, ImageError> {
        let (start, npages) = PagesBody::read_prefix(r)?;
        let data = r.bytes(npages as usize * PAGE_SIZE)?;
        Ok(PagesBody { start, data })
    }
}

/// A Pages section known from its prefix alone
/// ([`ImageReader::read_pages_prefix`](super::ImageReader::read_pages_prefix)): its data follows the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PagesRun {
    /// Address of the first page.
    pub start: u64,
    /// Pages of data that follow the prefix.
    pub npages: u32,
}

impl PagesRun {
    /// Bytes of page data that follow the prefix.
    pub fn data_len(&self) -> usize {
        self.npages as usize * PAGE_SIZE
    }
}

body_codec!(PagesBody);

/// End address of a run of `npages` pages from `start`, if it does not
/// overflow.
pub(super) fn pages_end(start: u64, npages: u32) -> Option<u64> {
    start.checked_add(u64::from(npages).checked_mul(PAGE_SIZE as u64)?)
}

/// A run of pages: 1..=MAX_PAGES_PER_SECTION pages, page-aligned, no wrap.
pub(super) fn check_page_run(start: u64, npages: u32) -> Result<(), ImageError> {
    if npages == 0 {
        return Err(ImageError::InvalidValue);
    }
    if npages > MAX_PAGES_PER_SECTION {
        return Err(ImageError::CountTooLarge);
    }
    if !is_page_aligned(start) {
        return Err(ImageError::Misaligned);
    }
    pages_end(start, npages).ok_or(ImageError::InvalidRange)?;
    Ok(())
}

pub(super) fn write_pages_prefix(
    w: &mut Writer<'_>,
    start: u64,
    npages: u32,
) -> Result<(), ImageError> {
    w.u64(start)?;
    w.u32(npages)?;
    Ok(w.u32(0)?)
}

/// Whether `page` holds only zeros (a capture leaves such pages out of an
/// image). A page with data almost always shows it in its first line:
/// that is looked at first, so that a page of data costs a few loads
/// instead of a pass over it (under TCG a pass over every captured page
/// is a noticeable part of a migration).
pub fn is_zero_page(page: &[u8]) -> bool {
    let head = page.get(..ZERO_TEST_HEAD).unwrap_or(page);
    all_zero(head) && all_zero(page)
}

/// Bytes at the start of a page tested before the whole page.
const ZERO_TEST_HEAD: usize = 64;

/// Whether `bytes` are all zero: an OR over them a word at a time, with no
/// early exit (the kernel's Rust has no vector registers: a byte-wise OR
/// would cost a step per byte).
fn all_zero(bytes: &[u8]) -> bool {
    let mut acc = 0u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        if let Ok(b) = <[u8; 8]>::try_from(w) {
            acc |= u64::from_ne_bytes(b);
        }
    }
    acc == 0 && words.remainder().iter().all(|&b| b == 0)
}
