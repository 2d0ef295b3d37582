//! Tests of the replicas' digests, comparison, vote, verdicts and images.

extern crate std;
use super::*;
use proptest::prelude::*;
use std::vec::Vec;

fn crc(p: &[u8]) -> u32 {
    let mut c = Crc32c::new();
    c.update(p);
    c.finish()
}

fn digest_body(head: DigestHead, pages: &[(u64, u32)]) -> Vec<u8> {
    let mut b = std::vec![0u8; DigestHead::LEN + pages.len() * PAGE_ENTRY_LEN];
    let h = DigestHead {
        pages: pages.len() as u32,
        ..head
    };
    assert_eq!(h.encode(&mut b).unwrap(), DigestHead::LEN);
    for (i, &(a, c)) in pages.iter().enumerate() {
        put_page(&mut b, i, a, c).unwrap();
    }
    b
}

fn head() -> DigestHead {
    DigestHead {
        copy: 1,
        generation: 3,
        home_id: 77,
        point: 12,
        regs_crc: 1,
        fpu_crc: 2,
        layout_crc: 3,
        pages: 0,
    }
}

#[test]
fn every_single_bit_of_a_page_has_its_own_syndrome() {
    let zero = zero_page_crc();
    let mut seen = Vec::new();
    let mut page = std::vec![0u8; PAGE];
    for bit in (0..PAGE * 8).step_by(97) {
        page[bit / 8] ^= 1 << (bit % 8);
        let c = crc(&page);
        page[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(locate_bit(zero, c), Some(bit as u32), "bit {bit}");
        seen.push(c ^ zero);
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), (PAGE * 8).div_ceil(97));
    assert_eq!(locate_bit(5, 5), None);
}

proptest! {
    #[test]
    fn a_flipped_bit_is_found_in_any_page(seed in any::<u64>(), bit in 0usize..PAGE * 8) {
        let mut page = std::vec![0u8; PAGE];
        let mut x = seed | 1;
        for b in page.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let before = crc(&page);
        page[bit / 8] ^= 1 << (bit % 8);
        prop_assert_eq!(locate_bit(before, crc(&page)), Some(bit as u32));
    }

    #[test]
    fn digests_decode_or_refuse(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Digest::decode(&b);
        let _ = Verdict::decode(&b);
        let _ = ReplicaAsk::decode(&b);
    }

    #[test]
    fn compare_agrees_with_a_page_model(
        a in proptest::collection::btree_map(0u64..64, any::<u32>(), 0..20),
        b in proptest::collection::btree_map(0u64..64, any::<u32>(), 0..20),
    ) {
        let zero = zero_page_crc();
        let pa: Vec<(u64, u32)> = a.iter().map(|(&k, &v)| (k * 4096, v)).collect();
        let pb: Vec<(u64, u32)> = b.iter().map(|(&k, &v)| (k * 4096, v)).collect();
        let ba = digest_body(head(), &pa);
        let bb = digest_body(head(), &pb);
        let d = compare(&Digest::decode(&ba).unwrap(), &Digest::decode(&bb).unwrap());
        let mut differ = 0u32;
        let mut first = None;
        for k in 0..64u64 {
            let ca = a.get(&k).copied().unwrap_or(zero);
            let cb = b.get(&k).copied().unwrap_or(zero);
            if ca != cb {
                differ += 1;
                first.get_or_insert(k * 4096);
            }
        }
        prop_assert_eq!(d.pages, differ);
        // Random CRCs rarely look like one bit: the first page then.
        if d.first.is_some_and(|f| f.bit.is_none()) {
            prop_assert_eq!(d.first.map(|f| f.addr), first);
        }
        prop_assert_eq!(d.first.is_some(), first.is_some());
        prop_assert_eq!(d.same(), differ == 0);
    }
}

#[test]
fn digests_round_trip_and_refuse_bad_lists() {
    let b = digest_body(head(), &[(4096, 9), (8192, 10)]);
    let d = Digest::decode(&b).unwrap();
    assert_eq!(d.head.pages, 2);
    assert_eq!(d.page(1), (8192, 10));
    let unsorted = digest_body(head(), &[(8192, 9), (4096, 10)]);
    assert_eq!(
        Digest::decode(&unsorted).unwrap_err(),
        WireError::InvalidValue
    );
    let mut no_point = digest_body(head(), &[]);
    no_point[16..24].fill(0xff);
    assert_eq!(
        Digest::decode(&no_point).unwrap_err(),
        WireError::InvalidValue
    );
    let unaligned = digest_body(head(), &[(4097, 9)]);
    assert_eq!(
        Digest::decode(&unaligned).unwrap_err(),
        WireError::InvalidValue
    );
    assert!(Digest::decode(&b[..b.len() - 1]).is_err());
    let regs = DigestHead {
        regs_crc: 8,
        ..head()
    };
    let br = digest_body(regs, &[(4096, 9), (8192, 10)]);
    let diff = compare(&d, &Digest::decode(&br).unwrap());
    assert!(diff.regs && !diff.same() && diff.pages == 0);
}

#[test]
fn the_page_named_is_the_one_bit_flip() {
    let mut page = std::vec![7u8; PAGE];
    let c = crc(&page);
    page[9] ^= 1 << 2;
    let flipped = crc(&page);
    let a = digest_body(head(), &[(4096, 1), (8192, c)]);
    let b = digest_body(head(), &[(4096, 2), (8192, flipped)]);
    let d = compare(&Digest::decode(&a).unwrap(), &Digest::decode(&b).unwrap());
    assert_eq!(d.pages, 2);
    assert_eq!(d.first.map(|f| (f.addr, f.bit)), Some((8192, Some(74))));
}

#[test]
fn a_page_listed_once_differs_from_a_zero_page() {
    let zero = zero_page_crc();
    let mut page = std::vec![0u8; PAGE];
    page[100] = 1 << 3;
    let a = digest_body(head(), &[]);
    let b = digest_body(head(), &[(4096, crc(&page))]);
    let d = compare(&Digest::decode(&a).unwrap(), &Digest::decode(&b).unwrap());
    assert_eq!(d.pages, 1);
    let f = d.first.unwrap();
    assert_eq!((f.addr, f.crc_a, f.bit), (4096, zero, Some(803)));
}

#[test]
fn the_vote_names_the_odd_copy() {
    assert_eq!(vote(2, [true, false, false]), Vote::Same);
    assert_eq!(vote(2, [false, true, true]), Vote::NoMajority);
    assert_eq!(vote(3, [true, true, true]), Vote::Same);
    assert_eq!(vote(3, [false, false, true]), Vote::Odd(0));
    assert_eq!(vote(3, [false, true, false]), Vote::Odd(1));
    assert_eq!(vote(3, [true, false, false]), Vote::Odd(2));
    assert_eq!(vote(3, [false, false, false]), Vote::NoMajority);
    assert!(emits(0, 5, 5) && !emits(0, 4, 5) && !emits(1, 9, 5));
}

#[test]
fn verdicts_and_asks_round_trip() {
    for action in [
        Action::Go { emit: true },
        Action::Go { emit: false },
        Action::Stop,
    ] {
        let v = Verdict {
            copy: 2,
            generation: 4,
            home_id: 9,
            point: 11,
            action,
        };
        let mut b = [0u8; Verdict::LEN];
        assert_eq!(v.encode(&mut b).unwrap(), Verdict::LEN);
        assert_eq!(Verdict::decode(&b).unwrap(), v);
    }
    let mut b = [0u8; Verdict::LEN];
    b[0] = HA_VERSION;
    b[2] = 1;
    b[3] = 1;
    assert_eq!(Verdict::decode(&b).unwrap_err(), WireError::InvalidValue);
    let ask = ReplicaAsk {
        copy: 1,
        generation: 2,
        home_id: 3,
        point: 4,
        emitted: 5,
        home_pid: 6,
        armed: true,
        path: b"/cluster/ssi-ha/6/1.img",
    };
    let mut b = [0u8; 300];
    let n = ask.encode(&mut b).unwrap();
    assert_eq!(ReplicaAsk::decode(&b[..n]).unwrap(), ask);
    let primary_with_path = ReplicaAsk { copy: 0, ..ask };
    assert!(primary_with_path.encode(&mut b).is_err());
    let relative = ReplicaAsk {
        path: b"x.img",
        ..ask
    };
    assert!(relative.encode(&mut b).is_err());
}

#[test]
fn images_become_good_once_agreed_past() {
    let mut im = Images::default();
    let mut removed = [0u32; 5];
    assert_eq!(im.written(1, 10), None);
    assert_eq!(im.agreed(9, &mut removed), 0);
    assert_eq!(im.good, None);
    assert_eq!(im.agreed(10, &mut removed), 0);
    assert_eq!(im.good, Some((1, 10)));
    im.written(2, 20);
    im.written(3, 30);
    assert!(im.wants(1) && im.wants(2) && im.wants(3));
    assert_eq!(im.agreed(25, &mut removed), 1);
    assert_eq!((removed[0], im.good), (1, Some((2, 20))));
    assert!(!im.wants(1));
    let mut gone = [0u32; 4];
    assert_eq!(im.roll_back(&mut gone), 1);
    assert_eq!(gone[0], 3);
    assert!(im.wants(2) && !im.wants(3));
    for s in 10..14 {
        assert_eq!(im.written(s, 100), None);
    }
    assert_eq!(im.written(14, 100), Some(10));
}
