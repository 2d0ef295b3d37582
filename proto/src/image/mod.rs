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
//!
//! # Files
//!
//! Each file depends only on the ones listed before it:
//!
//! - `consts.rs`: magic, version, lengths, flags, limits, register indices;
//! - `error.rs`: [`ImageError`];
//! - `crc.rs`: CRC-32C ([`Crc32c`], [`crc32c`]);
//! - `codec.rs`: the format's fields over `le`, records and record lists,
//!   the `body_codec!` macro, [`FileRef`];
//! - `body_task.rs`, `body_mm.rs`, `body_file.rs`, `body_image.rs`: the
//!   section bodies (Process, Thread, Signals; Mm, Vma, Pages; File;
//!   Parent, End);
//! - `section.rs`: [`SectionKind`], [`Section`], [`SectionSummary`],
//!   [`SectionHeader`], [`encode_section`];
//! - `header.rs`: [`ImageHeader`];
//! - `validator.rs`: [`ImageValidator`], [`ImageSummary`];
//! - `writer.rs`: [`ImageWriter`]; `reader.rs`: [`ImageReader`],
//!   [`read_image`];
//! - `tests/`: unit and property tests.
//!
//! This file only declares them and re-exports their public items, so
//! that every item is reached as `image::Item`; the files are private.

mod body_file;
mod body_image;
mod body_mm;
mod body_task;
mod chain;
mod codec;
mod consts;
mod crc;
mod error;
mod header;
mod reader;
mod section;
mod validator;
mod writer;

#[cfg(test)]
mod tests;

pub use body_file::{FileBody, FileKind, FileTarget};
pub use body_image::{EndBody, ParentBody};
pub use body_mm::{is_zero_page, MmBody, PagesBody, PagesRun, VmaBody, VmaKind};
pub use body_task::{
    AltStack, Caps, Creds, Itimer, Itimers, ProcessBody, Rlimit, Rseq, SignalsBody, ThreadBody,
};
pub use chain::{merge_pages, ChainError, PageRun, Piece, MAX_CHAIN};
pub use codec::{FileRef, Record, RecordIter, RecordList, SigAction, SigInfo, SigInfoList};
pub use consts::*;
pub use crc::{crc32c, Crc32c};
pub use error::ImageError;
pub use header::{ImageHeader, IMAGE_HEADER_CRC_OFFSET};
pub use reader::{read_image, ImageReader, ReadError, SectionPosition};
pub use section::{
    encode_section, Section, SectionHeader, SectionKind, SectionSummary, MAX_DESCRIPTION_BODY,
    MAX_SECTION_BODY, SECTION_CRC_PREFIX_LEN,
};
pub use validator::{ImageSummary, ImageValidator};
pub use writer::ImageWriter;
