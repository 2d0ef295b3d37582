//! Tests of whole images: reading them streamed and at once, corruption,
//! versions, unchecked pages, splitting, reader errors, section order
//! and the writer.

extern crate std;
use super::super::super::image_split::{ImageSplitter, Piece};
use super::super::*;
use super::gen::*;
use super::parse::*;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

proptest! {
    #[test]
    fn valid_images_parse(seed in any::<u64>()) {
        let (m, image) = image_from_seed(seed);
        let summary = parse_image(&image).unwrap();
        let count = |k: SectionKind| {
            m.sections.iter().filter(|s| s.template.kind() == k).count() as u32
        };
        prop_assert_eq!(summary.image_id, m.header.image_id);
        prop_assert_eq!(summary.parent_id, m.header.parent_id);
        prop_assert_eq!(summary.sections, m.sections.len() as u32);
        prop_assert_eq!(summary.threads, count(SectionKind::Thread));
        prop_assert_eq!(summary.vmas, count(SectionKind::Vma));
        prop_assert_eq!(summary.files, count(SectionKind::File));
        prop_assert_eq!(summary.page_runs, count(SectionKind::Pages));
        // The sections read back are the ones written.
        let mut seen = Vec::new();
        read_image(&image, |h, s| {
            assert_eq!(h.index as usize, seen.len());
            seen.push(*s == m.sections.get(seen.len()).map_or(*s, |x| x.view()));
        })
        .unwrap();
        prop_assert!(seen.iter().all(|&same| same));
        prop_assert_eq!(seen.len(), m.sections.len() + 1);
    }

    #[test]
    fn any_byte_flip_is_refused(
        seed in any::<u64>(),
        pos in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let (_, mut image) = image_from_seed(seed);
        let i = pos.index(image.len());
        image[i] ^= mask;
        prop_assert!(parse_image(&image).is_err(), "flip at {} accepted", i);
    }

    #[test]
    fn any_truncation_is_refused(seed in any::<u64>(), len in any::<prop::sample::Index>()) {
        let (_, image) = image_from_seed(seed);
        let n = len.index(image.len());
        prop_assert!(parse_image(&image[..n]).is_err());
    }

    #[test]
    fn bytes_after_end_are_refused(
        seed in any::<u64>(),
        extra in proptest::collection::vec(any::<u8>(), 1..40),
    ) {
        let (_, mut image) = image_from_seed(seed);
        image.extend_from_slice(&extra);
        prop_assert_eq!(parse_image(&image), Err(ImageError::DataAfterEnd));
    }

    #[test]
    fn moved_duplicated_or_dropped_sections_are_refused(
        seed in any::<u64>(),
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
    ) {
        let (_, image) = image_from_seed(seed);
        let ranges = section_ranges(&image);
        let raw: Vec<&[u8]> = ranges.iter().map(|r| &image[r.clone()]).collect();
        let n = raw.len();
        let (i, j) = (a.index(n), b.index(n));
        let (i, j) = (i.min(j), i.max(j));
        let rebuild = |list: &[&[u8]]| {
            let mut out = image[..IMAGE_HEADER_LEN].to_vec();
            for s in list {
                out.extend_from_slice(s);
            }
            out
        };
        let mut swapped = raw.clone();
        swapped.swap(i, j);
        let mut duplicated = raw.clone();
        duplicated.insert(i, raw[i]);
        let mut dropped = raw.clone();
        dropped.remove(i);
        // As they are (their indices give them away) ...
        if i != j {
            prop_assert!(parse_image(&rebuild(&swapped)).is_err());
        }
        prop_assert!(parse_image(&rebuild(&duplicated)).is_err());
        prop_assert!(parse_image(&rebuild(&dropped)).is_err());
        // ... and renumbered with valid CRCs (the order rules and End's
        // counts catch them).
        if i != j {
            prop_assert!(parse_image(&renumbered(&image, &swapped)).is_err());
        }
        prop_assert!(parse_image(&renumbered(&image, &duplicated)).is_err());
        prop_assert!(parse_image(&renumbered(&image, &dropped)).is_err());
        // Renumbering the original changes nothing.
        prop_assert!(parse_image(&renumbered(&image, &raw)).is_ok());
    }
}

#[test]
fn every_corruption_of_a_small_image_is_refused() {
    let m = gen_image(&mut Gen::new(42, true), true);
    let image = encode_image(&m);
    // Every kind of section is there.
    let kinds: Vec<SectionKind> = m.sections.iter().map(|s| s.template.kind()).collect();
    for k in SectionKind::ALL {
        assert!(k == SectionKind::End || kinds.contains(&k), "{k:?} missing");
    }
    assert!(parse_image(&image).is_ok());
    let mut copy = image.clone();
    for i in 0..image.len() {
        // Every byte inverted or one bit of it flipped, in turn.
        let mask = if i % 2 == 0 { 0xff } else { 1 << (i / 2 % 8) };
        copy[i] ^= mask;
        assert!(
            parse_image(&copy).is_err(),
            "flip {mask:#x} at {i} accepted"
        );
        copy[i] ^= mask;
    }
    for n in 0..image.len() {
        assert!(
            parse_image(&image[..n]).is_err(),
            "truncation at {n} accepted"
        );
    }
}

#[test]
fn other_versions_are_refused() {
    let (_, image) = image_from_seed(7);
    for version in [0u16, 1, 3, 0x0100, u16::MAX] {
        let mut b = image.clone();
        b[8..10].copy_from_slice(&version.to_le_bytes());
        assert_eq!(
            parse_image(&b),
            Err(ImageError::UnsupportedVersion { found: version })
        );
        fix_header_crc(&mut b);
        assert_eq!(
            parse_image(&b),
            Err(ImageError::UnsupportedVersion { found: version })
        );
    }
}

#[test]
fn pages_unchecked_skips_only_the_page_crcs() {
    let mut pages_seen = 0;
    for seed in 0..40 {
        let mut m = gen_image(&mut Gen::new(seed, false), false);
        let checked = encode_image(&m);
        m.header.flags |= FLAG_PAGES_UNCHECKED;
        let unchecked = encode_image(&m);
        assert!(read_image(&unchecked, |_, _| {}).is_ok());
        for r in section_ranges(&unchecked) {
            let kind = SectionHeader::decode(&unchecked[r.start..]).unwrap().kind;
            let at = r.start
                + SECTION_HEADER_LEN
                + if kind == SectionKind::Pages {
                    PagesBody::PREFIX_LEN
                } else {
                    0
                };
            if at >= r.end {
                continue;
            }
            let mut b = unchecked.clone();
            b[at] ^= 1;
            let mut c = checked.clone();
            c[at] ^= 1;
            let e = read_image(&c, |_, _| {}).unwrap_err();
            assert_eq!(e.error, ImageError::SectionChecksumMismatch);
            if kind == SectionKind::Pages {
                pages_seen += 1;
                assert!(
                    read_image(&b, |_, _| {}).is_ok(),
                    "seed {seed}: a page byte is not checked"
                );
            } else if kind != SectionKind::End {
                let e = read_image(&b, |_, _| {}).unwrap_err();
                assert_eq!(
                    e.error,
                    ImageError::SectionChecksumMismatch,
                    "seed {seed} {kind:?}"
                );
            }
        }
    }
    assert!(pages_seen > 0);
}

/// Reads `image` as a migration's restore does: Pages sections from
/// their prefix alone, their data skipped.
fn read_skipping_pages(image: &[u8]) -> Result<(ImageSummary, Vec<PagesRun>), ReadError> {
    read_by_prefix(image, false)
}

/// [`read_skipping_pages`]; `data_apart`: the page data is not in
/// `image` at all (a split image's description).
fn read_by_prefix(
    image: &[u8],
    data_apart: bool,
) -> Result<(ImageSummary, Vec<PagesRun>), ReadError> {
    let mut reader = ImageReader::new(image)?;
    let mut at = IMAGE_HEADER_LEN;
    let mut runs = Vec::new();
    while !reader.is_complete() {
        let h = reader.read_section_header(image.get(at..).unwrap_or(&[]))?;
        at += SECTION_HEADER_LEN;
        if h.kind == SectionKind::Pages {
            let run = reader.read_pages_prefix(image.get(at..).unwrap_or(&[]))?;
            runs.push(run);
            at += if data_apart {
                PagesBody::PREFIX_LEN
            } else {
                h.body_len as usize
            };
        } else {
            let body = image.get(at..at + h.body_len as usize).ok_or(ReadError {
                error: ImageError::Truncated,
                section: None,
            })?;
            reader.read_section_body(body)?;
            at += h.body_len as usize;
        }
    }
    reader.finish().map(|s| (s, runs))
}

#[test]
fn pages_read_from_their_prefix_as_from_the_whole_body() {
    let mut runs_seen = 0;
    for seed in 0..40 {
        let mut m = gen_image(&mut Gen::new(seed, false), false);
        m.header.flags |= FLAG_PAGES_UNCHECKED;
        let image = encode_image(&m);
        let mut whole = Vec::new();
        let summary = read_image(&image, |_, s| {
            if let Section::Pages(p) = s {
                whole.push(PagesRun {
                    start: p.start,
                    npages: p.npages(),
                });
            }
        })
        .unwrap();
        let (summary2, runs) = read_skipping_pages(&image).unwrap();
        assert_eq!(summary, summary2, "seed {seed}");
        assert_eq!(whole, runs, "seed {seed}");
        runs_seen += runs.len();
        // A damaged prefix or length is refused either way.
        for r in section_ranges(&image) {
            let h = SectionHeader::decode(&image[r.start..]).unwrap();
            if h.kind != SectionKind::Pages {
                continue;
            }
            for at in (r.start + SECTION_HEADER_LEN
                ..r.start + SECTION_HEADER_LEN + PagesBody::PREFIX_LEN)
                .chain([r.start + 4])
            {
                let mut b = image.clone();
                b[at] ^= 0x80;
                let whole = read_image(&b, |_, _| {});
                let prefix = read_skipping_pages(&b);
                assert_eq!(
                    whole.is_ok(),
                    prefix.is_ok(),
                    "seed {seed} byte {at}: {whole:?} / {prefix:?}"
                );
            }
        }
    }
    assert!(runs_seen > 0);
}

#[test]
fn pages_prefix_needs_unchecked_pages_and_a_pages_section() {
    let m = gen_image(&mut Gen::new(5, false), false);
    let image = encode_image(&m);
    let mut reader = ImageReader::new(&image).unwrap();
    let mut at = IMAGE_HEADER_LEN;
    let mut refused = 0;
    while !reader.is_complete() {
        let h = reader.read_section_header(&image[at..]).unwrap();
        at += SECTION_HEADER_LEN;
        // CRCs are checked in this image: never the prefix alone.
        let e = reader.read_pages_prefix(&image[at..]).unwrap_err();
        assert_eq!(e.error, ImageError::ReaderMisuse);
        refused += 1;
        reader
            .read_section_body(&image[at..at + h.body_len as usize])
            .unwrap();
        at += h.body_len as usize;
    }
    assert!(refused > 0);
    reader.finish().unwrap();
}

/// Splits `image` fed in chunks of the lengths `chunks` cycles
/// through: (the description, one piece after the other, as the
/// destination's file holds it; the page data in order; the splitter).
fn split_image(
    image: &[u8],
    chunks: &[usize],
) -> Result<(Vec<u8>, Vec<u8>, ImageSplitter), ImageError> {
    let mut sp = ImageSplitter::new();
    let mut file = Vec::new();
    let mut store = Vec::new();
    let mut at = 0;
    let mut k = 0;
    while at < image.len() {
        let len = chunks[k % chunks.len()].max(1).min(image.len() - at);
        k += 1;
        let mut frame = &image[at..at + len];
        while !frame.is_empty() {
            let (piece, n) = sp.next_piece(frame)?;
            assert!(n > 0 && n <= frame.len());
            match piece {
                Piece::Description => file.extend_from_slice(&frame[..n]),
                Piece::PageData => store.extend_from_slice(&frame[..n]),
            }
            frame = &frame[n..];
        }
        at += len;
    }
    Ok((file, store, sp))
}

proptest! {
    #[test]
    fn split_image_keeps_the_description_and_the_pages_in_order(seed in any::<u64>(), chunks in proptest::collection::vec(1usize..70_000, 1..6)) {
        let mut m = gen_image(&mut Gen::new(seed, false), false);
        m.header.flags |= FLAG_PAGES_UNCHECKED;
        let image = encode_image(&m);
        let (file, store, sp) = split_image(&image, &chunks).unwrap();
        prop_assert!(sp.is_complete() && sp.splits());
        prop_assert_eq!(sp.page_bytes(), store.len() as u64);
        // The page data, in image order, is the store; the file is the
        // image with the page data left out.
        let mut pages = Vec::new();
        let mut runs = Vec::new();
        read_image(&image, |_, s| {
            if let Section::Pages(p) = s {
                pages.extend_from_slice(p.data);
                runs.push((p.data.as_ptr() as usize - image.as_ptr() as usize, p.data.len()));
            }
        })
        .unwrap();
        let mut expected = Vec::new();
        let mut from = 0;
        for (at, len) in runs {
            expected.extend_from_slice(&image[from..at]);
            from = at + len;
        }
        expected.extend_from_slice(&image[from..]);
        prop_assert_eq!(&store, &pages);
        prop_assert!(file == expected);
        // The restore's reading of the file alone accepts it, as the
        // whole image.
        let whole = read_image(&image, |_, _| {}).unwrap();
        let (summary, _) = read_by_prefix(&file, true).unwrap();
        prop_assert_eq!(summary, whole);
    }

    #[test]
    fn split_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4096), chunks in proptest::collection::vec(1usize..300, 1..4), valid_start in any::<bool>()) {
        let mut data = bytes;
        if valid_start {
            // Behind a valid header with pages unchecked, so that the
            // section parsing is reached.
            let mut m = gen_image(&mut Gen::new(1, true), false);
            m.header.flags |= FLAG_PAGES_UNCHECKED;
            let mut image = encode_image(&m)[..IMAGE_HEADER_LEN].to_vec();
            image.extend_from_slice(&data);
            data = image;
        }
        let _ = split_image(&data, &chunks);
    }
}

#[test]
fn split_keeps_everything_of_a_checked_image_and_refuses_what_follows_end() {
    for seed in 0..20 {
        let m = gen_image(&mut Gen::new(seed, false), false);
        let image = encode_image(&m);
        let (file, store, sp) = split_image(&image, &[4096, 17]).unwrap();
        assert!(sp.is_complete() && !sp.splits());
        assert!(store.is_empty());
        assert_eq!(file, image);
        let mut more = image.clone();
        more.push(0);
        assert_eq!(
            split_image(&more, &[100_000]).unwrap_err(),
            ImageError::DataAfterEnd
        );
    }
}

#[test]
fn reader_reports_where_the_error_is() {
    let m = gen_image(&mut Gen::new(3, true), true);
    let image = encode_image(&m);
    let ranges = section_ranges(&image);
    // Corrupt the body of section 2 (Signals: the image is incremental).
    let mut b = image.clone();
    b[ranges[2].start + SECTION_HEADER_LEN] ^= 1;
    let e = read_image(&b, |_, _| {}).unwrap_err();
    assert_eq!(e.error, ImageError::SectionChecksumMismatch);
    assert_eq!(
        e.section,
        Some(SectionPosition {
            index: 2,
            kind: Some(SectionKind::Signals)
        })
    );
    assert_eq!(
        std::format!("{e}"),
        "section checksum mismatch (section 2, signals)"
    );
    // A cut inside a section header: position is the expected index.
    let e = read_image(&image[..ranges[3].start + 5], |_, _| {}).unwrap_err();
    assert_eq!(e.error, ImageError::Truncated);
    assert_eq!(
        e.section,
        Some(SectionPosition {
            index: 3,
            kind: None
        })
    );
    assert_eq!(std::format!("{e}"), "image truncated (section 3)");
    // Header errors have no section.
    let e = read_image(&image[..10], |_, _| {}).unwrap_err();
    assert_eq!(e.section, None);
    assert_eq!(ImageError::from(e), ImageError::Truncated);
    let mut v = image.clone();
    v[8] = 9;
    let e = read_image(&v, |_, _| {}).unwrap_err();
    assert_eq!(
        std::format!("{e}"),
        "image version 9 not supported (this reader reads version 2)"
    );
    assert_eq!(e.describe(), "image version not supported");
}

#[test]
fn reader_misuse_is_an_error_not_a_panic() {
    let (_, image) = image_from_seed(11);
    let ranges = section_ranges(&image);
    let mut r = ImageReader::new(&image).unwrap();
    assert_eq!(r.header().pid, ImageHeader::decode(&image).unwrap().pid);
    // A body before any header.
    let e = r.read_section_body(&image[ranges[0].clone()]).unwrap_err();
    assert_eq!(e.error, ImageError::ReaderMisuse);
    let first = &image[ranges[0].clone()];
    let h = r.read_section_header(first).unwrap();
    assert_eq!(h.kind, SectionKind::Process);
    // Two headers in a row.
    assert_eq!(
        r.read_section_header(first).unwrap_err().error,
        ImageError::ReaderMisuse
    );
    // Finishing with a body pending.
    assert_eq!(r.finish().unwrap_err().error, ImageError::Truncated);
    let s = r.read_section_body(&first[SECTION_HEADER_LEN..]).unwrap();
    assert_eq!(s.kind(), SectionKind::Process);
    assert_eq!(r.next_index(), 1);
    assert!(!r.is_complete());
    assert_eq!(r.finish().unwrap_err().error, ImageError::Truncated);
}

/// Summaries for a minimal valid section sequence.
fn minimal_summaries(header: &ImageHeader) -> Vec<SectionSummary> {
    let mut v = vec![SectionSummary::Process {
        pid: header.pid,
        uid: header.uid,
        nr_threads: 2,
    }];
    if header.is_incremental() {
        v.push(SectionSummary::Parent {
            parent_id: header.parent_id,
        });
    }
    v.extend([
        SectionSummary::Signals,
        SectionSummary::Mm { nr_vmas: 2 },
        SectionSummary::Vma {
            start: 0x1000,
            end: 0x3000,
        },
        SectionSummary::Vma {
            start: 0x3000,
            end: 0x4000,
        },
        SectionSummary::Thread { index: 0 },
        SectionSummary::Thread { index: 1 },
        SectionSummary::File { fd: 0 },
        SectionSummary::File { fd: 5 },
        SectionSummary::Pages {
            start: 0x1000,
            npages: 2,
        },
        SectionSummary::Pages {
            start: 0x3000,
            npages: 1,
        },
    ]);
    let n = v.len() as u32;
    v.push(SectionSummary::End {
        section_count: n,
        total_pages: 3,
    });
    v
}

/// Feeds `list` to a validator; the index of the first refusal.
fn validate_all(
    header: &ImageHeader,
    list: &[SectionSummary],
) -> Result<ImageSummary, (usize, ImageError)> {
    let mut v = ImageValidator::new(header);
    for (i, s) in list.iter().enumerate() {
        let before = v;
        v.accept(i as u32, s).map_err(|e| {
            assert_eq!(v, before, "a refused section changed the validator");
            (i, e)
        })?;
    }
    v.finish().map_err(|e| (list.len(), e))
}

#[test]
fn order_rules() {
    let mut full = sample_header();
    let mut plain = sample_header();
    plain.flags = 0;
    plain.parent_id = 0;
    for h in [&plain, &full] {
        let ok = minimal_summaries(h);
        let s = validate_all(h, &ok).unwrap();
        assert_eq!(
            (s.threads, s.vmas, s.files, s.page_runs, s.total_pages),
            (2, 2, 2, 2, 3)
        );
        assert_eq!(s.sections, ok.len() as u32 - 1);
        // Without End.
        assert_eq!(
            validate_all(h, &ok[..ok.len() - 1]),
            Err((ok.len() - 1, ImageError::Truncated))
        );
        // Anything after End.
        let mut after = ok.clone();
        after.push(SectionSummary::Signals);
        assert_eq!(
            validate_all(h, &after),
            Err((ok.len(), ImageError::DataAfterEnd))
        );
    }
    let h = &plain;
    let ok = minimal_summaries(h);
    let with = |f: &dyn Fn(&mut Vec<SectionSummary>)| {
        let mut l = ok.clone();
        f(&mut l);
        validate_all(h, &l).map(|_| ()).map_err(|(_, e)| e)
    };
    use SectionSummary as S;
    assert_eq!(with(&|l| l.swap(0, 1)), Err(ImageError::SectionOutOfOrder));
    assert_eq!(with(&|l| l.swap(1, 2)), Err(ImageError::SectionOutOfOrder));
    assert_eq!(
        with(&|l| l.insert(1, S::Parent { parent_id: 1 })),
        Err(ImageError::SectionOutOfOrder)
    );
    assert_eq!(
        with(&|l| l[0] = S::Process {
            pid: 1,
            uid: h.uid,
            nr_threads: 2
        }),
        Err(ImageError::HeaderMismatch)
    );
    assert_eq!(
        with(&|l| l[0] = S::Process {
            pid: h.pid,
            uid: 1,
            nr_threads: 2
        }),
        Err(ImageError::HeaderMismatch)
    );
    // VMA count short or long.
    assert_eq!(
        with(&|l| {
            l.remove(3);
        }),
        Err(ImageError::SectionOutOfOrder)
    );
    assert_eq!(
        with(&|l| l.insert(
            5,
            S::Vma {
                start: 0x8000,
                end: 0x9000
            }
        )),
        Err(ImageError::SectionOutOfOrder)
    );
    assert_eq!(
        with(&|l| l[4] = S::Vma {
            start: 0x2000,
            end: 0x4000
        }),
        Err(ImageError::VmaOverlap)
    );
    assert_eq!(
        with(&|l| l[4] = S::Vma {
            start: 0x0,
            end: 0x1000
        }),
        Err(ImageError::VmaOverlap)
    );
    assert_eq!(with(&|l| l.swap(5, 6)), Err(ImageError::ThreadOutOfOrder));
    assert_eq!(
        with(&|l| l[5] = S::Thread { index: 1 }),
        Err(ImageError::ThreadOutOfOrder)
    );
    // A thread missing: File comes while a Thread is expected.
    assert_eq!(
        with(&|l| {
            l.remove(6);
        }),
        Err(ImageError::SectionOutOfOrder)
    );
    assert_eq!(
        with(&|l| l[8] = S::File { fd: 0 }),
        Err(ImageError::FdNotIncreasing)
    );
    assert_eq!(
        with(&|l| l[8] = S::File { fd: MAX_FDS }),
        Err(ImageError::InvalidValue)
    );
    // Files after pages.
    assert_eq!(with(&|l| l.swap(8, 9)), Err(ImageError::SectionOutOfOrder));
    assert_eq!(
        with(&|l| l[10] = S::Pages {
            start: 0x2000,
            npages: 1
        }),
        Err(ImageError::PagesOverlap)
    );
    assert_eq!(
        with(&|l| l[10] = S::Pages {
            start: 0x1000,
            npages: 0
        }),
        Err(ImageError::InvalidValue)
    );
    let end = ok.len() - 1;
    assert_eq!(
        with(&|l| l[end] = S::End {
            section_count: 1,
            total_pages: 3
        }),
        Err(ImageError::EndMismatch)
    );
    assert_eq!(
        with(&|l| l[end] = S::End {
            section_count: end as u32,
            total_pages: 4
        }),
        Err(ImageError::EndMismatch)
    );
    // No threads at all is impossible: nr_threads 0 is refused.
    assert_eq!(
        with(&|l| l[0] = S::Process {
            pid: h.pid,
            uid: h.uid,
            nr_threads: 0
        }),
        Err(ImageError::InvalidValue)
    );
    // Files and pages are optional; VMAs may be none.
    let bare = [
        S::Process {
            pid: h.pid,
            uid: h.uid,
            nr_threads: 1,
        },
        S::Signals,
        S::Mm { nr_vmas: 0 },
        S::Thread { index: 0 },
        S::End {
            section_count: 4,
            total_pages: 0,
        },
    ];
    assert!(validate_all(h, &bare).is_ok());
    // Incremental: Parent is required, with the header's id.
    full.parent_id = 77;
    let inc = minimal_summaries(&full);
    let mut no_parent = inc.clone();
    no_parent.remove(1);
    assert_eq!(
        validate_all(&full, &no_parent),
        Err((1, ImageError::SectionOutOfOrder))
    );
    let mut wrong = inc.clone();
    wrong[1] = S::Parent { parent_id: 78 };
    assert_eq!(
        validate_all(&full, &wrong),
        Err((1, ImageError::HeaderMismatch))
    );
    // Indices must run 0, 1, 2, ...
    let mut v = ImageValidator::new(h);
    assert_eq!(
        v.accept(1, &ok[0]),
        Err(ImageError::SectionIndexMismatch {
            expected: 0,
            found: 1
        })
    );
    assert_eq!(
        v.check_next(0, SectionKind::Signals),
        Err(ImageError::SectionOutOfOrder)
    );
    assert_eq!(v.check_next(0, SectionKind::Process), Ok(()));
}

#[test]
fn writer_refuses_what_a_reader_would_refuse() {
    let h = sample_header();
    let mut w = ImageWriter::new(&h).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let signals_actions = [SigAction::default(); NSIG];
    let signals = Section::Signals(SignalsBody {
        handlers: RecordList::Items(&signals_actions),
        pending: RecordList::default(),
    });
    assert_eq!(
        w.write_section(&signals, &mut buf),
        Err(ImageError::SectionOutOfOrder)
    );
    assert_eq!(w.next_index(), 0);
    let m = gen_process(&mut Gen::new(5, true), h.pid, h.uid, 1);
    // Too small a buffer: refused, nothing changes.
    assert_eq!(
        w.write_section(&m.view(), &mut buf[..20]),
        Err(ImageError::BufferTooSmall)
    );
    assert_eq!(w.next_index(), 0);
    assert!(w.write_section(&m.view(), &mut buf).is_ok());
    assert_eq!(w.next_index(), 1);
    assert!(!w.is_complete());
    let mut bad = h;
    bad.image_id = 0;
    assert_eq!(ImageWriter::new(&bad), Err(ImageError::BadImageId));
}

#[test]
fn streamed_pages_match_write_section() {
    let mut g = Gen::new(9, true);
    let mut h = sample_header();
    h.flags = 0;
    h.parent_id = 0;
    let process = gen_process(&mut g, h.pid, h.uid, 1);
    let signals = gen_signals(&mut g);
    let mm = gen_mm(&mut g, 0);
    let thread = gen_thread(&mut g, 0);
    let data = g.bytes(3 * PAGE_SIZE);
    let start = 0x7f00_0000_0000u64;

    let mut w = ImageWriter::new(&h).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut image = h.encode().unwrap().to_vec();
    for m in [&process, &signals, &mm, &thread] {
        let n = w.write_section(&m.view(), &mut buf).unwrap();
        image.extend_from_slice(&buf[..n]);
    }
    let mut w2 = w;
    // One way: the whole body in memory.
    let n = w
        .write_section(&Section::Pages(PagesBody { start, data: &data }), &mut buf)
        .unwrap();
    let whole = buf[..n].to_vec();
    // The other: header and prefix, then pages one at a time.
    let mut crc = w2.pages_crc_start(start, 3).unwrap();
    for page in data.chunks(PAGE_SIZE) {
        crc.update(page);
    }
    let n = w2
        .write_pages_start(start, 3, crc.finish(), &mut buf)
        .unwrap();
    assert_eq!(n, SECTION_HEADER_LEN + PagesBody::PREFIX_LEN);
    let mut streamed = buf[..n].to_vec();
    streamed.extend_from_slice(&data);
    assert_eq!(streamed, whole);
    assert_eq!(w2, w);
    image.extend_from_slice(&streamed);
    let n = w.write_end(&mut buf).unwrap();
    image.extend_from_slice(&buf[..n]);
    let s = parse_image(&image).unwrap();
    assert_eq!((s.page_runs, s.total_pages), (1, 3));
    // Overlapping run: refused before anything is written.
    let mut w3 = w2;
    assert_eq!(
        w3.write_pages_start(start, 1, 0, &mut buf),
        Err(ImageError::PagesOverlap)
    );
    assert_eq!(w3, w2);
    assert_eq!(
        w3.pages_crc_start(start, 0).unwrap_err(),
        ImageError::InvalidValue
    );
}
