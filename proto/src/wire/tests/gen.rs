//! What the wire tests share: sample values, proptest strategies of valid
//! headers and bodies, and [`check_body`], a body's round-trip checks.

extern crate std;
use super::super::*;
use proptest::prelude::*;
use std::vec;

pub(super) fn sample_header() -> FrameHeader {
    FrameHeader {
        msg_type: MsgType::Echo as u8,
        flags: FLAG_REPLY,
        src_node: 0x0102,
        dst_node: 0x0304,
        src_incarnation: 0x0506_0708,
        seq: 0x1112_1314_1516_1718,
        request_id: 0x2122_2324_2526_2728,
        body_len: 0x0001_0203,
        ack_gap: 0,
        tag: [0xee; TAG_LEN],
    }
}

pub(super) fn encoded(h: &FrameHeader) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    h.encode(&mut out);
    out
}

pub(super) fn sample_hello(node_id: u16, fill: u8) -> Hello {
    Hello {
        node_id,
        incarnation: 0xaabb_ccdd,
        nonce: [fill; NONCE_LEN],
        address: [10, 99, 0, 11],
        port: 7070,
    }
}

pub(super) fn node_id() -> impl Strategy<Value = u16> {
    1u16..=4095
}

pub(super) fn valid_header() -> impl Strategy<Value = FrameHeader> {
    (
        any::<u8>(),
        prop_oneof![Just(0u16), Just(FLAG_REPLY), Just(FLAG_REPLY | FLAG_ERROR)],
        0u16..=4095,
        0u16..=4095,
        any::<u32>(),
        any::<u64>(),
        any::<u64>(),
        prop_oneof![0u32..=MAX_BODY, Just(MAX_BODY)],
        any::<[u8; 32]>(),
    )
        .prop_map(
            |(msg_type, flags, src, dst, inc, seq, rid, body_len, tag)| {
                let handshake = MsgType::from_u8(msg_type).is_some_and(MsgType::is_handshake);
                FrameHeader {
                    msg_type,
                    flags,
                    src_node: if src == 0 && !handshake { 1 } else { src },
                    dst_node: dst,
                    src_incarnation: inc,
                    seq,
                    request_id: rid,
                    body_len,
                    ack_gap: 0,
                    tag,
                }
            },
        )
}

pub(super) fn resources() -> impl Strategy<Value = Resources> {
    (any::<u32>(), any::<u64>(), any::<u64>(), any::<[u32; 3]>()).prop_map(|(cpus, a, b, load)| {
        Resources {
            cpus,
            mem_total_kib: a.max(b),
            mem_free_kib: a.min(b),
            load,
        }
    })
}

pub(super) fn hello() -> impl Strategy<Value = Hello> {
    (
        0u16..=4095,
        any::<u32>(),
        any::<[u8; 32]>(),
        any::<[u8; 4]>(),
        any::<u16>(),
    )
        .prop_map(|(node_id, incarnation, nonce, address, port)| Hello {
            node_id,
            incarnation,
            nonce,
            address,
            port,
        })
}

pub(super) fn node_entry() -> impl Strategy<Value = NodeEntry> {
    (
        node_id(),
        any::<u32>(),
        any::<[u8; 4]>(),
        any::<u16>(),
        any::<bool>(),
    )
        .prop_map(|(node_id, incarnation, address, port, alive)| NodeEntry {
            node_id,
            incarnation,
            address,
            port,
            alive,
        })
}

pub(super) fn join_reply() -> impl Strategy<Value = JoinReply> {
    (
        any::<u64>(),
        proptest::collection::vec(node_entry(), 0..=MAX_NODES_IN_REPLY),
    )
        .prop_map(|(view_epoch, list)| {
            let mut jr = JoinReply {
                view_epoch,
                ..JoinReply::default()
            };
            let mut n = 0usize;
            for e in list {
                if jr.used().iter().all(|p| p.node_id != e.node_id) {
                    jr.entries[n] = e;
                    n += 1;
                    jr.count = n as u16;
                }
            }
            jr
        })
}

pub(super) type Enc<T> = fn(&T, &mut [u8]) -> Result<usize, WireError>;
pub(super) type Dec<T> = fn(&[u8]) -> Result<T, WireError>;

/// Round trip, every truncation refused, a trailing byte refused, a
/// short output buffer refused.
pub(super) fn check_body<T: PartialEq + core::fmt::Debug>(
    v: &T,
    enc: Enc<T>,
    dec: Dec<T>,
) -> Result<(), TestCaseError> {
    let mut buf = vec![0u8; JoinReply::MAX_LEN + 8];
    let n = enc(v, &mut buf).map_err(|e| TestCaseError::fail(e.describe()))?;
    prop_assert_eq!(&dec(&buf[..n]).unwrap(), v);
    for k in 0..n {
        prop_assert!(dec(&buf[..k]).is_err(), "truncation to {} accepted", k);
        let mut small = vec![0u8; k];
        prop_assert_eq!(enc(v, &mut small), Err(WireError::BufferTooSmall));
    }
    for extra in [0u8, 0xff] {
        buf[n] = extra;
        prop_assert_eq!(dec(&buf[..n + 1]), Err(WireError::TrailingBytes));
    }
    Ok(())
}
