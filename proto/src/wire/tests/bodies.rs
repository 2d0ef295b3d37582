//! Tests of the message bodies (handshake, membership, restart) and of
//! the handshake's MAC inputs.

extern crate std;
use super::super::*;
use super::gen::*;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

#[test]
fn hello_layout_and_checks() {
    let h = sample_hello(3, 0x5a);
    let mut buf = [0u8; 64];
    assert_eq!(h.encode(&mut buf), Ok(Hello::LEN));
    assert_eq!(Hello::LEN, 44);
    assert_eq!(&buf[..2], &[3, 0]);
    assert_eq!(&buf[2..6], &[0xdd, 0xcc, 0xbb, 0xaa]);
    assert_eq!(&buf[6..38], &[0x5a; 32]);
    assert_eq!(&buf[38..42], &[10, 99, 0, 11]);
    assert_eq!(&buf[42..44], &7070u16.to_le_bytes());
    assert_eq!(Hello::decode(&buf[..44]), Ok(h));
    assert_eq!(Hello::decode(&buf[..43]), Err(WireError::Truncated));
    assert_eq!(Hello::decode(&buf[..45]), Err(WireError::TrailingBytes));
    assert_eq!(h.encode(&mut buf[..43]), Err(WireError::BufferTooSmall));
    // Node id 0 (not configured) is allowed in a Hello, above 4095 not.
    assert!(sample_hello(0, 1).encode(&mut buf).is_ok());
    assert_eq!(Hello::decode(&buf[..44]).map(|h| h.node_id), Ok(0));
    assert_eq!(
        sample_hello(4096, 1).encode(&mut buf),
        Err(WireError::BadNodeId)
    );
    buf[0..2].copy_from_slice(&4096u16.to_le_bytes());
    assert_eq!(Hello::decode(&buf[..44]), Err(WireError::BadNodeId));
}

#[test]
fn small_bodies() {
    let mut buf = [0u8; 64];
    let a = HelloAuth { proof: [7; 32] };
    assert_eq!(a.encode(&mut buf), Ok(32));
    assert_eq!(HelloAuth::decode(&buf[..32]), Ok(a));
    assert_eq!(HelloAuth::decode(&buf[..33]), Err(WireError::TrailingBytes));

    let d = NodeDead {
        node_id: 4095,
        incarnation: 9,
        view_epoch: 1 << 40,
    };
    assert_eq!(d.encode(&mut buf), Ok(NodeDead::LEN));
    assert_eq!(
        &buf[..14],
        &[0xff, 0x0f, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]
    );
    assert_eq!(NodeDead::decode(&buf[..14]), Ok(d));
    assert_eq!(
        NodeDead { node_id: 0, ..d }.encode(&mut buf),
        Err(WireError::BadNodeId)
    );
    buf[0] = 0;
    buf[1] = 0;
    assert_eq!(NodeDead::decode(&buf[..14]), Err(WireError::BadNodeId));

    let l = Leave {
        node_id: 1,
        incarnation: 2,
    };
    assert_eq!(l.encode(&mut buf), Ok(6));
    assert_eq!(&buf[..6], &[1, 0, 2, 0, 0, 0]);
    assert_eq!(Leave::decode(&buf[..6]), Ok(l));
    assert_eq!(Leave::decode(&buf[..5]), Err(WireError::Truncated));
    assert_eq!(
        Leave { node_id: 4096, ..l }.encode(&mut buf),
        Err(WireError::BadNodeId)
    );
    assert_eq!(
        Leave::decode(&[0, 0x10, 0, 0, 0, 0]),
        Err(WireError::BadNodeId)
    );
}

#[test]
fn resources_and_heartbeat() {
    let r = Resources {
        cpus: 4,
        mem_total_kib: 8 << 20,
        mem_free_kib: 3 << 20,
        load: [2048, 1024, 0],
    };
    let mut buf = [0u8; 64];
    assert_eq!(r.encode(&mut buf), Ok(Resources::LEN));
    assert_eq!(&buf[..4], &[4, 0, 0, 0]);
    assert_eq!(&buf[20..24], &[0, 8, 0, 0]);
    assert_eq!(Resources::decode(&buf[..32]), Ok(r));
    let bad = Resources {
        mem_free_kib: r.mem_total_kib + 1,
        ..r
    };
    assert_eq!(bad.encode(&mut buf), Err(WireError::InvalidValue));
    buf[12..20].copy_from_slice(&(r.mem_total_kib + 1).to_le_bytes());
    assert_eq!(Resources::decode(&buf[..32]), Err(WireError::InvalidValue));

    let hb = Heartbeat {
        incarnation: 5,
        view_epoch: 17,
        resources: r,
    };
    assert_eq!(hb.encode(&mut buf), Ok(Heartbeat::LEN));
    assert_eq!(Heartbeat::LEN, 44);
    assert_eq!(Heartbeat::decode(&buf[..44]), Ok(hb));
    assert_eq!(
        Heartbeat {
            resources: bad,
            ..hb
        }
        .encode(&mut buf),
        Err(WireError::InvalidValue)
    );
}

#[test]
fn load_formatting_matches_the_kernel() {
    // LOAD_INT/LOAD_FRAC of (x + FIXED_1/200), as /proc/loadavg prints.
    assert_eq!(format_load(0), (0, 0));
    assert_eq!(format_load(FIXED_1), (1, 0));
    assert_eq!(format_load(FIXED_1 / 2), (0, 50));
    assert_eq!(format_load(FIXED_1 * 3 + FIXED_1 / 4), (3, 25));
    assert_eq!(format_load(FIXED_1 - 1), (1, 0)); // 0.9995 rounds up
    assert_eq!(format_load(9), (0, 0)); // 0.0044 rounds down
    assert_eq!(format_load(11), (0, 1)); // 0.0054 rounds up
    assert_eq!(format_load(u32::MAX), (2_097_152, 0));
    assert_eq!(load_hundredths(FIXED_1 * 3 / 2), 150);
    assert_eq!(load_hundredths(0), 0);
    assert_eq!(load_hundredths(u32::MAX), 209_715_200);
}

#[test]
fn join_reply_layout_and_checks() {
    let mut jr = JoinReply {
        view_epoch: 3,
        count: 2,
        ..JoinReply::default()
    };
    jr.entries[0] = NodeEntry {
        node_id: 1,
        incarnation: 7,
        address: [1, 2, 3, 4],
        port: 9,
        alive: true,
    };
    jr.entries[1] = NodeEntry {
        node_id: 2,
        incarnation: 8,
        address: [5, 6, 7, 8],
        port: 10,
        alive: false,
    };
    let mut buf = [0u8; JoinReply::MAX_LEN + 1];
    let n = jr.encode(&mut buf).unwrap();
    assert_eq!(n, 10 + 2 * 13);
    assert_eq!(n, jr.encoded_len());
    assert_eq!(&buf[..10], &[3, 0, 0, 0, 0, 0, 0, 0, 2, 0]);
    assert_eq!(&buf[10..23], &[1, 0, 7, 0, 0, 0, 1, 2, 3, 4, 9, 0, 1]);
    assert_eq!(&buf[23..36], &[2, 0, 8, 0, 0, 0, 5, 6, 7, 8, 10, 0, 0]);
    assert_eq!(JoinReply::decode(&buf[..n]), Ok(jr.clone()));
    assert_eq!(JoinReply::decode(&buf[..n - 1]), Err(WireError::Truncated));
    assert_eq!(
        JoinReply::decode(&buf[..n + 1]),
        Err(WireError::TrailingBytes)
    );

    // alive must be 0 or 1.
    let mut b = buf;
    b[22] = 2;
    assert_eq!(JoinReply::decode(&b[..n]), Err(WireError::InvalidValue));
    // Duplicate ids.
    let mut b = buf;
    b[23] = 1;
    assert_eq!(JoinReply::decode(&b[..n]), Err(WireError::InvalidValue));
    let mut dup = jr.clone();
    dup.entries[1].node_id = 1;
    assert_eq!(dup.encode(&mut buf), Err(WireError::InvalidValue));
    // Node id 0 in a used entry.
    let mut zero = jr.clone();
    zero.entries[1].node_id = 0;
    assert_eq!(zero.encode(&mut buf), Err(WireError::BadNodeId));
    // count above the maximum.
    let mut b = [0u8; JoinReply::MAX_LEN + NodeEntry::LEN];
    b[8..10].copy_from_slice(&65u16.to_le_bytes());
    assert_eq!(JoinReply::decode(&b), Err(WireError::InvalidValue));
    assert_eq!(JoinReply::decode(&b[..10]), Err(WireError::InvalidValue));
    let big = JoinReply {
        count: 65,
        ..JoinReply::default()
    };
    assert_eq!(big.encode(&mut b), Err(WireError::InvalidValue));
    assert_eq!(big.used().len(), MAX_NODES_IN_REPLY);
    // Empty reply.
    let empty = JoinReply::default();
    assert_eq!(empty.encode(&mut b), Ok(10));
    assert_eq!(JoinReply::decode(&b[..10]), Ok(empty));
    // Output too small.
    assert_eq!(jr.encode(&mut b[..35]), Err(WireError::BufferTooSmall));
}

#[test]
fn join_reply_full_and_decode_into() {
    let mut jr = JoinReply {
        view_epoch: u64::MAX,
        count: 64,
        ..JoinReply::default()
    };
    for (i, e) in jr.entries.iter_mut().enumerate() {
        *e = NodeEntry {
            node_id: 4095 - i as u16,
            incarnation: i as u32,
            address: [i as u8; 4],
            port: 1,
            alive: i % 2 == 0,
        };
    }
    let mut buf = [0u8; JoinReply::MAX_LEN];
    assert_eq!(jr.encode(&mut buf), Ok(JoinReply::MAX_LEN));
    let mut into = JoinReply::default();
    assert_eq!(into.decode_into(&buf), Ok(()));
    assert_eq!(into, jr);
    // A failed decode leaves it empty.
    assert_eq!(
        into.decode_into(&buf[..JoinReply::MAX_LEN - 1]),
        Err(WireError::Truncated)
    );
    assert_eq!(into, JoinReply::EMPTY);
    // A shorter reply after a longer one: stale entries are cleared.
    assert_eq!(into.decode_into(&buf), Ok(()));
    let small = JoinReply {
        view_epoch: 1,
        count: 1,
        entries: {
            let mut e = [NodeEntry::EMPTY; MAX_NODES_IN_REPLY];
            e[0] = NodeEntry {
                node_id: 5,
                ..NodeEntry::EMPTY
            };
            e
        },
    };
    let n = small.encode(&mut buf).unwrap();
    assert_eq!(into.decode_into(&buf[..n]), Ok(()));
    assert_eq!(into, small);
}

#[test]
fn handshake_inputs() {
    let nc = [1u8; 32];
    let ns = [2u8; 32];
    let mut out = [0u8; SESSION_KEY_INPUT_LEN];
    assert_eq!(session_key_input(&nc, &ns, &mut out), SESSION_KEY_INPUT_LEN);
    assert_eq!(SESSION_KEY_INPUT_LEN, 19 + 64);
    assert_eq!(&out[..19], b"ssi-krpc-session-v1");
    assert_eq!(&out[19..51], &nc);
    assert_eq!(&out[51..], &ns);

    let hc = sample_hello(1, 0x11);
    let hs = sample_hello(2, 0x22);
    let mut p = [0u8; PROOF_INPUT_LEN];
    assert_eq!(proof_input(ROLE_CLIENT, &hc, &hs, &mut p), PROOF_INPUT_LEN);
    assert_eq!(PROOF_INPUT_LEN, 17 + 1 + 44 + 44);
    assert_eq!(&p[..17], b"ssi-krpc-proof-v1");
    assert_eq!(p[17], ROLE_CLIENT);
    let mut hb = [0u8; Hello::LEN];
    hc.encode(&mut hb).unwrap();
    assert_eq!(&p[18..62], &hb);
    hs.encode(&mut hb).unwrap();
    assert_eq!(&p[62..], &hb);
    let mut q = [0u8; PROOF_INPUT_LEN];
    proof_input(ROLE_SERVER, &hc, &hs, &mut q);
    assert_eq!(q[17], ROLE_SERVER);
    assert_eq!(&p[18..], &q[18..]);
    // Swapping the Hellos changes the input.
    proof_input(ROLE_CLIENT, &hs, &hc, &mut q);
    assert_ne!(p, q);
    // Invalid Hellos are still laid out, not refused.
    assert_eq!(
        proof_input(ROLE_CLIENT, &sample_hello(9999, 0), &hs, &mut q),
        PROOF_INPUT_LEN
    );
}

proptest! {
    #[test]
    fn bodies_round_trip(h in hello(), proof in any::<[u8; 32]>(), r in resources(),
                         inc in any::<u32>(), epoch in any::<u64>(), e in node_entry(),
                         id in node_id(), jr in join_reply()) {
        check_body(&h, Hello::encode, Hello::decode)?;
        check_body(&HelloAuth { proof }, HelloAuth::encode, HelloAuth::decode)?;
        check_body(&r, Resources::encode, Resources::decode)?;
        check_body(&Heartbeat { incarnation: inc, view_epoch: epoch, resources: r }, Heartbeat::encode, Heartbeat::decode)?;
        check_body(&e, NodeEntry::encode, NodeEntry::decode)?;
        check_body(&jr, JoinReply::encode, JoinReply::decode)?;
        check_body(&NodeDead { node_id: id, incarnation: inc, view_epoch: epoch }, NodeDead::encode, NodeDead::decode)?;
        check_body(&Leave { node_id: id, incarnation: inc }, Leave::encode, Leave::decode)?;
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..900)) {
        let _ = FrameHeader::decode(&bytes);
        let _ = Hello::decode(&bytes);
        let _ = HelloAuth::decode(&bytes);
        let _ = Resources::decode(&bytes);
        let _ = Heartbeat::decode(&bytes);
        let _ = NodeEntry::decode(&bytes);
        let _ = NodeDead::decode(&bytes);
        let _ = Leave::decode(&bytes);
        if let Ok(jr) = JoinReply::decode(&bytes) {
            let mut out = vec![0u8; JoinReply::MAX_LEN];
            let n = jr.encode(&mut out).unwrap();
            prop_assert_eq!(&out[..n], &bytes[..]);
        }
    }

    #[test]
    fn join_reply_plausible_bytes(epoch in any::<u64>(), count in 0u16..=70,
                                  raw in proptest::collection::vec(any::<[u8; 13]>(), 0..=70),
                                  mask in any::<bool>(), cut in 0usize..3, extra in 0usize..3) {
        // Well-formed prefix, mostly plausible entries: exercise the
        // entry checks and the length checks.
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&epoch.to_le_bytes());
        bytes.extend_from_slice(&count.to_le_bytes());
        for (i, mut e) in raw.into_iter().take(usize::from(count)).enumerate() {
            if mask {
                e[0] = i as u8 + 1;
                e[1] = 0;
                e[12] &= 1;
            }
            bytes.extend_from_slice(&e);
        }
        bytes.truncate(bytes.len().saturating_sub(cut));
        bytes.extend(core::iter::repeat_n(0u8, extra));
        match JoinReply::decode(&bytes) {
            Ok(jr) => {
                // (cut and extra can rewrite the count field itself.)
                prop_assert_eq!(&jr.count.to_le_bytes()[..], &bytes[8..10]);
                prop_assert_eq!(bytes.len(), jr.encoded_len());
                prop_assert!(jr.entries[usize::from(jr.count)..].iter().all(|e| *e == NodeEntry::EMPTY));
                let mut out = vec![0u8; JoinReply::MAX_LEN];
                let n = jr.encode(&mut out).unwrap();
                prop_assert_eq!(&out[..n], &bytes[..]);
            }
            Err(e) => {
                let len_ok = bytes.len() == 10 + usize::from(count) * 13;
                prop_assert!(!mask || count > 64 || !len_ok, "{:?}", e);
            }
        }
    }

    #[test]
    fn load_matches_reference(v in any::<u32>()) {
        // Reference: the kernel macros on 64-bit unsigned long.
        let x = u64::from(v) + 10;
        let int = x >> 11;
        let frac = ((x & 2047) * 100) >> 11;
        prop_assert_eq!(format_load(v), (int as u32, frac as u32));
        prop_assert!(frac < 100);
        prop_assert_eq!(u64::from(load_hundredths(v)), int * 100 + frac);
    }

    #[test]
    fn restart_bodies_round_trip(uid in any::<u32>(), path in proptest::collection::vec(1u8..=255, 0..MAX_RESTART_PATH),
                                 token in 1u32..=u32::MAX, pid in any::<u32>(), errno in any::<u32>(),
                                 state in 1u8..=3, message in proptest::collection::vec(any::<u8>(), 0..=MAX_RESTART_MESSAGE)) {
        let mut path = path;
        path.insert(0, b'/');
        let mut buf = vec![0u8; 2048];
        let req = RestartRequest { uid, path: &path };
        let n = req.encode(&mut buf).unwrap();
        prop_assert_eq!(RestartRequest::decode(&buf[..n]), Ok(req));
        for k in 0..n {
            prop_assert!(RestartRequest::decode(&buf[..k]).is_err());
        }
        let st = RestartStarted { token, pid };
        let n = st.encode(&mut buf).unwrap();
        prop_assert_eq!(RestartStarted::decode(&buf[..n]), Ok(st));
        let q = RestartQuery { token };
        let n = q.encode(&mut buf).unwrap();
        prop_assert_eq!(RestartQuery::decode(&buf[..n]), Ok(q));
        let status = RestartStatus { state: RestartState::from_u8(state).unwrap(), pid, errno, message: &message };
        let n = status.encode(&mut buf).unwrap();
        prop_assert_eq!(RestartStatus::decode(&buf[..n]), Ok(status));
        prop_assert_eq!(RestartStatus::decode(&buf[..n + 1]), Err(WireError::TrailingBytes));
    }

    #[test]
    fn restart_bodies_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1100)) {
        if let Ok(r) = RestartRequest::decode(&bytes) {
            prop_assert!(r.path.first() == Some(&b'/') && !r.path.contains(&0) && r.path.len() <= MAX_RESTART_PATH);
        }
        if let Ok(s) = RestartStatus::decode(&bytes) {
            prop_assert!(s.message.len() <= MAX_RESTART_MESSAGE);
        }
        prop_assert!(RestartStarted::decode(&bytes).map_or(true, |s| s.token != 0));
        prop_assert!(RestartQuery::decode(&bytes).map_or(true, |q| q.token != 0));
    }
}
