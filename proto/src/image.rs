//! Checkpoint image format: the file a frozen process is written to, and
//! (later) the stream of sections sent for live migration. Explicitly
//! little-endian; the byte-exact description is `docs/image-format.md`.
//!
//! # Layout
//!
//! ```text
//! ImageHeader (64 bytes, own CRC)
//! section 0:  SectionHeader (16 bytes) + body (body_len bytes)
//! section 1:  SectionHeader (16 bytes) + body
//! ...
//! section n:  End
//! ```
//!
//! A section header is `kind u32, body_len u32, index u32, crc u32`; `crc`
//! is CRC-32C over the first 12 bytes of the section header followed by
//! the body, so a corrupted kind, length or index is a checksum error like
//! a corrupted body. `index` counts sections from 0, so a dropped,
//! duplicated or reordered section is caught before its body is read.
//!
//! Sections come in a fixed order, checked by [`ImageValidator`]:
//! Process, Parent (incremental images only), Signals, Mm, `nr_vmas` × Vma,
//! `nr_threads` × Thread, File × any, Pages × any, End.
//!
//! # Reading
//!
//! The writer streams and the reader never holds the whole image: it reads
//! the [`IMAGE_HEADER_LEN`]-byte header ([`ImageHeader::decode`]), then per
//! section the [`SECTION_HEADER_LEN`]-byte header
//! ([`SectionHeader::decode`], which bounds `body_len` by the kind before
//! anything is allocated), reads the body, checks it
//! ([`SectionHeader::check_body`] with a CRC the caller computed, perhaps in
//! hardware, or [`SectionHeader::verify_body`]), decodes it into a borrowed
//! view ([`Section::decode`]) and feeds its summary to an
//! [`ImageValidator`]. [`ImageReader`] does those steps in order and says
//! which section an error was in; [`read_image`] runs it over an image held
//! in memory. Writers use [`ImageWriter`], which refuses to write what a
//! reader would refuse to read.
//!
//! Every body type has `encode(&self, out) -> Result<usize, ImageError>`
//! (bytes written), `encoded_len()`, `validate()` and
//! `decode(body) -> Result<Self, ImageError>`, which rejects short bodies,
//! trailing bytes, over-long counts, reserved bits and invalid values.
//! `decode` accepts exactly what `encode` writes, and nothing here panics,
//! allocates or recurses on any input.

use core::fmt;

// ---------------------------------------------------------------------------
// Constants and limits

/// First eight bytes of every image.
pub const IMAGE_MAGIC: [u8; 8] = *b"SSICKPT\0";
/// Version of the image format this code reads and writes. A reader
/// refuses every other version ([`ImageError::UnsupportedVersion`]).
pub const IMAGE_VERSION: u16 = 1;
/// Length of the fixed image header.
pub const IMAGE_HEADER_LEN: usize = 64;
/// Length of the fixed section header.
pub const SECTION_HEADER_LEN: usize = 16;

/// Image flag: the image holds only the pages dirtied since its parent
/// image ([`ImageHeader::parent_id`]); it has a Parent section.
pub const FLAG_INCREMENTAL: u16 = 1 << 0;
/// Image flag: the Pages sections carry no CRC (0) and readers do not
/// check one. Only a live migration's image has it: it goes from the
/// capture to the destination's kernel memory in authenticated krpc frames
/// and is never stored; a restart from a file refuses it.
pub const FLAG_PAGES_UNCHECKED: u16 = 1 << 1;
/// All image flags defined by [`IMAGE_VERSION`] 1.
pub const KNOWN_IMAGE_FLAGS: u16 = FLAG_INCREMENTAL | FLAG_PAGES_UNCHECKED;

/// Architecture code of x86_64, the only one version 1 defines.
pub const ARCH_X86_64: u32 = 1;

/// Size of a page, in bytes.
pub const PAGE_SIZE: usize = 4096;
/// Most pages one Pages section carries.
pub const MAX_PAGES_PER_SECTION: u32 = 256;
/// Longest path, in bytes (paths are 1..=MAX_PATH bytes long).
pub const MAX_PATH: usize = 4096;
/// Most supplementary groups of a process.
pub const MAX_GROUPS: usize = 64;
/// Most threads of a process.
pub const MAX_THREADS: u32 = 256;
/// Most VMAs of a process (the default `vm.max_map_count`).
pub const MAX_VMAS: u32 = 65530;
/// File descriptors must be below this (so at most this many files).
pub const MAX_FDS: u32 = 1024;
/// Largest xstate blob of a thread, in bytes.
pub const MAX_XSTATE: usize = 16384;
/// Most pending signals in one queue (per thread, or process-wide).
pub const MAX_PENDING_SIGNALS: usize = 64;
/// Size of one raw `siginfo_t`.
pub const SIGINFO_LEN: usize = 128;
/// Number of signals (1..=NSIG); one handler is saved per signal.
pub const NSIG: usize = 64;
/// Number of resource limits saved (`RLIM_NLIMITS`).
pub const RLIM_NLIMITS: usize = 16;
/// Most auxiliary-vector words (`AT_*` key/value pairs, so even).
pub const MAX_AUXV_WORDS: usize = 128;
/// Length of a task name (`TASK_COMM_LEN`), NUL-padded.
pub const COMM_LEN: usize = 16;
/// Number of registers in `user_regs_struct` on x86_64.
pub const NR_REGS: usize = 27;
/// Size of a raw x86_64 `struct termios2`.
pub const TERMIOS2_LEN: usize = 44;
/// Size of a raw `struct winsize`.
pub const WINSIZE_LEN: usize = 8;

/// Index of `r15` in [`ThreadBody::regs`] (`user_regs_struct` order).
pub const REG_R15: usize = 0;
/// Index of `r14` in [`ThreadBody::regs`].
pub const REG_R14: usize = 1;
/// Index of `r13` in [`ThreadBody::regs`].
pub const REG_R13: usize = 2;
/// Index of `r12` in [`ThreadBody::regs`].
pub const REG_R12: usize = 3;
/// Index of `rbp` in [`ThreadBody::regs`].
pub const REG_RBP: usize = 4;
/// Index of `rbx` in [`ThreadBody::regs`].
pub const REG_RBX: usize = 5;
/// Index of `r11` in [`ThreadBody::regs`].
pub const REG_R11: usize = 6;
/// Index of `r10` in [`ThreadBody::regs`].
pub const REG_R10: usize = 7;
/// Index of `r9` in [`ThreadBody::regs`].
pub const REG_R9: usize = 8;
/// Index of `r8` in [`ThreadBody::regs`].
pub const REG_R8: usize = 9;
/// Index of `rax` in [`ThreadBody::regs`].
pub const REG_RAX: usize = 10;
/// Index of `rcx` in [`ThreadBody::regs`].
pub const REG_RCX: usize = 11;
/// Index of `rdx` in [`ThreadBody::regs`].
pub const REG_RDX: usize = 12;
/// Index of `rsi` in [`ThreadBody::regs`].
pub const REG_RSI: usize = 13;
/// Index of `rdi` in [`ThreadBody::regs`].
pub const REG_RDI: usize = 14;
/// Index of `orig_rax` in [`ThreadBody::regs`].
pub const REG_ORIG_RAX: usize = 15;
/// Index of `rip` in [`ThreadBody::regs`].
pub const REG_RIP: usize = 16;
/// Index of `cs` in [`ThreadBody::regs`].
pub const REG_CS: usize = 17;
/// Index of `eflags` in [`ThreadBody::regs`].
pub const REG_EFLAGS: usize = 18;
/// Index of `rsp` in [`ThreadBody::regs`].
pub const REG_RSP: usize = 19;
/// Index of `ss` in [`ThreadBody::regs`].
pub const REG_SS: usize = 20;
/// Index of `fs_base` in [`ThreadBody::regs`].
pub const REG_FS_BASE: usize = 21;
/// Index of `gs_base` in [`ThreadBody::regs`].
pub const REG_GS_BASE: usize = 22;
/// Index of `ds` in [`ThreadBody::regs`].
pub const REG_DS: usize = 23;
/// Index of `es` in [`ThreadBody::regs`].
pub const REG_ES: usize = 24;
/// Index of `fs` in [`ThreadBody::regs`].
pub const REG_FS: usize = 25;
/// Index of `gs` in [`ThreadBody::regs`].
pub const REG_GS: usize = 26;

/// `PROT_READ`.
pub const PROT_READ: u32 = 0x1;
/// `PROT_WRITE`.
pub const PROT_WRITE: u32 = 0x2;
/// `PROT_EXEC`.
pub const PROT_EXEC: u32 = 0x4;
/// The protection bits a VMA may have.
pub const KNOWN_PROT: u32 = PROT_READ | PROT_WRITE | PROT_EXEC;

/// `MAP_SHARED`.
pub const MAP_SHARED: u32 = 0x01;
/// `MAP_PRIVATE`.
pub const MAP_PRIVATE: u32 = 0x02;
/// `MAP_GROWSDOWN` (stack-like VMA).
pub const MAP_GROWSDOWN: u32 = 0x0100;
/// `MAP_LOCKED` (mlocked VMA).
pub const MAP_LOCKED: u32 = 0x2000;
/// `MAP_NORESERVE`.
pub const MAP_NORESERVE: u32 = 0x4000;
/// The map flags a VMA may have: exactly one of [`MAP_SHARED`] and
/// [`MAP_PRIVATE`], plus any of [`MAP_GROWSDOWN`], [`MAP_LOCKED`],
/// [`MAP_NORESERVE`]. Anonymous/file is said by [`VmaKind`], not by
/// `MAP_ANONYMOUS`.
pub const KNOWN_MAP_FLAGS: u32 =
    MAP_SHARED | MAP_PRIVATE | MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE;

/// `SS_ONSTACK`.
pub const SS_ONSTACK: u32 = 1;
/// `SS_DISABLE`.
pub const SS_DISABLE: u32 = 2;
/// `SS_AUTODISARM`.
pub const SS_AUTODISARM: u32 = 1 << 31;
/// The alternate-stack flags a thread may have.
pub const KNOWN_ALTSTACK_FLAGS: u32 = SS_ONSTACK | SS_DISABLE | SS_AUTODISARM;

/// `O_ACCMODE`: the access-mode bits of open flags (3 is invalid).
pub const O_ACCMODE: u32 = 0o3;
/// `O_RDONLY`.
pub const O_RDONLY: u32 = 0o0;
/// `O_WRONLY`.
pub const O_WRONLY: u32 = 0o1;

/// Major number of the memory character devices (`/dev/null` & co).
pub const MEM_MAJOR: u32 = 1;
/// The (major, minor) character devices a File section may name:
/// `/dev/null`, `/dev/zero`, `/dev/full`, `/dev/random`, `/dev/urandom`.
pub const ALLOWED_CHAR_DEVICES: [(u32, u32); 5] = [
    (MEM_MAJOR, 3),
    (MEM_MAJOR, 5),
    (MEM_MAJOR, 7),
    (MEM_MAJOR, 8),
    (MEM_MAJOR, 9),
];

/// Largest body of any section: a Pages section with
/// [`MAX_PAGES_PER_SECTION`] pages.
pub const MAX_SECTION_BODY: u32 = PagesBody::MAX_LEN as u32;
/// Largest body of any section but Pages: what a writer that sends page
/// data apart (not through its section buffer) may need to buffer.
pub const MAX_DESCRIPTION_BODY: u32 = {
    let kinds = [
        ProcessBody::MAX_LEN,
        ThreadBody::MAX_LEN,
        SignalsBody::MAX_LEN,
        MmBody::MAX_LEN,
        VmaBody::MAX_LEN,
        FileBody::MAX_LEN,
        ParentBody::MAX_LEN,
        EndBody::LEN,
        PagesBody::PREFIX_LEN,
    ];
    let mut max = 0;
    let mut i = 0;
    while i < kinds.len() {
        if kinds[i] > max {
            max = kinds[i];
        }
        i += 1;
    }
    max as u32
};

// ---------------------------------------------------------------------------
// Errors

/// Why an image, a section or a body was refused, or could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageError {
    /// Fewer bytes than the structure needs; for a whole image, it ended
    /// before its End section.
    Truncated,
    /// Bytes left over after a body's last field.
    TrailingBytes,
    /// The output buffer is too small.
    BufferTooSmall,
    /// The image does not start with [`IMAGE_MAGIC`].
    BadMagic,
    /// The image is of a format version this reader does not read.
    UnsupportedVersion {
        /// The version the image header carries.
        found: u16,
    },
    /// The header length field is not [`IMAGE_HEADER_LEN`].
    BadHeaderLength,
    /// The image header's CRC does not match.
    BadHeaderChecksum,
    /// A reserved field or bit is not zero.
    ReservedNotZero,
    /// Image flags this version does not define.
    UnknownFlags,
    /// The image is for another architecture.
    WrongArch,
    /// `image_id` is 0, or `parent_id` does not agree with
    /// [`FLAG_INCREMENTAL`] (non-zero iff incremental, never the image's
    /// own id).
    BadImageId,
    /// A section kind this version does not define.
    UnknownSectionKind {
        /// The kind the section header carries.
        found: u32,
    },
    /// `body_len` is above the limit of the section's kind.
    SectionTooLarge,
    /// The body handed over is not `body_len` bytes long.
    BodyLengthMismatch,
    /// The section's CRC does not match its header and body.
    SectionChecksumMismatch,
    /// The section's index is not the next one: a section was dropped,
    /// duplicated or moved.
    SectionIndexMismatch {
        /// The index expected.
        expected: u32,
        /// The index found.
        found: u32,
    },
    /// A section of a kind not allowed at this point (out of order,
    /// duplicated, or one that must come before it is missing).
    SectionOutOfOrder,
    /// A Thread section whose thread index is not the next one.
    ThreadOutOfOrder,
    /// A section (or any byte) after the End section.
    DataAfterEnd,
    /// A count or length above its limit.
    CountTooLarge,
    /// A path that is empty, longer than [`MAX_PATH`], not absolute, or
    /// contains a NUL byte.
    InvalidPath,
    /// A VMA or file kind byte this version does not define.
    InvalidKind,
    /// Flag bits not allowed, or inconsistent with the kind.
    InvalidFlags,
    /// An address that must be page-aligned is not.
    Misaligned,
    /// An address range that is empty, reversed or overflows.
    InvalidRange,
    /// A field holds a value it may not hold.
    InvalidValue,
    /// A section disagrees with the image header (pid, uid, parent id).
    HeaderMismatch,
    /// VMAs not in increasing address order, or overlapping.
    VmaOverlap,
    /// Page runs not in increasing address order, or overlapping.
    PagesOverlap,
    /// File descriptors not in strictly increasing order.
    FdNotIncreasing,
    /// The End section's counts differ from what the image held.
    EndMismatch,
    /// An [`ImageReader`] was called out of sequence (a body without its
    /// header): a bug in the caller, not in the image.
    ReaderMisuse,
}

impl ImageError {
    /// A short explanation, for kernel logs and error messages.
    pub fn describe(self) -> &'static str {
        match self {
            ImageError::Truncated => "image truncated",
            ImageError::TrailingBytes => "trailing bytes in section body",
            ImageError::BufferTooSmall => "output buffer too small",
            ImageError::BadMagic => "not a checkpoint image (bad magic)",
            ImageError::UnsupportedVersion { .. } => "image version not supported",
            ImageError::BadHeaderLength => "image header length not supported",
            ImageError::BadHeaderChecksum => "image header checksum mismatch",
            ImageError::ReservedNotZero => "reserved field not zero",
            ImageError::UnknownFlags => "unknown image flags",
            ImageError::WrongArch => "image is for another architecture",
            ImageError::BadImageId => "invalid image id or parent id",
            ImageError::UnknownSectionKind { .. } => "unknown section kind",
            ImageError::SectionTooLarge => "section body too large",
            ImageError::BodyLengthMismatch => "section body length differs from its header",
            ImageError::SectionChecksumMismatch => "section checksum mismatch",
            ImageError::SectionIndexMismatch { .. } => {
                "section out of sequence (dropped, duplicated or moved)"
            }
            ImageError::SectionOutOfOrder => "section not allowed here (wrong order or missing)",
            ImageError::ThreadOutOfOrder => "thread sections out of order",
            ImageError::DataAfterEnd => "data after the end of the image",
            ImageError::CountTooLarge => "count above its limit",
            ImageError::InvalidPath => "invalid path",
            ImageError::InvalidKind => "invalid VMA or file kind",
            ImageError::InvalidFlags => "invalid flags",
            ImageError::Misaligned => "address not page-aligned",
            ImageError::InvalidRange => "invalid address range",
            ImageError::InvalidValue => "invalid field value",
            ImageError::HeaderMismatch => "section disagrees with the image header",
            ImageError::VmaOverlap => "VMAs overlap or are out of order",
            ImageError::PagesOverlap => "page runs overlap or are out of order",
            ImageError::FdNotIncreasing => "file descriptors out of order",
            ImageError::EndMismatch => "end section counts do not match the image",
            ImageError::ReaderMisuse => "image reader called out of sequence",
        }
    }
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ImageError::UnsupportedVersion { found } => write!(
                f,
                "image version {found} not supported (this reader reads version {IMAGE_VERSION})"
            ),
            ImageError::UnknownSectionKind { found } => write!(f, "unknown section kind {found}"),
            ImageError::SectionIndexMismatch { expected, found } => write!(
                f,
                "section out of sequence (index {found}, expected {expected})"
            ),
            e => f.write_str(e.describe()),
        }
    }
}

// ---------------------------------------------------------------------------
// CRC-32C

/// CRC-32C (Castagnoli) polynomial, reflected.
const CRC32C_POLY: u32 = 0x82F6_3B78;

/// Slice-by-8 tables: `T[0]` is the usual byte table, `T[k][i]` is the CRC
/// of byte `i` followed by `k` zero bytes.
const fn crc32c_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ CRC32C_POLY
            } else {
                c >> 1
            };
            bit += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

static CRC32C_TABLES: [[u32; 256]; 8] = crc32c_tables();

/// Table lookup by the low byte of `x` (always in bounds).
#[inline(always)]
fn lookup(table: &[u32; 256], x: u32) -> u32 {
    table[(x & 0xff) as usize]
}

/// Incremental CRC-32C: init `!0`, reflected, final xor `!0` (the value of
/// Linux's `crc32c(~0, data, len) ^ ~0`). Feeding the data in any number of
/// pieces gives the same result as [`crc32c`] over all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crc32c {
    state: u32,
}

impl Crc32c {
    /// A CRC over no data yet.
    pub const fn new() -> Crc32c {
        Crc32c { state: !0 }
    }

    /// Continues from a running register, as Linux's `crc32c(seed, ..)`
    /// takes and returns it (for a hardware routine to take over or hand
    /// back a computation). `from_state(!0)` is [`Crc32c::new`].
    pub const fn from_state(state: u32) -> Crc32c {
        Crc32c { state }
    }

    /// The running register (not inverted): what Linux's
    /// `crc32c(seed, ..)` takes as `seed` to continue this computation.
    pub const fn state(&self) -> u32 {
        self.state
    }

    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        let t = &CRC32C_TABLES;
        let mut crc = self.state;
        let mut chunks = data.chunks_exact(8);
        for chunk in &mut chunks {
            // chunks_exact yields 8-byte chunks: the conversion always works.
            let Ok(b) = <[u8; 8]>::try_from(chunk) else {
                continue;
            };
            let lo = crc ^ u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            crc = lookup(&t[7], lo)
                ^ lookup(&t[6], lo >> 8)
                ^ lookup(&t[5], lo >> 16)
                ^ lookup(&t[4], lo >> 24)
                ^ lookup(&t[3], u32::from(b[4]))
                ^ lookup(&t[2], u32::from(b[5]))
                ^ lookup(&t[1], u32::from(b[6]))
                ^ lookup(&t[0], u32::from(b[7]));
        }
        for &byte in chunks.remainder() {
            crc = lookup(&t[0], crc ^ u32::from(byte)) ^ (crc >> 8);
        }
        self.state = crc;
    }

    /// The CRC of everything fed so far.
    pub const fn finish(&self) -> u32 {
        !self.state
    }
}

impl Default for Crc32c {
    fn default() -> Crc32c {
        Crc32c::new()
    }
}

/// CRC-32C of `data` (check value: `crc32c(b"123456789") == 0xE306_9283`).
pub fn crc32c(data: &[u8]) -> u32 {
    let mut c = Crc32c::new();
    c.update(data);
    c.finish()
}

// ---------------------------------------------------------------------------
// Little-endian reading and writing

use super::le::{self, Reader, Writer};

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
trait ReadFields<'a> {
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
trait WriteFields {
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
fn check_path(p: &[u8]) -> Result<(), ImageError> {
    if p.is_empty() || p.len() > MAX_PATH || p.first() != Some(&b'/') || p.contains(&0) {
        return Err(ImageError::InvalidPath);
    }
    Ok(())
}

/// Encoded length of a path: u16 length + bytes.
fn path_len(p: &[u8]) -> usize {
    2usize.saturating_add(p.len())
}

fn is_page_aligned(addr: u64) -> bool {
    addr.is_multiple_of(PAGE_SIZE as u64)
}

/// Signal numbers (exit signal, parent-death signal): 0 (none) or 1..=NSIG.
fn signal_ok(sig: u32) -> bool {
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
    fn encoded_len(&self) -> usize {
        self.len().saturating_mul(T::LEN)
    }

    /// Reads `count` records (the caller has bounded `count`).
    fn read(r: &mut Reader<'a>, count: usize) -> Result<RecordList<'a, T>, ImageError> {
        let n = count.checked_mul(T::LEN).ok_or(ImageError::CountTooLarge)?;
        Ok(RecordList::Encoded(r.bytes(n)?))
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
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
    fn is_whole(&self) -> bool {
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
fn check_pending(list: &SigInfoList<'_>) -> Result<(), ImageError> {
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

    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
        w.u64(self.size)?;
        w.i64(self.mtime_sec)?;
        w.u32(self.mtime_nsec)?;
        w.u64(self.ino)?;
        w.path(self.path)
    }

    fn read_from(r: &mut Reader<'a>) -> Result<FileRef<'a>, ImageError> {
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

/// Credentials of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Creds {
    /// Real uid.
    pub uid: u32,
    /// Effective uid.
    pub euid: u32,
    /// Saved uid.
    pub suid: u32,
    /// File-system uid.
    pub fsuid: u32,
    /// Real gid.
    pub gid: u32,
    /// Effective gid.
    pub egid: u32,
    /// Saved gid.
    pub sgid: u32,
    /// File-system gid.
    pub fsgid: u32,
}

/// Capability sets (bit `n` is capability `n`). Not checked against one
/// another here: restart applies the kernel's own rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Caps {
    /// Inheritable set.
    pub inheritable: u64,
    /// Permitted set.
    pub permitted: u64,
    /// Effective set.
    pub effective: u64,
    /// Bounding set.
    pub bounding: u64,
    /// Ambient set.
    pub ambient: u64,
}

/// One resource limit (`RLIM_INFINITY` is `u64::MAX`); `cur <= max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rlimit {
    /// Soft limit.
    pub cur: u64,
    /// Hard limit.
    pub max: u64,
}

/// One interval timer, in nanoseconds (0 value = disarmed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Itimer {
    /// Reload interval.
    pub interval_ns: u64,
    /// Time left until it fires.
    pub value_ns: u64,
}

/// The three interval timers of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Itimers {
    /// `ITIMER_REAL`.
    pub real: Itimer,
    /// `ITIMER_VIRTUAL`.
    pub virt: Itimer,
    /// `ITIMER_PROF`.
    pub prof: Itimer,
}

/// Process section: identity, credentials, limits and file-system context
/// of the process (the thread group).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProcessBody<'a> {
    /// Original pid (the thread-group id as userspace sees it); equals
    /// [`ImageHeader::pid`]; not 0.
    pub pid: u32,
    /// Thread-group id in the kernel; not 0.
    pub tgid: u32,
    /// Cluster-wide pid.
    pub global_pid: u64,
    /// Node the process belongs to.
    pub home_node: u32,
    /// Number of Thread sections (1..=[`MAX_THREADS`]).
    pub nr_threads: u32,
    /// Task name, NUL-padded.
    pub comm: [u8; COMM_LEN],
    /// When the checkpoint was taken (`CLOCK_MONOTONIC`, ns), to rebase
    /// timers.
    pub checkpoint_ns: u64,
    /// Credentials; `creds.uid` equals [`ImageHeader::uid`].
    pub creds: Creds,
    /// Capability sets.
    pub caps: Caps,
    /// Resource limits, in `RLIMIT_*` order.
    pub rlimits: [Rlimit; RLIM_NLIMITS],
    /// Interval timers.
    pub itimers: Itimers,
    /// `securebits`.
    pub securebits: u32,
    /// `personality`.
    pub personality: u32,
    /// File-mode creation mask (at most 0o777).
    pub umask: u32,
    /// Signal sent to the parent on exit (0..=NSIG).
    pub exit_signal: u32,
    /// Signal received when the parent dies (0..=NSIG).
    pub pdeath_signal: u32,
    /// `no_new_privs`.
    pub no_new_privs: bool,
    /// Supplementary groups (at most [`MAX_GROUPS`]).
    pub groups: RecordList<'a, u32>,
    /// The executable.
    pub exe: FileRef<'a>,
    /// Current directory (absolute path).
    pub cwd: &'a [u8],
    /// Root directory (absolute path).
    pub root: &'a [u8],
}

impl<'a> ProcessBody<'a> {
    /// Encoded length of the fixed fields, up to and including the group
    /// count.
    pub const FIXED_LEN: usize =
        4 + 4 + 8 + 4 + 4 + COMM_LEN + 8 + 32 + 40 + RLIM_NLIMITS * 16 + 48 + 5 * 4 + 1 + 4;
    /// Largest encoded length.
    pub const MAX_LEN: usize =
        ProcessBody::FIXED_LEN + MAX_GROUPS * 4 + FileRef::MAX_LEN + 2 * (2 + MAX_PATH);

    /// Checks every field against its limits.
    pub fn validate(&self) -> Result<(), ImageError> {
        if self.pid == 0 || self.tgid == 0 || self.nr_threads == 0 {
            return Err(ImageError::InvalidValue);
        }
        if self.nr_threads > MAX_THREADS {
            return Err(ImageError::CountTooLarge);
        }
        if self.umask > 0o777 || !signal_ok(self.exit_signal) || !signal_ok(self.pdeath_signal) {
            return Err(ImageError::InvalidValue);
        }
        if self.rlimits.iter().any(|l| l.cur > l.max) {
            return Err(ImageError::InvalidValue);
        }
        if !self.groups.is_whole() {
            return Err(ImageError::InvalidValue);
        }
        if self.groups.len() > MAX_GROUPS {
            return Err(ImageError::CountTooLarge);
        }
        self.exe.validate()?;
        check_path(self.cwd)?;
        check_path(self.root)
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        ProcessBody::FIXED_LEN
            .saturating_add(self.groups.encoded_len())
            .saturating_add(self.exe.encoded_len())
            .saturating_add(path_len(self.cwd))
            .saturating_add(path_len(self.root))
    }

    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
        w.u32(self.pid)?;
        w.u32(self.tgid)?;
        w.u64(self.global_pid)?;
        w.u32(self.home_node)?;
        w.u32(self.nr_threads)?;
        w.bytes(&self.comm)?;
        w.u64(self.checkpoint_ns)?;
        let c = &self.creds;
        for v in [
            c.uid, c.euid, c.suid, c.fsuid, c.gid, c.egid, c.sgid, c.fsgid,
        ] {
            w.u32(v)?;
        }
        let c = &self.caps;
        for v in [
            c.inheritable,
            c.permitted,
            c.effective,
            c.bounding,
            c.ambient,
        ] {
            w.u64(v)?;
        }
        for l in &self.rlimits {
            w.u64(l.cur)?;
            w.u64(l.max)?;
        }
        let t = &self.itimers;
        for timer in [t.real, t.virt, t.prof] {
            w.u64(timer.interval_ns)?;
            w.u64(timer.value_ns)?;
        }
        w.u32(self.securebits)?;
        w.u32(self.personality)?;
        w.u32(self.umask)?;
        w.u32(self.exit_signal)?;
        w.u32(self.pdeath_signal)?;
        w.u8(u8::from(self.no_new_privs))?;
        w.count(self.groups.len())?;
        self.groups.write(w)?;
        self.exe.write_to(w)?;
        w.path(self.cwd)?;
        w.path(self.root)
    }

    fn read_from(r: &mut Reader<'a>) -> Result<ProcessBody<'a>, ImageError> {
        let pid = r.u32()?;
        let tgid = r.u32()?;
        let global_pid = r.u64()?;
        let home_node = r.u32()?;
        let nr_threads = r.u32()?;
        let comm = r.array()?;
        let checkpoint_ns = r.u64()?;
        let creds = Creds {
            uid: r.u32()?,
            euid: r.u32()?,
            suid: r.u32()?,
            fsuid: r.u32()?,
            gid: r.u32()?,
            egid: r.u32()?,
            sgid: r.u32()?,
            fsgid: r.u32()?,
        };
        let caps = Caps {
            inheritable: r.u64()?,
            permitted: r.u64()?,
            effective: r.u64()?,
            bounding: r.u64()?,
            ambient: r.u64()?,
        };
        let mut rlimits = [Rlimit::default(); RLIM_NLIMITS];
        for l in rlimits.iter_mut() {
            l.cur = r.u64()?;
            l.max = r.u64()?;
        }
        let mut timers = [Itimer::default(); 3];
        for t in timers.iter_mut() {
            t.interval_ns = r.u64()?;
            t.value_ns = r.u64()?;
        }
        let [real, virt, prof] = timers;
        let securebits = r.u32()?;
        let personality = r.u32()?;
        let umask = r.u32()?;
        let exit_signal = r.u32()?;
        let pdeath_signal = r.u32()?;
        let no_new_privs = r.bool()?;
        let ngroups = r.count(MAX_GROUPS)?;
        let groups = RecordList::read(r, ngroups)?;
        let exe = FileRef::read_from(r)?;
        let cwd = r.path()?;
        let root = r.path()?;
        Ok(ProcessBody {
            pid,
            tgid,
            global_pid,
            home_node,
            nr_threads,
            comm,
            checkpoint_ns,
            creds,
            caps,
            rlimits,
            itimers: Itimers { real, virt, prof },
            securebits,
            personality,
            umask,
            exit_signal,
            pdeath_signal,
            no_new_privs,
            groups,
            exe,
            cwd,
            root,
        })
    }
}

body_codec!(ProcessBody);

/// A thread's alternate signal stack (`sigaltstack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AltStack {
    /// `ss_sp`.
    pub sp: u64,
    /// `ss_size`.
    pub size: u64,
    /// `ss_flags` (only [`KNOWN_ALTSTACK_FLAGS`]).
    pub flags: u32,
}

/// A thread's registered restartable-sequences area (`rseq`); all zero if
/// none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rseq {
    /// User address of `struct rseq`.
    pub addr: u64,
    /// Registered length.
    pub len: u32,
    /// Signature.
    pub sig: u32,
}

/// Thread section: one thread's registers and per-thread state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThreadBody<'a> {
    /// Original thread id; not 0.
    pub tid: u32,
    /// Position in the image's thread list: 0 is the thread-group leader,
    /// then 1, 2, ... (below [`MAX_THREADS`]).
    pub index: u32,
    /// Thread name, NUL-padded.
    pub comm: [u8; COMM_LEN],
    /// General registers in `user_regs_struct` order; see `REG_*`. Checked
    /// by restart as `PTRACE_SETREGS` would check them, not here.
    pub regs: [u64; NR_REGS],
    /// Blocked signals: bit `n - 1` is signal `n`.
    pub sigmask: u64,
    /// `clear_child_tid` address.
    pub clear_child_tid: u64,
    /// `set_robust_list` head address (0 if none).
    pub robust_list_head: u64,
    /// `set_robust_list` length.
    pub robust_list_len: u64,
    /// Registered `rseq` area.
    pub rseq: Rseq,
    /// Alternate signal stack.
    pub altstack: AltStack,
    /// Signals pending for this thread only (at most
    /// [`MAX_PENDING_SIGNALS`]).
    pub pending: SigInfoList<'a>,
    /// FPU/vector state, in `NT_X86_XSTATE` regset layout (opaque here; at
    /// most [`MAX_XSTATE`] bytes).
    pub xstate: &'a [u8],
}

impl<'a> ThreadBody<'a> {
    /// Encoded length of the fixed fields, up to and including the pending
    /// count.
    pub const FIXED_LEN: usize = 4 + 4 + COMM_LEN + NR_REGS * 8 + 5 * 8 + 4 + 4 + 8 + 8 + 4 + 4;
    /// Largest encoded length.
    pub const MAX_LEN: usize =
        ThreadBody::FIXED_LEN + MAX_PENDING_SIGNALS * SIGINFO_LEN + 4 + MAX_XSTATE;

    /// Checks every field against its limits.
    pub fn validate(&self) -> Result<(), ImageError> {
        if self.tid == 0 || self.index >= MAX_THREADS {
            return Err(ImageError::InvalidValue);
        }
        if self.altstack.flags & !KNOWN_ALTSTACK_FLAGS != 0 {
            return Err(ImageError::InvalidFlags);
        }
        check_pending(&self.pending)?;
        if self.xstate.len() > MAX_XSTATE {
            return Err(ImageError::CountTooLarge);
        }
        Ok(())
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        ThreadBody::FIXED_LEN
            .saturating_add(self.pending.encoded_len())
            .saturating_add(4)
            .saturating_add(self.xstate.len())
    }

    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
        w.u32(self.tid)?;
        w.u32(self.index)?;
        w.bytes(&self.comm)?;
        for reg in &self.regs {
            w.u64(*reg)?;
        }
        w.u64(self.sigmask)?;
        w.u64(self.clear_child_tid)?;
        w.u64(self.robust_list_head)?;
        w.u64(self.robust_list_len)?;
        w.u64(self.rseq.addr)?;
        w.u32(self.rseq.len)?;
        w.u32(self.rseq.sig)?;
        w.u64(self.altstack.sp)?;
        w.u64(self.altstack.size)?;
        w.u32(self.altstack.flags)?;
        w.count(self.pending.len())?;
        self.pending.write(w)?;
        w.count(self.xstate.len())?;
        Ok(w.bytes(self.xstate)?)
    }

    fn read_from(r: &mut Reader<'a>) -> Result<ThreadBody<'a>, ImageError> {
        let tid = r.u32()?;
        let index = r.u32()?;
        let comm = r.array()?;
        let mut regs = [0u64; NR_REGS];
        for reg in regs.iter_mut() {
            *reg = r.u64()?;
        }
        let sigmask = r.u64()?;
        let clear_child_tid = r.u64()?;
        let robust_list_head = r.u64()?;
        let robust_list_len = r.u64()?;
        let rseq = Rseq {
            addr: r.u64()?,
            len: r.u32()?,
            sig: r.u32()?,
        };
        let altstack = AltStack {
            sp: r.u64()?,
            size: r.u64()?,
            flags: r.u32()?,
        };
        let npending = r.count(MAX_PENDING_SIGNALS)?;
        let pending = RecordList::read(r, npending)?;
        let xstate_len = r.count(MAX_XSTATE)?;
        let xstate = r.bytes(xstate_len)?;
        Ok(ThreadBody {
            tid,
            index,
            comm,
            regs,
            sigmask,
            clear_child_tid,
            robust_list_head,
            robust_list_len,
            rseq,
            altstack,
            pending,
            xstate,
        })
    }
}

body_codec!(ThreadBody);

/// Signals section: process-wide signal state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignalsBody<'a> {
    /// Exactly [`NSIG`] dispositions; entry `n - 1` is signal `n`.
    pub handlers: RecordList<'a, SigAction>,
    /// Signals pending for the whole process (at most
    /// [`MAX_PENDING_SIGNALS`]).
    pub pending: SigInfoList<'a>,
}

impl<'a> SignalsBody<'a> {
    /// Encoded length of the fixed fields (handlers and pending count).
    pub const FIXED_LEN: usize = NSIG * SigAction::LEN + 4;
    /// Largest encoded length.
    pub const MAX_LEN: usize = SignalsBody::FIXED_LEN + MAX_PENDING_SIGNALS * SIGINFO_LEN;

    /// The disposition of signal `signo` (1..=NSIG).
    pub fn handler(&self, signo: usize) -> Option<SigAction> {
        self.handlers.get(signo.checked_sub(1)?)
    }

    /// Checks the handler count and the pending queue.
    pub fn validate(&self) -> Result<(), ImageError> {
        if !self.handlers.is_whole() || self.handlers.len() != NSIG {
            return Err(ImageError::InvalidValue);
        }
        check_pending(&self.pending)
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        self.handlers
            .encoded_len()
            .saturating_add(4)
            .saturating_add(self.pending.encoded_len())
    }

    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
        self.handlers.write(w)?;
        w.count(self.pending.len())?;
        self.pending.write(w)
    }

    fn read_from(r: &mut Reader<'a>) -> Result<SignalsBody<'a>, ImageError> {
        let handlers = RecordList::read(r, NSIG)?;
        let npending = r.count(MAX_PENDING_SIGNALS)?;
        let pending = RecordList::read(r, npending)?;
        Ok(SignalsBody { handlers, pending })
    }
}

body_codec!(SignalsBody);

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

    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
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

    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
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

    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
        write_pages_prefix(w, self.start, self.npages())?;
        Ok(w.bytes(self.data)?)
    }

    /// Reads the prefix: (start, npages).
    fn read_prefix(r: &mut Reader<'_>) -> Result<(u64, u32), ImageError> {
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
/// ([`ImageReader::read_pages_prefix`]): its data follows the prefix.
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
fn pages_end(start: u64, npages: u32) -> Option<u64> {
    start.checked_add(u64::from(npages).checked_mul(PAGE_SIZE as u64)?)
}

/// A run of pages: 1..=MAX_PAGES_PER_SECTION pages, page-aligned, no wrap.
fn check_page_run(start: u64, npages: u32) -> Result<(), ImageError> {
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

fn write_pages_prefix(w: &mut Writer<'_>, start: u64, npages: u32) -> Result<(), ImageError> {
    w.u64(start)?;
    w.u32(npages)?;
    Ok(w.u32(0)?)
}

/// What a file descriptor refers to (the wire byte of a File section).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FileKind {
    /// A regular file.
    Regular = 1,
    /// A directory.
    Directory = 2,
    /// One of the [`ALLOWED_CHAR_DEVICES`].
    CharDev = 3,
    /// A terminal (restart attaches the restarting caller's terminal).
    Tty = 4,
    /// The read end of a pipe.
    PipeRead = 5,
    /// The write end of a pipe.
    PipeWrite = 6,
}

impl FileKind {
    /// The kind with wire value `v`, if this version knows it.
    pub fn from_u8(v: u8) -> Option<FileKind> {
        Some(match v {
            1 => FileKind::Regular,
            2 => FileKind::Directory,
            3 => FileKind::CharDev,
            4 => FileKind::Tty,
            5 => FileKind::PipeRead,
            6 => FileKind::PipeWrite,
            _ => return None,
        })
    }

    /// The wire value.
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// What a File section's descriptor refers to, with the data its kind
/// needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileTarget<'a> {
    /// A regular file.
    Regular(FileRef<'a>),
    /// A directory.
    Directory(FileRef<'a>),
    /// A character device, one of [`ALLOWED_CHAR_DEVICES`].
    CharDev {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
    /// A terminal: its settings, as raw kernel structures (opaque here).
    Tty {
        /// Raw x86_64 `struct termios2`.
        termios: [u8; TERMIOS2_LEN],
        /// Raw `struct winsize`.
        winsize: [u8; WINSIZE_LEN],
    },
    /// The read end of a pipe.
    PipeRead {
        /// Identifies the pipe within the image (its inode number at
        /// checkpoint time), to pair the ends; not 0.
        pipe_id: u64,
    },
    /// The write end of a pipe.
    PipeWrite {
        /// As for [`FileTarget::PipeRead`].
        pipe_id: u64,
    },
}

impl FileTarget<'_> {
    /// The wire kind.
    pub fn kind(&self) -> FileKind {
        match self {
            FileTarget::Regular(_) => FileKind::Regular,
            FileTarget::Directory(_) => FileKind::Directory,
            FileTarget::CharDev { .. } => FileKind::CharDev,
            FileTarget::Tty { .. } => FileKind::Tty,
            FileTarget::PipeRead { .. } => FileKind::PipeRead,
            FileTarget::PipeWrite { .. } => FileKind::PipeWrite,
        }
    }

    /// The file, for kinds that name one.
    pub fn file(&self) -> Option<&FileRef<'_>> {
        match self {
            FileTarget::Regular(f) | FileTarget::Directory(f) => Some(f),
            _ => None,
        }
    }
}

/// File section: one open file descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileBody<'a> {
    /// Descriptor number (below [`MAX_FDS`]).
    pub fd: u32,
    /// `f_flags` (`O_*`); the access mode is not 3, and is `O_RDONLY` for
    /// a pipe's read end, `O_WRONLY` for its write end.
    pub open_flags: u32,
    /// File position (at most `i64::MAX`).
    pub pos: u64,
    /// `FD_CLOEXEC`.
    pub cloexec: bool,
    /// What it refers to.
    pub target: FileTarget<'a>,
}

impl<'a> FileBody<'a> {
    /// Encoded length before the kind-specific part.
    pub const FIXED_LEN: usize = 4 + 4 + 8 + 1 + 1;
    /// Largest encoded length.
    pub const MAX_LEN: usize = FileBody::FIXED_LEN + FileRef::MAX_LEN;

    /// Checks every field.
    pub fn validate(&self) -> Result<(), ImageError> {
        if self.fd >= MAX_FDS || self.pos > i64::MAX as u64 {
            return Err(ImageError::InvalidValue);
        }
        let access = self.open_flags & O_ACCMODE;
        if access == O_ACCMODE {
            return Err(ImageError::InvalidFlags);
        }
        match &self.target {
            FileTarget::Regular(f) | FileTarget::Directory(f) => f.validate(),
            FileTarget::CharDev { major, minor } => {
                if ALLOWED_CHAR_DEVICES.contains(&(*major, *minor)) {
                    Ok(())
                } else {
                    Err(ImageError::InvalidValue)
                }
            }
            FileTarget::Tty { .. } => Ok(()),
            FileTarget::PipeRead { pipe_id } | FileTarget::PipeWrite { pipe_id } => {
                let wanted = if self.target.kind() == FileKind::PipeRead {
                    O_RDONLY
                } else {
                    O_WRONLY
                };
                if access != wanted {
                    Err(ImageError::InvalidFlags)
                } else if *pipe_id == 0 {
                    Err(ImageError::InvalidValue)
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        let extra = match &self.target {
            FileTarget::Regular(f) | FileTarget::Directory(f) => f.encoded_len(),
            FileTarget::CharDev { .. }
            | FileTarget::PipeRead { .. }
            | FileTarget::PipeWrite { .. } => 8,
            FileTarget::Tty { .. } => TERMIOS2_LEN + WINSIZE_LEN,
        };
        FileBody::FIXED_LEN.saturating_add(extra)
    }

    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
        w.u32(self.fd)?;
        w.u32(self.open_flags)?;
        w.u64(self.pos)?;
        w.u8(self.target.kind().as_u8())?;
        w.u8(u8::from(self.cloexec))?;
        match &self.target {
            FileTarget::Regular(f) | FileTarget::Directory(f) => f.write_to(w),
            FileTarget::CharDev { major, minor } => {
                w.u32(*major)?;
                Ok(w.u32(*minor)?)
            }
            FileTarget::Tty { termios, winsize } => {
                w.bytes(termios)?;
                Ok(w.bytes(winsize)?)
            }
            FileTarget::PipeRead { pipe_id } | FileTarget::PipeWrite { pipe_id } => {
                Ok(w.u64(*pipe_id)?)
            }
        }
    }

    fn read_from(r: &mut Reader<'a>) -> Result<FileBody<'a>, ImageError> {
        let fd = r.u32()?;
        let open_flags = r.u32()?;
        let pos = r.u64()?;
        let kind = FileKind::from_u8(r.u8()?).ok_or(ImageError::InvalidKind)?;
        let cloexec = r.bool()?;
        let target = match kind {
            FileKind::Regular => FileTarget::Regular(FileRef::read_from(r)?),
            FileKind::Directory => FileTarget::Directory(FileRef::read_from(r)?),
            FileKind::CharDev => FileTarget::CharDev {
                major: r.u32()?,
                minor: r.u32()?,
            },
            FileKind::Tty => FileTarget::Tty {
                termios: r.array()?,
                winsize: r.array()?,
            },
            FileKind::PipeRead => FileTarget::PipeRead { pipe_id: r.u64()? },
            FileKind::PipeWrite => FileTarget::PipeWrite { pipe_id: r.u64()? },
        };
        Ok(FileBody {
            fd,
            open_flags,
            pos,
            cloexec,
            target,
        })
    }
}

body_codec!(FileBody);

/// Parent section (incremental images only): the image this one is
/// applied on top of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParentBody<'a> {
    /// The parent's image id; equals [`ImageHeader::parent_id`].
    pub parent_id: u64,
    /// Where the parent image was written (absolute path).
    pub path: &'a [u8],
}

impl<'a> ParentBody<'a> {
    /// Largest encoded length.
    pub const MAX_LEN: usize = 8 + 2 + MAX_PATH;

    /// Checks the id and the path.
    pub fn validate(&self) -> Result<(), ImageError> {
        if self.parent_id == 0 {
            return Err(ImageError::BadImageId);
        }
        check_path(self.path)
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        8usize.saturating_add(path_len(self.path))
    }

    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
        w.u64(self.parent_id)?;
        w.path(self.path)
    }

    fn read_from(r: &mut Reader<'a>) -> Result<ParentBody<'a>, ImageError> {
        Ok(ParentBody {
            parent_id: r.u64()?,
            path: r.path()?,
        })
    }
}

body_codec!(ParentBody);

/// End section: closes the image with counts of what came before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EndBody {
    /// Number of sections before End (so End's own index).
    pub section_count: u32,
    /// Total pages in all Pages sections.
    pub total_pages: u64,
}

impl EndBody {
    /// Encoded length.
    pub const LEN: usize = 4 + 8;

    /// Nothing to check: any counts are well-formed (the validator compares
    /// them with the image).
    pub fn validate(&self) -> Result<(), ImageError> {
        Ok(())
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        EndBody::LEN
    }

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, ImageError> {
        let mut w = Writer::new(out);
        w.u32(self.section_count)?;
        w.u64(self.total_pages)?;
        Ok(w.pos())
    }

    /// Decodes a body of exactly [`EndBody::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<EndBody, ImageError> {
        let mut r = Reader::new(body);
        let end = EndBody {
            section_count: r.u32()?,
            total_pages: r.u64()?,
        };
        r.finish()?;
        Ok(end)
    }
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

// ---------------------------------------------------------------------------
// Sections

/// Section kinds. Values not listed are refused
/// ([`ImageError::UnknownSectionKind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum SectionKind {
    /// [`ProcessBody`].
    Process = 1,
    /// [`ThreadBody`].
    Thread = 2,
    /// [`SignalsBody`].
    Signals = 3,
    /// [`MmBody`].
    Mm = 4,
    /// [`VmaBody`].
    Vma = 5,
    /// [`PagesBody`].
    Pages = 6,
    /// [`FileBody`].
    File = 7,
    /// [`ParentBody`].
    Parent = 8,
    /// [`EndBody`].
    End = 15,
}

impl SectionKind {
    /// Every kind, in wire-value order.
    pub const ALL: [SectionKind; 9] = [
        SectionKind::Process,
        SectionKind::Thread,
        SectionKind::Signals,
        SectionKind::Mm,
        SectionKind::Vma,
        SectionKind::Pages,
        SectionKind::File,
        SectionKind::Parent,
        SectionKind::End,
    ];

    /// The kind with wire value `v`, if this version knows it.
    pub fn from_u32(v: u32) -> Option<SectionKind> {
        SectionKind::ALL.into_iter().find(|k| k.as_u32() == v)
    }

    /// The wire value.
    pub const fn as_u32(self) -> u32 {
        self as u32
    }

    /// Lower-case name, for logs.
    pub fn name(self) -> &'static str {
        match self {
            SectionKind::Process => "process",
            SectionKind::Thread => "thread",
            SectionKind::Signals => "signals",
            SectionKind::Mm => "mm",
            SectionKind::Vma => "vma",
            SectionKind::Pages => "pages",
            SectionKind::File => "file",
            SectionKind::Parent => "parent",
            SectionKind::End => "end",
        }
    }

    /// Largest body a section of this kind may have; what a reader may
    /// need to buffer for it.
    pub const fn max_body_len(self) -> u32 {
        (match self {
            SectionKind::Process => ProcessBody::MAX_LEN,
            SectionKind::Thread => ThreadBody::MAX_LEN,
            SectionKind::Signals => SignalsBody::MAX_LEN,
            SectionKind::Mm => MmBody::MAX_LEN,
            SectionKind::Vma => VmaBody::MAX_LEN,
            SectionKind::Pages => PagesBody::MAX_LEN,
            SectionKind::File => FileBody::MAX_LEN,
            SectionKind::Parent => ParentBody::MAX_LEN,
            SectionKind::End => EndBody::LEN,
        }) as u32
    }
}

impl fmt::Display for SectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// Every kind's maximum fits MAX_SECTION_BODY, which fits a u32.
const _: () = {
    assert!(PagesBody::MAX_LEN <= u32::MAX as usize);
    let mut i = 0;
    while i < SectionKind::ALL.len() {
        assert!(SectionKind::ALL[i].max_body_len() <= MAX_SECTION_BODY);
        i += 1;
    }
    assert!(ProcessBody::FIXED_LEN == 449);
    assert!(ThreadBody::FIXED_LEN == 312);
    assert!(MAX_SECTION_BODY == 16 + 256 * 4096);
};

/// A decoded section body: a borrowed view of the body bytes.
// The variants differ in size (Process and Thread carry fixed arrays); the
// enum is short-lived on the stack, so boxing (impossible here) is not
// wanted.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section<'a> {
    /// Process section.
    Process(ProcessBody<'a>),
    /// Thread section.
    Thread(ThreadBody<'a>),
    /// Signals section.
    Signals(SignalsBody<'a>),
    /// Mm section.
    Mm(MmBody<'a>),
    /// Vma section.
    Vma(VmaBody<'a>),
    /// Pages section.
    Pages(PagesBody<'a>),
    /// File section.
    File(FileBody<'a>),
    /// Parent section.
    Parent(ParentBody<'a>),
    /// End section.
    End(EndBody),
}

impl<'a> Section<'a> {
    /// The section's kind.
    pub fn kind(&self) -> SectionKind {
        match self {
            Section::Process(_) => SectionKind::Process,
            Section::Thread(_) => SectionKind::Thread,
            Section::Signals(_) => SectionKind::Signals,
            Section::Mm(_) => SectionKind::Mm,
            Section::Vma(_) => SectionKind::Vma,
            Section::Pages(_) => SectionKind::Pages,
            Section::File(_) => SectionKind::File,
            Section::Parent(_) => SectionKind::Parent,
            Section::End(_) => SectionKind::End,
        }
    }

    /// Decodes `body` as a body of `kind`.
    pub fn decode(kind: SectionKind, body: &'a [u8]) -> Result<Section<'a>, ImageError> {
        Ok(match kind {
            SectionKind::Process => Section::Process(ProcessBody::decode(body)?),
            SectionKind::Thread => Section::Thread(ThreadBody::decode(body)?),
            SectionKind::Signals => Section::Signals(SignalsBody::decode(body)?),
            SectionKind::Mm => Section::Mm(MmBody::decode(body)?),
            SectionKind::Vma => Section::Vma(VmaBody::decode(body)?),
            SectionKind::Pages => Section::Pages(PagesBody::decode(body)?),
            SectionKind::File => Section::File(FileBody::decode(body)?),
            SectionKind::Parent => Section::Parent(ParentBody::decode(body)?),
            SectionKind::End => Section::End(EndBody::decode(body)?),
        })
    }

    /// Checks the body.
    pub fn validate(&self) -> Result<(), ImageError> {
        match self {
            Section::Process(b) => b.validate(),
            Section::Thread(b) => b.validate(),
            Section::Signals(b) => b.validate(),
            Section::Mm(b) => b.validate(),
            Section::Vma(b) => b.validate(),
            Section::Pages(b) => b.validate(),
            Section::File(b) => b.validate(),
            Section::Parent(b) => b.validate(),
            Section::End(b) => b.validate(),
        }
    }

    /// Encoded length of the body.
    pub fn encoded_len(&self) -> usize {
        match self {
            Section::Process(b) => b.encoded_len(),
            Section::Thread(b) => b.encoded_len(),
            Section::Signals(b) => b.encoded_len(),
            Section::Mm(b) => b.encoded_len(),
            Section::Vma(b) => b.encoded_len(),
            Section::Pages(b) => b.encoded_len(),
            Section::File(b) => b.encoded_len(),
            Section::Parent(b) => b.encoded_len(),
            Section::End(b) => b.encoded_len(),
        }
    }

    /// Encodes the body (not the section header) into `out`; returns the
    /// bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, ImageError> {
        match self {
            Section::Process(b) => b.encode(out),
            Section::Thread(b) => b.encode(out),
            Section::Signals(b) => b.encode(out),
            Section::Mm(b) => b.encode(out),
            Section::Vma(b) => b.encode(out),
            Section::Pages(b) => b.encode(out),
            Section::File(b) => b.encode(out),
            Section::Parent(b) => b.encode(out),
            Section::End(b) => b.encode(out),
        }
    }

    /// What the [`ImageValidator`] needs to know of this section.
    pub fn summary(&self) -> SectionSummary {
        match self {
            Section::Process(b) => SectionSummary::Process {
                pid: b.pid,
                uid: b.creds.uid,
                nr_threads: b.nr_threads,
            },
            Section::Thread(b) => SectionSummary::Thread { index: b.index },
            Section::Signals(_) => SectionSummary::Signals,
            Section::Mm(b) => SectionSummary::Mm { nr_vmas: b.nr_vmas },
            Section::Vma(b) => SectionSummary::Vma {
                start: b.start,
                end: b.end,
            },
            Section::Pages(b) => SectionSummary::Pages {
                start: b.start,
                npages: b.npages(),
            },
            Section::File(b) => SectionSummary::File { fd: b.fd },
            Section::Parent(b) => SectionSummary::Parent {
                parent_id: b.parent_id,
            },
            Section::End(b) => SectionSummary::End {
                section_count: b.section_count,
                total_pages: b.total_pages,
            },
        }
    }
}

/// The few facts of a section that the order rules depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionSummary {
    /// A Process section.
    Process {
        /// [`ProcessBody::pid`].
        pid: u32,
        /// `ProcessBody::creds.uid`.
        uid: u32,
        /// [`ProcessBody::nr_threads`].
        nr_threads: u32,
    },
    /// A Thread section.
    Thread {
        /// [`ThreadBody::index`].
        index: u32,
    },
    /// A Signals section.
    Signals,
    /// An Mm section.
    Mm {
        /// [`MmBody::nr_vmas`].
        nr_vmas: u32,
    },
    /// A Vma section.
    Vma {
        /// [`VmaBody::start`].
        start: u64,
        /// [`VmaBody::end`].
        end: u64,
    },
    /// A Pages section.
    Pages {
        /// [`PagesBody::start`].
        start: u64,
        /// [`PagesBody::npages`].
        npages: u32,
    },
    /// A File section.
    File {
        /// [`FileBody::fd`].
        fd: u32,
    },
    /// A Parent section.
    Parent {
        /// [`ParentBody::parent_id`].
        parent_id: u64,
    },
    /// An End section.
    End {
        /// [`EndBody::section_count`].
        section_count: u32,
        /// [`EndBody::total_pages`].
        total_pages: u64,
    },
}

impl SectionSummary {
    /// The section's kind.
    pub fn kind(&self) -> SectionKind {
        match self {
            SectionSummary::Process { .. } => SectionKind::Process,
            SectionSummary::Thread { .. } => SectionKind::Thread,
            SectionSummary::Signals => SectionKind::Signals,
            SectionSummary::Mm { .. } => SectionKind::Mm,
            SectionSummary::Vma { .. } => SectionKind::Vma,
            SectionSummary::Pages { .. } => SectionKind::Pages,
            SectionSummary::File { .. } => SectionKind::File,
            SectionSummary::Parent { .. } => SectionKind::Parent,
            SectionSummary::End { .. } => SectionKind::End,
        }
    }
}

/// Length of the part of a section header that its CRC covers (kind,
/// body_len, index).
pub const SECTION_CRC_PREFIX_LEN: usize = 12;

/// A decoded section header.
///
/// ```text
/// off len field
/// 0   4   kind (SectionKind)
/// 4   4   body_len (<= kind.max_body_len())
/// 8   4   index (0, 1, 2, ... in image order)
/// 12  4   crc = CRC-32C(bytes 0..12 of this header || body)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionHeader {
    /// Kind of the body.
    pub kind: SectionKind,
    /// Length of the body that follows.
    pub body_len: u32,
    /// Position of the section in the image, from 0.
    pub index: u32,
    /// CRC-32C of the header's first [`SECTION_CRC_PREFIX_LEN`] bytes
    /// followed by the body.
    pub crc: u32,
}

impl SectionHeader {
    /// The header of section `index` whose body is `body`: checks the
    /// length against the kind and computes the CRC.
    pub fn for_body(
        kind: SectionKind,
        index: u32,
        body: &[u8],
    ) -> Result<SectionHeader, ImageError> {
        let body_len = u32::try_from(body.len()).map_err(|_| ImageError::SectionTooLarge)?;
        let mut h = SectionHeader::without_crc(kind, index, body_len)?;
        h.crc = h.compute_crc(body);
        Ok(h)
    }

    /// A header with `crc` 0, for a writer that computes the CRC itself
    /// (start from [`SectionHeader::crc_start`]).
    pub fn without_crc(
        kind: SectionKind,
        index: u32,
        body_len: u32,
    ) -> Result<SectionHeader, ImageError> {
        if body_len > kind.max_body_len() {
            return Err(ImageError::SectionTooLarge);
        }
        Ok(SectionHeader {
            kind,
            body_len,
            index,
            crc: 0,
        })
    }

    /// The header bytes the CRC covers, in front of the body.
    pub fn crc_prefix(&self) -> [u8; SECTION_CRC_PREFIX_LEN] {
        let mut out = [0u8; SECTION_CRC_PREFIX_LEN];
        let mut w = Writer::new(&mut out);
        // Cannot fail: three u32s fill exactly SECTION_CRC_PREFIX_LEN.
        let _ = w
            .u32(self.kind.as_u32())
            .and_then(|()| w.u32(self.body_len))
            .and_then(|()| w.u32(self.index));
        out
    }

    /// A CRC computation fed with [`SectionHeader::crc_prefix`]: feed it
    /// the body and `finish()`, or hand its [`Crc32c::state`] to a
    /// hardware routine.
    pub fn crc_start(&self) -> Crc32c {
        let mut c = Crc32c::new();
        c.update(&self.crc_prefix());
        c
    }

    /// The CRC this header should carry for `body` (software CRC).
    pub fn compute_crc(&self, body: &[u8]) -> u32 {
        let mut c = self.crc_start();
        c.update(body);
        c.finish()
    }

    /// Checks `body` against the header, with `computed_crc` the CRC-32C
    /// of `crc_prefix() || body` that the caller computed (perhaps with a
    /// hardware-accelerated routine).
    pub fn check_body(&self, body: &[u8], computed_crc: u32) -> Result<(), ImageError> {
        if body.len() != self.body_len as usize {
            return Err(ImageError::BodyLengthMismatch);
        }
        if computed_crc != self.crc {
            return Err(ImageError::SectionChecksumMismatch);
        }
        Ok(())
    }

    /// [`SectionHeader::check_body`] with the CRC computed here.
    pub fn verify_body(&self, body: &[u8]) -> Result<(), ImageError> {
        self.check_body(body, self.compute_crc(body))
    }

    /// The encoded header.
    pub fn encode(&self) -> [u8; SECTION_HEADER_LEN] {
        let mut out = [0u8; SECTION_HEADER_LEN];
        let prefix = self.crc_prefix();
        let mut w = Writer::new(&mut out);
        // Cannot fail: prefix and crc fill exactly SECTION_HEADER_LEN.
        let _ = w.bytes(&prefix).and_then(|()| w.u32(self.crc));
        out
    }

    /// Decodes the first [`SECTION_HEADER_LEN`] bytes of `bytes` (more may
    /// follow, they are not looked at). Refuses unknown kinds and bodies
    /// longer than the kind allows, so `body_len` is bounded before the
    /// body is read; does not check the index (see [`ImageValidator`]).
    pub fn decode(bytes: &[u8]) -> Result<SectionHeader, ImageError> {
        let mut r = Reader::new(
            bytes
                .get(..SECTION_HEADER_LEN)
                .ok_or(ImageError::Truncated)?,
        );
        let raw_kind = r.u32()?;
        let kind = SectionKind::from_u32(raw_kind)
            .ok_or(ImageError::UnknownSectionKind { found: raw_kind })?;
        let body_len = r.u32()?;
        let index = r.u32()?;
        let crc = r.u32()?;
        let mut h = SectionHeader::without_crc(kind, index, body_len)?;
        h.crc = crc;
        Ok(h)
    }
}

/// Encodes section `index` (header and body) into `out`; returns the bytes
/// written. Checks the body but not the order of sections: see
/// [`ImageWriter`] for that.
pub fn encode_section(
    index: u32,
    section: &Section<'_>,
    out: &mut [u8],
) -> Result<usize, ImageError> {
    let (head, rest) = out
        .split_at_mut_checked(SECTION_HEADER_LEN)
        .ok_or(ImageError::BufferTooSmall)?;
    let body_len = section.encode(rest)?;
    let body = rest.get(..body_len).ok_or(ImageError::BufferTooSmall)?;
    let header = SectionHeader::for_body(section.kind(), index, body)?;
    Writer::new(head).bytes(&header.encode())?;
    SECTION_HEADER_LEN
        .checked_add(body_len)
        .ok_or(ImageError::BufferTooSmall)
}

// ---------------------------------------------------------------------------
// Image header

/// Offset of the CRC in the image header.
pub const IMAGE_HEADER_CRC_OFFSET: usize = 60;

/// The decoded image header. Magic, version and header length are implied.
///
/// ```text
/// off len field
/// 0   8   magic = "SSICKPT\0"
/// 8   2   version = 1
/// 10  2   flags (bit 0 INCREMENTAL; others 0)
/// 12  2   header_len = 64
/// 14  2   reserved, 0
/// 16  8   image_id (not 0)
/// 24  8   parent_id (not 0 iff INCREMENTAL)
/// 32  8   created_ns (wall clock)
/// 40  4   source_node
/// 44  4   pid
/// 48  4   uid
/// 52  4   arch = 1 (x86_64)
/// 56  4   reserved, 0
/// 60  4   header_crc = CRC-32C(these 64 bytes with this field zeroed)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    /// [`FLAG_INCREMENTAL`] or 0.
    pub flags: u16,
    /// Random id the writer chose; not 0.
    pub image_id: u64,
    /// Id of the image this one is incremental to; 0 unless incremental.
    pub parent_id: u64,
    /// When the image was written (`CLOCK_REALTIME`, ns).
    pub created_ns: u64,
    /// Node that wrote the image.
    pub source_node: u32,
    /// Original pid of the process; not 0.
    pub pid: u32,
    /// Real uid of the process's owner, so that permission can be checked
    /// before anything else is read.
    pub uid: u32,
    /// [`ARCH_X86_64`].
    pub arch: u32,
}

impl ImageHeader {
    /// Whether the image is incremental ([`FLAG_INCREMENTAL`]).
    pub fn is_incremental(&self) -> bool {
        self.flags & FLAG_INCREMENTAL != 0
    }

    /// Whether its Pages sections carry no CRC ([`FLAG_PAGES_UNCHECKED`]).
    pub fn pages_unchecked(&self) -> bool {
        self.flags & FLAG_PAGES_UNCHECKED != 0
    }

    /// Checks the fields: known flags, arch, ids, pid.
    pub fn validate(&self) -> Result<(), ImageError> {
        if self.flags & !KNOWN_IMAGE_FLAGS != 0 {
            return Err(ImageError::UnknownFlags);
        }
        if self.arch != ARCH_X86_64 {
            return Err(ImageError::WrongArch);
        }
        if self.image_id == 0
            || (self.parent_id != 0) != self.is_incremental()
            || self.parent_id == self.image_id
        {
            return Err(ImageError::BadImageId);
        }
        if self.pid == 0 {
            return Err(ImageError::InvalidValue);
        }
        Ok(())
    }

    fn write_to(&self, w: &mut Writer<'_>, crc: u32) -> Result<(), ImageError> {
        w.bytes(&IMAGE_MAGIC)?;
        w.u16(IMAGE_VERSION)?;
        w.u16(self.flags)?;
        w.u16(IMAGE_HEADER_LEN as u16)?;
        w.u16(0)?;
        w.u64(self.image_id)?;
        w.u64(self.parent_id)?;
        w.u64(self.created_ns)?;
        w.u32(self.source_node)?;
        w.u32(self.pid)?;
        w.u32(self.uid)?;
        w.u32(self.arch)?;
        w.u32(0)?;
        Ok(w.u32(crc)?)
    }

    /// Checks the header, then encodes it with its CRC.
    pub fn encode(&self) -> Result<[u8; IMAGE_HEADER_LEN], ImageError> {
        self.validate()?;
        let mut out = [0u8; IMAGE_HEADER_LEN];
        self.write_to(&mut Writer::new(&mut out), 0)?;
        let crc = crc32c(&out);
        let mut w = Writer::new(&mut out);
        self.write_to(&mut w, crc)?;
        Ok(out)
    }

    /// Decodes the first [`IMAGE_HEADER_LEN`] bytes of `bytes` (more may
    /// follow, they are not looked at). Checks, in this order: magic,
    /// version, header length, CRC, reserved fields, then
    /// [`ImageHeader::validate`].
    pub fn decode(bytes: &[u8]) -> Result<ImageHeader, ImageError> {
        let raw = bytes.get(..IMAGE_HEADER_LEN).ok_or(ImageError::Truncated)?;
        let mut r = Reader::new(raw);
        if r.array::<8>()? != IMAGE_MAGIC {
            return Err(ImageError::BadMagic);
        }
        // The version comes before anything whose layout a later version
        // may change, the CRC included.
        let version = r.u16()?;
        if version != IMAGE_VERSION {
            return Err(ImageError::UnsupportedVersion { found: version });
        }
        let flags = r.u16()?;
        if usize::from(r.u16()?) != IMAGE_HEADER_LEN {
            return Err(ImageError::BadHeaderLength);
        }
        let reserved1 = r.u16()?;
        let image_id = r.u64()?;
        let parent_id = r.u64()?;
        let created_ns = r.u64()?;
        let source_node = r.u32()?;
        let pid = r.u32()?;
        let uid = r.u32()?;
        let arch = r.u32()?;
        let reserved2 = r.u32()?;
        let stored_crc = r.u32()?;
        r.finish()?;
        let mut c = Crc32c::new();
        c.update(
            raw.get(..IMAGE_HEADER_CRC_OFFSET)
                .ok_or(ImageError::Truncated)?,
        );
        c.update(&[0; 4]);
        if c.finish() != stored_crc {
            return Err(ImageError::BadHeaderChecksum);
        }
        if reserved1 != 0 || reserved2 != 0 {
            return Err(ImageError::ReservedNotZero);
        }
        let h = ImageHeader {
            flags,
            image_id,
            parent_id,
            created_ns,
            source_node,
            pid,
            uid,
            arch,
        };
        h.validate()?;
        Ok(h)
    }
}

// ---------------------------------------------------------------------------
// Order validation

/// Where an [`ImageValidator`] is in the section order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Nothing seen: expects Process.
    Start,
    /// After Process: expects Parent (incremental) or Signals.
    Process,
    /// After Parent: expects Signals.
    Parent,
    /// After Signals: expects Mm.
    Signals,
    /// After Mm: Vmas, then Threads.
    Vmas,
    /// After the first Thread.
    Threads,
    /// After the first File.
    Files,
    /// After the first Pages.
    Pages,
    /// After End: nothing more.
    Ended,
}

/// What a complete image held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImageSummary {
    /// [`ImageHeader::image_id`].
    pub image_id: u64,
    /// [`ImageHeader::parent_id`] (0 unless incremental).
    pub parent_id: u64,
    /// Sections before End.
    pub sections: u32,
    /// Thread sections.
    pub threads: u32,
    /// Vma sections.
    pub vmas: u32,
    /// File sections.
    pub files: u32,
    /// Pages sections.
    pub page_runs: u32,
    /// Pages in all Pages sections.
    pub total_pages: u64,
}

/// Checks the order and consistency of an image's sections, with counters
/// only (no allocation): feed it each section's index and summary with
/// [`ImageValidator::accept`], then call [`ImageValidator::finish`].
///
/// Rules: Process first (its pid and uid equal the header's); Parent next
/// iff the image is incremental (its id equals the header's `parent_id`);
/// Signals; Mm; exactly `nr_vmas` Vmas, in increasing address order, not
/// overlapping; exactly `nr_threads` Threads with indices 0, 1, 2, ...;
/// any Files with strictly increasing descriptors; any Pages runs in
/// increasing address order, not overlapping; End, whose counts must match,
/// last. Indices count 0, 1, 2, ... across all sections.
///
/// That each page run lies inside a VMA is not checked here (the validator
/// does not keep the VMAs): the restarting kernel checks it against the
/// VMAs it has rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageValidator {
    incremental: bool,
    image_id: u64,
    parent_id: u64,
    pid: u32,
    uid: u32,
    stage: Stage,
    next_index: u32,
    threads_expected: u32,
    threads_seen: u32,
    vmas_expected: u32,
    vmas_seen: u32,
    /// End of the last VMA seen.
    vma_end: Option<u64>,
    /// Last descriptor seen.
    last_fd: Option<u32>,
    files_seen: u32,
    /// End of the last page run seen.
    pages_end: Option<u64>,
    page_runs: u32,
    total_pages: u64,
}

impl ImageValidator {
    /// A validator for the sections of the image with header `header`.
    pub fn new(header: &ImageHeader) -> ImageValidator {
        ImageValidator {
            incremental: header.is_incremental(),
            image_id: header.image_id,
            parent_id: header.parent_id,
            pid: header.pid,
            uid: header.uid,
            stage: Stage::Start,
            next_index: 0,
            threads_expected: 0,
            threads_seen: 0,
            vmas_expected: 0,
            vmas_seen: 0,
            vma_end: None,
            last_fd: None,
            files_seen: 0,
            pages_end: None,
            page_runs: 0,
            total_pages: 0,
        }
    }

    /// The index the next section must have (also the number of sections
    /// accepted so far).
    pub fn next_index(&self) -> u32 {
        self.next_index
    }

    /// Pages accepted so far.
    pub fn total_pages(&self) -> u64 {
        self.total_pages
    }

    /// Whether End has been accepted (nothing may follow).
    pub fn is_complete(&self) -> bool {
        self.stage == Stage::Ended
    }

    /// Whether a section of `kind` may come next.
    fn kind_allowed(&self, kind: SectionKind) -> Result<(), ImageError> {
        use SectionKind as K;
        let threads_done = self.threads_seen >= self.threads_expected;
        let ok = match self.stage {
            Stage::Ended => return Err(ImageError::DataAfterEnd),
            Stage::Start => kind == K::Process,
            Stage::Process => {
                kind == if self.incremental {
                    K::Parent
                } else {
                    K::Signals
                }
            }
            Stage::Parent => kind == K::Signals,
            Stage::Signals => kind == K::Mm,
            Stage::Vmas if self.vmas_seen < self.vmas_expected => kind == K::Vma,
            Stage::Vmas => kind == K::Thread,
            Stage::Threads if !threads_done => kind == K::Thread,
            Stage::Threads | Stage::Files => matches!(kind, K::File | K::Pages | K::End),
            Stage::Pages => matches!(kind, K::Pages | K::End),
        };
        if ok {
            Ok(())
        } else {
            Err(ImageError::SectionOutOfOrder)
        }
    }

    /// Whether a section with this index and kind may come next: what can
    /// be checked from its header alone, before its body is read.
    pub fn check_next(&self, index: u32, kind: SectionKind) -> Result<(), ImageError> {
        if self.stage == Stage::Ended {
            return Err(ImageError::DataAfterEnd);
        }
        if index != self.next_index {
            return Err(ImageError::SectionIndexMismatch {
                expected: self.next_index,
                found: index,
            });
        }
        self.kind_allowed(kind)
    }

    /// Accepts section `index` with summary `s`, or says why it may not
    /// come here. On error the validator is unchanged.
    pub fn accept(&mut self, index: u32, s: &SectionSummary) -> Result<(), ImageError> {
        self.check_next(index, s.kind())?;
        let mut next = *self;
        next.apply(s)?;
        next.next_index = self
            .next_index
            .checked_add(1)
            .ok_or(ImageError::CountTooLarge)?;
        *self = next;
        Ok(())
    }

    /// Applies a section already known to be allowed here.
    fn apply(&mut self, s: &SectionSummary) -> Result<(), ImageError> {
        match *s {
            SectionSummary::Process {
                pid,
                uid,
                nr_threads,
            } => {
                if pid != self.pid || uid != self.uid {
                    return Err(ImageError::HeaderMismatch);
                }
                if nr_threads == 0 || nr_threads > MAX_THREADS {
                    return Err(ImageError::InvalidValue);
                }
                self.threads_expected = nr_threads;
                self.stage = Stage::Process;
            }
            SectionSummary::Parent { parent_id } => {
                if parent_id != self.parent_id {
                    return Err(ImageError::HeaderMismatch);
                }
                self.stage = Stage::Parent;
            }
            SectionSummary::Signals => self.stage = Stage::Signals,
            SectionSummary::Mm { nr_vmas } => {
                if nr_vmas > MAX_VMAS {
                    return Err(ImageError::CountTooLarge);
                }
                self.vmas_expected = nr_vmas;
                self.stage = Stage::Vmas;
            }
            SectionSummary::Vma { start, end } => {
                if start >= end || !is_page_aligned(start) || !is_page_aligned(end) {
                    return Err(ImageError::InvalidRange);
                }
                if self.vma_end.is_some_and(|prev| start < prev) {
                    return Err(ImageError::VmaOverlap);
                }
                self.vma_end = Some(end);
                self.vmas_seen = self.vmas_seen.saturating_add(1);
            }
            SectionSummary::Thread { index } => {
                if index != self.threads_seen {
                    return Err(ImageError::ThreadOutOfOrder);
                }
                self.threads_seen = self.threads_seen.saturating_add(1);
                self.stage = Stage::Threads;
            }
            SectionSummary::File { fd } => {
                if fd >= MAX_FDS {
                    return Err(ImageError::InvalidValue);
                }
                if self.last_fd.is_some_and(|prev| fd <= prev) {
                    return Err(ImageError::FdNotIncreasing);
                }
                self.last_fd = Some(fd);
                self.files_seen = self.files_seen.saturating_add(1);
                self.stage = Stage::Files;
            }
            SectionSummary::Pages { start, npages } => {
                check_page_run(start, npages)?;
                let end = pages_end(start, npages).ok_or(ImageError::InvalidRange)?;
                if self.pages_end.is_some_and(|prev| start < prev) {
                    return Err(ImageError::PagesOverlap);
                }
                self.pages_end = Some(end);
                self.page_runs = self.page_runs.saturating_add(1);
                self.total_pages = self
                    .total_pages
                    .checked_add(u64::from(npages))
                    .ok_or(ImageError::CountTooLarge)?;
                self.stage = Stage::Pages;
            }
            SectionSummary::End {
                section_count,
                total_pages,
            } => {
                if section_count != self.next_index || total_pages != self.total_pages {
                    return Err(ImageError::EndMismatch);
                }
                self.stage = Stage::Ended;
            }
        }
        Ok(())
    }

    /// Checks that the image is complete (its End was accepted), and says
    /// what it held. [`ImageError::Truncated`] if End is missing.
    pub fn finish(&self) -> Result<ImageSummary, ImageError> {
        if self.stage != Stage::Ended {
            return Err(ImageError::Truncated);
        }
        Ok(ImageSummary {
            image_id: self.image_id,
            parent_id: self.parent_id,
            // End's own index is the number of sections before it.
            sections: self.next_index.saturating_sub(1),
            threads: self.threads_seen,
            vmas: self.vmas_seen,
            files: self.files_seen,
            page_runs: self.page_runs,
            total_pages: self.total_pages,
        })
    }
}

// ---------------------------------------------------------------------------
// Writing

/// Writes the sections of an image in order, numbering them, and refuses
/// (before writing anything) a section that an [`ImageValidator`] would
/// refuse: a writer cannot produce an image its reader rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageWriter {
    validator: ImageValidator,
}

impl ImageWriter {
    /// A writer for the image with header `header` (which the caller
    /// writes first, from [`ImageHeader::encode`]).
    pub fn new(header: &ImageHeader) -> Result<ImageWriter, ImageError> {
        header.validate()?;
        Ok(ImageWriter {
            validator: ImageValidator::new(header),
        })
    }

    /// Index the next section gets.
    pub fn next_index(&self) -> u32 {
        self.validator.next_index()
    }

    /// Whether End has been written.
    pub fn is_complete(&self) -> bool {
        self.validator.is_complete()
    }

    /// Writes the next section (header and body) into `out`; returns the
    /// bytes written. Nothing changes on error.
    pub fn write_section(
        &mut self,
        section: &Section<'_>,
        out: &mut [u8],
    ) -> Result<usize, ImageError> {
        let index = self.next_index();
        let mut v = self.validator;
        v.accept(index, &section.summary())?;
        let n = encode_section(index, section, out)?;
        self.validator = v;
        Ok(n)
    }

    /// The End body that closes what has been written so far.
    pub fn end_body(&self) -> EndBody {
        EndBody {
            section_count: self.next_index(),
            total_pages: self.validator.total_pages(),
        }
    }

    /// Writes the End section; returns the bytes written.
    pub fn write_end(&mut self, out: &mut [u8]) -> Result<usize, ImageError> {
        let end = Section::End(self.end_body());
        self.write_section(&end, out)
    }

    /// For a Pages section streamed without holding its body in one
    /// buffer: the CRC computation for the next section, a run of `npages`
    /// pages at `start`, already fed with everything but the page data.
    /// Feed it the pages, in order, then pass `finish()` to
    /// [`ImageWriter::write_pages_start`].
    pub fn pages_crc_start(&self, start: u64, npages: u32) -> Result<Crc32c, ImageError> {
        let (header, prefix) = self.pages_headers(start, npages, 0)?;
        let mut c = header.crc_start();
        c.update(&prefix);
        Ok(c)
    }

    /// Writes the section header and the Pages prefix of the next section,
    /// a run of `npages` pages at `start` whose CRC is `crc` (see
    /// [`ImageWriter::pages_crc_start`]); the caller then writes the pages
    /// themselves. Returns the bytes written
    /// (`SECTION_HEADER_LEN + PagesBody::PREFIX_LEN`).
    pub fn write_pages_start(
        &mut self,
        start: u64,
        npages: u32,
        crc: u32,
        out: &mut [u8],
    ) -> Result<usize, ImageError> {
        let index = self.next_index();
        let mut v = self.validator;
        v.accept(index, &SectionSummary::Pages { start, npages })?;
        let (header, prefix) = self.pages_headers(start, npages, crc)?;
        let mut w = Writer::new(out);
        w.bytes(&header.encode())?;
        w.bytes(&prefix)?;
        self.validator = v;
        Ok(w.pos())
    }

    fn pages_headers(
        &self,
        start: u64,
        npages: u32,
        crc: u32,
    ) -> Result<(SectionHeader, [u8; PagesBody::PREFIX_LEN]), ImageError> {
        let mut prefix = [0u8; PagesBody::PREFIX_LEN];
        PagesBody::encode_prefix(start, npages, &mut prefix)?;
        let body_len = (npages as usize)
            .checked_mul(PAGE_SIZE)
            .and_then(|n| n.checked_add(PagesBody::PREFIX_LEN))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(ImageError::SectionTooLarge)?;
        let mut header =
            SectionHeader::without_crc(SectionKind::Pages, self.next_index(), body_len)?;
        header.crc = crc;
        Ok((header, prefix))
    }
}

// ---------------------------------------------------------------------------
// Reading

/// Where in an image an error was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionPosition {
    /// Index of the section (the one expected, if its header was unusable).
    pub index: u32,
    /// Its kind, if its header was readable.
    pub kind: Option<SectionKind>,
}

/// An [`ImageError`] with the section it was found in (`None`: in the image
/// header, or after the image).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadError {
    /// What is wrong.
    pub error: ImageError,
    /// Where.
    pub section: Option<SectionPosition>,
}

impl ReadError {
    /// A short explanation, without the position.
    pub fn describe(&self) -> &'static str {
        self.error.describe()
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.section {
            None => write!(f, "{}", self.error),
            Some(SectionPosition { index, kind: None }) => {
                write!(f, "{} (section {index})", self.error)
            }
            Some(SectionPosition {
                index,
                kind: Some(kind),
            }) => write!(f, "{} (section {index}, {kind})", self.error),
        }
    }
}

impl From<ReadError> for ImageError {
    fn from(e: ReadError) -> ImageError {
        e.error
    }
}

/// Reads an image as a stream, the way the restarting kernel does: the
/// caller reads the bytes, this checks them, in the order
/// [`ImageReader::new`] (header), then per section
/// [`ImageReader::read_section_header`] and
/// [`ImageReader::read_section_body`], until
/// [`ImageReader::is_complete`], then [`ImageReader::finish`] (after
/// checking that nothing follows). After an error, abandon the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageReader {
    header: ImageHeader,
    validator: ImageValidator,
    /// The section header read, whose body is expected next.
    pending: Option<SectionHeader>,
}

impl ImageReader {
    /// Decodes and checks the image header (the first
    /// [`IMAGE_HEADER_LEN`] bytes of `header_bytes`).
    pub fn new(header_bytes: &[u8]) -> Result<ImageReader, ReadError> {
        let header = ImageHeader::decode(header_bytes).map_err(|error| ReadError {
            error,
            section: None,
        })?;
        Ok(ImageReader {
            header,
            validator: ImageValidator::new(&header),
            pending: None,
        })
    }

    /// The image header.
    pub fn header(&self) -> &ImageHeader {
        &self.header
    }

    /// Index of the next section.
    pub fn next_index(&self) -> u32 {
        self.validator.next_index()
    }

    /// Whether End has been read (nothing may follow).
    pub fn is_complete(&self) -> bool {
        self.validator.is_complete()
    }

    fn at(&self, kind: Option<SectionKind>, error: ImageError) -> ReadError {
        ReadError {
            error,
            section: Some(SectionPosition {
                index: self.next_index(),
                kind,
            }),
        }
    }

    /// Decodes the next section header (the first [`SECTION_HEADER_LEN`]
    /// bytes of `bytes`) and checks that a section of its kind and index
    /// may come next. The caller then reads `body_len` bytes of body.
    pub fn read_section_header(&mut self, bytes: &[u8]) -> Result<SectionHeader, ReadError> {
        if self.pending.is_some() {
            return Err(self.at(None, ImageError::ReaderMisuse));
        }
        if self.is_complete() {
            return Err(self.at(None, ImageError::DataAfterEnd));
        }
        let header = SectionHeader::decode(bytes).map_err(|e| self.at(None, e))?;
        self.validator
            .check_next(header.index, header.kind)
            .map_err(|e| self.at(Some(header.kind), e))?;
        self.pending = Some(header);
        Ok(header)
    }

    /// Checks and decodes the body of the section whose header was just
    /// read, computing its CRC in software.
    pub fn read_section_body<'a>(&mut self, body: &'a [u8]) -> Result<Section<'a>, ReadError> {
        let crc = match self.pending {
            Some(h) if self.crc_unchecked(&h) => h.crc,
            Some(h) => h.compute_crc(body),
            None => return Err(self.at(None, ImageError::ReaderMisuse)),
        };
        self.read_section_body_with_crc(body, crc)
    }

    /// Checks and decodes the body of the section whose header was just
    /// read; `computed_crc` is the CRC-32C of the header's
    /// [`SectionHeader::crc_prefix`] followed by `body`, computed by the
    /// caller (perhaps in hardware).
    pub fn read_section_body_with_crc<'a>(
        &mut self,
        body: &'a [u8],
        computed_crc: u32,
    ) -> Result<Section<'a>, ReadError> {
        let header = self
            .pending
            .take()
            .ok_or_else(|| self.at(None, ImageError::ReaderMisuse))?;
        let position = SectionPosition {
            index: header.index,
            kind: Some(header.kind),
        };
        let at = |error| ReadError {
            error,
            section: Some(position),
        };
        let crc = if self.crc_unchecked(&header) {
            header.crc
        } else {
            computed_crc
        };
        header.check_body(body, crc).map_err(at)?;
        let section = Section::decode(header.kind, body).map_err(at)?;
        self.validator
            .accept(header.index, &section.summary())
            .map_err(at)?;
        Ok(section)
    }

    /// Accepts the Pages section whose header was just read from its
    /// [`PagesBody::PREFIX_LEN`]-byte prefix alone, in an image whose
    /// pages carry no CRC ([`FLAG_PAGES_UNCHECKED`]): the caller then reads
    /// its [`PagesRun::data_len`] bytes of data (or skips them) itself,
    /// with nothing about them left to check. Everything a whole body
    /// would be checked for but the data is checked: the length, the
    /// prefix, the run's order among the others.
    ///
    /// Any other section, or an image whose pages carry CRCs, is
    /// [`ImageError::ReaderMisuse`] and leaves the section pending, so
    /// that [`ImageReader::read_section_body`] still reads it.
    pub fn read_pages_prefix(&mut self, prefix: &[u8]) -> Result<PagesRun, ReadError> {
        let header = match self.pending {
            Some(h) if self.crc_unchecked(&h) => h,
            _ => return Err(self.at(None, ImageError::ReaderMisuse)),
        };
        self.pending = None;
        let at = |error| ReadError {
            error,
            section: Some(SectionPosition {
                index: header.index,
                kind: Some(header.kind),
            }),
        };
        let mut r = Reader::new(
            prefix
                .get(..PagesBody::PREFIX_LEN)
                .ok_or(at(ImageError::Truncated))?,
        );
        let (start, npages) = PagesBody::read_prefix(&mut r).map_err(at)?;
        let run = PagesRun { start, npages };
        if header.body_len as usize != PagesBody::PREFIX_LEN + run.data_len() {
            return Err(at(ImageError::BodyLengthMismatch));
        }
        check_page_run(start, npages).map_err(at)?;
        self.validator
            .accept(header.index, &SectionSummary::Pages { start, npages })
            .map_err(at)?;
        Ok(run)
    }

    /// Whether the CRC of section `h` is not checked (a Pages section of
    /// an image with [`FLAG_PAGES_UNCHECKED`]).
    fn crc_unchecked(&self, h: &SectionHeader) -> bool {
        h.kind == SectionKind::Pages && self.header.pages_unchecked()
    }

    /// Checks that the image was complete; says what it held.
    pub fn finish(&self) -> Result<ImageSummary, ReadError> {
        if self.pending.is_some() {
            return Err(self.at(None, ImageError::Truncated));
        }
        self.validator.finish().map_err(|e| self.at(None, e))
    }
}

/// Reads a whole image held in memory with an [`ImageReader`], calling
/// `visit` with each section in order; refuses anything after End.
pub fn read_image<'a>(
    image: &'a [u8],
    mut visit: impl FnMut(&SectionHeader, &Section<'a>),
) -> Result<ImageSummary, ReadError> {
    let mut reader = ImageReader::new(image)?;
    let mut rest = image.get(IMAGE_HEADER_LEN..).unwrap_or(&[]);
    while !reader.is_complete() {
        let header = reader.read_section_header(rest)?;
        let body_end = SECTION_HEADER_LEN.saturating_add(header.body_len as usize);
        let Some(body) = rest.get(SECTION_HEADER_LEN..body_end) else {
            return Err(reader.at(Some(header.kind), ImageError::Truncated));
        };
        let section = reader.read_section_body(body)?;
        visit(&header, &section);
        rest = rest.get(body_end..).unwrap_or(&[]);
    }
    if !rest.is_empty() {
        return Err(ReadError {
            error: ImageError::DataAfterEnd,
            section: None,
        });
    }
    reader.finish()
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::image_split::{ImageSplitter, Piece};
    use super::*;
    use proptest::prelude::*;
    use std::ops::Range;
    use std::vec;
    use std::vec::Vec;

    // -----------------------------------------------------------------------
    // Generating valid values

    /// Deterministic generator (splitmix64) driven by a proptest seed; its
    /// values lean towards edges (0, MAX, small) to hit boundaries.
    struct Gen {
        state: u64,
        /// Keep lists and paths tiny.
        small: bool,
    }

    impl Gen {
        fn new(seed: u64, small: bool) -> Gen {
            Gen { state: seed, small }
        }

        fn next(&mut self) -> u64 {
            self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn u64(&mut self) -> u64 {
            match self.below(8) {
                0 => 0,
                1 => u64::MAX,
                2 => self.below(256),
                _ => self.next(),
            }
        }

        fn u32(&mut self) -> u32 {
            self.u64() as u32
        }

        fn nonzero_u32(&mut self) -> u32 {
            self.u32().max(1)
        }

        fn bool(&mut self) -> bool {
            self.next() & 1 == 1
        }

        fn array<const N: usize>(&mut self) -> [u8; N] {
            let mut a = [0u8; N];
            for b in a.iter_mut() {
                *b = self.next() as u8;
            }
            a
        }

        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }

        /// A list length in 0..=max: often small, sometimes the maximum.
        fn count(&mut self, max: usize) -> usize {
            if self.small {
                return self.below(max.min(1) as u64 + 1) as usize;
            }
            match self.below(8) {
                0 => 0,
                1 => max,
                _ => self.below(max.min(4) as u64 + 1) as usize,
            }
        }

        /// A valid path: '/' then non-NUL bytes, sometimes MAX_PATH long.
        fn path(&mut self) -> Vec<u8> {
            let len = if self.small {
                1 + self.below(8) as usize
            } else {
                match self.below(16) {
                    0 => MAX_PATH,
                    1 => 1,
                    _ => 1 + self.below(40) as usize,
                }
            };
            let mut p = vec![b'/'];
            p.extend((1..len).map(|_| 1 + self.below(255) as u8));
            p
        }

        fn siginfos(&mut self) -> Vec<SigInfo> {
            let n = self.count(MAX_PENDING_SIGNALS);
            (0..n)
                .map(|_| {
                    let mut raw = self.array::<SIGINFO_LEN>();
                    let signo = 1 + self.below(NSIG as u64) as i32;
                    raw[..4].copy_from_slice(&signo.to_le_bytes());
                    SigInfo(raw)
                })
                .collect()
        }

        fn file_ref(&mut self) -> FileRef<'static> {
            FileRef {
                path: &[],
                size: self.u64(),
                mtime_sec: self.u64() as i64,
                mtime_nsec: self.below(1_000_000_000) as u32,
                ino: self.u64(),
            }
        }

        /// A page-aligned address below 2^47.
        fn page_addr(&mut self) -> u64 {
            self.below(1 << 35) * PAGE_SIZE as u64
        }
    }

    /// Storage that a model's borrowed fields point into.
    #[derive(Default)]
    struct Store {
        u32s: Vec<u32>,
        u64s: Vec<u64>,
        infos: Vec<SigInfo>,
        actions: Vec<SigAction>,
        a: Vec<u8>,
        b: Vec<u8>,
        c: Vec<u8>,
    }

    /// An owned section: a template whose borrowed fields are filled from
    /// `store` by `view`.
    struct Model {
        template: Section<'static>,
        store: Store,
    }

    impl Model {
        fn view(&self) -> Section<'_> {
            let s = &self.store;
            match self.template {
                Section::Process(p) => Section::Process(ProcessBody {
                    groups: RecordList::Items(&s.u32s),
                    exe: FileRef {
                        path: &s.a,
                        ..p.exe
                    },
                    cwd: &s.b,
                    root: &s.c,
                    ..p
                }),
                Section::Thread(t) => Section::Thread(ThreadBody {
                    pending: RecordList::Items(&s.infos),
                    xstate: &s.a,
                    ..t
                }),
                Section::Signals(_) => Section::Signals(SignalsBody {
                    handlers: RecordList::Items(&s.actions),
                    pending: RecordList::Items(&s.infos),
                }),
                Section::Mm(m) => Section::Mm(MmBody {
                    auxv: RecordList::Items(&s.u64s),
                    ..m
                }),
                Section::Vma(v) => Section::Vma(VmaBody {
                    file: v.file.map(|f| FileRef { path: &s.a, ..f }),
                    ..v
                }),
                Section::Pages(p) => Section::Pages(PagesBody { data: &s.a, ..p }),
                Section::File(f) => Section::File(FileBody {
                    target: match f.target {
                        FileTarget::Regular(r) => FileTarget::Regular(FileRef { path: &s.a, ..r }),
                        FileTarget::Directory(r) => {
                            FileTarget::Directory(FileRef { path: &s.a, ..r })
                        }
                        other => other,
                    },
                    ..f
                }),
                Section::Parent(p) => Section::Parent(ParentBody { path: &s.a, ..p }),
                Section::End(e) => Section::End(e),
            }
        }
    }

    fn gen_process(g: &mut Gen, pid: u32, uid: u32, nr_threads: u32) -> Model {
        let mut rlimits = [Rlimit::default(); RLIM_NLIMITS];
        for l in rlimits.iter_mut() {
            let (x, y) = (g.u64(), g.u64());
            *l = Rlimit {
                cur: x.min(y),
                max: x.max(y),
            };
        }
        let mut timer = || Itimer {
            interval_ns: g.u64(),
            value_ns: g.u64(),
        };
        let itimers = Itimers {
            real: timer(),
            virt: timer(),
            prof: timer(),
        };
        let template = Section::Process(ProcessBody {
            pid,
            tgid: g.nonzero_u32(),
            global_pid: g.u64(),
            home_node: g.u32(),
            nr_threads,
            comm: g.array(),
            checkpoint_ns: g.u64(),
            creds: Creds {
                uid,
                euid: g.u32(),
                suid: g.u32(),
                fsuid: g.u32(),
                gid: g.u32(),
                egid: g.u32(),
                sgid: g.u32(),
                fsgid: g.u32(),
            },
            caps: Caps {
                inheritable: g.u64(),
                permitted: g.u64(),
                effective: g.u64(),
                bounding: g.u64(),
                ambient: g.u64(),
            },
            rlimits,
            itimers,
            securebits: g.u32(),
            personality: g.u32(),
            umask: g.below(0o1000) as u32,
            exit_signal: g.below(NSIG as u64 + 1) as u32,
            pdeath_signal: g.below(NSIG as u64 + 1) as u32,
            no_new_privs: g.bool(),
            groups: RecordList::default(),
            exe: g.file_ref(),
            cwd: &[],
            root: &[],
        });
        let n = g.count(MAX_GROUPS);
        let store = Store {
            u32s: (0..n).map(|_| g.u32()).collect(),
            a: g.path(),
            b: g.path(),
            c: g.path(),
            ..Store::default()
        };
        Model { template, store }
    }

    fn gen_thread(g: &mut Gen, index: u32) -> Model {
        let mut regs = [0u64; NR_REGS];
        for r in regs.iter_mut() {
            *r = g.u64();
        }
        let template = Section::Thread(ThreadBody {
            tid: g.nonzero_u32(),
            index,
            comm: g.array(),
            regs,
            sigmask: g.u64(),
            clear_child_tid: g.u64(),
            robust_list_head: g.u64(),
            robust_list_len: g.u64(),
            rseq: Rseq {
                addr: g.u64(),
                len: g.u32(),
                sig: g.u32(),
            },
            altstack: AltStack {
                sp: g.u64(),
                size: g.u64(),
                flags: g.u32() & KNOWN_ALTSTACK_FLAGS,
            },
            pending: RecordList::default(),
            xstate: &[],
        });
        let infos = g.siginfos();
        let xlen = g.count(MAX_XSTATE);
        let store = Store {
            infos,
            a: g.bytes(xlen),
            ..Store::default()
        };
        Model { template, store }
    }

    fn gen_signals(g: &mut Gen) -> Model {
        let actions = (0..NSIG)
            .map(|_| SigAction {
                handler: g.u64(),
                flags: g.u64(),
                restorer: g.u64(),
                mask: g.u64(),
            })
            .collect();
        let infos = g.siginfos();
        Model {
            template: Section::Signals(SignalsBody::default()),
            store: Store {
                actions,
                infos,
                ..Store::default()
            },
        }
    }

    fn gen_mm(g: &mut Gen, nr_vmas: u32) -> Model {
        let mut range = || {
            let (x, y) = (g.u64(), g.u64());
            (x.min(y), x.max(y))
        };
        let (start_code, end_code) = range();
        let (start_data, end_data) = range();
        let (start_brk, brk) = range();
        let (arg_start, arg_end) = range();
        let (env_start, env_end) = range();
        let template = Section::Mm(MmBody {
            start_code,
            end_code,
            start_data,
            end_data,
            start_brk,
            brk,
            start_stack: g.u64(),
            arg_start,
            arg_end,
            env_start,
            env_end,
            nr_vmas,
            auxv: RecordList::default(),
        });
        let pairs = g.count(MAX_AUXV_WORDS / 2);
        let store = Store {
            u64s: (0..pairs * 2).map(|_| g.u64()).collect(),
            ..Store::default()
        };
        Model { template, store }
    }

    const VMA_KINDS: [VmaKind; 9] = [
        VmaKind::Anon,
        VmaKind::AnonShared,
        VmaKind::FilePrivate,
        VmaKind::FileShared,
        VmaKind::Heap,
        VmaKind::Stack,
        VmaKind::Vdso,
        VmaKind::Vvar,
        VmaKind::Vsyscall,
    ];

    fn gen_vma(g: &mut Gen, start: u64, end: u64) -> Model {
        let kind = VMA_KINDS[g.below(9) as usize];
        let sharing = if kind.is_shared() {
            MAP_SHARED
        } else {
            MAP_PRIVATE
        };
        let template = Section::Vma(VmaBody {
            start,
            end,
            pgoff: g.below(1 << 40),
            vm_flags: g.u64(),
            prot: g.u32() & KNOWN_PROT,
            map_flags: sharing | (g.u32() & (MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE)),
            kind,
            file: kind.has_file().then(|| g.file_ref()),
        });
        let store = Store {
            a: g.path(),
            ..Store::default()
        };
        Model { template, store }
    }

    fn gen_pages(g: &mut Gen, start: u64, npages: u32) -> Model {
        Model {
            template: Section::Pages(PagesBody { start, data: &[] }),
            store: Store {
                a: g.bytes(npages as usize * PAGE_SIZE),
                ..Store::default()
            },
        }
    }

    fn gen_file(g: &mut Gen, fd: u32) -> Model {
        let kind = FileKind::from_u8(1 + g.below(6) as u8).unwrap();
        let other_flags = g.u32() & !O_ACCMODE;
        let (access, target) = match kind {
            FileKind::Regular => (g.below(3) as u32, FileTarget::Regular(g.file_ref())),
            FileKind::Directory => (O_RDONLY, FileTarget::Directory(g.file_ref())),
            FileKind::CharDev => {
                let (major, minor) = ALLOWED_CHAR_DEVICES[g.below(5) as usize];
                (g.below(3) as u32, FileTarget::CharDev { major, minor })
            }
            FileKind::Tty => (
                g.below(3) as u32,
                FileTarget::Tty {
                    termios: g.array(),
                    winsize: g.array(),
                },
            ),
            FileKind::PipeRead => (
                O_RDONLY,
                FileTarget::PipeRead {
                    pipe_id: g.nonzero_u32().into(),
                },
            ),
            FileKind::PipeWrite => (
                O_WRONLY,
                FileTarget::PipeWrite {
                    pipe_id: g.u64().max(1),
                },
            ),
        };
        let template = Section::File(FileBody {
            fd,
            open_flags: access | other_flags,
            pos: g.u64() >> 1,
            cloexec: g.bool(),
            target,
        });
        let store = Store {
            a: g.path(),
            ..Store::default()
        };
        Model { template, store }
    }

    fn gen_parent(g: &mut Gen, parent_id: u64) -> Model {
        Model {
            template: Section::Parent(ParentBody {
                parent_id,
                path: &[],
            }),
            store: Store {
                a: g.path(),
                ..Store::default()
            },
        }
    }

    /// Any valid body, of any kind.
    fn gen_any(g: &mut Gen) -> Model {
        match g.below(9) {
            0 => {
                let (pid, uid) = (g.nonzero_u32(), g.u32());
                let n = 1 + g.below(u64::from(MAX_THREADS)) as u32;
                gen_process(g, pid, uid, n)
            }
            1 => {
                let index = g.below(u64::from(MAX_THREADS)) as u32;
                gen_thread(g, index)
            }
            2 => gen_signals(g),
            3 => {
                let n = g.below(u64::from(MAX_VMAS) + 1) as u32;
                gen_mm(g, n)
            }
            4 => {
                let start = g.page_addr();
                let end = start + (1 + g.below(1 << 20)) * PAGE_SIZE as u64;
                gen_vma(g, start, end)
            }
            5 => {
                let n = if g.below(8) == 0 {
                    MAX_PAGES_PER_SECTION
                } else {
                    1 + g.below(3) as u32
                };
                let start = g.page_addr();
                gen_pages(g, start, n)
            }
            6 => {
                let fd = g.below(u64::from(MAX_FDS)) as u32;
                gen_file(g, fd)
            }
            7 => {
                let id = g.u64().max(1);
                gen_parent(g, id)
            }
            _ => Model {
                template: Section::End(EndBody {
                    section_count: g.u32(),
                    total_pages: g.u64(),
                }),
                store: Store::default(),
            },
        }
    }

    struct ImageModel {
        header: ImageHeader,
        /// Every section but End.
        sections: Vec<Model>,
    }

    /// A valid image. `small`: every kind of section once, tiny bodies.
    fn gen_image(g: &mut Gen, small: bool) -> ImageModel {
        let incremental = small || g.bool();
        let image_id = g.next().max(2);
        let header = ImageHeader {
            flags: if incremental { FLAG_INCREMENTAL } else { 0 },
            image_id,
            parent_id: if incremental { image_id - 1 } else { 0 },
            created_ns: g.u64(),
            source_node: g.u32(),
            pid: g.nonzero_u32(),
            uid: g.u32(),
            arch: ARCH_X86_64,
        };
        let pick = |g: &mut Gen, max: u64| if small { 1 } else { g.below(max + 1) };
        let nr_threads = if small { 1 } else { 1 + g.below(3) as u32 };
        let nr_vmas = pick(g, 3) as u32;
        let mut sections = vec![gen_process(g, header.pid, header.uid, nr_threads)];
        if incremental {
            sections.push(gen_parent(g, header.parent_id));
        }
        sections.push(gen_signals(g));
        sections.push(gen_mm(g, nr_vmas));
        let mut addr = g.page_addr();
        for _ in 0..nr_vmas {
            let start = addr + g.below(3) * PAGE_SIZE as u64;
            let end = start + (1 + g.below(4)) * PAGE_SIZE as u64;
            sections.push(gen_vma(g, start, end));
            addr = end;
        }
        for index in 0..nr_threads {
            sections.push(gen_thread(g, index));
        }
        let mut fd = g.below(4) as u32;
        for _ in 0..pick(g, 3) {
            sections.push(gen_file(g, fd));
            fd += 1 + g.below(5) as u32;
        }
        let mut addr = g.page_addr();
        for _ in 0..pick(g, 3) {
            let start = addr + g.below(3) * PAGE_SIZE as u64;
            let npages = 1 + g.below(if small { 1 } else { 3 }) as u32;
            sections.push(gen_pages(g, start, npages));
            addr = start + u64::from(npages) * PAGE_SIZE as u64;
        }
        ImageModel { header, sections }
    }

    fn encode_image(m: &ImageModel) -> Vec<u8> {
        let mut out = m.header.encode().unwrap().to_vec();
        let mut w = ImageWriter::new(&m.header).unwrap();
        let mut buf = vec![0u8; SECTION_HEADER_LEN + MAX_SECTION_BODY as usize];
        for s in &m.sections {
            let n = w.write_section(&s.view(), &mut buf).unwrap();
            out.extend_from_slice(&buf[..n]);
        }
        let n = w.write_end(&mut buf).unwrap();
        out.extend_from_slice(&buf[..n]);
        out
    }

    fn image_from_seed(seed: u64) -> (ImageModel, Vec<u8>) {
        let m = gen_image(&mut Gen::new(seed, false), false);
        let bytes = encode_image(&m);
        (m, bytes)
    }

    // -----------------------------------------------------------------------
    // Parsing, as the kernel does it

    /// Parses a whole image with the streaming pieces, the way the
    /// restarting kernel does: header; then per section: header, bounded
    /// body buffer, CRC, decode, validator. The fuzz target mirrors this.
    fn parse_image_streaming(image: &[u8]) -> Result<ImageSummary, ImageError> {
        let header = ImageHeader::decode(image)?;
        let mut validator = ImageValidator::new(&header);
        let mut rest = &image[IMAGE_HEADER_LEN..];
        // The kernel reads each body into a buffer of at most
        // MAX_SECTION_BODY bytes; here, one grown as needed.
        let mut body_buf = Vec::new();
        while !validator.is_complete() {
            let sh = SectionHeader::decode(rest)?;
            validator.check_next(sh.index, sh.kind)?;
            let len = sh.body_len as usize;
            let src = rest
                .get(SECTION_HEADER_LEN..SECTION_HEADER_LEN + len)
                .ok_or(ImageError::Truncated)?;
            body_buf.clear();
            body_buf.extend_from_slice(src);
            let body = &body_buf[..];
            let mut crc = sh.crc_start();
            crc.update(body);
            sh.check_body(body, crc.finish())?;
            let section = Section::decode(sh.kind, body)?;
            validator.accept(sh.index, &section.summary())?;
            rest = &rest[SECTION_HEADER_LEN + len..];
        }
        if !rest.is_empty() {
            return Err(ImageError::DataAfterEnd);
        }
        validator.finish()
    }

    /// Parses with both the streaming pieces and [`read_image`]; they must
    /// agree.
    fn parse_image(image: &[u8]) -> Result<ImageSummary, ImageError> {
        let streaming = parse_image_streaming(image);
        let reader = read_image(image, |_, _| {}).map_err(|e| e.error);
        assert_eq!(
            streaming, reader,
            "read_image disagrees with the streaming parse"
        );
        streaming
    }

    /// Byte ranges of the sections of a well-formed image.
    fn section_ranges(image: &[u8]) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut off = IMAGE_HEADER_LEN;
        while off < image.len() {
            let len = u32::from_le_bytes(image[off + 4..off + 8].try_into().unwrap()) as usize;
            let end = off + SECTION_HEADER_LEN + len;
            out.push(off..end);
            off = end;
        }
        out
    }

    /// An image made of the header and `sections` (raw section bytes),
    /// renumbered 0, 1, 2, ... with fresh CRCs, as a buggy writer would
    /// produce it.
    fn renumbered(image: &[u8], sections: &[&[u8]]) -> Vec<u8> {
        let mut out = image[..IMAGE_HEADER_LEN].to_vec();
        for (i, raw) in sections.iter().enumerate() {
            let kind =
                SectionKind::from_u32(u32::from_le_bytes(raw[..4].try_into().unwrap())).unwrap();
            let body = &raw[SECTION_HEADER_LEN..];
            let h = SectionHeader::for_body(kind, i as u32, body).unwrap();
            out.extend_from_slice(&h.encode());
            out.extend_from_slice(body);
        }
        out
    }

    // -----------------------------------------------------------------------
    // CRC-32C

    /// Bit-at-a-time CRC-32C, the reference for the table version.
    fn crc32c_bitwise(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ CRC32C_POLY
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn crc32c_check_values() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        // RFC 3720 (iSCSI) B.4 test vectors.
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
        let inc: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c(&inc), 0x46DD_794E);
        let dec: Vec<u8> = (0u8..32).rev().collect();
        assert_eq!(crc32c(&dec), 0x113F_DB5C);
    }

    #[test]
    fn crc32c_state_hands_over() {
        let data = b"hello, checkpoint image";
        let mut a = Crc32c::new();
        a.update(&data[..7]);
        let mut b = Crc32c::from_state(a.state());
        b.update(&data[7..]);
        assert_eq!(b.finish(), crc32c(data));
        assert_eq!(Crc32c::from_state(!0), Crc32c::new());
        assert_eq!(Crc32c::default().finish(), 0);
    }

    proptest! {
        #[test]
        fn crc32c_matches_bitwise_reference(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert_eq!(crc32c(&data), crc32c_bitwise(&data));
        }

        #[test]
        fn crc32c_incremental_equals_one_shot(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
            points.sort_unstable();
            let mut c = Crc32c::new();
            let mut from = 0;
            for p in points {
                c.update(&data[from..p]);
                from = p;
            }
            c.update(&data[from..]);
            prop_assert_eq!(c.finish(), crc32c(&data));
        }
    }

    // -----------------------------------------------------------------------
    // Image header

    fn sample_header() -> ImageHeader {
        ImageHeader {
            flags: FLAG_INCREMENTAL,
            image_id: 0x1112_1314_1516_1718,
            parent_id: 0x2122_2324_2526_2728,
            created_ns: 0x3132_3334_3536_3738,
            source_node: 0x4142_4344,
            pid: 0x5152_5354,
            uid: 0x6162_6364,
            arch: ARCH_X86_64,
        }
    }

    /// Rewrites the header CRC after a change, so later checks are reached.
    fn fix_header_crc(b: &mut [u8]) {
        b[60..64].fill(0);
        let crc = crc32c(&b[..64]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
    }

    #[test]
    fn image_header_layout_is_little_endian() {
        let b = sample_header().encode().unwrap();
        assert_eq!(&b[0..8], b"SSICKPT\0");
        assert_eq!(&b[8..10], &[1, 0]);
        assert_eq!(&b[10..12], &[1, 0]);
        assert_eq!(&b[12..14], &[64, 0]);
        assert_eq!(&b[14..16], &[0, 0]);
        assert_eq!(
            &b[16..24],
            &[0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11]
        );
        assert_eq!(
            &b[24..32],
            &[0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21]
        );
        assert_eq!(
            &b[32..40],
            &[0x38, 0x37, 0x36, 0x35, 0x34, 0x33, 0x32, 0x31]
        );
        assert_eq!(&b[40..44], &[0x44, 0x43, 0x42, 0x41]);
        assert_eq!(&b[44..48], &[0x54, 0x53, 0x52, 0x51]);
        assert_eq!(&b[48..52], &[0x64, 0x63, 0x62, 0x61]);
        assert_eq!(&b[52..56], &[1, 0, 0, 0]);
        assert_eq!(&b[56..60], &[0, 0, 0, 0]);
        let mut zeroed = b;
        zeroed[60..64].fill(0);
        assert_eq!(&b[60..64], &crc32c(&zeroed).to_le_bytes());
        assert_eq!(ImageHeader::decode(&b), Ok(sample_header()));
        // More bytes may follow; they are not looked at.
        let mut longer = b.to_vec();
        longer.extend_from_slice(&[0xAA; 10]);
        assert_eq!(ImageHeader::decode(&longer), Ok(sample_header()));
    }

    #[test]
    fn image_header_errors() {
        let good = sample_header().encode().unwrap();
        let with = |f: &dyn Fn(&mut [u8; 64]), fix: bool| {
            let mut b = good;
            f(&mut b);
            if fix {
                fix_header_crc(&mut b);
            }
            ImageHeader::decode(&b)
        };
        for n in 0..IMAGE_HEADER_LEN {
            assert_eq!(ImageHeader::decode(&good[..n]), Err(ImageError::Truncated));
        }
        assert_eq!(with(&|b| b[0] = b'X', true), Err(ImageError::BadMagic));
        assert_eq!(
            with(&|b| b[8] = 2, false),
            Err(ImageError::UnsupportedVersion { found: 2 })
        );
        assert_eq!(
            with(&|b| b[8] = 2, true),
            Err(ImageError::UnsupportedVersion { found: 2 })
        );
        assert_eq!(
            with(&|b| b[8..10].copy_from_slice(&0u16.to_le_bytes()), true),
            Err(ImageError::UnsupportedVersion { found: 0 })
        );
        assert_eq!(
            with(&|b| b[12] = 72, true),
            Err(ImageError::BadHeaderLength)
        );
        assert_eq!(
            with(&|b| b[20] ^= 1, false),
            Err(ImageError::BadHeaderChecksum)
        );
        assert_eq!(
            with(&|b| b[61] ^= 1, false),
            Err(ImageError::BadHeaderChecksum)
        );
        assert_eq!(with(&|b| b[14] = 1, true), Err(ImageError::ReservedNotZero));
        assert_eq!(with(&|b| b[59] = 1, true), Err(ImageError::ReservedNotZero));
        assert_eq!(with(&|b| b[10] |= 4, true), Err(ImageError::UnknownFlags));
        assert_eq!(with(&|b| b[52] = 2, true), Err(ImageError::WrongArch));
        // Not incremental but a parent id; incremental without one; id 0.
        assert_eq!(with(&|b| b[10] = 0, true), Err(ImageError::BadImageId));
        assert_eq!(
            with(&|b| b[24..32].fill(0), true),
            Err(ImageError::BadImageId)
        );
        assert_eq!(
            with(&|b| b[16..24].fill(0), true),
            Err(ImageError::BadImageId)
        );
        assert_eq!(
            with(&|b| b[44..48].fill(0), true),
            Err(ImageError::InvalidValue)
        );

        let mut h = sample_header();
        h.parent_id = h.image_id;
        assert_eq!(h.encode(), Err(ImageError::BadImageId));
        h = sample_header();
        h.arch = 0;
        assert_eq!(h.encode(), Err(ImageError::WrongArch));
    }

    proptest! {
        #[test]
        fn image_header_round_trip(seed in any::<u64>()) {
            let m = gen_image(&mut Gen::new(seed, true), true);
            let mut h = m.header;
            if seed & 1 == 0 {
                h.flags = 0;
                h.parent_id = 0;
            }
            let b = h.encode().unwrap();
            prop_assert_eq!(ImageHeader::decode(&b), Ok(h));
        }
    }

    // -----------------------------------------------------------------------
    // Section header

    #[test]
    fn section_header_layout_and_errors() {
        let body = b"0123456789ab";
        let h = SectionHeader::for_body(SectionKind::End, 0x0102_0304, body).unwrap();
        let b = h.encode();
        assert_eq!(&b[0..4], &[15, 0, 0, 0]);
        assert_eq!(&b[4..8], &[12, 0, 0, 0]);
        assert_eq!(&b[8..12], &[4, 3, 2, 1]);
        let mut covered = b[..12].to_vec();
        covered.extend_from_slice(body);
        assert_eq!(&b[12..16], &crc32c(&covered).to_le_bytes());
        assert_eq!(h.crc_prefix(), b[..12]);
        assert_eq!(SectionHeader::decode(&b), Ok(h));
        assert_eq!(h.verify_body(body), Ok(()));
        assert_eq!(h.check_body(body, h.crc), Ok(()));
        assert_eq!(
            h.check_body(body, h.crc ^ 1),
            Err(ImageError::SectionChecksumMismatch)
        );
        assert_eq!(
            h.verify_body(&body[..11]),
            Err(ImageError::BodyLengthMismatch)
        );
        assert_eq!(
            h.verify_body(b"0123456789aX"),
            Err(ImageError::SectionChecksumMismatch)
        );
        for n in 0..SECTION_HEADER_LEN {
            assert_eq!(SectionHeader::decode(&b[..n]), Err(ImageError::Truncated));
        }
        let mut bad = b;
        bad[0] = 9;
        assert_eq!(
            SectionHeader::decode(&bad),
            Err(ImageError::UnknownSectionKind { found: 9 })
        );
        bad[0..4].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(
            SectionHeader::decode(&bad),
            Err(ImageError::UnknownSectionKind { found: 0 })
        );
        // Too long for End, though short for Pages.
        bad = b;
        bad[4] = 13;
        assert_eq!(
            SectionHeader::decode(&bad),
            Err(ImageError::SectionTooLarge)
        );
        bad[0] = SectionKind::Pages.as_u32() as u8;
        assert!(SectionHeader::decode(&bad).is_ok());
        bad[4..8].copy_from_slice(&(MAX_SECTION_BODY + 1).to_le_bytes());
        assert_eq!(
            SectionHeader::decode(&bad),
            Err(ImageError::SectionTooLarge)
        );
        bad[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            SectionHeader::decode(&bad),
            Err(ImageError::SectionTooLarge)
        );
    }

    #[test]
    fn section_kinds_round_trip() {
        for k in SectionKind::ALL {
            assert_eq!(SectionKind::from_u32(k.as_u32()), Some(k));
            assert!(k.max_body_len() <= MAX_SECTION_BODY);
            assert!(!k.name().is_empty());
        }
        for v in [0, 9, 10, 14, 16, u32::MAX] {
            assert_eq!(SectionKind::from_u32(v), None);
        }
        assert_eq!(MAX_SECTION_BODY, SectionKind::Pages.max_body_len());
    }

    // -----------------------------------------------------------------------
    // Bodies

    /// Encodes a body, checks the length and that decoding gives it back
    /// and re-encodes to the same bytes. Returns the bytes.
    fn round_trip(s: &Section<'_>) -> Vec<u8> {
        let mut buf = vec![0u8; s.encoded_len()];
        let n = s.encode(&mut buf).unwrap();
        assert_eq!(n, s.encoded_len());
        assert!(n <= s.kind().max_body_len() as usize);
        let d = Section::decode(s.kind(), &buf).unwrap();
        assert_eq!(&d, s);
        let mut again = vec![0u8; n];
        assert_eq!(d.encode(&mut again), Ok(n));
        assert_eq!(again, buf);
        // A buffer one byte short is refused.
        if n > 0 {
            assert_eq!(s.encode(&mut buf[..n - 1]), Err(ImageError::BufferTooSmall));
        }
        buf
    }

    proptest! {
        #[test]
        fn a_zero_page_is_one_without_a_nonzero_byte(len in 0usize..9000, at in any::<usize>(), byte in 1u8..) {
            let mut page = vec![0u8; len];
            prop_assert!(is_zero_page(&page));
            if len > 0 {
                page[at % len] = byte;
                prop_assert!(!is_zero_page(&page));
            }
        }
    }

    #[test]
    fn every_body_but_page_data_fits_the_description_limit() {
        use SectionKind::*;
        for kind in [Process, Thread, Signals, Mm, Vma, File, Parent, End] {
            assert!(kind.max_body_len() <= MAX_DESCRIPTION_BODY, "{kind}");
        }
        assert!(PagesBody::PREFIX_LEN as u32 <= MAX_DESCRIPTION_BODY);
        const { assert!(MAX_DESCRIPTION_BODY < MAX_SECTION_BODY) };
    }

    #[test]
    fn largest_bodies_reach_their_kind_limit() {
        let long = |c: u8| {
            let mut p = vec![c; MAX_PATH];
            p[0] = b'/';
            p
        };
        let (p1, p2, p3) = (long(b'a'), long(b'b'), long(b'c'));
        let groups = [7u32; MAX_GROUPS];
        let process = ProcessBody {
            pid: 1,
            tgid: 1,
            nr_threads: MAX_THREADS,
            groups: RecordList::Items(&groups),
            exe: FileRef {
                path: &p1,
                ..FileRef::default()
            },
            cwd: &p2,
            root: &p3,
            ..ProcessBody::default()
        };
        let infos = [SigInfo({
            let mut s = [0u8; SIGINFO_LEN];
            s[0] = 9;
            s
        }); MAX_PENDING_SIGNALS];
        let xstate = [0u8; MAX_XSTATE];
        let thread = ThreadBody {
            tid: 1,
            pending: RecordList::Items(&infos),
            xstate: &xstate,
            ..ThreadBody::default()
        };
        let actions = [SigAction::default(); NSIG];
        let signals = SignalsBody {
            handlers: RecordList::Items(&actions),
            pending: RecordList::Items(&infos),
        };
        let auxv = [0u64; MAX_AUXV_WORDS];
        let mm = MmBody {
            nr_vmas: MAX_VMAS,
            auxv: RecordList::Items(&auxv),
            ..MmBody::default()
        };
        let file_ref = FileRef {
            path: &p1,
            ..FileRef::default()
        };
        let vma = VmaBody {
            start: 0,
            end: PAGE_SIZE as u64,
            pgoff: 0,
            vm_flags: 0,
            prot: KNOWN_PROT,
            map_flags: MAP_SHARED,
            kind: VmaKind::FileShared,
            file: Some(file_ref),
        };
        let data = vec![0u8; MAX_PAGES_PER_SECTION as usize * PAGE_SIZE];
        let pages = PagesBody {
            start: 0,
            data: &data,
        };
        let file = FileBody {
            fd: MAX_FDS - 1,
            open_flags: 0,
            pos: 0,
            cloexec: true,
            target: FileTarget::Regular(file_ref),
        };
        let parent = ParentBody {
            parent_id: 1,
            path: &p1,
        };
        let all = [
            Section::Process(process),
            Section::Thread(thread),
            Section::Signals(signals),
            Section::Mm(mm),
            Section::Vma(vma),
            Section::Pages(pages),
            Section::File(file),
            Section::Parent(parent),
            Section::End(EndBody::default()),
        ];
        for s in &all {
            let bytes = round_trip(s);
            assert_eq!(
                bytes.len(),
                s.kind().max_body_len() as usize,
                "{:?}",
                s.kind()
            );
        }
    }

    proptest! {
        #[test]
        fn every_body_round_trips(seed in any::<u64>()) {
            let mut g = Gen::new(seed, false);
            let m = gen_any(&mut g);
            let s = m.view();
            let bytes = round_trip(&s);
            // Every truncation is refused (sampled for long bodies), and so
            // is one byte too many.
            let cuts = (0..bytes.len().min(400))
                .chain((0..32).map(|_| g.below(bytes.len() as u64) as usize));
            for n in cuts {
                prop_assert!(Section::decode(s.kind(), &bytes[..n]).is_err(), "cut at {}", n);
            }
            let mut longer = bytes.clone();
            longer.push(0);
            prop_assert!(Section::decode(s.kind(), &longer).is_err());
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
            for kind in SectionKind::ALL {
                if let Ok(s) = Section::decode(kind, &bytes) {
                    // What decodes is canonical: it re-encodes to the input.
                    let mut out = vec![0u8; bytes.len()];
                    prop_assert_eq!(s.encode(&mut out), Ok(bytes.len()));
                    prop_assert_eq!(&out, &bytes);
                }
            }
            let _ = SectionHeader::decode(&bytes);
            let _ = ImageHeader::decode(&bytes);
            let _ = parse_image(&bytes);
        }

        /// Bodies of each kind with a valid start and random rest.
        #[test]
        fn mutated_bodies_never_panic(seed in any::<u64>(), pos in any::<prop::sample::Index>(), val in any::<u8>()) {
            let m = gen_any(&mut Gen::new(seed, true));
            let s = m.view();
            let mut bytes = vec![0u8; s.encoded_len()];
            s.encode(&mut bytes).unwrap();
            let i = pos.index(bytes.len());
            bytes[i] = val;
            if let Ok(d) = Section::decode(s.kind(), &bytes) {
                let mut out = vec![0u8; bytes.len()];
                prop_assert_eq!(d.encode(&mut out), Ok(bytes.len()));
                prop_assert_eq!(out, bytes);
            }
        }
    }

    /// Decoding `bytes` as `kind` fails with `err`.
    fn refused(kind: SectionKind, bytes: &[u8], err: ImageError) {
        assert_eq!(Section::decode(kind, bytes), Err(err), "{kind:?}");
    }

    /// Encodes `s` without validating it (to build invalid bytes); `None`
    /// if even that is impossible (paths are always checked).
    fn try_raw_bytes(s: &Section<'_>) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; s.encoded_len()];
        if let Section::End(b) = s {
            b.encode(&mut buf).ok()?;
            return Some(buf);
        }
        let mut w = Writer::new(&mut buf);
        match s {
            Section::Process(b) => b.write_to(&mut w),
            Section::Thread(b) => b.write_to(&mut w),
            Section::Signals(b) => b.write_to(&mut w),
            Section::Mm(b) => b.write_to(&mut w),
            Section::Vma(b) => b.write_to(&mut w),
            Section::Pages(b) => b.write_to(&mut w),
            Section::File(b) => b.write_to(&mut w),
            Section::Parent(b) => b.write_to(&mut w),
            Section::End(_) => Ok(()),
        }
        .ok()?;
        Some(buf)
    }

    fn raw_bytes(s: &Section<'_>) -> Vec<u8> {
        try_raw_bytes(s).unwrap()
    }

    /// `s` (invalid) is refused by encode and, written anyway, by decode,
    /// with `err`.
    fn invalid(s: Section<'_>, err: ImageError) {
        let mut buf = vec![0u8; s.encoded_len() + 16];
        assert_eq!(s.encode(&mut buf), Err(err), "encode {s:?}");
        if let Some(raw) = try_raw_bytes(&s) {
            refused(s.kind(), &raw, err);
        }
    }

    #[test]
    fn invalid_bodies_are_refused() {
        let m = gen_process(&mut Gen::new(1, true), 5, 6, 2);
        let Section::Process(p) = m.view() else {
            unreachable!()
        };
        macro_rules! proc_with {
            (|$x:ident| $change:expr) => {{
                let mut $x = p;
                $change;
                Section::Process($x)
            }};
        }
        invalid(proc_with!(|q| q.pid = 0), ImageError::InvalidValue);
        invalid(proc_with!(|q| q.nr_threads = 0), ImageError::InvalidValue);
        invalid(
            proc_with!(|q| q.nr_threads = MAX_THREADS + 1),
            ImageError::CountTooLarge,
        );
        invalid(proc_with!(|q| q.umask = 0o1000), ImageError::InvalidValue);
        invalid(proc_with!(|q| q.exit_signal = 65), ImageError::InvalidValue);
        invalid(
            proc_with!(|q| q.pdeath_signal = 65),
            ImageError::InvalidValue,
        );
        invalid(
            proc_with!(|q| q.rlimits[3] = Rlimit { cur: 2, max: 1 }),
            ImageError::InvalidValue,
        );
        invalid(proc_with!(|q| q.cwd = b"relative"), ImageError::InvalidPath);
        invalid(proc_with!(|q| q.root = b"/a\0b"), ImageError::InvalidPath);
        invalid(proc_with!(|q| q.exe.path = b""), ImageError::InvalidPath);
        invalid(
            proc_with!(|q| q.exe.mtime_nsec = 1_000_000_000),
            ImageError::InvalidValue,
        );
        let many = [0u32; MAX_GROUPS + 1];
        invalid(
            proc_with!(|q| q.groups = RecordList::Items(&many)),
            ImageError::CountTooLarge,
        );
        // no_new_privs byte 2.
        let mut b = raw_bytes(&Section::Process(p));
        b[444] = 2;
        refused(SectionKind::Process, &b, ImageError::InvalidValue);
        // A path length over MAX_PATH is refused before it is read.
        let mut b = raw_bytes(&Section::Process(p));
        let cwd_len_at = b.len() - path_len(p.root) - path_len(p.cwd);
        b[cwd_len_at..cwd_len_at + 2].copy_from_slice(&(MAX_PATH as u16 + 1).to_le_bytes());
        refused(SectionKind::Process, &b, ImageError::InvalidPath);
        b[cwd_len_at..cwd_len_at + 2].copy_from_slice(&0u16.to_le_bytes());
        refused(SectionKind::Process, &b, ImageError::InvalidPath);
        // Relative paths and NULs are refused by decode too.
        let q = ProcessBody { cwd: b"/ab", ..p };
        let good = raw_bytes(&Section::Process(q));
        let cwd_at = good.len() - path_len(q.root) - 3;
        for (patch, at) in [(b'x', cwd_at), (0, cwd_at + 1)] {
            let mut b = good.clone();
            b[at] = patch;
            refused(SectionKind::Process, &b, ImageError::InvalidPath);
        }
        // A group count over the limit is refused before it is read.
        let mut b = raw_bytes(&Section::Process(p));
        b[445..449].copy_from_slice(&(MAX_GROUPS as u32 + 1).to_le_bytes());
        refused(SectionKind::Process, &b, ImageError::CountTooLarge);
        // A path longer than MAX_PATH cannot be encoded.
        let too_long = vec![b'/'; MAX_PATH + 1];
        invalid(
            proc_with!(|q| q.cwd = &too_long[..]),
            ImageError::InvalidPath,
        );

        let thread = ThreadBody {
            tid: 1,
            ..ThreadBody::default()
        };
        macro_rules! thread_with {
            (|$x:ident| $change:expr) => {{
                let mut $x = thread;
                $change;
                Section::Thread($x)
            }};
        }
        invalid(thread_with!(|t| t.tid = 0), ImageError::InvalidValue);
        invalid(
            thread_with!(|t| t.index = MAX_THREADS),
            ImageError::InvalidValue,
        );
        invalid(
            thread_with!(|t| t.altstack.flags = 4),
            ImageError::InvalidFlags,
        );
        let big_xstate = vec![0u8; MAX_XSTATE + 1];
        invalid(
            thread_with!(|t| t.xstate = &big_xstate[..]),
            ImageError::CountTooLarge,
        );
        for bad_signo in [0i32, -1, NSIG as i32 + 1] {
            let mut info = SigInfo::default();
            info.0[..4].copy_from_slice(&bad_signo.to_le_bytes());
            let infos = [info];
            invalid(
                thread_with!(|t| t.pending = RecordList::Items(&infos)),
                ImageError::InvalidValue,
            );
        }
        let infos = [SigInfo({
            let mut s = [0u8; SIGINFO_LEN];
            s[0] = 1;
            s
        }); MAX_PENDING_SIGNALS + 1];
        invalid(
            thread_with!(|t| t.pending = RecordList::Items(&infos)),
            ImageError::CountTooLarge,
        );
        let odd = [0u8; SIGINFO_LEN + 1];
        assert_eq!(
            thread_with!(|t| t.pending = RecordList::Encoded(&odd)).encode(&mut [0u8; 1024]),
            Err(ImageError::InvalidValue)
        );

        let actions = [SigAction::default(); NSIG];
        let short = Section::Signals(SignalsBody {
            handlers: RecordList::Items(&actions[..NSIG - 1]),
            pending: RecordList::default(),
        });
        assert_eq!(
            short.encode(&mut [0u8; 4096]),
            Err(ImageError::InvalidValue)
        );
        // Decoded, 63 handlers leave the body short.
        refused(
            SectionKind::Signals,
            &raw_bytes(&short),
            ImageError::Truncated,
        );

        let mm = MmBody::default();
        macro_rules! mm_with {
            (|$x:ident| $change:expr) => {{
                let mut $x = mm;
                $change;
                Section::Mm($x)
            }};
        }
        invalid(mm_with!(|x| x.start_code = 1), ImageError::InvalidRange);
        invalid(mm_with!(|x| x.start_brk = 1), ImageError::InvalidRange);
        invalid(mm_with!(|x| x.env_start = 1), ImageError::InvalidRange);
        invalid(
            mm_with!(|x| x.nr_vmas = MAX_VMAS + 1),
            ImageError::CountTooLarge,
        );
        let odd_auxv = [1u64; 3];
        invalid(
            mm_with!(|x| x.auxv = RecordList::Items(&odd_auxv)),
            ImageError::InvalidValue,
        );
        let long_auxv = [1u64; MAX_AUXV_WORDS + 2];
        invalid(
            mm_with!(|x| x.auxv = RecordList::Items(&long_auxv)),
            ImageError::CountTooLarge,
        );

        let vma = VmaBody {
            start: 0x1000,
            end: 0x3000,
            pgoff: 0,
            vm_flags: 0,
            prot: PROT_READ,
            map_flags: MAP_PRIVATE,
            kind: VmaKind::Anon,
            file: None,
        };
        macro_rules! vma_with {
            (|$x:ident| $change:expr) => {{
                let mut $x = vma;
                $change;
                Section::Vma($x)
            }};
        }
        invalid(vma_with!(|v| v.start = 0x1001), ImageError::Misaligned);
        invalid(vma_with!(|v| v.end = 0x3001), ImageError::Misaligned);
        invalid(vma_with!(|v| v.end = 0x1000), ImageError::InvalidRange);
        invalid(vma_with!(|v| v.start = 0x4000), ImageError::InvalidRange);
        invalid(
            vma_with!(|v| v.pgoff = u64::MAX - 1),
            ImageError::InvalidRange,
        );
        invalid(
            vma_with!(|v| v.pgoff = u64::MAX / 4096),
            ImageError::InvalidRange,
        );
        invalid(vma_with!(|v| v.prot = 8), ImageError::InvalidFlags);
        invalid(
            vma_with!(|v| v.map_flags = MAP_SHARED),
            ImageError::InvalidFlags,
        );
        invalid(
            vma_with!(|v| v.map_flags = MAP_SHARED | MAP_PRIVATE),
            ImageError::InvalidFlags,
        );
        invalid(vma_with!(|v| v.map_flags = 0), ImageError::InvalidFlags);
        invalid(
            vma_with!(|v| v.map_flags = MAP_PRIVATE | 0x20),
            ImageError::InvalidFlags,
        );
        invalid(
            vma_with!(|v| v.kind = VmaKind::AnonShared),
            ImageError::InvalidFlags,
        );
        let f = FileRef {
            path: b"/lib/x.so",
            ..FileRef::default()
        };
        let anon_with_file = vma_with!(|v| v.file = Some(f));
        assert_eq!(
            anon_with_file.encode(&mut [0u8; 256]),
            Err(ImageError::InvalidValue)
        );
        // Decoded, an anonymous kind has no file: its bytes are left over.
        refused(
            SectionKind::Vma,
            &raw_bytes(&anon_with_file),
            ImageError::TrailingBytes,
        );
        let mut b = raw_bytes(&Section::Vma(vma));
        b[40] = 0;
        refused(SectionKind::Vma, &b, ImageError::InvalidKind);
        b[40] = 10;
        refused(SectionKind::Vma, &b, ImageError::InvalidKind);
        // A file-backed kind without its file: the body is cut short.
        b[40] = VmaKind::FilePrivate.as_u8();
        refused(SectionKind::Vma, &b, ImageError::Truncated);
        assert_eq!(
            Section::Vma(VmaBody {
                kind: VmaKind::FilePrivate,
                ..vma
            })
            .encode(&mut [0u8; 128]),
            Err(ImageError::InvalidValue)
        );

        let page = [0u8; PAGE_SIZE];
        let pages = |start, data| Section::Pages(PagesBody { start, data });
        invalid(pages(0x1001, &page[..]), ImageError::Misaligned);
        invalid(pages(u64::MAX - 4095, &page[..]), ImageError::InvalidRange);
        invalid(pages(0, &[]), ImageError::InvalidValue);
        let mut b = raw_bytes(&pages(0x1000, &page[..]));
        b[12] = 1;
        refused(SectionKind::Pages, &b, ImageError::ReservedNotZero);
        b[12] = 0;
        b[8..12].copy_from_slice(&0u32.to_le_bytes());
        refused(SectionKind::Pages, &b, ImageError::InvalidValue);
        b[8..12].copy_from_slice(&(MAX_PAGES_PER_SECTION + 1).to_le_bytes());
        refused(SectionKind::Pages, &b, ImageError::CountTooLarge);
        b[8..12].copy_from_slice(&2u32.to_le_bytes());
        refused(SectionKind::Pages, &b, ImageError::Truncated);
        let too_many = vec![0u8; (MAX_PAGES_PER_SECTION as usize + 1) * PAGE_SIZE];
        invalid(pages(0, &too_many[..]), ImageError::CountTooLarge);
        assert_eq!(
            pages(0, &page[..100]).encode(&mut [0u8; 200]),
            Err(ImageError::InvalidValue)
        );

        let file = FileBody {
            fd: 3,
            open_flags: O_WRONLY,
            pos: 0,
            cloexec: false,
            target: FileTarget::PipeWrite { pipe_id: 9 },
        };
        macro_rules! file_with {
            (|$x:ident| $change:expr) => {{
                let mut $x = file;
                $change;
                Section::File($x)
            }};
        }
        invalid(file_with!(|x| x.fd = MAX_FDS), ImageError::InvalidValue);
        invalid(file_with!(|x| x.pos = 1 << 63), ImageError::InvalidValue);
        invalid(file_with!(|x| x.open_flags = 3), ImageError::InvalidFlags);
        invalid(
            file_with!(|x| x.open_flags = O_RDONLY),
            ImageError::InvalidFlags,
        );
        invalid(
            file_with!(|x| x.target = FileTarget::PipeRead { pipe_id: 9 }),
            ImageError::InvalidFlags,
        );
        invalid(
            file_with!(|x| x.target = FileTarget::PipeWrite { pipe_id: 0 }),
            ImageError::InvalidValue,
        );
        invalid(
            file_with!(|x| x.target = FileTarget::CharDev { major: 1, minor: 1 }),
            ImageError::InvalidValue,
        );
        invalid(
            file_with!(|x| x.target = FileTarget::Regular(FileRef::default())),
            ImageError::InvalidPath,
        );
        let mut b = raw_bytes(&Section::File(file));
        b[17] = 2;
        refused(SectionKind::File, &b, ImageError::InvalidValue);
        b[17] = 0;
        b[16] = 7;
        refused(SectionKind::File, &b, ImageError::InvalidKind);

        invalid(
            Section::Parent(ParentBody {
                parent_id: 0,
                path: b"/x",
            }),
            ImageError::BadImageId,
        );
        invalid(
            Section::Parent(ParentBody {
                parent_id: 1,
                path: b"x",
            }),
            ImageError::InvalidPath,
        );
    }

    #[test]
    fn record_lists_compare_by_content() {
        let items = [1u32, 2, 3];
        let bytes = [1u8, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0];
        let a = RecordList::Items(&items[..]);
        let b = RecordList::<u32>::Encoded(&bytes);
        assert_eq!(a, b);
        assert_eq!(b.len(), 3);
        assert_eq!(b.get(2), Some(3));
        assert_eq!(b.get(3), None);
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_ne!(a, RecordList::Items(&items[..2]));
        assert_ne!(b, RecordList::Encoded(&bytes[..11]));
        assert!(RecordList::<u64>::default().is_empty());
        let signals = SignalsBody::default();
        assert_eq!(signals.handler(0), None);
    }

    // -----------------------------------------------------------------------
    // Whole images

    proptest! {
        #[test]
        fn valid_images_parse(seed in any::<u64>()) {
            let (m, image) = image_from_seed(seed);
            let summary = parse_image(&image).unwrap();
            let count = |k: SectionKind| {
                m.sections.iter().filter(|s| s.template.kind() == k).count() as u32
            };
            prop_assert_eq!(summary.image_id, m.header.image_id);
            prop_assert_eq!(summary.parent_id, m.header.parent_id);
            prop_assert_eq!(summary.sections, m.sections.len() as u32);
            prop_assert_eq!(summary.threads, count(SectionKind::Thread));
            prop_assert_eq!(summary.vmas, count(SectionKind::Vma));
            prop_assert_eq!(summary.files, count(SectionKind::File));
            prop_assert_eq!(summary.page_runs, count(SectionKind::Pages));
            // The sections read back are the ones written.
            let mut seen = Vec::new();
            read_image(&image, |h, s| {
                assert_eq!(h.index as usize, seen.len());
                seen.push(*s == m.sections.get(seen.len()).map_or(*s, |x| x.view()));
            })
            .unwrap();
            prop_assert!(seen.iter().all(|&same| same));
            prop_assert_eq!(seen.len(), m.sections.len() + 1);
        }

        #[test]
        fn any_byte_flip_is_refused(
            seed in any::<u64>(),
            pos in any::<prop::sample::Index>(),
            mask in 1u8..=255,
        ) {
            let (_, mut image) = image_from_seed(seed);
            let i = pos.index(image.len());
            image[i] ^= mask;
            prop_assert!(parse_image(&image).is_err(), "flip at {} accepted", i);
        }

        #[test]
        fn any_truncation_is_refused(seed in any::<u64>(), len in any::<prop::sample::Index>()) {
            let (_, image) = image_from_seed(seed);
            let n = len.index(image.len());
            prop_assert!(parse_image(&image[..n]).is_err());
        }

        #[test]
        fn bytes_after_end_are_refused(
            seed in any::<u64>(),
            extra in proptest::collection::vec(any::<u8>(), 1..40),
        ) {
            let (_, mut image) = image_from_seed(seed);
            image.extend_from_slice(&extra);
            prop_assert_eq!(parse_image(&image), Err(ImageError::DataAfterEnd));
        }

        #[test]
        fn moved_duplicated_or_dropped_sections_are_refused(
            seed in any::<u64>(),
            a in any::<prop::sample::Index>(),
            b in any::<prop::sample::Index>(),
        ) {
            let (_, image) = image_from_seed(seed);
            let ranges = section_ranges(&image);
            let raw: Vec<&[u8]> = ranges.iter().map(|r| &image[r.clone()]).collect();
            let n = raw.len();
            let (i, j) = (a.index(n), b.index(n));
            let (i, j) = (i.min(j), i.max(j));
            let rebuild = |list: &[&[u8]]| {
                let mut out = image[..IMAGE_HEADER_LEN].to_vec();
                for s in list {
                    out.extend_from_slice(s);
                }
                out
            };
            let mut swapped = raw.clone();
            swapped.swap(i, j);
            let mut duplicated = raw.clone();
            duplicated.insert(i, raw[i]);
            let mut dropped = raw.clone();
            dropped.remove(i);
            // As they are (their indices give them away) ...
            if i != j {
                prop_assert!(parse_image(&rebuild(&swapped)).is_err());
            }
            prop_assert!(parse_image(&rebuild(&duplicated)).is_err());
            prop_assert!(parse_image(&rebuild(&dropped)).is_err());
            // ... and renumbered with valid CRCs (the order rules and End's
            // counts catch them).
            if i != j {
                prop_assert!(parse_image(&renumbered(&image, &swapped)).is_err());
            }
            prop_assert!(parse_image(&renumbered(&image, &duplicated)).is_err());
            prop_assert!(parse_image(&renumbered(&image, &dropped)).is_err());
            // Renumbering the original changes nothing.
            prop_assert!(parse_image(&renumbered(&image, &raw)).is_ok());
        }
    }

    #[test]
    fn every_corruption_of_a_small_image_is_refused() {
        let m = gen_image(&mut Gen::new(42, true), true);
        let image = encode_image(&m);
        // Every kind of section is there.
        let kinds: Vec<SectionKind> = m.sections.iter().map(|s| s.template.kind()).collect();
        for k in SectionKind::ALL {
            assert!(k == SectionKind::End || kinds.contains(&k), "{k:?} missing");
        }
        assert!(parse_image(&image).is_ok());
        let mut copy = image.clone();
        for i in 0..image.len() {
            // Every byte inverted or one bit of it flipped, in turn.
            let mask = if i % 2 == 0 { 0xff } else { 1 << (i / 2 % 8) };
            copy[i] ^= mask;
            assert!(
                parse_image(&copy).is_err(),
                "flip {mask:#x} at {i} accepted"
            );
            copy[i] ^= mask;
        }
        for n in 0..image.len() {
            assert!(
                parse_image(&image[..n]).is_err(),
                "truncation at {n} accepted"
            );
        }
    }

    #[test]
    fn other_versions_are_refused() {
        let (_, image) = image_from_seed(7);
        for version in [0u16, 2, 0x0100, u16::MAX] {
            let mut b = image.clone();
            b[8..10].copy_from_slice(&version.to_le_bytes());
            assert_eq!(
                parse_image(&b),
                Err(ImageError::UnsupportedVersion { found: version })
            );
            fix_header_crc(&mut b);
            assert_eq!(
                parse_image(&b),
                Err(ImageError::UnsupportedVersion { found: version })
            );
        }
    }

    #[test]
    fn pages_unchecked_skips_only_the_page_crcs() {
        let mut pages_seen = 0;
        for seed in 0..40 {
            let mut m = gen_image(&mut Gen::new(seed, false), false);
            let checked = encode_image(&m);
            m.header.flags |= FLAG_PAGES_UNCHECKED;
            let unchecked = encode_image(&m);
            assert!(read_image(&unchecked, |_, _| {}).is_ok());
            for r in section_ranges(&unchecked) {
                let kind = SectionHeader::decode(&unchecked[r.start..]).unwrap().kind;
                let at = r.start
                    + SECTION_HEADER_LEN
                    + if kind == SectionKind::Pages {
                        PagesBody::PREFIX_LEN
                    } else {
                        0
                    };
                if at >= r.end {
                    continue;
                }
                let mut b = unchecked.clone();
                b[at] ^= 1;
                let mut c = checked.clone();
                c[at] ^= 1;
                let e = read_image(&c, |_, _| {}).unwrap_err();
                assert_eq!(e.error, ImageError::SectionChecksumMismatch);
                if kind == SectionKind::Pages {
                    pages_seen += 1;
                    assert!(
                        read_image(&b, |_, _| {}).is_ok(),
                        "seed {seed}: a page byte is not checked"
                    );
                } else if kind != SectionKind::End {
                    let e = read_image(&b, |_, _| {}).unwrap_err();
                    assert_eq!(
                        e.error,
                        ImageError::SectionChecksumMismatch,
                        "seed {seed} {kind:?}"
                    );
                }
            }
        }
        assert!(pages_seen > 0);
    }

    /// Reads `image` as a migration's restore does: Pages sections from
    /// their prefix alone, their data skipped.
    fn read_skipping_pages(image: &[u8]) -> Result<(ImageSummary, Vec<PagesRun>), ReadError> {
        read_by_prefix(image, false)
    }

    /// [`read_skipping_pages`]; `data_apart`: the page data is not in
    /// `image` at all (a split image's description).
    fn read_by_prefix(
        image: &[u8],
        data_apart: bool,
    ) -> Result<(ImageSummary, Vec<PagesRun>), ReadError> {
        let mut reader = ImageReader::new(image)?;
        let mut at = IMAGE_HEADER_LEN;
        let mut runs = Vec::new();
        while !reader.is_complete() {
            let h = reader.read_section_header(image.get(at..).unwrap_or(&[]))?;
            at += SECTION_HEADER_LEN;
            if h.kind == SectionKind::Pages {
                let run = reader.read_pages_prefix(image.get(at..).unwrap_or(&[]))?;
                runs.push(run);
                at += if data_apart {
                    PagesBody::PREFIX_LEN
                } else {
                    h.body_len as usize
                };
            } else {
                let body = image.get(at..at + h.body_len as usize).ok_or(ReadError {
                    error: ImageError::Truncated,
                    section: None,
                })?;
                reader.read_section_body(body)?;
                at += h.body_len as usize;
            }
        }
        reader.finish().map(|s| (s, runs))
    }

    #[test]
    fn pages_read_from_their_prefix_as_from_the_whole_body() {
        let mut runs_seen = 0;
        for seed in 0..40 {
            let mut m = gen_image(&mut Gen::new(seed, false), false);
            m.header.flags |= FLAG_PAGES_UNCHECKED;
            let image = encode_image(&m);
            let mut whole = Vec::new();
            let summary = read_image(&image, |_, s| {
                if let Section::Pages(p) = s {
                    whole.push(PagesRun {
                        start: p.start,
                        npages: p.npages(),
                    });
                }
            })
            .unwrap();
            let (summary2, runs) = read_skipping_pages(&image).unwrap();
            assert_eq!(summary, summary2, "seed {seed}");
            assert_eq!(whole, runs, "seed {seed}");
            runs_seen += runs.len();
            // A damaged prefix or length is refused either way.
            for r in section_ranges(&image) {
                let h = SectionHeader::decode(&image[r.start..]).unwrap();
                if h.kind != SectionKind::Pages {
                    continue;
                }
                for at in (r.start + SECTION_HEADER_LEN
                    ..r.start + SECTION_HEADER_LEN + PagesBody::PREFIX_LEN)
                    .chain([r.start + 4])
                {
                    let mut b = image.clone();
                    b[at] ^= 0x80;
                    let whole = read_image(&b, |_, _| {});
                    let prefix = read_skipping_pages(&b);
                    assert_eq!(
                        whole.is_ok(),
                        prefix.is_ok(),
                        "seed {seed} byte {at}: {whole:?} / {prefix:?}"
                    );
                }
            }
        }
        assert!(runs_seen > 0);
    }

    #[test]
    fn pages_prefix_needs_unchecked_pages_and_a_pages_section() {
        let m = gen_image(&mut Gen::new(5, false), false);
        let image = encode_image(&m);
        let mut reader = ImageReader::new(&image).unwrap();
        let mut at = IMAGE_HEADER_LEN;
        let mut refused = 0;
        while !reader.is_complete() {
            let h = reader.read_section_header(&image[at..]).unwrap();
            at += SECTION_HEADER_LEN;
            // CRCs are checked in this image: never the prefix alone.
            let e = reader.read_pages_prefix(&image[at..]).unwrap_err();
            assert_eq!(e.error, ImageError::ReaderMisuse);
            refused += 1;
            reader
                .read_section_body(&image[at..at + h.body_len as usize])
                .unwrap();
            at += h.body_len as usize;
        }
        assert!(refused > 0);
        reader.finish().unwrap();
    }

    /// Splits `image` fed in chunks of the lengths `chunks` cycles
    /// through: (the description, one piece after the other, as the
    /// destination's file holds it; the page data in order; the splitter).
    fn split_image(
        image: &[u8],
        chunks: &[usize],
    ) -> Result<(Vec<u8>, Vec<u8>, ImageSplitter), ImageError> {
        let mut sp = ImageSplitter::new();
        let mut file = Vec::new();
        let mut store = Vec::new();
        let mut at = 0;
        let mut k = 0;
        while at < image.len() {
            let len = chunks[k % chunks.len()].max(1).min(image.len() - at);
            k += 1;
            let mut frame = &image[at..at + len];
            while !frame.is_empty() {
                let (piece, n) = sp.next_piece(frame)?;
                assert!(n > 0 && n <= frame.len());
                match piece {
                    Piece::Description => file.extend_from_slice(&frame[..n]),
                    Piece::PageData => store.extend_from_slice(&frame[..n]),
                }
                frame = &frame[n..];
            }
            at += len;
        }
        Ok((file, store, sp))
    }

    proptest! {
        #[test]
        fn split_image_keeps_the_description_and_the_pages_in_order(seed in any::<u64>(), chunks in proptest::collection::vec(1usize..70_000, 1..6)) {
            let mut m = gen_image(&mut Gen::new(seed, false), false);
            m.header.flags |= FLAG_PAGES_UNCHECKED;
            let image = encode_image(&m);
            let (file, store, sp) = split_image(&image, &chunks).unwrap();
            prop_assert!(sp.is_complete() && sp.splits());
            prop_assert_eq!(sp.page_bytes(), store.len() as u64);
            // The page data, in image order, is the store; the file is the
            // image with the page data left out.
            let mut pages = Vec::new();
            let mut runs = Vec::new();
            read_image(&image, |_, s| {
                if let Section::Pages(p) = s {
                    pages.extend_from_slice(p.data);
                    runs.push((p.data.as_ptr() as usize - image.as_ptr() as usize, p.data.len()));
                }
            })
            .unwrap();
            let mut expected = Vec::new();
            let mut from = 0;
            for (at, len) in runs {
                expected.extend_from_slice(&image[from..at]);
                from = at + len;
            }
            expected.extend_from_slice(&image[from..]);
            prop_assert_eq!(&store, &pages);
            prop_assert!(file == expected);
            // The restore's reading of the file alone accepts it, as the
            // whole image.
            let whole = read_image(&image, |_, _| {}).unwrap();
            let (summary, _) = read_by_prefix(&file, true).unwrap();
            prop_assert_eq!(summary, whole);
        }

        #[test]
        fn split_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4096), chunks in proptest::collection::vec(1usize..300, 1..4), valid_start in any::<bool>()) {
            let mut data = bytes;
            if valid_start {
                // Behind a valid header with pages unchecked, so that the
                // section parsing is reached.
                let mut m = gen_image(&mut Gen::new(1, true), false);
                m.header.flags |= FLAG_PAGES_UNCHECKED;
                let mut image = encode_image(&m)[..IMAGE_HEADER_LEN].to_vec();
                image.extend_from_slice(&data);
                data = image;
            }
            let _ = split_image(&data, &chunks);
        }
    }

    #[test]
    fn split_keeps_everything_of_a_checked_image_and_refuses_what_follows_end() {
        for seed in 0..20 {
            let m = gen_image(&mut Gen::new(seed, false), false);
            let image = encode_image(&m);
            let (file, store, sp) = split_image(&image, &[4096, 17]).unwrap();
            assert!(sp.is_complete() && !sp.splits());
            assert!(store.is_empty());
            assert_eq!(file, image);
            let mut more = image.clone();
            more.push(0);
            assert_eq!(
                split_image(&more, &[100_000]).unwrap_err(),
                ImageError::DataAfterEnd
            );
        }
    }

    #[test]
    fn reader_reports_where_the_error_is() {
        let m = gen_image(&mut Gen::new(3, true), true);
        let image = encode_image(&m);
        let ranges = section_ranges(&image);
        // Corrupt the body of section 2 (Signals: the image is incremental).
        let mut b = image.clone();
        b[ranges[2].start + SECTION_HEADER_LEN] ^= 1;
        let e = read_image(&b, |_, _| {}).unwrap_err();
        assert_eq!(e.error, ImageError::SectionChecksumMismatch);
        assert_eq!(
            e.section,
            Some(SectionPosition {
                index: 2,
                kind: Some(SectionKind::Signals)
            })
        );
        assert_eq!(
            std::format!("{e}"),
            "section checksum mismatch (section 2, signals)"
        );
        // A cut inside a section header: position is the expected index.
        let e = read_image(&image[..ranges[3].start + 5], |_, _| {}).unwrap_err();
        assert_eq!(e.error, ImageError::Truncated);
        assert_eq!(
            e.section,
            Some(SectionPosition {
                index: 3,
                kind: None
            })
        );
        assert_eq!(std::format!("{e}"), "image truncated (section 3)");
        // Header errors have no section.
        let e = read_image(&image[..10], |_, _| {}).unwrap_err();
        assert_eq!(e.section, None);
        assert_eq!(ImageError::from(e), ImageError::Truncated);
        let mut v = image.clone();
        v[8] = 9;
        let e = read_image(&v, |_, _| {}).unwrap_err();
        assert_eq!(
            std::format!("{e}"),
            "image version 9 not supported (this reader reads version 1)"
        );
        assert_eq!(e.describe(), "image version not supported");
    }

    #[test]
    fn reader_misuse_is_an_error_not_a_panic() {
        let (_, image) = image_from_seed(11);
        let ranges = section_ranges(&image);
        let mut r = ImageReader::new(&image).unwrap();
        assert_eq!(r.header().pid, ImageHeader::decode(&image).unwrap().pid);
        // A body before any header.
        let e = r.read_section_body(&image[ranges[0].clone()]).unwrap_err();
        assert_eq!(e.error, ImageError::ReaderMisuse);
        let first = &image[ranges[0].clone()];
        let h = r.read_section_header(first).unwrap();
        assert_eq!(h.kind, SectionKind::Process);
        // Two headers in a row.
        assert_eq!(
            r.read_section_header(first).unwrap_err().error,
            ImageError::ReaderMisuse
        );
        // Finishing with a body pending.
        assert_eq!(r.finish().unwrap_err().error, ImageError::Truncated);
        let s = r.read_section_body(&first[SECTION_HEADER_LEN..]).unwrap();
        assert_eq!(s.kind(), SectionKind::Process);
        assert_eq!(r.next_index(), 1);
        assert!(!r.is_complete());
        assert_eq!(r.finish().unwrap_err().error, ImageError::Truncated);
    }

    /// Summaries for a minimal valid section sequence.
    fn minimal_summaries(header: &ImageHeader) -> Vec<SectionSummary> {
        let mut v = vec![SectionSummary::Process {
            pid: header.pid,
            uid: header.uid,
            nr_threads: 2,
        }];
        if header.is_incremental() {
            v.push(SectionSummary::Parent {
                parent_id: header.parent_id,
            });
        }
        v.extend([
            SectionSummary::Signals,
            SectionSummary::Mm { nr_vmas: 2 },
            SectionSummary::Vma {
                start: 0x1000,
                end: 0x3000,
            },
            SectionSummary::Vma {
                start: 0x3000,
                end: 0x4000,
            },
            SectionSummary::Thread { index: 0 },
            SectionSummary::Thread { index: 1 },
            SectionSummary::File { fd: 0 },
            SectionSummary::File { fd: 5 },
            SectionSummary::Pages {
                start: 0x1000,
                npages: 2,
            },
            SectionSummary::Pages {
                start: 0x3000,
                npages: 1,
            },
        ]);
        let n = v.len() as u32;
        v.push(SectionSummary::End {
            section_count: n,
            total_pages: 3,
        });
        v
    }

    /// Feeds `list` to a validator; the index of the first refusal.
    fn validate_all(
        header: &ImageHeader,
        list: &[SectionSummary],
    ) -> Result<ImageSummary, (usize, ImageError)> {
        let mut v = ImageValidator::new(header);
        for (i, s) in list.iter().enumerate() {
            let before = v;
            v.accept(i as u32, s).map_err(|e| {
                assert_eq!(v, before, "a refused section changed the validator");
                (i, e)
            })?;
        }
        v.finish().map_err(|e| (list.len(), e))
    }

    #[test]
    fn order_rules() {
        let mut full = sample_header();
        let mut plain = sample_header();
        plain.flags = 0;
        plain.parent_id = 0;
        for h in [&plain, &full] {
            let ok = minimal_summaries(h);
            let s = validate_all(h, &ok).unwrap();
            assert_eq!(
                (s.threads, s.vmas, s.files, s.page_runs, s.total_pages),
                (2, 2, 2, 2, 3)
            );
            assert_eq!(s.sections, ok.len() as u32 - 1);
            // Without End.
            assert_eq!(
                validate_all(h, &ok[..ok.len() - 1]),
                Err((ok.len() - 1, ImageError::Truncated))
            );
            // Anything after End.
            let mut after = ok.clone();
            after.push(SectionSummary::Signals);
            assert_eq!(
                validate_all(h, &after),
                Err((ok.len(), ImageError::DataAfterEnd))
            );
        }
        let h = &plain;
        let ok = minimal_summaries(h);
        let with = |f: &dyn Fn(&mut Vec<SectionSummary>)| {
            let mut l = ok.clone();
            f(&mut l);
            validate_all(h, &l).map(|_| ()).map_err(|(_, e)| e)
        };
        use SectionSummary as S;
        assert_eq!(with(&|l| l.swap(0, 1)), Err(ImageError::SectionOutOfOrder));
        assert_eq!(with(&|l| l.swap(1, 2)), Err(ImageError::SectionOutOfOrder));
        assert_eq!(
            with(&|l| l.insert(1, S::Parent { parent_id: 1 })),
            Err(ImageError::SectionOutOfOrder)
        );
        assert_eq!(
            with(&|l| l[0] = S::Process {
                pid: 1,
                uid: h.uid,
                nr_threads: 2
            }),
            Err(ImageError::HeaderMismatch)
        );
        assert_eq!(
            with(&|l| l[0] = S::Process {
                pid: h.pid,
                uid: 1,
                nr_threads: 2
            }),
            Err(ImageError::HeaderMismatch)
        );
        // VMA count short or long.
        assert_eq!(
            with(&|l| {
                l.remove(3);
            }),
            Err(ImageError::SectionOutOfOrder)
        );
        assert_eq!(
            with(&|l| l.insert(
                5,
                S::Vma {
                    start: 0x8000,
                    end: 0x9000
                }
            )),
            Err(ImageError::SectionOutOfOrder)
        );
        assert_eq!(
            with(&|l| l[4] = S::Vma {
                start: 0x2000,
                end: 0x4000
            }),
            Err(ImageError::VmaOverlap)
        );
        assert_eq!(
            with(&|l| l[4] = S::Vma {
                start: 0x0,
                end: 0x1000
            }),
            Err(ImageError::VmaOverlap)
        );
        assert_eq!(with(&|l| l.swap(5, 6)), Err(ImageError::ThreadOutOfOrder));
        assert_eq!(
            with(&|l| l[5] = S::Thread { index: 1 }),
            Err(ImageError::ThreadOutOfOrder)
        );
        // A thread missing: File comes while a Thread is expected.
        assert_eq!(
            with(&|l| {
                l.remove(6);
            }),
            Err(ImageError::SectionOutOfOrder)
        );
        assert_eq!(
            with(&|l| l[8] = S::File { fd: 0 }),
            Err(ImageError::FdNotIncreasing)
        );
        assert_eq!(
            with(&|l| l[8] = S::File { fd: MAX_FDS }),
            Err(ImageError::InvalidValue)
        );
        // Files after pages.
        assert_eq!(with(&|l| l.swap(8, 9)), Err(ImageError::SectionOutOfOrder));
        assert_eq!(
            with(&|l| l[10] = S::Pages {
                start: 0x2000,
                npages: 1
            }),
            Err(ImageError::PagesOverlap)
        );
        assert_eq!(
            with(&|l| l[10] = S::Pages {
                start: 0x1000,
                npages: 0
            }),
            Err(ImageError::InvalidValue)
        );
        let end = ok.len() - 1;
        assert_eq!(
            with(&|l| l[end] = S::End {
                section_count: 1,
                total_pages: 3
            }),
            Err(ImageError::EndMismatch)
        );
        assert_eq!(
            with(&|l| l[end] = S::End {
                section_count: end as u32,
                total_pages: 4
            }),
            Err(ImageError::EndMismatch)
        );
        // No threads at all is impossible: nr_threads 0 is refused.
        assert_eq!(
            with(&|l| l[0] = S::Process {
                pid: h.pid,
                uid: h.uid,
                nr_threads: 0
            }),
            Err(ImageError::InvalidValue)
        );
        // Files and pages are optional; VMAs may be none.
        let bare = [
            S::Process {
                pid: h.pid,
                uid: h.uid,
                nr_threads: 1,
            },
            S::Signals,
            S::Mm { nr_vmas: 0 },
            S::Thread { index: 0 },
            S::End {
                section_count: 4,
                total_pages: 0,
            },
        ];
        assert!(validate_all(h, &bare).is_ok());
        // Incremental: Parent is required, with the header's id.
        full.parent_id = 77;
        let inc = minimal_summaries(&full);
        let mut no_parent = inc.clone();
        no_parent.remove(1);
        assert_eq!(
            validate_all(&full, &no_parent),
            Err((1, ImageError::SectionOutOfOrder))
        );
        let mut wrong = inc.clone();
        wrong[1] = S::Parent { parent_id: 78 };
        assert_eq!(
            validate_all(&full, &wrong),
            Err((1, ImageError::HeaderMismatch))
        );
        // Indices must run 0, 1, 2, ...
        let mut v = ImageValidator::new(h);
        assert_eq!(
            v.accept(1, &ok[0]),
            Err(ImageError::SectionIndexMismatch {
                expected: 0,
                found: 1
            })
        );
        assert_eq!(
            v.check_next(0, SectionKind::Signals),
            Err(ImageError::SectionOutOfOrder)
        );
        assert_eq!(v.check_next(0, SectionKind::Process), Ok(()));
    }

    #[test]
    fn writer_refuses_what_a_reader_would_refuse() {
        let h = sample_header();
        let mut w = ImageWriter::new(&h).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let signals_actions = [SigAction::default(); NSIG];
        let signals = Section::Signals(SignalsBody {
            handlers: RecordList::Items(&signals_actions),
            pending: RecordList::default(),
        });
        assert_eq!(
            w.write_section(&signals, &mut buf),
            Err(ImageError::SectionOutOfOrder)
        );
        assert_eq!(w.next_index(), 0);
        let m = gen_process(&mut Gen::new(5, true), h.pid, h.uid, 1);
        // Too small a buffer: refused, nothing changes.
        assert_eq!(
            w.write_section(&m.view(), &mut buf[..20]),
            Err(ImageError::BufferTooSmall)
        );
        assert_eq!(w.next_index(), 0);
        assert!(w.write_section(&m.view(), &mut buf).is_ok());
        assert_eq!(w.next_index(), 1);
        assert!(!w.is_complete());
        let mut bad = h;
        bad.image_id = 0;
        assert_eq!(ImageWriter::new(&bad), Err(ImageError::BadImageId));
    }

    #[test]
    fn streamed_pages_match_write_section() {
        let mut g = Gen::new(9, true);
        let mut h = sample_header();
        h.flags = 0;
        h.parent_id = 0;
        let process = gen_process(&mut g, h.pid, h.uid, 1);
        let signals = gen_signals(&mut g);
        let mm = gen_mm(&mut g, 0);
        let thread = gen_thread(&mut g, 0);
        let data = g.bytes(3 * PAGE_SIZE);
        let start = 0x7f00_0000_0000u64;

        let mut w = ImageWriter::new(&h).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut image = h.encode().unwrap().to_vec();
        for m in [&process, &signals, &mm, &thread] {
            let n = w.write_section(&m.view(), &mut buf).unwrap();
            image.extend_from_slice(&buf[..n]);
        }
        let mut w2 = w;
        // One way: the whole body in memory.
        let n = w
            .write_section(&Section::Pages(PagesBody { start, data: &data }), &mut buf)
            .unwrap();
        let whole = buf[..n].to_vec();
        // The other: header and prefix, then pages one at a time.
        let mut crc = w2.pages_crc_start(start, 3).unwrap();
        for page in data.chunks(PAGE_SIZE) {
            crc.update(page);
        }
        let n = w2
            .write_pages_start(start, 3, crc.finish(), &mut buf)
            .unwrap();
        assert_eq!(n, SECTION_HEADER_LEN + PagesBody::PREFIX_LEN);
        let mut streamed = buf[..n].to_vec();
        streamed.extend_from_slice(&data);
        assert_eq!(streamed, whole);
        assert_eq!(w2, w);
        image.extend_from_slice(&streamed);
        let n = w.write_end(&mut buf).unwrap();
        image.extend_from_slice(&buf[..n]);
        let s = parse_image(&image).unwrap();
        assert_eq!((s.page_runs, s.total_pages), (1, 3));
        // Overlapping run: refused before anything is written.
        let mut w3 = w2;
        assert_eq!(
            w3.write_pages_start(start, 1, 0, &mut buf),
            Err(ImageError::PagesOverlap)
        );
        assert_eq!(w3, w2);
        assert_eq!(
            w3.pages_crc_start(start, 0).unwrap_err(),
            ImageError::InvalidValue
        );
    }

    #[test]
    fn every_error_has_a_message() {
        let all = [
            ImageError::Truncated,
            ImageError::TrailingBytes,
            ImageError::BufferTooSmall,
            ImageError::BadMagic,
            ImageError::UnsupportedVersion { found: 2 },
            ImageError::BadHeaderLength,
            ImageError::BadHeaderChecksum,
            ImageError::ReservedNotZero,
            ImageError::UnknownFlags,
            ImageError::WrongArch,
            ImageError::BadImageId,
            ImageError::UnknownSectionKind { found: 99 },
            ImageError::SectionTooLarge,
            ImageError::BodyLengthMismatch,
            ImageError::SectionChecksumMismatch,
            ImageError::SectionIndexMismatch {
                expected: 1,
                found: 2,
            },
            ImageError::SectionOutOfOrder,
            ImageError::ThreadOutOfOrder,
            ImageError::DataAfterEnd,
            ImageError::CountTooLarge,
            ImageError::InvalidPath,
            ImageError::InvalidKind,
            ImageError::InvalidFlags,
            ImageError::Misaligned,
            ImageError::InvalidRange,
            ImageError::InvalidValue,
            ImageError::HeaderMismatch,
            ImageError::VmaOverlap,
            ImageError::PagesOverlap,
            ImageError::FdNotIncreasing,
            ImageError::EndMismatch,
            ImageError::ReaderMisuse,
        ];
        let mut seen = std::collections::BTreeSet::new();
        for e in all {
            assert!(!e.describe().is_empty());
            assert!(
                seen.insert(e.describe()),
                "duplicate message {}",
                e.describe()
            );
            assert!(!std::format!("{e}").is_empty());
        }
        assert_eq!(
            std::format!(
                "{}",
                ImageError::SectionIndexMismatch {
                    expected: 1,
                    found: 2
                }
            ),
            "section out of sequence (index 2, expected 1)"
        );
    }

    #[test]
    fn register_indices_follow_user_regs_struct() {
        let order = [
            REG_R15,
            REG_R14,
            REG_R13,
            REG_R12,
            REG_RBP,
            REG_RBX,
            REG_R11,
            REG_R10,
            REG_R9,
            REG_R8,
            REG_RAX,
            REG_RCX,
            REG_RDX,
            REG_RSI,
            REG_RDI,
            REG_ORIG_RAX,
            REG_RIP,
            REG_CS,
            REG_EFLAGS,
            REG_RSP,
            REG_SS,
            REG_FS_BASE,
            REG_GS_BASE,
            REG_DS,
            REG_ES,
            REG_FS,
            REG_GS,
        ];
        for (i, r) in order.iter().enumerate() {
            assert_eq!(i, *r);
        }
        assert_eq!(order.len(), NR_REGS);
    }
}
