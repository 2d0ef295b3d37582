//! Writing: [`ImageWriter`] numbers sections and refuses to write what a
//! reader would refuse to read.

use super::super::le::Writer;
use super::body_image::EndBody;
use super::body_mm::PagesBody;
use super::consts::*;
use super::crc::Crc32c;
use super::error::ImageError;
use super::header::*;
use super::section::*;
use super::validator::*;

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
