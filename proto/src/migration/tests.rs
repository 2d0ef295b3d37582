//! Unit and property tests of the migration bodies and helpers.

extern crate std;
use super::super::wire::WireError;
use super::*;
use proptest::prelude::*;
use std::vec::Vec;

#[test]
fn zero_ids_are_refused() {
    let mut b = [0u8; 64];
    assert_eq!(Ref { id: 0 }.encode(&mut b), Err(WireError::InvalidValue));
    assert_eq!(Ref::decode(&[0; 8]), Err(WireError::InvalidValue));
    assert_eq!(Exit::decode(&[0; 12]), Err(WireError::InvalidValue));
}

#[test]
fn wait_status() {
    assert_eq!(WaitStatus::from_raw(0), Some(WaitStatus::Exited(0)));
    assert_eq!(WaitStatus::from_raw(3 << 8), Some(WaitStatus::Exited(3)));
    assert_eq!(
        WaitStatus::from_raw(15),
        Some(WaitStatus::Signaled {
            sig: 15,
            core: false
        })
    );
    assert_eq!(
        WaitStatus::from_raw(0x8b),
        Some(WaitStatus::Signaled {
            sig: 11,
            core: true
        })
    );
    // Stopped, continued, garbage.
    assert_eq!(WaitStatus::from_raw(0x137f), None);
    assert_eq!(WaitStatus::from_raw(0xffff), None);
    assert_eq!(WaitStatus::from_raw(0x1_0000), None);
    assert_eq!(WaitStatus::from_raw(0x0105), None);
}

#[test]
fn pagemap_classes() {
    assert_eq!(page_state(0, false), PageState::Absent);
    assert_eq!(page_state(1 << 63 | 1 << 55, false), PageState::Dirty);
    assert_eq!(page_state(1 << 63, false), PageState::Clean);
    assert_eq!(page_state(1 << 62 | 1 << 55, false), PageState::Dirty);
    assert_eq!(
        page_state(1 << 63 | 1 << 61 | 1 << 55, true),
        PageState::Absent
    );
    assert_eq!(page_state(1 << 63 | 1 << 61, false), PageState::Clean);
    // Soft-dirty alone (a never touched page of a new mapping).
    assert_eq!(page_state(1 << 55, false), PageState::Absent);
}

#[test]
fn precopy_stops() {
    assert!(precopy_continue(1000, 500, 1, 8, 64));
    assert!(!precopy_continue(1000, 950, 1, 8, 64), "not converging");
    assert!(!precopy_continue(1000, 10, 1, 8, 64), "small enough");
    assert!(!precopy_continue(1000, 500, 8, 8, 64), "enough rounds");
    assert!(!precopy_continue(0, 0, 1, 8, 0));
}

#[test]
fn keep_runs() {
    let runs = [
        Run {
            addr: 0x1000,
            npages: 3,
        },
        Run {
            addr: 0x7fff_f000,
            npages: 1,
        },
    ];
    let mut b = [0u8; 64];
    let n = Keep::encode(9, &runs, &mut b).unwrap();
    let k = Keep::decode(&b[..n]).unwrap();
    assert_eq!(k.id, 9);
    assert!(k.runs().eq(runs.iter().copied()));
    let bad = [Run {
        addr: 0x1001,
        npages: 1,
    }];
    assert_eq!(Keep::encode(9, &bad, &mut b), Err(WireError::InvalidValue));
    let top = [Run {
        addr: USER_TOP - PAGE,
        npages: 2,
    }];
    assert_eq!(Keep::encode(9, &top, &mut b), Err(WireError::InvalidValue));
}

#[test]
fn syscall_search() {
    assert_eq!(find_syscall(&[0x90, 0x0f, 0x05, 0xc3]), Some(1));
    assert_eq!(find_syscall(&[0x0f, 0x0f]), None);
    assert_eq!(find_syscall(&[]), None);
}

#[test]
fn io_shapes() {
    let mut b = [0u8; 128];
    let read = Io {
        home_id: 1,
        seq: 1,
        fd: 0,
        op: IoOp::Read,
        len: 0,
        data: &[],
    };
    assert_eq!(read.encode(&mut b), Err(WireError::InvalidValue));
    let write = Io {
        home_id: 1,
        seq: 1,
        fd: 1,
        op: IoOp::Write,
        len: 3,
        data: b"ab",
    };
    assert_eq!(write.encode(&mut b), Err(WireError::InvalidValue));
    let done = IoDone {
        home_id: 1,
        seq: 2,
        result: 5,
        data: b"abc",
    };
    assert_eq!(done.encode(&mut b), Err(WireError::InvalidValue));
}

#[test]
fn page_shapes() {
    let mut b = [0u8; 64];
    let ok = PageRequest {
        id: 1,
        seq: 1,
        addr: 0x1000,
        len: 4096,
    };
    assert!(ok.encode(&mut b).is_ok());
    for bad in [
        PageRequest { addr: 0x1001, ..ok },
        PageRequest { len: 100, ..ok },
        PageRequest { len: 0, ..ok },
        PageRequest {
            len: MAX_PAGE_BYTES + 4096,
            ..ok
        },
        PageRequest {
            addr: USER_TOP - PAGE,
            len: 8192,
            ..ok
        },
        PageRequest {
            addr: !(PAGE - 1),
            ..ok
        },
        PageRequest { seq: 0, ..ok },
    ] {
        assert_eq!(bad.encode(&mut b), Err(WireError::InvalidValue), "{bad:?}");
    }
    let page = [0u8; 4096];
    let mut big = [0u8; 4200];
    assert!(PageData {
        id: 1,
        seq: 1,
        result: 0,
        data: &page
    }
    .encode(&mut big)
    .is_ok());
    // An error carries no data, a success carries whole pages.
    assert!(PageData {
        id: 1,
        seq: 1,
        result: -14,
        data: &page
    }
    .encode(&mut big)
    .is_err());
    assert!(PageData {
        id: 1,
        seq: 1,
        result: 0,
        data: &[]
    }
    .encode(&mut big)
    .is_err());
    assert!(PageData {
        id: 1,
        seq: 1,
        result: 0,
        data: &page[..100]
    }
    .encode(&mut big)
    .is_err());
    assert!(PageData {
        id: 1,
        seq: 1,
        result: -14,
        data: &[]
    }
    .encode(&mut big)
    .is_ok());
}

#[test]
fn data_header_alone_keeps_the_rules() {
    let mut h = [0u8; Data::HEADER_LEN];
    assert_eq!(
        Data::encode_header(1, 0, MAX_DATA, &mut h),
        Ok(Data::HEADER_LEN)
    );
    assert!(Data::encode_header(0, 0, 1, &mut h).is_err());
    assert!(Data::encode_header(1, 0, MAX_DATA + 1, &mut h).is_err());
    assert!(Data::encode_header(1, 0, 1, &mut h[..Data::HEADER_LEN - 1]).is_err());
}

#[test]
fn keep_overlap_and_gaps() {
    let keep = [
        Run {
            addr: 0x2000,
            npages: 2,
        },
        Run {
            addr: 0x6000,
            npages: 1,
        },
    ];
    let o: Vec<Run> = overlap(&keep, 0x1000, 6).collect();
    assert_eq!(
        o,
        [
            Run {
                addr: 0x2000,
                npages: 2
            },
            Run {
                addr: 0x6000,
                npages: 1
            }
        ]
    );
    let o: Vec<Run> = overlap(&keep, 0x3000, 1).collect();
    assert_eq!(
        o,
        [Run {
            addr: 0x3000,
            npages: 1
        }]
    );
    assert_eq!(overlap(&keep, 0x4000, 2).count(), 0);
    let g: Vec<(u64, u64)> = gaps(&keep, 0x1000, 0x8000).collect();
    assert_eq!(g, [(0x1000, 0x2000), (0x4000, 0x6000), (0x7000, 0x8000)]);
    let g: Vec<(u64, u64)> = gaps(&keep, 0x3000, 0x7000).collect();
    assert_eq!(g, [(0x4000, 0x6000)]);
    assert_eq!(
        gaps(&[], 0x1000, 0x3000).collect::<Vec<_>>(),
        [(0x1000, 0x3000)]
    );
    assert!(keep_follows(Some(&keep[0]), &keep[1]));
    assert!(!keep_follows(Some(&keep[1]), &keep[0]));
    assert!(!keep_follows(
        Some(&keep[0]),
        &Run {
            addr: 0x3000,
            npages: 1
        }
    ));
    assert!(!keep_follows(
        None,
        &Run {
            addr: 0x3001,
            npages: 1
        }
    ));
}

#[test]
fn lease_lists() {
    let mut buf = [0u8; Lease::len_of(3)];
    let n = Lease::encode(&[1, 2, u64::MAX], &mut buf).unwrap();
    assert_eq!(n, buf.len());
    let l = Lease::decode(&buf).unwrap();
    assert_eq!(l.len(), 3);
    assert!(l.iter().eq([1, 2, u64::MAX]));
    assert_eq!(Lease::decode(&buf[..n - 1]), Err(WireError::Truncated));
    assert_eq!(Lease::encode(&[0], &mut buf), Err(WireError::InvalidValue));
    let mut big = [0u8; 8];
    big[..4].copy_from_slice(&(MAX_LEASES as u32 + 1).to_le_bytes());
    assert_eq!(Lease::decode(&big), Err(WireError::InvalidValue));
    let mut extra = [0u8; Lease::len_of(0) + 1];
    extra[4] = 1;
    assert_eq!(Lease::decode(&extra), Err(WireError::TrailingBytes));
    let empty = Lease::decode(&[0, 0, 0, 0]).unwrap();
    assert!(empty.is_empty());
}

#[test]
fn push_reads() {
    let big = u64::from(MAX_PAGES_READ);
    // Three ranges: 2 pages, 1 MiB and 3 pages, 1 MiB and 2 pages.
    let ranges = [
        (0x1000, 0x3000),
        (0x10_0000, 0x10_0000 + big + 3 * PAGE),
        (0x40_0000, 0x40_0000 + big + 2 * PAGE),
    ];
    // The push in order: each read takes the next piece.
    let mut to = 0;
    let mut reads = Vec::new();
    for &(s, e) in ranges.iter() {
        let mut at = s;
        while at < e {
            let n = (e - at).min(big);
            reads.push((at, n));
            at += n;
        }
    }
    for &(addr, len) in reads.iter() {
        assert!(
            is_push_read(true, &ranges, to, addr, len),
            "{addr:#x} {len}"
        );
        to = addr + len;
    }
    // Past the last range nothing is the push but a full read.
    assert!(!is_push_read(true, &ranges, to, to, PAGE));
    assert!(is_push_read(true, &ranges, to, 0x40_0000, big));
    // Faults: a few pages from the faulting one, elsewhere.
    assert!(!is_push_read(true, &ranges, 0, 0x10_0000, 16 * PAGE));
    assert!(!is_push_read(true, &ranges, 0, 0x2000, PAGE));
    assert!(!is_push_read(true, &ranges, 0x3000, 0x10_1000, 16 * PAGE));
    // A page server that does not push (lazy): only full reads count.
    assert!(!is_push_read(false, &ranges, 0, 0x1000, 2 * PAGE));
    assert!(is_push_read(false, &ranges, 0, 0x10_0000, big));
    // No ranges: only full reads.
    assert!(!is_push_read(true, &[], 0, 0x1000, PAGE));
}

proptest! {
    /// Overlap and gaps split a range into the pages in the keep list
    /// and those not, each page once.
    #[test]
    fn overlap_and_gaps_partition_a_range(
        lens in proptest::collection::vec((0u64..6, 1u32..5), 0..12),
        start_page in 0u64..40,
        npages in 0u32..40,
    ) {
        let mut keep: Vec<Run> = Vec::new();
        let mut at = 0x1000u64;
        for (skip, n) in lens {
            let r = Run { addr: at + skip * PAGE, npages: n };
            prop_assert!(keep_follows(keep.last(), &r));
            at = r.addr + u64::from(n) * PAGE;
            keep.push(r);
        }
        let start = 0x1000 + start_page * PAGE;
        let end = start + u64::from(npages) * PAGE;
        let in_keep = |p: u64| keep.iter().any(|r| r.addr <= p && p < r.addr + u64::from(r.npages) * PAGE);
        let mut seen = Vec::new();
        for r in overlap(&keep, start, npages) {
            for k in 0..u64::from(r.npages) {
                let p = r.addr + k * PAGE;
                prop_assert!(in_keep(p));
                seen.push(p);
            }
        }
        for (a, b) in gaps(&keep, start, end) {
            prop_assert!(a < b);
            let mut p = a;
            while p < b {
                prop_assert!(!in_keep(p));
                seen.push(p);
                p += PAGE;
            }
        }
        seen.sort();
        let want: Vec<u64> = (0..u64::from(npages)).map(|k| start + k * PAGE).collect();
        prop_assert_eq!(seen, want);
    }

    #[test]
    fn round_trips(id in 1u64.., home in 1u64.., node in 1u16.., pid in 1u32.., uid in any::<u32>(),
                   strategy in 0u8..4, size in any::<u64>(), seq in 1u64.., fd in any::<u32>(),
                   data in proptest::collection::vec(any::<u8>(), 0..300), sig in 1u32..=64,
                   code in any::<u8>()) {
        let mut b = [0u8; 512];
        let home_family = Family { ppid: pid / 2, pgrp: pid, session: uid };
        let begin = Begin {
            id,
            home_id: home,
            home_node: node,
            home_pid: pid,
            home_family,
            start_ns: size ^ id,
            uid,
            strategy,
            size,
        };
        let n = begin.encode(&mut b).unwrap();
        prop_assert_eq!(n, Begin::LEN);
        prop_assert_eq!(Begin::decode(&b[..n]), Ok(begin));
        let d = Data { id, offset: size / 2, data: &data };
        let n = d.encode(&mut b).unwrap();
        prop_assert_eq!(Data::decode(&b[..n]), Ok(d));
        // The header alone, with the data put after it, is the same frame.
        let mut h = [0u8; 512];
        let hn = Data::encode_header(id, size / 2, data.len(), &mut h).unwrap();
        prop_assert_eq!(hn, Data::HEADER_LEN);
        h[hn..hn + data.len()].copy_from_slice(&data);
        prop_assert_eq!(&h[..n], &b[..n]);
        let c = Commit { id, size };
        let n = c.encode(&mut b).unwrap();
        prop_assert_eq!(Commit::decode(&b[..n]), Ok(c));
        let n = Ref { id }.encode(&mut b).unwrap();
        prop_assert_eq!(Ref::decode(&b[..n]), Ok(Ref { id }));
        let e = Exit { home_id: home, status: WaitStatus::Exited(code).raw() };
        let n = e.encode(&mut b).unwrap();
        prop_assert_eq!(Exit::decode(&b[..n]), Ok(e));
        let s = Signal { home_id: home, signo: sig };
        let n = s.encode(&mut b).unwrap();
        prop_assert_eq!(Signal::decode(&b[..n]), Ok(s));
        let w = Io { home_id: home, seq, fd, op: IoOp::Write, len: data.len() as u32, data: &data };
        let n = w.encode(&mut b).unwrap();
        prop_assert_eq!(Io::decode(&b[..n]), Ok(w));
        let r = Io { home_id: home, seq, fd, op: IoOp::Read, len: 1 + (uid % MAX_IO as u32), data: &[] };
        let n = r.encode(&mut b).unwrap();
        prop_assert_eq!(Io::decode(&b[..n]), Ok(r));
        let done = IoDone { home_id: home, seq, result: data.len() as i64, data: &data };
        let n = done.encode(&mut b).unwrap();
        prop_assert_eq!(IoDone::decode(&b[..n]), Ok(done));
        let m = Moved { home_id: home, node, pid };
        let n = m.encode(&mut b).unwrap();
        prop_assert_eq!(Moved::decode(&b[..n]), Ok(m));
        let addr = (size % (USER_TOP - u64::from(MAX_PAGE_BYTES))) & !(PAGE - 1);
        let q = PageRequest { id, seq, addr, len: (1 + uid % 64) * PAGE as u32 };
        let n = q.encode(&mut b).unwrap();
        prop_assert_eq!(PageRequest::decode(&b[..n]), Ok(q));
        let pages = [code; 8192];
        let mut big = [0u8; 8300];
        let pd = PageData { id, seq, result: 0, data: &pages[..(1 + fd as usize % 2) * 4096] };
        let n = pd.encode(&mut big).unwrap();
        prop_assert_eq!(PageData::decode(&big[..n]), Ok(pd));
        let mut same = [0u8; 8300];
        let h = PageData::encode_header(id, seq, pd.data.len(), &mut same).unwrap();
        same[h..h + pd.data.len()].copy_from_slice(pd.data);
        prop_assert_eq!(&same[..n], &big[..n]);
    }

    #[test]
    fn any_bytes_decode_or_error(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Begin::decode(&bytes);
        let _ = Data::decode(&bytes);
        let _ = Commit::decode(&bytes);
        let _ = Ref::decode(&bytes);
        let _ = Exit::decode(&bytes);
        let _ = Signal::decode(&bytes);
        let _ = Io::decode(&bytes);
        let _ = IoDone::decode(&bytes);
        let _ = Lease::decode(&bytes).map(|l| l.iter().count());
        let _ = Moved::decode(&bytes);
        if let Ok(q) = PageRequest::decode(&bytes) {
            prop_assert!(q.addr.is_multiple_of(PAGE) && q.addr + u64::from(q.len) <= USER_TOP);
        }
        if let Ok(d) = PageData::decode(&bytes) {
            prop_assert!((d.data.len() as u64).is_multiple_of(PAGE));
        }
        if let Ok(k) = Keep::decode(&bytes) {
            prop_assert!(k.runs().all(|r| r.is_valid()));
        }
    }
}

#[test]
fn ask_requests() {
    let start = AskRequest::Start(AskStart {
        pid: 131074,
        node: 3,
        strategy: 1,
        uid: 1000,
        euid: 0,
    });
    let mut b = [0u8; 32];
    let n = start.encode(&mut b).unwrap();
    assert_eq!(n, ASK_START_LEN);
    assert_eq!(AskRequest::decode(&b[..n]), Ok(start));
    assert_eq!(AskRequest::decode(&b[..n - 1]), Err(WireError::Truncated));
    assert_eq!(
        AskRequest::decode(&b[..n + 1]),
        Err(WireError::TrailingBytes)
    );
    let query = AskRequest::Query(7);
    let n = query.encode(&mut b).unwrap();
    assert_eq!(n, ASK_QUERY_LEN);
    assert_eq!(AskRequest::decode(&b[..n]), Ok(query));
    let mut bad = b;
    bad[1] = 1; // reserved
    assert_eq!(AskRequest::decode(&bad[..n]), Err(WireError::InvalidValue));
    bad = b;
    bad[0] = 3; // a status is no request
    assert_eq!(AskRequest::decode(&bad[..n]), Err(WireError::InvalidValue));
    // Zero pid, node, token; unknown strategy.
    for q in [
        AskRequest::Query(0),
        AskRequest::Start(AskStart {
            pid: 0,
            node: 2,
            strategy: 0,
            uid: 0,
            euid: 0,
        }),
        AskRequest::Start(AskStart {
            pid: 5,
            node: 0,
            strategy: 0,
            uid: 0,
            euid: 0,
        }),
        AskRequest::Start(AskStart {
            pid: 5,
            node: 2,
            strategy: 4,
            uid: 0,
            euid: 0,
        }),
    ] {
        assert_eq!(q.encode(&mut b), Err(WireError::InvalidValue));
    }
    let mut raw = [0u8; ASK_START_LEN];
    start.encode(&mut raw).unwrap();
    raw[1] = 9;
    assert_eq!(AskRequest::decode(&raw), Err(WireError::InvalidValue));
    assert_eq!(AskRequest::decode(&[]), Err(WireError::Truncated));
}

#[test]
fn ask_statuses() {
    let mut b = [0u8; ASK_STATUS_MAX + 8];
    let done = AskStatus {
        node: 2,
        pid: 196610,
        image_bytes: 4096,
        frozen_ns: 5,
        total_ns: 6,
        ..AskStatus::new(AskState::Done, 9, "eager")
    };
    let n = done.encode(&mut b).unwrap();
    assert_eq!(n, ASK_STATUS_HEADER + 5);
    assert_eq!(AskStatus::decode(&b[..n]), Ok(done));
    assert_eq!(AskStatus::decode(&b[..n - 1]), Err(WireError::Truncated));
    assert_eq!(
        AskStatus::decode(&b[..n + 1]),
        Err(WireError::TrailingBytes)
    );
    // A refusal at once has no token.
    let refused = AskStatus {
        errno: 1,
        ..AskStatus::new(AskState::Failed, 0, "only root or the owner")
    };
    let n = refused.encode(&mut b).unwrap();
    assert_eq!(AskStatus::decode(&b[..n]), Ok(refused));
    // States whose fields disagree.
    for s in [
        AskStatus::new(AskState::Running, 0, ""),
        AskStatus::new(AskState::Done, 1, ""),
        AskStatus::new(AskState::Failed, 1, ""),
        AskStatus {
            errno: 4096,
            ..AskStatus::new(AskState::Failed, 1, "")
        },
        AskStatus {
            errno: 1,
            ..AskStatus::new(AskState::Running, 1, "")
        },
    ] {
        assert_eq!(s.encode(&mut b), Err(WireError::InvalidValue));
    }
    let long = "x".repeat(MAX_ASK_MESSAGE + 1);
    assert_eq!(
        AskStatus::new(AskState::Running, 1, &long).encode(&mut b),
        Err(WireError::InvalidValue)
    );
    // Not UTF-8, unknown state, reserved bytes.
    let n = AskStatus::new(AskState::Running, 1, "ab")
        .encode(&mut b)
        .unwrap();
    let mut bad = b;
    bad[n - 1] = 0xff;
    assert_eq!(AskStatus::decode(&bad[..n]), Err(WireError::InvalidValue));
    bad = b;
    bad[1] = 4;
    assert_eq!(AskStatus::decode(&bad[..n]), Err(WireError::InvalidValue));
    bad = b;
    bad[ASK_STATUS_HEADER - 1] = 1;
    assert_eq!(AskStatus::decode(&bad[..n]), Err(WireError::InvalidValue));
}

fn ask_state(i: u8) -> AskState {
    match i % 3 {
        0 => AskState::Running,
        1 => AskState::Done,
        _ => AskState::Failed,
    }
}

proptest! {
    #[test]
    fn ask_request_round_trip(pid in 1u32.., node in 1u16.., strategy in 0u8..4, uid in any::<u32>(),
                              euid in any::<u32>(), token in 1u32.., query in any::<bool>()) {
        let q = if query {
            AskRequest::Query(token)
        } else {
            AskRequest::Start(AskStart { pid, node, strategy, uid, euid })
        };
        let mut b = [0u8; ASK_START_LEN];
        let n = q.encode(&mut b).unwrap();
        prop_assert_eq!(AskRequest::decode(&b[..n]), Ok(q));
    }

    #[test]
    fn ask_status_round_trip(state in any::<u8>(), token in 1u32.., node in 1u16.., pid in 1u32..,
                             errno in 1u32..4096, n in any::<u64>(), message in "\\PC{0,60}") {
        let state = ask_state(state);
        let mut s = AskStatus { image_bytes: n, frozen_ns: n / 3, total_ns: n / 2, ..AskStatus::new(state, token, &message) };
        match state {
            AskState::Done => (s.node, s.pid) = (node, pid),
            AskState::Failed => s.errno = errno,
            AskState::Running => {}
        }
        let mut b = [0u8; ASK_STATUS_MAX];
        let len = s.encode(&mut b).unwrap();
        prop_assert_eq!(AskStatus::decode(&b[..len]), Ok(s));
    }

    #[test]
    fn ask_bodies_decode_or_error(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(q) = AskRequest::decode(&bytes) {
            let mut b = [0u8; ASK_START_LEN];
            let n = q.encode(&mut b).unwrap();
            prop_assert_eq!(&b[..n], &bytes[..]);
        }
        if let Ok(s) = AskStatus::decode(&bytes) {
            prop_assert!(s.message.len() <= MAX_ASK_MESSAGE);
            let mut b = [0u8; ASK_STATUS_MAX];
            let n = s.encode(&mut b).unwrap();
            prop_assert_eq!(&b[..n], &bytes[..]);
        }
    }
}
