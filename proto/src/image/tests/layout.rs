//! Tests of the fixed layouts: CRC-32C, the image header, the section
//! header, error messages and register indices.

extern crate std;
use super::super::crc::CRC32C_POLY;
use super::super::*;
use super::gen::*;
use proptest::prelude::*;
use std::vec::Vec;

/// Bit-at-a-time CRC-32C, the reference for the table version.
fn crc32c_bitwise(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ CRC32C_POLY
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn crc32c_check_values() {
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c(b""), 0);
    // RFC 3720 (iSCSI) B.4 test vectors.
    assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
    let inc: Vec<u8> = (0u8..32).collect();
    assert_eq!(crc32c(&inc), 0x46DD_794E);
    let dec: Vec<u8> = (0u8..32).rev().collect();
    assert_eq!(crc32c(&dec), 0x113F_DB5C);
}

#[test]
fn crc32c_state_hands_over() {
    let data = b"hello, checkpoint image";
    let mut a = Crc32c::new();
    a.update(&data[..7]);
    let mut b = Crc32c::from_state(a.state());
    b.update(&data[7..]);
    assert_eq!(b.finish(), crc32c(data));
    assert_eq!(Crc32c::from_state(!0), Crc32c::new());
    assert_eq!(Crc32c::default().finish(), 0);
}

proptest! {
    #[test]
    fn crc32c_matches_bitwise_reference(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        prop_assert_eq!(crc32c(&data), crc32c_bitwise(&data));
    }

    #[test]
    fn crc32c_incremental_equals_one_shot(
        data in proptest::collection::vec(any::<u8>(), 0..2000),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
        points.sort_unstable();
        let mut c = Crc32c::new();
        let mut from = 0;
        for p in points {
            c.update(&data[from..p]);
            from = p;
        }
        c.update(&data[from..]);
        prop_assert_eq!(c.finish(), crc32c(&data));
    }
}

// -----------------------------------------------------------------------
// Image header

#[test]
fn image_header_layout_is_little_endian() {
    let b = sample_header().encode().unwrap();
    assert_eq!(&b[0..8], b"SSICKPT\0");
    assert_eq!(&b[8..10], &[2, 0]);
    assert_eq!(&b[10..12], &[1, 0]);
    assert_eq!(&b[12..14], &[64, 0]);
    assert_eq!(&b[14..16], &[0, 0]);
    assert_eq!(
        &b[16..24],
        &[0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11]
    );
    assert_eq!(
        &b[24..32],
        &[0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21]
    );
    assert_eq!(
        &b[32..40],
        &[0x38, 0x37, 0x36, 0x35, 0x34, 0x33, 0x32, 0x31]
    );
    assert_eq!(&b[40..44], &[0x44, 0x43, 0x42, 0x41]);
    assert_eq!(&b[44..48], &[0x54, 0x53, 0x52, 0x51]);
    assert_eq!(&b[48..52], &[0x64, 0x63, 0x62, 0x61]);
    assert_eq!(&b[52..56], &[1, 0, 0, 0]);
    assert_eq!(&b[56..60], &[0, 0, 0, 0]);
    let mut zeroed = b;
    zeroed[60..64].fill(0);
    assert_eq!(&b[60..64], &crc32c(&zeroed).to_le_bytes());
    assert_eq!(ImageHeader::decode(&b), Ok(sample_header()));
    // More bytes may follow; they are not looked at.
    let mut longer = b.to_vec();
    longer.extend_from_slice(&[0xAA; 10]);
    assert_eq!(ImageHeader::decode(&longer), Ok(sample_header()));
}

#[test]
fn image_header_errors() {
    let good = sample_header().encode().unwrap();
    let with = |f: &dyn Fn(&mut [u8; 64]), fix: bool| {
        let mut b = good;
        f(&mut b);
        if fix {
            fix_header_crc(&mut b);
        }
        ImageHeader::decode(&b)
    };
    for n in 0..IMAGE_HEADER_LEN {
        assert_eq!(ImageHeader::decode(&good[..n]), Err(ImageError::Truncated));
    }
    assert_eq!(with(&|b| b[0] = b'X', true), Err(ImageError::BadMagic));
    assert_eq!(
        with(&|b| b[8] = 3, false),
        Err(ImageError::UnsupportedVersion { found: 3 })
    );
    assert_eq!(
        with(&|b| b[8] = 1, true),
        Err(ImageError::UnsupportedVersion { found: 1 })
    );
    assert_eq!(
        with(&|b| b[8..10].copy_from_slice(&0u16.to_le_bytes()), true),
        Err(ImageError::UnsupportedVersion { found: 0 })
    );
    assert_eq!(
        with(&|b| b[12] = 72, true),
        Err(ImageError::BadHeaderLength)
    );
    assert_eq!(
        with(&|b| b[20] ^= 1, false),
        Err(ImageError::BadHeaderChecksum)
    );
    assert_eq!(
        with(&|b| b[61] ^= 1, false),
        Err(ImageError::BadHeaderChecksum)
    );
    assert_eq!(with(&|b| b[14] = 1, true), Err(ImageError::ReservedNotZero));
    assert_eq!(with(&|b| b[59] = 1, true), Err(ImageError::ReservedNotZero));
    assert_eq!(with(&|b| b[10] |= 4, true), Err(ImageError::UnknownFlags));
    assert_eq!(with(&|b| b[52] = 2, true), Err(ImageError::WrongArch));
    // Not incremental but a parent id; incremental without one; id 0.
    assert_eq!(with(&|b| b[10] = 0, true), Err(ImageError::BadImageId));
    assert_eq!(
        with(&|b| b[24..32].fill(0), true),
        Err(ImageError::BadImageId)
    );
    assert_eq!(
        with(&|b| b[16..24].fill(0), true),
        Err(ImageError::BadImageId)
    );
    assert_eq!(
        with(&|b| b[44..48].fill(0), true),
        Err(ImageError::InvalidValue)
    );

    let mut h = sample_header();
    h.parent_id = h.image_id;
    assert_eq!(h.encode(), Err(ImageError::BadImageId));
    h = sample_header();
    h.arch = 0;
    assert_eq!(h.encode(), Err(ImageError::WrongArch));
}

proptest! {
    #[test]
    fn image_header_round_trip(seed in any::<u64>()) {
        let m = gen_image(&mut Gen::new(seed, true), true);
        let mut h = m.header;
        if seed & 1 == 0 {
            h.flags = 0;
            h.parent_id = 0;
        }
        let b = h.encode().unwrap();
        prop_assert_eq!(ImageHeader::decode(&b), Ok(h));
    }
}

// -----------------------------------------------------------------------
// Section header

#[test]
fn section_header_layout_and_errors() {
    let body = b"0123456789ab";
    let h = SectionHeader::for_body(SectionKind::End, 0x0102_0304, body).unwrap();
    let b = h.encode();
    assert_eq!(&b[0..4], &[15, 0, 0, 0]);
    assert_eq!(&b[4..8], &[12, 0, 0, 0]);
    assert_eq!(&b[8..12], &[4, 3, 2, 1]);
    let mut covered = b[..12].to_vec();
    covered.extend_from_slice(body);
    assert_eq!(&b[12..16], &crc32c(&covered).to_le_bytes());
    assert_eq!(h.crc_prefix(), b[..12]);
    assert_eq!(SectionHeader::decode(&b), Ok(h));
    assert_eq!(h.verify_body(body), Ok(()));
    assert_eq!(h.check_body(body, h.crc), Ok(()));
    assert_eq!(
        h.check_body(body, h.crc ^ 1),
        Err(ImageError::SectionChecksumMismatch)
    );
    assert_eq!(
        h.verify_body(&body[..11]),
        Err(ImageError::BodyLengthMismatch)
    );
    assert_eq!(
        h.verify_body(b"0123456789aX"),
        Err(ImageError::SectionChecksumMismatch)
    );
    for n in 0..SECTION_HEADER_LEN {
        assert_eq!(SectionHeader::decode(&b[..n]), Err(ImageError::Truncated));
    }
    let mut bad = b;
    bad[0] = 9;
    assert_eq!(
        SectionHeader::decode(&bad),
        Err(ImageError::UnknownSectionKind { found: 9 })
    );
    bad[0..4].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(
        SectionHeader::decode(&bad),
        Err(ImageError::UnknownSectionKind { found: 0 })
    );
    // Too long for End, though short for Pages.
    bad = b;
    bad[4] = 13;
    assert_eq!(
        SectionHeader::decode(&bad),
        Err(ImageError::SectionTooLarge)
    );
    bad[0] = SectionKind::Pages.as_u32() as u8;
    assert!(SectionHeader::decode(&bad).is_ok());
    bad[4..8].copy_from_slice(&(MAX_SECTION_BODY + 1).to_le_bytes());
    assert_eq!(
        SectionHeader::decode(&bad),
        Err(ImageError::SectionTooLarge)
    );
    bad[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        SectionHeader::decode(&bad),
        Err(ImageError::SectionTooLarge)
    );
}

#[test]
fn section_kinds_round_trip() {
    for k in SectionKind::ALL {
        assert_eq!(SectionKind::from_u32(k.as_u32()), Some(k));
        assert!(k.max_body_len() <= MAX_SECTION_BODY);
        assert!(!k.name().is_empty());
    }
    for v in [0, 9, 10, 14, 16, u32::MAX] {
        assert_eq!(SectionKind::from_u32(v), None);
    }
    assert_eq!(MAX_SECTION_BODY, SectionKind::Pages.max_body_len());
}

#[test]
fn every_error_has_a_message() {
    let all = [
        ImageError::Truncated,
        ImageError::TrailingBytes,
        ImageError::BufferTooSmall,
        ImageError::BadMagic,
        ImageError::UnsupportedVersion { found: 2 },
        ImageError::BadHeaderLength,
        ImageError::BadHeaderChecksum,
        ImageError::ReservedNotZero,
        ImageError::UnknownFlags,
        ImageError::WrongArch,
        ImageError::BadImageId,
        ImageError::UnknownSectionKind { found: 99 },
        ImageError::SectionTooLarge,
        ImageError::BodyLengthMismatch,
        ImageError::SectionChecksumMismatch,
        ImageError::SectionIndexMismatch {
            expected: 1,
            found: 2,
        },
        ImageError::SectionOutOfOrder,
        ImageError::ThreadOutOfOrder,
        ImageError::DataAfterEnd,
        ImageError::CountTooLarge,
        ImageError::InvalidPath,
        ImageError::InvalidKind,
        ImageError::InvalidFlags,
        ImageError::Misaligned,
        ImageError::InvalidRange,
        ImageError::InvalidValue,
        ImageError::HeaderMismatch,
        ImageError::VmaOverlap,
        ImageError::PagesOverlap,
        ImageError::FdNotIncreasing,
        ImageError::EndMismatch,
        ImageError::ReaderMisuse,
    ];
    let mut seen = std::collections::BTreeSet::new();
    for e in all {
        assert!(!e.describe().is_empty());
        assert!(
            seen.insert(e.describe()),
            "duplicate message {}",
            e.describe()
        );
        assert!(!std::format!("{e}").is_empty());
    }
    assert_eq!(
        std::format!(
            "{}",
            ImageError::SectionIndexMismatch {
                expected: 1,
                found: 2
            }
        ),
        "section out of sequence (index 2, expected 1)"
    );
}

#[test]
fn register_indices_follow_user_regs_struct() {
    let order = [
        REG_R15,
        REG_R14,
        REG_R13,
        REG_R12,
        REG_RBP,
        REG_RBX,
        REG_R11,
        REG_R10,
        REG_R9,
        REG_R8,
        REG_RAX,
        REG_RCX,
        REG_RDX,
        REG_RSI,
        REG_RDI,
        REG_ORIG_RAX,
        REG_RIP,
        REG_CS,
        REG_EFLAGS,
        REG_RSP,
        REG_SS,
        REG_FS_BASE,
        REG_GS_BASE,
        REG_DS,
        REG_ES,
        REG_FS,
        REG_GS,
    ];
    for (i, r) in order.iter().enumerate() {
        assert_eq!(i, *r);
    }
    assert_eq!(order.len(), NR_REGS);
}
