//! Deputy leases: the `MigrateLease` body and its reply ([`Lease`]), a
//! list of home ids.

use super::super::le::{Reader, Writer};
use super::super::wire::WireError;
use super::transfer::nonzero;

/// Most deputies one `MigrateLease` (or its reply) names.
pub const MAX_LEASES: usize = 128;

/// `MigrateLease` and its reply: a list of deputies (home ids). The node
/// running migrated processes sends the home ids of those it runs for a
/// home node; the home node renews each deputy's lease and answers with
/// the ids it has no deputy for (the process must not go on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease<'a> {
    /// `count` home ids, 8 bytes each, little-endian.
    ids: &'a [u8],
}

impl<'a> Lease<'a> {
    /// Encoded length of a list of `n` ids.
    pub const fn len_of(n: usize) -> usize {
        4 + 8 * n
    }

    /// Writes the list `ids` into `out`; returns the bytes written.
    pub fn encode(ids: &[u64], out: &mut [u8]) -> Result<usize, WireError> {
        if ids.len() > MAX_LEASES {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u32(ids.len() as u32)?;
        for id in ids {
            w.u64(nonzero(*id)?)?;
        }
        Ok(w.pos())
    }

    /// Decodes a body: at most [`MAX_LEASES`] ids, none 0.
    pub fn decode(body: &'a [u8]) -> Result<Lease<'a>, WireError> {
        let mut r = Reader::new(body);
        let n = r.u32()? as usize;
        if n > MAX_LEASES {
            return Err(WireError::InvalidValue);
        }
        let ids = body.get(4..4 + 8 * n).ok_or(WireError::Truncated)?;
        if body.len() != 4 + 8 * n {
            return Err(WireError::TrailingBytes);
        }
        let l = Lease { ids };
        if l.iter().any(|id| id == 0) {
            return Err(WireError::InvalidValue);
        }
        Ok(l)
    }

    /// The home ids.
    pub fn iter(&self) -> impl Iterator<Item = u64> + 'a {
        self.ids
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.ids.len() / 8
    }

    /// Whether it names none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}
