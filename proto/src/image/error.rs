//! [`ImageError`]: why an image, a section or a body was refused, or
//! could not be encoded.

use core::fmt;

use super::consts::*;

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
    /// An [`ImageReader`](super::ImageReader) was called out of sequence (a body without its
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
