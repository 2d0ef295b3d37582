//! Parsing whole images in the tests as the kernel does it: header, then
//! section by section through the streaming pieces.

extern crate std;
use super::super::*;
use std::ops::Range;
use std::vec::Vec;

/// Parses a whole image with the streaming pieces, the way the
/// restarting kernel does: header; then per section: header, bounded
/// body buffer, CRC, decode, validator. The fuzz target mirrors this.
pub(super) fn parse_image_streaming(image: &[u8]) -> Result<ImageSummary, ImageError> {
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
pub(super) fn parse_image(image: &[u8]) -> Result<ImageSummary, ImageError> {
    let streaming = parse_image_streaming(image);
    let reader = read_image(image, |_, _| {}).map_err(|e| e.error);
    assert_eq!(
        streaming, reader,
        "read_image disagrees with the streaming parse"
    );
    streaming
}

/// Byte ranges of the sections of a well-formed image.
pub(super) fn section_ranges(image: &[u8]) -> Vec<Range<usize>> {
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
pub(super) fn renumbered(image: &[u8], sections: &[&[u8]]) -> Vec<u8> {
    let mut out = image[..IMAGE_HEADER_LEN].to_vec();
    for (i, raw) in sections.iter().enumerate() {
        let kind = SectionKind::from_u32(u32::from_le_bytes(raw[..4].try_into().unwrap())).unwrap();
        let body = &raw[SECTION_HEADER_LEN..];
        let h = SectionHeader::for_body(kind, i as u32, body).unwrap();
        out.extend_from_slice(&h.encode());
        out.extend_from_slice(body);
    }
    out
}
