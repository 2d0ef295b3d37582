//! Bodies of the image-level sections: [`ParentBody`] (the image an
//! incremental one applies on top of) and [`EndBody`] (the closing
//! counts).

use super::super::le::{Reader, Writer};
use super::codec::*;
use super::consts::*;
use super::error::ImageError;

/// Parent section (incremental images only): the image this one is
/// applied on top of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParentBody<'a> {
    /// The parent's image id; equals [`ImageHeader::parent_id`](super::ImageHeader::parent_id).
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

    pub(super) fn write_to(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
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
