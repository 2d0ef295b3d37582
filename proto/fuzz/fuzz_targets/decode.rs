//! Feeds arbitrary bytes to every krpc decoder: none may panic, and
//! whatever decodes must re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssi_proto::ha::replica::{compare, Digest, DigestHead, ReplicaAsk, Verdict};
use ssi_proto::ha::{CheckpointAsk, CheckpointDone};
use ssi_proto::membership::{NodeId, View};
use ssi_proto::sched::{
    decode_request, encode_request, ChangeReply, Config, LoadReport, Offer, OfferReply,
    MAX_CONFIG_LEN,
};
use ssi_proto::wire::{
    FrameHeader, Heartbeat, Hello, HelloAuth, JoinReply, Leave, MsgType, NodeDead, NodeEntry,
    ReplayGuard, Resources, WireError, HEADER_LEN, MAGIC, TAG_OFFSET, WIRE_VERSION,
};

/// Decodes `data`, and if that works, re-encodes and checks that the bytes
/// are the same.
fn round_trip<T: PartialEq + core::fmt::Debug>(
    data: &[u8],
    dec: fn(&[u8]) -> Result<T, WireError>,
    enc: fn(&T, &mut [u8]) -> Result<usize, WireError>,
) {
    if let Ok(v) = dec(data) {
        let mut out = [0u8; JoinReply::MAX_LEN];
        let n = enc(&v, &mut out).expect("a decoded value re-encodes");
        assert_eq!(&out[..n], data, "re-encoding differs");
        assert_eq!(dec(&out[..n]).as_ref(), Ok(&v));
    }
}

/// Checks a frame: header re-encodes, body decodes as its type says.
fn check_frame(data: &[u8]) {
    if let Ok(h) = FrameHeader::decode(data) {
        let mut out = [0u8; HEADER_LEN];
        h.encode(&mut out);
        assert_eq!(&out[..], &data[..HEADER_LEN], "header re-encoding differs");
        assert_eq!(h.validate(), Ok(()));
        assert_eq!(&h.mac_header()[..TAG_OFFSET], &data[..TAG_OFFSET]);
        assert!(h.mac_header()[TAG_OFFSET..].iter().all(|&b| b == 0));
        let mut guard = ReplayGuard::new();
        assert_eq!(guard.check_and_advance(h.seq).is_ok(), h.seq == 1);
        // The rest, as a frame: the body the header announces, decoded as
        // its type says.
        let body = &data[HEADER_LEN..];
        if body.len() == h.body_len as usize {
            match h.kind() {
                Some(MsgType::Hello) => round_trip(body, Hello::decode, Hello::encode),
                Some(MsgType::HelloAuth) => round_trip(body, HelloAuth::decode, HelloAuth::encode),
                Some(MsgType::Heartbeat | MsgType::JoinRequest) => {
                    round_trip(body, Heartbeat::decode, Heartbeat::encode)
                }
                Some(MsgType::JoinReply) => round_trip(body, JoinReply::decode, JoinReply::encode),
                Some(MsgType::Leave) => round_trip(body, Leave::decode, Leave::encode),
                Some(MsgType::NodeDead) => round_trip(body, NodeDead::decode, NodeDead::encode),
                // Echo and Stream carry opaque bytes; the checkpoint,
                // restart and migration bodies are property-tested in
                // their own modules (`proto/src/ctl.rs`, `migration/`).
                _ => {}
            }
        }
    }
}

/// The scheduler's messages: a configuration, a change's request and
/// reply, an offer and its reply; what decodes re-encodes to something
/// that decodes the same.
fn check_sched(data: &[u8]) {
    let mut out = [0u8; 1 + MAX_CONFIG_LEN];
    if let Ok(c) = Config::decode(data) {
        let n = c
            .encode(&mut out)
            .expect("a decoded configuration re-encodes");
        assert_eq!(Config::decode(&out[..n]), Ok(c));
    }
    if let Ok(r) = ChangeReply::decode(data) {
        let n = r.encode(&mut out).expect("a decoded reply re-encodes");
        assert_eq!(ChangeReply::decode(&out[..n]), Ok(r));
    }
    if let Ok(cmd) = decode_request(data) {
        let t = encode_request(&cmd).expect("a command re-encodes");
        assert_eq!(decode_request(t.as_bytes()), Ok(cmd));
    }
    let _ = LoadReport::decode(data);
    if let Ok(o) = Offer::decode(data) {
        let n = o.encode(&mut out).expect("a decoded offer re-encodes");
        assert_eq!(&out[..n], data);
    }
    if let Ok(r) = OfferReply::decode(data) {
        let n = r
            .encode(&mut out)
            .expect("a decoded offer reply re-encodes");
        assert_eq!(&out[..n], data);
    }
}

fuzz_target!(|data: &[u8]| {
    check_frame(data);
    // Random bytes rarely start with the magic and version: also try them
    // behind a valid start, to get past it into the rest of the header and
    // the bodies.
    let mut framed = [0u8; 4096 + 5];
    if data.len() <= 4096 {
        framed[..4].copy_from_slice(&MAGIC);
        framed[4] = WIRE_VERSION;
        framed[5..5 + data.len()].copy_from_slice(data);
        check_frame(&framed[..5 + data.len()]);
    }
    round_trip(data, Hello::decode, Hello::encode);
    round_trip(data, HelloAuth::decode, HelloAuth::encode);
    round_trip(data, Resources::decode, Resources::encode);
    round_trip(data, Heartbeat::decode, Heartbeat::encode);
    round_trip(data, NodeEntry::decode, NodeEntry::encode);
    round_trip(data, NodeDead::decode, NodeDead::encode);
    round_trip(data, Leave::decode, Leave::encode);
    round_trip(data, JoinReply::decode, JoinReply::encode);
    check_sched(data);
    round_trip(data, CheckpointAsk::decode, CheckpointAsk::encode);
    round_trip(data, CheckpointDone::decode, CheckpointDone::encode);
    round_trip(data, Verdict::decode, Verdict::encode);
    check_replica(data);

    // A decoded join reply merged into a view keeps the view consistent.
    if let Ok(jr) = JoinReply::decode(data) {
        let mut view = View::new();
        let _ = view.set_local(NodeId(1), 1, [127, 0, 0, 1], 7070);
        let changes = view.merge_join_reply(&jr, 1000);
        assert_eq!(view.epoch(), 1 + changes.len() as u64);
        assert!(view.nodes().windows(2).all(|w| w[0].id < w[1].id));
        let mut back = JoinReply::default();
        view.fill_join_reply(&mut back);
        let mut out = [0u8; JoinReply::MAX_LEN];
        back.encode(&mut out).expect("a view's join reply encodes");
    }
});

/// Replicas' bodies: an ask re-encodes to the same bytes; a digest
/// re-encodes its head and compares with itself as the same.
fn check_replica(data: &[u8]) {
    if let Ok(a) = ReplicaAsk::decode(data) {
        let mut out = [0u8; 512];
        let n = a.encode(&mut out).expect("a decoded ask re-encodes");
        assert_eq!(&out[..n], data);
    }
    if let Ok(d) = Digest::decode(data) {
        let mut out = [0u8; DigestHead::LEN];
        assert_eq!(d.head.encode(&mut out), Ok(DigestHead::LEN));
        assert_eq!(&out[..], &data[..DigestHead::LEN]);
        assert!(compare(&d, &d).same());
    }
}
