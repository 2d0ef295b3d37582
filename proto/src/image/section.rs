//! Sections: [`SectionKind`], the decoded [`Section`] and its
//! [`SectionSummary`], the [`SectionHeader`] layout (with its per-kind
//! body limits and CRC) and [`encode_section`].

use super::super::le::{Reader, Writer};
use core::fmt;

use super::body_file::*;
use super::body_image::*;
use super::body_mm::*;
use super::body_task::*;
use super::consts::*;
use super::crc::*;
use super::error::ImageError;

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

    /// What the [`ImageValidator`](super::ImageValidator) needs to know of this section.
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
    /// body is read; does not check the index (see [`ImageValidator`](super::ImageValidator)).
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
/// [`ImageWriter`](super::ImageWriter) for that.
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
