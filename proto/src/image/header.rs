//! The image header: [`ImageHeader`], its 64-byte layout and its CRC.

use super::super::le::{Reader, Writer};
use super::consts::*;
use super::crc::*;
use super::error::ImageError;

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
