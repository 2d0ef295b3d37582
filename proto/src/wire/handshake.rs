//! The pure parts of the handshake: the [`Hello`] and [`HelloAuth`]
//! bodies, the connection roles, and the bytes the caller MACs for the
//! proofs ([`proof_input`]) and the session key ([`session_key_input`]).

use super::super::le::{Reader, Writer};
use super::error::{node_id_ok, WireError};
use super::header::TAG_LEN;

/// Role of the side that opened the connection, for [`proof_input`].
pub const ROLE_CLIENT: u8 = 0;
/// Role of the side that accepted the connection, for [`proof_input`].
pub const ROLE_SERVER: u8 = 1;

/// Length of a handshake nonce.
pub const NONCE_LEN: usize = 32;

const SESSION_LABEL: &[u8] = b"ssi-krpc-session-v1";
const PROOF_LABEL: &[u8] = b"ssi-krpc-proof-v1";

/// Length of what [`session_key_input`] writes.
pub const SESSION_KEY_INPUT_LEN: usize = SESSION_LABEL.len() + 2 * NONCE_LEN;
/// Length of what [`proof_input`] writes.
pub const PROOF_INPUT_LEN: usize = PROOF_LABEL.len() + 1 + 2 * Hello::LEN;

/// First message of each side of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hello {
    /// Sender's node id (0..=4095; 0 = not configured).
    pub node_id: u16,
    /// Sender's incarnation.
    pub incarnation: u32,
    /// Fresh random nonce for this connection.
    pub nonce: [u8; NONCE_LEN],
    /// Sender's krpc listener address (IPv4, network order).
    pub address: [u8; 4],
    /// Sender's krpc listener port.
    pub port: u16,
}

impl Hello {
    /// Encoded length.
    pub const LEN: usize = 2 + 4 + NONCE_LEN + 4 + 2;

    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        w.u16(self.node_id)?;
        w.u32(self.incarnation)?;
        w.bytes(&self.nonce)?;
        w.bytes(&self.address)?;
        Ok(w.u16(self.port)?)
    }

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if !node_id_ok(self.node_id) {
            return Err(WireError::BadNodeId);
        }
        let mut w = Writer::new(out);
        self.write_to(&mut w)?;
        Ok(w.pos())
    }

    /// Decodes a body of exactly [`Hello::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<Hello, WireError> {
        let mut r = Reader::new(body);
        let h = Hello {
            node_id: r.u16()?,
            incarnation: r.u32()?,
            nonce: r.array()?,
            address: r.array()?,
            port: r.u16()?,
        };
        r.finish()?;
        if !node_id_ok(h.node_id) {
            return Err(WireError::BadNodeId);
        }
        Ok(h)
    }
}

/// Handshake proof: `HMAC(secret, proof_input(role, ...))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HelloAuth {
    /// The proof.
    pub proof: [u8; TAG_LEN],
}

impl HelloAuth {
    /// Encoded length.
    pub const LEN: usize = TAG_LEN;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let mut w = Writer::new(out);
        w.bytes(&self.proof)?;
        Ok(w.pos())
    }

    /// Decodes a body of exactly [`HelloAuth::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<HelloAuth, WireError> {
        let mut r = Reader::new(body);
        let proof = r.array()?;
        r.finish()?;
        Ok(HelloAuth { proof })
    }
}

/// Writes `b"ssi-krpc-session-v1" || nonce_client || nonce_server`, the
/// input of `session_key = HMAC(secret, input)`. Returns the length
/// ([`SESSION_KEY_INPUT_LEN`]).
pub fn session_key_input(
    nonce_client: &[u8; NONCE_LEN],
    nonce_server: &[u8; NONCE_LEN],
    out: &mut [u8; SESSION_KEY_INPUT_LEN],
) -> usize {
    let mut w = Writer::new(out);
    // Cannot fail: the parts add up to exactly SESSION_KEY_INPUT_LEN.
    let _ = w
        .bytes(SESSION_LABEL)
        .and_then(|()| w.bytes(nonce_client))
        .and_then(|()| w.bytes(nonce_server));
    w.pos()
}

/// Writes `b"ssi-krpc-proof-v1" || role || hello_client || hello_server`
/// (the Hellos encoded as on the wire), the input of the handshake proof
/// `HMAC(secret, input)` of the side with `role` ([`ROLE_CLIENT`] or
/// [`ROLE_SERVER`]; other values are written as given). Returns the length
/// ([`PROOF_INPUT_LEN`]).
pub fn proof_input(
    role: u8,
    hello_client: &Hello,
    hello_server: &Hello,
    out: &mut [u8; PROOF_INPUT_LEN],
) -> usize {
    let mut w = Writer::new(out);
    // Cannot fail: the parts add up to exactly PROOF_INPUT_LEN. The Hellos
    // are written as they are, without validation.
    let _ = w
        .bytes(PROOF_LABEL)
        .and_then(|()| w.u8(role))
        .map_err(WireError::from)
        .and_then(|()| hello_client.write_to(&mut w))
        .and_then(|()| hello_server.write_to(&mut w));
    w.pos()
}
