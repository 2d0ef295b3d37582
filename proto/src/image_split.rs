//! Splits a migration's image, as its bytes arrive, into the description
//! and the page data.
//!
//! A migration's image comes to the destination as a byte stream
//! (`MigrateData` frames, in order). The destination writes the
//! description (every byte but the page data: the image header, every
//! section header, every non-Pages body and each Pages body's
//! [`PagesBody::PREFIX_LEN`]-byte prefix) one piece after the other into a
//! file, which is then the image without its page data, and keeps the page
//! data, in arrival order, where it was received; the restore reads the
//! Pages sections by their prefix ([`ImageReader::read_pages_prefix`]) and
//! takes their data from there in the same order. Only an image whose
//! pages carry no CRC ([`FLAG_PAGES_UNCHECKED`]) is split: nothing would
//! check data kept apart from its CRC.
//!
//! The splitter only finds boundaries; the restore checks everything.
//! What it refuses (a section header that does not decode, bytes after
//! End, a Pages body too short for its prefix) ends the migration.
//!
//! [`ImageReader::read_pages_prefix`]: super::image::ImageReader::read_pages_prefix
//! [`FLAG_PAGES_UNCHECKED`]: super::image::FLAG_PAGES_UNCHECKED

use super::image::{
    ImageError, ImageHeader, PagesBody, SectionHeader, SectionKind, IMAGE_HEADER_LEN,
    SECTION_HEADER_LEN,
};

/// What a piece of the stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    /// Part of the description: kept at its offset in the image file.
    Description,
    /// Page data: kept in arrival order apart from the file.
    PageData,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Gathering the image header.
    ImageHeader,
    /// Gathering a section header.
    SectionHeader,
    /// The body of a section kept whole in the description (any section
    /// of an image that is not split): this many bytes left; `end`: it is
    /// End's.
    Body { left: u64, end: bool },
    /// Gathering the prefix of a Pages body, then this many bytes of data.
    PagesPrefix(u64),
    /// Page data: this many bytes left.
    PagesData(u64),
    /// End was the last section: nothing may follow.
    Done,
}

/// The splitter of one image stream.
#[derive(Debug, Clone)]
pub struct ImageSplitter {
    state: State,
    /// Bytes of the fixed-size piece being gathered (image header, section
    /// header, Pages prefix).
    have: usize,
    /// The image or section header being gathered.
    gathered: [u8; IMAGE_HEADER_LEN],
    /// The image's pages carry no CRC: Pages data is split off.
    split: bool,
    /// Page data bytes split off so far.
    page_bytes: u64,
}

impl Default for ImageSplitter {
    fn default() -> Self {
        ImageSplitter::new()
    }
}

impl ImageSplitter {
    /// A splitter at the start of an image.
    pub const fn new() -> ImageSplitter {
        ImageSplitter {
            state: State::ImageHeader,
            have: 0,
            gathered: [0; IMAGE_HEADER_LEN],
            split: false,
            page_bytes: 0,
        }
    }

    /// Whether the image's page data is split off (known once its header
    /// came: an image whose pages carry no CRC).
    pub fn splits(&self) -> bool {
        self.split
    }

    /// Page data bytes split off so far.
    pub fn page_bytes(&self) -> u64 {
        self.page_bytes
    }

    /// Whether the stream ended where an image ends: after End's body.
    pub fn is_complete(&self) -> bool {
        self.state == State::Done
    }

    /// Gathers up to `len` bytes of a fixed-size piece from `data`; true
    /// once it is whole.
    fn gather(&mut self, data: &[u8], len: usize) -> (usize, bool) {
        let n = (len - self.have).min(data.len());
        self.gathered[self.have..self.have + n].copy_from_slice(&data[..n]);
        self.have += n;
        let whole = self.have == len;
        if whole {
            self.have = 0;
        }
        (n, whole)
    }

    /// The state after a section header.
    fn after_header(&self, h: &SectionHeader) -> Result<State, ImageError> {
        let len = u64::from(h.body_len);
        Ok(match h.kind {
            SectionKind::Pages if self.split => {
                let prefix = PagesBody::PREFIX_LEN as u64;
                if len <= prefix {
                    return Err(ImageError::BodyLengthMismatch);
                }
                State::PagesPrefix(len - prefix)
            }
            SectionKind::End if len == 0 => State::Done,
            kind => State::Body {
                left: len,
                end: kind == SectionKind::End,
            },
        })
    }

    /// The longest first piece of `data` (the next bytes of the stream)
    /// that is all of one kind: its kind and length, at least 1 unless
    /// `data` is empty. The caller keeps it and calls again with the rest.
    pub fn next_piece(&mut self, data: &[u8]) -> Result<(Piece, usize), ImageError> {
        if data.is_empty() {
            return Ok((Piece::Description, 0));
        }
        match self.state {
            State::ImageHeader => {
                let (n, whole) = self.gather(data, IMAGE_HEADER_LEN);
                if whole {
                    let h = ImageHeader::decode(&self.gathered)?;
                    self.split = h.pages_unchecked();
                    self.state = State::SectionHeader;
                }
                Ok((Piece::Description, n))
            }
            State::SectionHeader => {
                let (n, whole) = self.gather(data, SECTION_HEADER_LEN);
                if whole {
                    let h = SectionHeader::decode(&self.gathered[..SECTION_HEADER_LEN])?;
                    self.state = self.after_header(&h)?;
                }
                Ok((Piece::Description, n))
            }
            State::Body { left, end } => {
                let n = left.min(data.len() as u64);
                self.state = match left - n {
                    0 if end => State::Done,
                    0 => State::SectionHeader,
                    left => State::Body { left, end },
                };
                Ok((Piece::Description, n as usize))
            }
            State::PagesPrefix(data_len) => {
                let (n, whole) = self.gather(data, PagesBody::PREFIX_LEN);
                if whole {
                    self.state = State::PagesData(data_len);
                }
                Ok((Piece::Description, n))
            }
            State::PagesData(left) => {
                let n = left.min(data.len() as u64);
                self.page_bytes += n;
                self.state = match left - n {
                    0 => State::SectionHeader,
                    left => State::PagesData(left),
                };
                Ok((Piece::PageData, n as usize))
            }
            State::Done => Err(ImageError::DataAfterEnd),
        }
    }
}
