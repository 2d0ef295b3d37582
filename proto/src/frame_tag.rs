//! The tag of every krpc frame after the handshake: SipHash-2-4 with a
//! 128-bit output (Aumasson and Bernstein, "SipHash: a fast short-input
//! PRF", the 128-bit variant of the reference implementation), keyed with
//! the first 16 bytes of the connection's session key.
//!
//! SipHash is a keyed pseudorandom function, so it is a MAC without any
//! per-message key or nonce (unlike Poly1305). It needs only 64-bit adds,
//! rotations and xors: about 3-4 operations per byte, against about 18 for
//! BLAKE2s and more for HMAC-SHA256. Migration sends hundreds of megabytes
//! through frame tags, and on slow or emulated CPUs their cost per byte is
//! what limits krpc's throughput (docs/benchmarks.md). The handshake, which
//! runs once per connection, keeps HMAC-SHA256.
//!
//! The header's tag field is 32 bytes: the 16-byte SipHash output followed
//! by 16 zero bytes ([`frame_tag`]); receivers compare all 32 bytes.
//!
//! Pure, `no_std`, allocation-free; checked against the reference test
//! vectors and, in userspace tests, against the `siphasher` crate.

use super::wire::TAG_LEN;

/// Length of the SipHash key taken from the session key.
pub const FRAME_KEY_LEN: usize = 16;
/// Length of the SipHash-2-4-128 output.
pub const SIPHASH_128_LEN: usize = 16;

/// Incremental SipHash-2-4 with a 128-bit output.
#[derive(Clone)]
pub struct SipHash128 {
    v: [u64; 4],
    /// Bytes not yet forming a whole 8-byte word, little-endian.
    tail: u64,
    /// How many bytes `tail` holds (0..=7).
    tail_len: usize,
    /// Bytes hashed so far (only its low 8 bits are used, as specified).
    len: u64,
}

#[inline(always)]
fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

impl SipHash128 {
    /// A hasher keyed with `key` (k0 = bytes 0..8, k1 = bytes 8..16, LE).
    pub fn new(key: &[u8; FRAME_KEY_LEN]) -> SipHash128 {
        let mut k0 = [0u8; 8];
        let mut k1 = [0u8; 8];
        k0.copy_from_slice(&key[..8]);
        k1.copy_from_slice(&key[8..]);
        let k0 = u64::from_le_bytes(k0);
        let k1 = u64::from_le_bytes(k1);
        SipHash128 {
            v: [
                0x736f_6d65_7073_6575 ^ k0,
                // 0xee: the 128-bit output variant.
                0x646f_7261_6e64_6f6d ^ k1 ^ 0xee,
                0x6c79_6765_6e65_7261 ^ k0,
                0x7465_6462_7974_6573 ^ k1,
            ],
            tail: 0,
            tail_len: 0,
            len: 0,
        }
    }

    #[inline(always)]
    fn compress(&mut self, m: u64) {
        self.v[3] ^= m;
        sip_round(&mut self.v);
        sip_round(&mut self.v);
        self.v[0] ^= m;
    }

    /// Hashes `data` after what came before.
    pub fn update(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        // Complete a partial word first.
        while self.tail_len != 0 {
            let Some((&b, rest)) = data.split_first() else {
                return;
            };
            self.tail |= u64::from(b) << (8 * self.tail_len);
            self.tail_len += 1;
            data = rest;
            if self.tail_len == 8 {
                let m = self.tail;
                self.compress(m);
                self.tail = 0;
                self.tail_len = 0;
            }
        }
        let mut words = data.chunks_exact(8);
        for w in &mut words {
            // A pointer cast and a length check (always 8 here): no copy
            // call, which matters in a kernel built for size.
            let w: &[u8; 8] = w.try_into().unwrap_or(&[0; 8]);
            self.compress(u64::from_le_bytes(*w));
        }
        for (i, &b) in words.remainder().iter().enumerate() {
            self.tail |= u64::from(b) << (8 * i);
        }
        self.tail_len = words.remainder().len();
    }

    /// The 16-byte output: the first 64-bit half then the second, each LE.
    pub fn finish(mut self) -> [u8; SIPHASH_128_LEN] {
        let last = (self.len << 56) | self.tail;
        self.compress(last);
        self.v[2] ^= 0xee;
        for _ in 0..4 {
            sip_round(&mut self.v);
        }
        let h0 = self.v[0] ^ self.v[1] ^ self.v[2] ^ self.v[3];
        self.v[1] ^= 0xdd;
        for _ in 0..4 {
            sip_round(&mut self.v);
        }
        let h1 = self.v[0] ^ self.v[1] ^ self.v[2] ^ self.v[3];
        let mut out = [0u8; SIPHASH_128_LEN];
        out[..8].copy_from_slice(&h0.to_le_bytes());
        out[8..].copy_from_slice(&h1.to_le_bytes());
        out
    }
}

/// The frame key of a connection: the first [`FRAME_KEY_LEN`] bytes of its
/// 32-byte session key.
pub fn frame_key(session_key: &[u8; 32]) -> [u8; FRAME_KEY_LEN] {
    let mut key = [0u8; FRAME_KEY_LEN];
    key.copy_from_slice(&session_key[..FRAME_KEY_LEN]);
    key
}

/// The frame tag of `header_with_tag_zeroed || body` under `key` (the first
/// [`FRAME_KEY_LEN`] bytes of the session key): SipHash-2-4-128, then zeros.
pub fn frame_tag(
    key: &[u8; FRAME_KEY_LEN],
    header_with_tag_zeroed: &[u8],
    body: &[u8],
) -> [u8; TAG_LEN] {
    frame_tag_parts(key, header_with_tag_zeroed, &[body])
}

/// The frame tag of a body sent in parts: the same as [`frame_tag`] of
/// their concatenation.
pub fn frame_tag_parts(
    key: &[u8; FRAME_KEY_LEN],
    header_with_tag_zeroed: &[u8],
    body: &[&[u8]],
) -> [u8; TAG_LEN] {
    frame_tag_chain(key, header_with_tag_zeroed, body.iter().copied())
}

/// [`frame_tag_parts`] of parts given one after the other.
pub fn frame_tag_chain<'a>(
    key: &[u8; FRAME_KEY_LEN],
    header_with_tag_zeroed: &[u8],
    body: impl Iterator<Item = &'a [u8]>,
) -> [u8; TAG_LEN] {
    let mut h = SipHash128::new(key);
    h.update(header_with_tag_zeroed);
    for part in body {
        h.update(part);
    }
    let mut tag = [0u8; TAG_LEN];
    tag[..SIPHASH_128_LEN].copy_from_slice(&h.finish());
    tag
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> [u8; 16] {
        core::array::from_fn(|i| i as u8)
    }

    fn one_shot(key: &[u8; 16], data: &[u8]) -> [u8; 16] {
        let mut h = SipHash128::new(key);
        h.update(data);
        h.finish()
    }

    /// The reference implementation's `vectors_sip128` (veorq/SipHash
    /// `vectors.h`) for message lengths 0 to 9 and 15: key 00..0f, message
    /// 00, 01, 02, ... (covers empty input and both sides of a word edge).
    #[test]
    fn reference_vectors() {
        let msg: [u8; 16] = core::array::from_fn(|i| i as u8);
        let cases: [(usize, [u8; 16]); 11] = [
            (
                0,
                [
                    0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14, 0xc7,
                    0x55, 0x02, 0x93,
                ],
            ),
            (
                1,
                [
                    0xda, 0x87, 0xc1, 0xd8, 0x6b, 0x99, 0xaf, 0x44, 0x34, 0x76, 0x59, 0x11, 0x9b,
                    0x22, 0xfc, 0x45,
                ],
            ),
            (
                2,
                [
                    0x81, 0x77, 0x22, 0x8d, 0xa4, 0xa4, 0x5d, 0xc7, 0xfc, 0xa3, 0x8b, 0xde, 0xf6,
                    0x0a, 0xff, 0xe4,
                ],
            ),
            (
                3,
                [
                    0x9c, 0x70, 0xb6, 0x0c, 0x52, 0x67, 0xa9, 0x4e, 0x5f, 0x33, 0xb6, 0xb0, 0x29,
                    0x85, 0xed, 0x51,
                ],
            ),
            (
                4,
                [
                    0xf8, 0x81, 0x64, 0xc1, 0x2d, 0x9c, 0x8f, 0xaf, 0x7d, 0x0f, 0x6e, 0x7c, 0x7b,
                    0xcd, 0x55, 0x79,
                ],
            ),
            (
                5,
                [
                    0x13, 0x68, 0x87, 0x59, 0x80, 0x77, 0x6f, 0x88, 0x54, 0x52, 0x7a, 0x07, 0x69,
                    0x0e, 0x96, 0x27,
                ],
            ),
            (
                6,
                [
                    0x14, 0xee, 0xca, 0x33, 0x8b, 0x20, 0x86, 0x13, 0x48, 0x5e, 0xa0, 0x30, 0x8f,
                    0xd7, 0xa1, 0x5e,
                ],
            ),
            (
                7,
                [
                    0xa1, 0xf1, 0xeb, 0xbe, 0xd8, 0xdb, 0xc1, 0x53, 0xc0, 0xb8, 0x4a, 0xa6, 0x1f,
                    0xf0, 0x82, 0x39,
                ],
            ),
            (
                8,
                [
                    0x3b, 0x62, 0xa9, 0xba, 0x62, 0x58, 0xf5, 0x61, 0x0f, 0x83, 0xe2, 0x64, 0xf3,
                    0x14, 0x97, 0xb4,
                ],
            ),
            (
                9,
                [
                    0x26, 0x44, 0x99, 0x06, 0x0a, 0xd9, 0xba, 0xab, 0xc4, 0x7f, 0x8b, 0x02, 0xbb,
                    0x6d, 0x71, 0xed,
                ],
            ),
            (
                15,
                [
                    0x54, 0x93, 0xe9, 0x99, 0x33, 0xb0, 0xa8, 0x11, 0x7e, 0x08, 0xec, 0x0f, 0x97,
                    0xcf, 0xc3, 0xd9,
                ],
            ),
        ];
        for (len, want) in cases {
            assert_eq!(one_shot(&key(), &msg[..len]), want, "length {len}");
        }
    }

    #[test]
    fn frame_tag_is_siphash_then_zeros() {
        let t = frame_tag(&key(), b"head", b"body");
        assert_eq!(&t[..16], &one_shot(&key(), b"headbody"));
        assert_eq!(&t[16..], &[0u8; 16]);
    }

    proptest! {
        /// Any split of the input into two updates gives the one-shot result.
        #[test]
        fn split_updates_agree(data in proptest::collection::vec(any::<u8>(), 0..300), cut in 0usize..300, k in any::<[u8; 16]>()) {
            let cut = cut.min(data.len());
            let mut h = SipHash128::new(&k);
            h.update(&data[..cut]);
            h.update(&data[cut..]);
            prop_assert_eq!(h.finish(), one_shot(&k, &data));
        }

        /// A body in parts has the tag of the whole.
        #[test]
        fn parts_tag_as_the_whole(body in proptest::collection::vec(any::<u8>(), 0..300), a in 0usize..300, b in 0usize..300, k in any::<[u8; 16]>()) {
            let (a, b) = (a.min(body.len()), b.min(body.len()));
            let (a, b) = (a.min(b), a.max(b));
            let whole = frame_tag(&k, b"header", &body);
            prop_assert_eq!(frame_tag_parts(&k, b"header", &[&body[..a], &body[a..b], &body[b..]]), whole);
            prop_assert_eq!(frame_tag_parts(&k, b"header", &[&body[..a], &body[a..]]), whole);
        }

        /// The same as the `siphasher` crate's SipHash-2-4-128.
        #[test]
        fn agrees_with_siphasher(data in proptest::collection::vec(any::<u8>(), 0..600), k in any::<[u8; 16]>()) {
            use core::hash::Hasher;
            use siphasher::sip128::{Hasher128, SipHasher24};
            let mut r = SipHasher24::new_with_key(&k);
            r.write(&data);
            prop_assert_eq!(one_shot(&k, &data), r.finish128().as_bytes());
        }

        /// Changing any one bit of the input or the key changes the tag.
        #[test]
        fn one_bit_changes_the_tag(data in proptest::collection::vec(any::<u8>(), 1..200), bit in any::<usize>(), k in any::<[u8; 16]>()) {
            let mut other = data.clone();
            let bit = bit % (data.len() * 8);
            other[bit / 8] ^= 1 << (bit % 8);
            prop_assert_ne!(frame_tag(&k, &data, &[]), frame_tag(&k, &other, &[]));
            let mut k2 = k;
            k2[bit % 16] ^= 1 << (bit % 8);
            prop_assert_ne!(frame_tag(&k, &data, &[]), frame_tag(&k2, &data, &[]));
        }
    }
}
