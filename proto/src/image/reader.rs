//! Reading: [`ImageReader`] takes an image piece by piece (header, then
//! each section header and body) and says which section an error was in;
//! [`read_image`] runs it over an image held in memory.

use super::super::le::Reader;
use super::body_mm::{check_page_run, PagesBody, PagesRun};
use core::fmt;

use super::consts::*;
use super::error::ImageError;
use super::header::*;
use super::section::*;
use super::validator::*;

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
