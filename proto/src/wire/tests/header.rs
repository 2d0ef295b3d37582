//! Tests of the frame header, message types, error texts, tags and
//! sequence numbers.

extern crate std;
use super::super::*;
use super::gen::*;
use proptest::prelude::*;

#[test]
fn reliable_requests_carry_a_gap_below_their_id() {
    let mut h = sample_header();
    h.flags = FLAG_RELIABLE;
    h.request_id = 10;
    for (gap, ok) in [(0, true), (9, true), (10, false), (4095, false)] {
        h.ack_gap = gap;
        let want = if ok {
            Ok(h)
        } else {
            Err(WireError::BadReserved)
        };
        assert_eq!(FrameHeader::decode(&encoded(&h)), want);
    }
    h.request_id = 100_000;
    h.ack_gap = 4095;
    assert_eq!(FrameHeader::decode(&encoded(&h)), Ok(h));
    h.ack_gap = 4096;
    assert_eq!(
        FrameHeader::decode(&encoded(&h)),
        Err(WireError::BadReserved)
    );
    h.ack_gap = 0;
    h.request_id = 0;
    assert_eq!(FrameHeader::decode(&encoded(&h)), Err(WireError::BadFlags));
    // Acknowledgements carry no gap.
    h.flags = FLAG_RELIABLE | FLAG_REPLY;
    h.request_id = 10;
    assert_eq!(FrameHeader::decode(&encoded(&h)), Ok(h));
    h.ack_gap = 1;
    assert_eq!(
        FrameHeader::decode(&encoded(&h)),
        Err(WireError::BadReserved)
    );
}

#[test]
fn message_type_names_round_trip() {
    for v in 0..=255u8 {
        if let Some(k) = MsgType::from_u8(v) {
            assert_eq!(MsgType::from_name(k.name().as_bytes()), Some(k));
            assert_ne!(k.name(), "?");
        }
    }
    assert_eq!(
        MsgType::from_name(b"migrateexit"),
        Some(MsgType::MigrateExit)
    );
    assert_eq!(MsgType::from_name(b"Nope"), None);
}

#[test]
fn header_layout_is_little_endian() {
    let b = encoded(&sample_header());
    assert_eq!(&b[0..4], b"SSIK");
    assert_eq!(b[4], 3);
    assert_eq!(b[5], 8);
    assert_eq!(&b[6..8], &[1, 0]);
    assert_eq!(&b[8..10], &[0x02, 0x01]);
    assert_eq!(&b[10..12], &[0x04, 0x03]);
    assert_eq!(&b[12..16], &[0x08, 0x07, 0x06, 0x05]);
    assert_eq!(
        &b[16..24],
        &[0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11]
    );
    assert_eq!(
        &b[24..32],
        &[0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21]
    );
    assert_eq!(&b[32..36], &[0x03, 0x02, 0x01, 0x00]);
    assert_eq!(&b[36..40], &[0, 0, 0, 0]);
    assert_eq!(&b[TAG_OFFSET..TAG_OFFSET + TAG_LEN], &[0xee; TAG_LEN]);
    assert_eq!(FrameHeader::decode(&b), Ok(sample_header()));
}

#[test]
fn mac_header_zeroes_only_the_tag() {
    let h = sample_header();
    let full = encoded(&h);
    let mac = h.mac_header();
    assert_eq!(&mac[..TAG_OFFSET], &full[..TAG_OFFSET]);
    assert_eq!(&mac[TAG_OFFSET..], &[0u8; TAG_LEN]);
    assert_eq!(FrameHeader::decode(&mac).map(|d| d.tag), Ok([0u8; TAG_LEN]));
}

#[test]
fn header_decode_checks() {
    let good = encoded(&sample_header());
    let with = |f: &dyn Fn(&mut [u8; HEADER_LEN])| {
        let mut b = good;
        f(&mut b);
        FrameHeader::decode(&b)
    };
    assert_eq!(
        FrameHeader::decode(&good[..HEADER_LEN - 1]),
        Err(WireError::Truncated)
    );
    assert_eq!(FrameHeader::decode(&[]), Err(WireError::Truncated));
    // Extra bytes after the header (the body) are not looked at.
    let mut long = good.to_vec();
    long.extend_from_slice(b"body");
    assert_eq!(FrameHeader::decode(&long), Ok(sample_header()));

    assert_eq!(with(&|b| b[0] = b'X'), Err(WireError::BadMagic));
    assert_eq!(with(&|b| b[3] = b'k'), Err(WireError::BadMagic));
    assert_eq!(with(&|b| b[4] = 1), Err(WireError::BadVersion));
    assert_eq!(with(&|b| b[4] = 0), Err(WireError::BadVersion));
    assert_eq!(with(&|b| b[4] = 2), Err(WireError::BadVersion));
    assert_eq!(with(&|b| b[6] = 8), Err(WireError::BadFlags));
    assert_eq!(with(&|b| b[7] = 0x80), Err(WireError::BadFlags));
    assert_eq!(with(&|b| b[6] = FLAG_ERROR as u8), Err(WireError::BadFlags));
    assert!(with(&|b| b[6] = (FLAG_ERROR | FLAG_REPLY) as u8)
        .is_ok_and(|h| h.is_error() && h.is_reply()));
    assert!(with(&|b| b[6] = 0).is_ok_and(|h| !h.is_error() && !h.is_reply()));
    assert_eq!(with(&|b| b[39] = 1), Err(WireError::BadReserved));
    assert_eq!(with(&|b| b[36] = 1), Err(WireError::BadReserved));

    let set_len = |b: &mut [u8; HEADER_LEN], v: u32| b[32..36].copy_from_slice(&v.to_le_bytes());
    assert!(with(&|b| set_len(b, MAX_BODY)).is_ok());
    assert_eq!(
        with(&|b| set_len(b, MAX_BODY + 1)),
        Err(WireError::BodyTooLarge)
    );
    assert_eq!(
        with(&|b| set_len(b, u32::MAX)),
        Err(WireError::BodyTooLarge)
    );

    let set_src = |b: &mut [u8; HEADER_LEN], v: u16| b[8..10].copy_from_slice(&v.to_le_bytes());
    let set_dst = |b: &mut [u8; HEADER_LEN], v: u16| b[10..12].copy_from_slice(&v.to_le_bytes());
    assert_eq!(with(&|b| set_src(b, 0)), Err(WireError::BadNodeId));
    assert_eq!(with(&|b| set_src(b, 4096)), Err(WireError::BadNodeId));
    assert!(with(&|b| set_src(b, 4095)).is_ok());
    assert!(with(&|b| set_src(b, 1)).is_ok());
    assert_eq!(with(&|b| set_dst(b, 4096)), Err(WireError::BadNodeId));
    assert_eq!(with(&|b| set_dst(b, u16::MAX)), Err(WireError::BadNodeId));
    assert!(with(&|b| set_dst(b, 0)).is_ok());
    assert!(with(&|b| set_dst(b, 4095)).is_ok());
    // src 0 only in handshake frames.
    for t in [MsgType::Hello, MsgType::HelloAuth] {
        assert!(with(&|b| {
            set_src(b, 0);
            b[5] = t as u8;
        })
        .is_ok());
        assert_eq!(
            with(&|b| {
                set_src(b, 4096);
                b[5] = t as u8;
            }),
            Err(WireError::BadNodeId)
        );
    }
    // Unknown types decode; dispatch refuses them.
    for t in [0u8, 41, 200, 255] {
        let h = with(&|b| b[5] = t).unwrap();
        assert_eq!(h.msg_type, t);
        assert_eq!(h.kind(), None);
        assert_eq!(MsgType::try_from(t), Err(WireError::UnknownType));
    }
    assert_eq!(with(&|b| set_src(b, 0)), Err(WireError::BadNodeId)); // type 8 = Echo
}

#[test]
fn msg_types() {
    for v in 0..=255u8 {
        match MsgType::from_u8(v) {
            Some(t) => {
                assert!((1..=40).contains(&v));
                assert_eq!(t.as_u8(), v);
                assert_eq!(u8::from(t), v);
                assert_eq!(MsgType::try_from(v), Ok(t));
            }
            None => assert!(v == 0 || v > 11),
        }
    }
    assert_eq!(MsgType::Hello as u8, 1);
    assert_eq!(MsgType::HelloAuth as u8, 2);
    assert_eq!(MsgType::Heartbeat as u8, 3);
    assert_eq!(MsgType::JoinRequest as u8, 4);
    assert_eq!(MsgType::JoinReply as u8, 5);
    assert_eq!(MsgType::Leave as u8, 6);
    assert_eq!(MsgType::NodeDead as u8, 7);
    assert_eq!(MsgType::Echo as u8, 8);
    assert_eq!(MsgType::Stream as u8, 9);
    assert!(MsgType::Hello.is_handshake() && MsgType::HelloAuth.is_handshake());
    assert!(!MsgType::Heartbeat.is_handshake());
}

#[test]
fn errors_describe() {
    for e in [
        WireError::Truncated,
        WireError::TrailingBytes,
        WireError::BufferTooSmall,
        WireError::BadMagic,
        WireError::BadVersion,
        WireError::BadFlags,
        WireError::BadReserved,
        WireError::BodyTooLarge,
        WireError::BadNodeId,
        WireError::InvalidValue,
        WireError::UnknownType,
        WireError::Replay,
        WireError::SeqGap,
        WireError::SeqExhausted,
    ] {
        assert!(!e.describe().is_empty());
    }
}

#[test]
fn tags() {
    let a = [3u8; 32];
    assert!(tags_equal(&a, &a));
    for i in 0..32 {
        for bit in 0..8 {
            let mut b = a;
            b[i] ^= 1 << bit;
            assert!(!tags_equal(&a, &b));
        }
    }
}

#[test]
fn replay_guard_examples() {
    let mut g = ReplayGuard::new();
    assert_eq!(g.check_and_advance(0), Err(WireError::Replay));
    assert_eq!(g.check_and_advance(2), Err(WireError::SeqGap));
    assert_eq!(g.check_and_advance(1), Ok(()));
    assert_eq!(g.check_and_advance(1), Err(WireError::Replay));
    assert_eq!(g.check_and_advance(2), Ok(()));
    assert_eq!(g.check_and_advance(u64::MAX), Err(WireError::SeqGap));
    assert_eq!(g.next_expected, 3);
    assert_eq!(ReplayGuard::default(), ReplayGuard::new());

    let mut g = ReplayGuard {
        next_expected: u64::MAX - 1,
    };
    assert_eq!(g.check_and_advance(u64::MAX - 1), Ok(()));
    assert_eq!(g.check_and_advance(u64::MAX), Ok(()));
    assert_eq!(g.next_expected, 0);
    for s in [0, 1, u64::MAX - 1, u64::MAX] {
        assert_eq!(g.check_and_advance(s), Err(WireError::SeqExhausted));
    }
}

#[test]
fn seq_counter_examples() {
    let mut c = SeqCounter::new();
    assert_eq!(c.next_seq(), Ok(1));
    assert_eq!(c.next_seq(), Ok(2));
    assert_eq!(SeqCounter::default(), SeqCounter::new());
    let mut c = SeqCounter { next: u64::MAX };
    assert_eq!(c.next_seq(), Ok(u64::MAX));
    assert_eq!(c.next_seq(), Err(WireError::SeqExhausted));
    assert_eq!(c.next_seq(), Err(WireError::SeqExhausted));
    // A counter and a guard agree.
    let mut c = SeqCounter::new();
    let mut g = ReplayGuard::new();
    for _ in 0..1000 {
        assert_eq!(g.check_and_advance(c.next_seq().unwrap()), Ok(()));
    }
}

proptest! {
    #[test]
    fn header_round_trip(h in valid_header()) {
        prop_assert_eq!(h.validate(), Ok(()));
        let b = encoded(&h);
        prop_assert_eq!(FrameHeader::decode(&b), Ok(h));
        prop_assert_eq!(&h.mac_header()[..TAG_OFFSET], &b[..TAG_OFFSET]);
        for k in 0..HEADER_LEN {
            prop_assert_eq!(FrameHeader::decode(&b[..k]), Err(WireError::Truncated));
        }
    }

    #[test]
    fn header_corruptions_rejected(h in valid_header(), magic_byte in 0usize..4, x in 1u8..=255,
                                   version in any::<u8>(), flags in 8u16..=u16::MAX,
                                   reserved in 1u32..=u32::MAX, body_len in (MAX_BODY + 1)..=u32::MAX) {
        let good = encoded(&h);
        let mut b = good;
        b[magic_byte] ^= x;
        prop_assert_eq!(FrameHeader::decode(&b), Err(WireError::BadMagic));
        let mut b = good;
        b[4] = version;
        prop_assert_eq!(FrameHeader::decode(&b).is_ok(), version == WIRE_VERSION);
        let mut b = good;
        b[6..8].copy_from_slice(&flags.to_le_bytes());
        prop_assert_eq!(FrameHeader::decode(&b), Err(WireError::BadFlags));
        let mut b = good;
        b[36..40].copy_from_slice(&reserved.to_le_bytes());
        prop_assert_eq!(FrameHeader::decode(&b), Err(WireError::BadReserved));
        let mut b = good;
        b[32..36].copy_from_slice(&body_len.to_le_bytes());
        prop_assert_eq!(FrameHeader::decode(&b), Err(WireError::BodyTooLarge));
    }

    #[test]
    fn header_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..100), fix in any::<bool>()) {
        let mut bytes = bytes;
        if fix && bytes.len() >= 40 {
            // Make a valid header more likely.
            bytes[..4].copy_from_slice(&MAGIC);
            bytes[4] = WIRE_VERSION;
            bytes[6] &= 1;
            bytes[7] = 0;
            bytes[9] &= 0x0f;
            bytes[11] &= 0x0f;
            bytes[34] &= 0x0f;
            bytes[35] = 0;
            bytes[36..40].fill(0);
        }
        if let Ok(h) = FrameHeader::decode(&bytes) {
            prop_assert_eq!(&encoded(&h)[..], &bytes[..HEADER_LEN]);
            prop_assert_eq!(h.validate(), Ok(()));
        }
    }

    #[test]
    fn replay_guard_accepts_exactly_the_sequence(start in prop_oneof![Just(1u64), any::<u64>()],
                                                 seqs in proptest::collection::vec(prop_oneof![
                                                     Just(0i64), Just(1), Just(-1), Just(2), -5i64..5], 0..60)) {
        // Offsets from the expected value; a model decides the outcome.
        let mut g = ReplayGuard { next_expected: start };
        let mut expected = Some(start).filter(|&s| s != 0);
        for off in seqs {
            let Some(exp) = expected else {
                prop_assert_eq!(g.check_and_advance(start.wrapping_add(off as u64)), Err(WireError::SeqExhausted));
                continue;
            };
            let seq = exp.wrapping_add(off as u64);
            let r = g.check_and_advance(seq);
            if seq == exp {
                prop_assert_eq!(r, Ok(()));
                expected = exp.checked_add(1);
            } else if seq < exp {
                prop_assert_eq!(r, Err(WireError::Replay));
            } else {
                prop_assert_eq!(r, Err(WireError::SeqGap));
            }
            prop_assert_eq!(g.next_expected, expected.unwrap_or(0));
        }
    }

    #[test]
    fn tags_equal_is_equality(a in any::<[u8; 32]>(), b in any::<[u8; 32]>()) {
        prop_assert_eq!(tags_equal(&a, &b), a == b);
        prop_assert!(tags_equal(&a, &a));
    }
}
