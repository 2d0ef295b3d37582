//! krpc-abuse: feeds a node's krpc port what a broken or hostile peer
//! would send, to prove the module rejects it cleanly. Used by the qemu
//! scenarios; never point it at anything but a test cluster.
//!
//! usage: krpc-abuse ADDR:PORT MODE COUNT [SECRET]
//! modes:
//!   garbage      random bytes, then close
//!   truncated    a valid Hello header cut short, then close
//!   huge         headers claiming huge bodies (u32::MAX, MAX_BODY + 1)
//!   badproof     a full handshake with the wrong secret (SECRET = any)
//!   badmac       handshake with SECRET, then frames with wrong tags
//!   replay       handshake with SECRET, one valid frame, then it again
//!   slow         connect and send nothing (the node must time out)
//!   bodies       handshake with SECRET, then correctly tagged requests of
//!                the process space's, control's and scheduler's types
//!                (ProcList, MigrateAsk, ProcSignal, NodeStats,
//!                SchedChange, SchedOffer, HaCheckpoint, HaDone, HaDigest,
//!                HaVerdict, HaReplica) with
//!                hostile bodies:
//!                empty, one byte short or long of the real length, random
//!                bytes of the real length, random lengths up to 4 KiB;
//!                prints how many were answered and how

use hmac::{Hmac, Mac};
use sha2::Sha256;
use ssi_proto::frame_tag;
use ssi_proto::wire::{self, FrameHeader, Heartbeat, Hello, HelloAuth, MsgType, Resources};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Node id the tool claims (not used by the test clusters).
const FAKE_NODE: u16 = 4000;

/// HMAC-SHA256: handshake proofs and the session key.
fn mac(key: &[u8], a: &[u8], b: &[u8]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    m.update(a);
    m.update(b);
    m.finalize().into_bytes().into()
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn fill(&mut self, b: &mut [u8]) {
        for x in b {
            *x = self.next() as u8;
        }
    }
}

fn frame(kind: MsgType, seq: u64, inc: u32, body: &[u8], key: Option<&[u8; 32]>) -> Vec<u8> {
    request(kind, seq, inc, 0, body, key)
}

/// A frame asking for an answer to `request_id` (0: a one-way frame).
fn request(kind: MsgType, seq: u64, inc: u32, request_id: u64, body: &[u8], key: Option<&[u8; 32]>) -> Vec<u8> {
    let mut h = FrameHeader {
        msg_type: kind.as_u8(),
        flags: 0,
        src_node: FAKE_NODE,
        dst_node: 0,
        src_incarnation: inc,
        seq,
        request_id,
        body_len: body.len() as u32,
        ack_gap: 0,
        tag: [0; 32],
    };
    if let Some(k) = key {
        h.tag = frame_tag::frame_tag(&frame_tag::frame_key(k), &h.mac_header(), body);
    }
    let mut out = [0u8; wire::HEADER_LEN];
    h.encode(&mut out);
    let mut v = out.to_vec();
    v.extend_from_slice(body);
    v
}

fn read_frame(s: &mut TcpStream) -> std::io::Result<(FrameHeader, Vec<u8>)> {
    let mut hdr = [0u8; wire::HEADER_LEN];
    s.read_exact(&mut hdr)?;
    let h = FrameHeader::decode(&hdr).map_err(|e| std::io::Error::other(e.describe()))?;
    let mut body = vec![0u8; h.body_len as usize];
    s.read_exact(&mut body)?;
    Ok((h, body))
}

/// Runs the client side of the handshake; returns the session key if the
/// node accepted us.
fn handshake(s: &mut TcpStream, secret: &[u8], rng: &mut Rng) -> std::io::Result<Option<[u8; 32]>> {
    let mut nonce = [0u8; 32];
    rng.fill(&mut nonce);
    let me = Hello { node_id: FAKE_NODE, incarnation: 7, nonce, address: [10, 99, 0, 250], port: 7070 };
    let mut b = [0u8; Hello::LEN];
    me.encode(&mut b).unwrap();
    s.write_all(&frame(MsgType::Hello, 1, 7, &b, None))?;
    let (_, body) = read_frame(s)?;
    let peer = Hello::decode(&body).map_err(|e| std::io::Error::other(e.describe()))?;
    let mut input = [0u8; wire::PROOF_INPUT_LEN];
    let n = wire::proof_input(wire::ROLE_CLIENT, &me, &peer, &mut input);
    let proof = HelloAuth { proof: mac(secret, &input[..n], &[]) };
    let mut pb = [0u8; HelloAuth::LEN];
    proof.encode(&mut pb).unwrap();
    s.write_all(&frame(MsgType::HelloAuth, 2, 7, &pb, None))?;
    // The node sends its own proof before checking ours; only a frame after
    // that (its JoinReply) shows it accepted us. A refusal closes the socket.
    if read_frame(s).is_err() || read_frame(s).is_err() {
        return Ok(None);
    }
    let mut kin = [0u8; wire::SESSION_KEY_INPUT_LEN];
    let n = wire::session_key_input(&me.nonce, &peer.nonce, &mut kin);
    Ok(Some(mac(secret, &kin[..n], &[])))
}

fn heartbeat_body() -> Vec<u8> {
    let hb = Heartbeat { incarnation: 7, view_epoch: 1, resources: Resources::ZERO };
    let mut b = vec![0u8; Heartbeat::LEN];
    hb.encode(&mut b).unwrap();
    b
}

fn one(target: &str, mode: &str, secret: &[u8], rng: &mut Rng) -> std::io::Result<()> {
    let mut s = TcpStream::connect(target)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_nodelay(true)?;
    match mode {
        "garbage" => {
            let mut b = vec![0u8; 1 + (rng.next() % 4096) as usize];
            rng.fill(&mut b);
            // Half the time make it start like a frame, to get past the magic.
            if rng.next().is_multiple_of(2) && b.len() > 5 {
                b[..4].copy_from_slice(&wire::MAGIC);
                b[4] = wire::WIRE_VERSION;
            }
            s.write_all(&b)?;
        }
        "truncated" => {
            let f = frame(MsgType::Hello, 1, 7, &[0u8; Hello::LEN], None);
            // At least one byte: a connection closed before its first byte
            // is only a closed connection, not a malformed frame.
            let cut = 1 + (rng.next() as usize) % (f.len() - 1);
            s.write_all(&f[..cut])?;
        }
        "huge" => {
            let mut f = frame(MsgType::Hello, 1, 7, &[], None);
            let len = if rng.next().is_multiple_of(2) { u32::MAX } else { wire::MAX_BODY + 1 };
            f[32..36].copy_from_slice(&len.to_le_bytes());
            s.write_all(&f)?;
        }
        "badproof" => {
            if handshake(&mut s, b"definitely-not-the-secret", rng)?.is_some() {
                return Err(std::io::Error::other("the node accepted a wrong secret"));
            }
        }
        "badmac" | "replay" => {
            let key = handshake(&mut s, secret, rng)?
                .ok_or_else(|| std::io::Error::other("handshake with the given secret refused"))?;
            let body = heartbeat_body();
            if mode == "badmac" {
                let mut f = frame(MsgType::Heartbeat, 3, 7, &body, Some(&key));
                let i = (rng.next() as usize) % f.len().min(wire::TAG_OFFSET + wire::TAG_LEN);
                f[i.max(wire::TAG_OFFSET)] ^= 0x5a;
                s.write_all(&f)?;
            } else {
                let f = frame(MsgType::Heartbeat, 3, 7, &body, Some(&key));
                s.write_all(&f)?;
                s.write_all(&f)?;
            }
        }
        "slow" => std::thread::sleep(Duration::from_secs(5)),
        "bodies" => return hostile_bodies(&mut s, secret, rng),
        m => return Err(std::io::Error::other(format!("unknown mode {m}"))),
    }
    if matches!(mode, "garbage" | "truncated" | "huge") {
        // Hang up at once: the node sees the end of the stream.
        return Ok(());
    }
    // Wait for the node to close the connection (or a short while).
    let mut sink = [0u8; 256];
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    while let Ok(n) = s.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
    Ok(())
}

/// The request types with hostile bodies, and each one's real request
/// length.
const BODY_TARGETS: [(MsgType, usize); 12] = [
    (MsgType::ProcList, ssi_proto::procs::REQUEST_LEN),
    (MsgType::MigrateAsk, ssi_proto::migration::ASK_START_LEN),
    (MsgType::MigrateAsk, ssi_proto::migration::ASK_QUERY_LEN),
    (MsgType::ProcSignal, ssi_proto::signal::REQUEST_LEN),
    (MsgType::NodeStats, ssi_proto::node_stats::REQUEST_LEN),
    // A command's text: random bytes do not parse as one.
    (MsgType::SchedChange, 16),
    (MsgType::SchedOffer, ssi_proto::sched::Offer::LEN),
    (MsgType::HaCheckpoint, ssi_proto::ha::CheckpointAsk::LEN),
    // One-way in use; sent as a request, it is answered all the same.
    (MsgType::HaDone, ssi_proto::ha::CheckpointDone::LEN),
    (MsgType::HaDigest, ssi_proto::ha::replica::DigestHead::LEN),
    (MsgType::HaVerdict, ssi_proto::ha::replica::Verdict::LEN),
    (MsgType::HaReplica, ssi_proto::ha::replica::ReplicaAsk::HEADER_LEN),
];

/// One hostile body for a request whose real length is `len`.
fn hostile_body(len: usize, i: usize, rng: &mut Rng) -> Vec<u8> {
    let n = match i % 6 {
        0 => 0,
        1 => len.saturating_sub(1),
        2 => len + 1,
        3 | 4 => len,
        _ => (rng.next() % 4096) as usize,
    };
    let mut b = vec![0u8; n];
    rng.fill(&mut b);
    if i % 6 == 4 && n > 0 {
        // Real length, all ones: every count and id at its maximum.
        b.fill(0xff);
    }
    b
}

/// Sends 60 hostile requests of each target type on one authenticated
/// connection and reads the answers. Every request must be answered (with
/// a result or an error) and the connection must stay up.
fn hostile_bodies(s: &mut TcpStream, secret: &[u8], rng: &mut Rng) -> std::io::Result<()> {
    let key = handshake(s, secret, rng)?.ok_or_else(|| std::io::Error::other("handshake with the given secret refused"))?;
    let (mut seq, mut answered, mut errors) = (3u64, 0u32, 0u32);
    for (kind, len) in BODY_TARGETS {
        for i in 0..60 {
            let body = hostile_body(len, i, rng);
            s.write_all(&request(kind, seq, 7, seq, &body, Some(&key)))?;
            let id = seq;
            seq += 1;
            // The answer to this request (heartbeats and the like may come
            // first).
            loop {
                let (rh, _) = read_frame(s)?;
                if rh.flags & wire::FLAG_REPLY != 0 && rh.request_id == id {
                    answered += 1;
                    if rh.flags & wire::FLAG_ERROR != 0 {
                        errors += 1;
                    }
                    break;
                }
            }
        }
    }
    println!("bodies: {answered} answered, {errors} with an error");
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: krpc-abuse ADDR:PORT MODE COUNT [SECRET]");
        std::process::exit(2);
    }
    let count: u32 = args[3].parse().unwrap_or(1);
    let secret = args.get(4).map_or(&b""[..], |s| s.as_bytes());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id()));
    let (mut ok, mut failed) = (0u32, 0u32);
    for _ in 0..count {
        match one(&args[1], &args[2], secret, &mut rng) {
            Ok(()) => ok += 1,
            Err(e) => {
                failed += 1;
                if failed <= 3 {
                    eprintln!("krpc-abuse: {e}");
                }
            }
        }
    }
    println!("{} {}: {ok} sent, {failed} failed", args[2], count);
    if failed > 0 && matches!(args[2].as_str(), "badproof" | "badmac" | "replay" | "bodies") {
        std::process::exit(1);
    }
}
