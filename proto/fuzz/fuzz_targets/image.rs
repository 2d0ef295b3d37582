//! Feeds arbitrary bytes to the checkpoint image reader: as a whole image,
//! as sections behind a valid header (with lengths, indices and CRCs fixed
//! up, so that the body decoders and the order rules are reached), as
//! changes to a valid image (CRCs fixed up), and as a body of every kind. Nothing may panic; whatever decodes must re-encode
//! to the same bytes; `read_image` must agree with the step-by-step parse;
//! the prepared hand-over's comparison (`handover::same_structure`) of the
//! decoded bodies is reflexive for the compared kinds and symmetric.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssi_proto::handover;
use ssi_proto::image::{
    read_image, EndBody, FileBody, FileRef, FileTarget, ImageError, ImageHeader, ImageSummary,
    ImageValidator, ImageWriter, MmBody, PagesBody, ParentBody, ProcessBody, RecordList, Section,
    SectionHeader, SectionKind, SigAction, SignalsBody, ThreadBody, VmaBody, VmaKind, ARCH_X86_64,
    FLAG_INCREMENTAL, FLAG_PAGES_UNCHECKED, IMAGE_HEADER_LEN, ImageReader, MAP_PRIVATE, NSIG, PAGE_SIZE, PROT_READ,
    SECTION_HEADER_LEN,
};
use std::sync::OnceLock;

/// The step-by-step parse, as the restarting kernel does it; mirrors
/// `parse_image_streaming` in `proto/src/image/tests/parse.rs`.
fn parse_streaming(image: &[u8]) -> Result<ImageSummary, ImageError> {
    let header = ImageHeader::decode(image)?;
    let mut validator = ImageValidator::new(&header);
    let mut rest = &image[IMAGE_HEADER_LEN..];
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

/// A decoded section re-encodes to the bytes it came from: same length,
/// same CRC under the same header.
fn check_canonical(header: &SectionHeader, section: &Section<'_>) {
    let mut out = vec![0u8; section.encoded_len()];
    let n = section
        .encode(&mut out)
        .expect("a decoded section re-encodes");
    let again = SectionHeader::for_body(header.kind, header.index, &out[..n]).unwrap();
    assert_eq!(&again, header, "re-encoding differs");
}

/// The parse of a migration's restore: Pages sections from their prefix
/// alone ([`ImageReader::read_pages_prefix`]), their data skipped.
fn parse_skipping_pages(image: &[u8]) -> Result<ImageSummary, ImageError> {
    let mut reader = ImageReader::new(image).map_err(|e| e.error)?;
    let mut at = IMAGE_HEADER_LEN;
    while !reader.is_complete() {
        let h = reader
            .read_section_header(image.get(at..).unwrap_or(&[]))
            .map_err(|e| e.error)?;
        at += SECTION_HEADER_LEN;
        let end = at.checked_add(h.body_len as usize).ok_or(ImageError::Truncated)?;
        if h.kind == SectionKind::Pages {
            reader
                .read_pages_prefix(image.get(at..).unwrap_or(&[]))
                .map_err(|e| e.error)?;
            if end > image.len() {
                return Err(ImageError::Truncated);
            }
        } else {
            let body = image.get(at..end).ok_or(ImageError::Truncated)?;
            reader.read_section_body(body).map_err(|e| e.error)?;
        }
        at = end;
    }
    if at != image.len() {
        return Err(ImageError::DataAfterEnd);
    }
    reader.finish().map_err(|e| e.error)
}

/// Parses `image` both ways; they must agree. With its pages unchecked
/// (the flag set), reading Pages from their prefixes must accept exactly
/// what reading whole bodies accepts, with the same summary.
fn parse(image: &[u8]) -> Result<ImageSummary, ImageError> {
    let streaming = parse_streaming(image);
    let reader = read_image(image, check_canonical).map_err(|e| e.error);
    assert_eq!(
        streaming, reader,
        "read_image disagrees with the streaming parse"
    );
    if let Ok(mut header) = ImageHeader::decode(image) {
        header.flags |= FLAG_PAGES_UNCHECKED;
        let mut unchecked = image.to_vec();
        unchecked[..IMAGE_HEADER_LEN].copy_from_slice(&header.encode().unwrap());
        let whole = read_image(&unchecked, |_, _| {}).map_err(|e| e.error);
        let prefixes = parse_skipping_pages(&unchecked);
        assert_eq!(
            whole.is_ok(),
            prefixes.is_ok(),
            "prefix parse disagrees: {whole:?} / {prefixes:?}"
        );
        if let (Ok(a), Ok(b)) = (whole, prefixes) {
            assert_eq!(a, b, "prefix parse summary differs");
        }
    }
    streaming
}

/// An image built from `data`: byte 0 chooses a plain or incremental
/// header; then chunks of (kind selector u8, length u16, body). Pages
/// chunks carry only the 16-byte prefix (the page data, zeros, is added
/// for runs of up to 4 pages); an empty End chunk gets the right counts.
/// The header's pid and uid are taken from the first Process chunk.
fn framed(data: &[u8]) -> Vec<u8> {
    let Some((&first, mut rest)) = data.split_first() else {
        return Vec::new();
    };
    let mut sections: Vec<(SectionKind, Vec<u8>)> = Vec::new();
    let mut total_pages = 0u64;
    while let [sel, l0, l1, tail @ ..] = rest {
        let kind = SectionKind::ALL[usize::from(*sel) % SectionKind::ALL.len()];
        let len = usize::from(u16::from_le_bytes([*l0, *l1])).min(tail.len());
        let mut body = tail[..len].to_vec();
        rest = &tail[len..];
        if kind == SectionKind::Pages && body.len() == PagesBody::PREFIX_LEN {
            let npages = u32::from_le_bytes(body[8..12].try_into().unwrap());
            if (1..=4).contains(&npages) {
                body.resize(body.len() + npages as usize * PAGE_SIZE, 0);
                total_pages += u64::from(npages);
            }
        }
        if kind == SectionKind::End && body.is_empty() {
            body = vec![0u8; EndBody::LEN];
            let end = EndBody {
                section_count: sections.len() as u32,
                total_pages,
            };
            end.encode(&mut body).unwrap();
        }
        sections.push((kind, body));
    }
    let process = sections
        .iter()
        .find(|(k, _)| *k == SectionKind::Process)
        .map(|(_, b)| b.as_slice())
        .unwrap_or(&[]);
    let le32 = |at: usize| {
        process
            .get(at..at + 4)
            .map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    let incremental = first & 1 == 1;
    let header = ImageHeader {
        flags: if incremental { FLAG_INCREMENTAL } else { 0 },
        image_id: 2,
        parent_id: u64::from(incremental),
        created_ns: 0,
        source_node: 1,
        pid: le32(0).max(1),
        uid: le32(48),
        arch: ARCH_X86_64,
    };
    let mut image = header.encode().unwrap().to_vec();
    for (index, (kind, body)) in sections.iter().enumerate() {
        // Bodies too long for their kind are written with a header that a
        // reader refuses; the rest with a valid header.
        let header = SectionHeader::for_body(*kind, index as u32, body).unwrap_or(SectionHeader {
            kind: *kind,
            body_len: body.len() as u32,
            index: index as u32,
            crc: 0,
        });
        image.extend_from_slice(&header.encode());
        image.extend_from_slice(body);
    }
    image
}

/// A small valid incremental image with every kind of section, built once.
fn base_image() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let header = ImageHeader {
            flags: FLAG_INCREMENTAL,
            image_id: 2,
            parent_id: 1,
            created_ns: 0,
            source_node: 1,
            pid: 100,
            uid: 1000,
            arch: ARCH_X86_64,
        };
        let exe = FileRef {
            path: b"/bin/true",
            ..FileRef::default()
        };
        let mut process = ProcessBody {
            pid: 100,
            tgid: 100,
            nr_threads: 2,
            exe,
            cwd: b"/",
            root: b"/",
            ..ProcessBody::default()
        };
        process.creds.uid = 1000;
        let actions = [SigAction::default(); NSIG];
        let page = [0x5a_u8; PAGE_SIZE];
        let vma = |start: u64| VmaBody {
            start,
            end: start + 2 * PAGE_SIZE as u64,
            pgoff: 0,
            vm_flags: 0,
            prot: PROT_READ,
            map_flags: MAP_PRIVATE,
            kind: VmaKind::Anon,
            file: None,
        };
        let file = |fd| FileBody {
            fd,
            open_flags: 0,
            pos: 0,
            cloexec: false,
            target: FileTarget::CharDev { major: 1, minor: 3 },
        };
        let sections = [
            Section::Process(process),
            Section::Parent(ParentBody {
                parent_id: 1,
                path: b"/ckpt/0",
            }),
            Section::Signals(SignalsBody {
                handlers: RecordList::Items(&actions),
                pending: RecordList::default(),
            }),
            Section::Mm(MmBody {
                nr_vmas: 2,
                ..MmBody::default()
            }),
            Section::Vma(vma(0x1000)),
            Section::Vma(vma(0x3000)),
            Section::Thread(ThreadBody {
                tid: 100,
                index: 0,
                ..ThreadBody::default()
            }),
            Section::Thread(ThreadBody {
                tid: 101,
                index: 1,
                ..ThreadBody::default()
            }),
            Section::File(file(0)),
            Section::File(file(1)),
            Section::Pages(PagesBody {
                start: 0x1000,
                data: &page,
            }),
            Section::Pages(PagesBody {
                start: 0x3000,
                data: &page,
            }),
        ];
        let mut image = header.encode().unwrap().to_vec();
        let mut w = ImageWriter::new(&header).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        for s in &sections {
            let n = w.write_section(s, &mut buf).unwrap();
            image.extend_from_slice(&buf[..n]);
        }
        let n = w.write_end(&mut buf).unwrap();
        image.extend_from_slice(&buf[..n]);
        assert!(parse(&image).is_ok());
        image
    })
}

/// The base image with bytes of its bodies changed as `data` says (byte 0
/// may drop or repeat a section; then triples: section selector, offset,
/// value), renumbered with CRCs recomputed, so that what is refused is the
/// content, not the checksum.
fn mutated(data: &[u8]) -> Vec<u8> {
    let base = base_image();
    let mut sections: Vec<Vec<u8>> = Vec::new();
    let mut off = IMAGE_HEADER_LEN;
    while off < base.len() {
        let len = u32::from_le_bytes(base[off + 4..off + 8].try_into().unwrap()) as usize;
        sections.push(base[off..off + SECTION_HEADER_LEN + len].to_vec());
        off += SECTION_HEADER_LEN + len;
    }
    let (op, edits) = data.split_at(data.len().min(1));
    for edit in edits.chunks_exact(3) {
        let n = sections.len();
        let s = &mut sections[usize::from(edit[0]) % n];
        let body_len = s.len() - SECTION_HEADER_LEN;
        if body_len > 0 {
            // Offsets within the first 256 bytes of a body, where the
            // fields are.
            let at = SECTION_HEADER_LEN + usize::from(edit[1]) % body_len.min(256);
            s[at] = edit[2];
        }
    }
    if let Some(&op) = op.first() {
        let i = usize::from(op >> 2) % sections.len();
        match op & 3 {
            1 => {
                sections.remove(i);
            }
            2 => {
                let copy = sections[i].clone();
                sections.insert(i, copy);
            }
            _ => {}
        }
    }
    let mut image = base[..IMAGE_HEADER_LEN].to_vec();
    for (index, raw) in sections.iter().enumerate() {
        let kind = u32::from_le_bytes(raw[..4].try_into().unwrap());
        let kind = SectionKind::from_u32(kind).unwrap();
        let body = &raw[SECTION_HEADER_LEN..];
        let header = SectionHeader::for_body(kind, index as u32, body).unwrap();
        image.extend_from_slice(&header.encode());
        image.extend_from_slice(body);
    }
    image
}

fuzz_target!(|data: &[u8]| {
    // As a whole image (rarely gets past the header CRC) ...
    let _ = parse(data);
    // ... as sections behind a valid header ...
    let image = framed(data);
    if !image.is_empty() {
        let _ = parse(&image);
    }
    // ... as changes to a valid image ...
    let _ = parse(&mutated(data));
    // ... and as a body of every kind.
    let mut decoded = Vec::new();
    for kind in SectionKind::ALL {
        if let Ok(s) = Section::decode(kind, data) {
            let mut out = vec![0u8; data.len()];
            assert_eq!(s.encode(&mut out), Ok(data.len()), "{kind:?}");
            assert_eq!(&out[..], data, "{kind:?} re-encoding differs");
            assert_eq!(s.encoded_len(), data.len());
            // The prepared hand-over's comparison: a compared section
            // describes its own structure; state sections are never
            // compared.
            let compared = matches!(kind, SectionKind::Process | SectionKind::Mm | SectionKind::Vma | SectionKind::File);
            assert_eq!(handover::same_structure(&s, &s), compared, "{kind:?}");
            assert_eq!(handover::compare(&s, &s) == handover::Verdict::Same, compared, "{kind:?}");
            assert!(!(compared && handover::taken_from_final(kind)), "{kind:?}");
            decoded.push(s);
        }
    }
    // The comparison is symmetric (the same bytes decoded as two kinds).
    for a in &decoded {
        for b in &decoded {
            assert_eq!(handover::same_structure(a, b), handover::same_structure(b, a));
            assert_eq!(handover::compare(a, b), handover::compare(b, a));
        }
    }
});
