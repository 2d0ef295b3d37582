// SPDX-License-Identifier: GPL-2.0
//! The per-frame tag of an established connection, keyed by its session
//! key: SipHash-2-4-128 (`proto/src/frame_tag.rs`, pure Rust, so no kernel
//! call is needed). The handshake stays HMAC-SHA256 (`krpc/hmac.rs`).

use crate::proto::{
    frame_tag::{self, FRAME_KEY_LEN},
    wire::TAG_LEN,
};

/// The frame key of one connection; computes frame tags with `&self`.
pub(crate) struct FrameMac {
    key: [u8; FRAME_KEY_LEN],
}

impl FrameMac {
    /// Tags keyed with the first 16 bytes of `session_key`, which is wiped.
    pub(crate) fn new(mut session_key: [u8; 32]) -> FrameMac {
        let key = frame_tag::frame_key(&session_key);
        wipe(&mut session_key);
        FrameMac { key }
    }

    /// The tag of `header_with_tag_zeroed || body`.
    pub(crate) fn tag(&self, header_with_tag_zeroed: &[u8], body: &[u8]) -> [u8; TAG_LEN] {
        frame_tag::frame_tag(&self.key, header_with_tag_zeroed, body)
    }

    /// The tag of `header_with_tag_zeroed || body[0] || body[1] ...`.
    pub(crate) fn tag_parts<'a>(
        &self,
        header_with_tag_zeroed: &[u8],
        body: impl Iterator<Item = &'a [u8]>,
    ) -> [u8; TAG_LEN] {
        frame_tag::frame_tag_chain(&self.key, header_with_tag_zeroed, body)
    }
}

impl Drop for FrameMac {
    fn drop(&mut self) {
        wipe(&mut self.key);
    }
}

/// Zeroes key material in a way the compiler cannot drop as a dead store.
fn wipe(bytes: &mut [u8]) {
    for byte in bytes.iter_mut() {
        // SAFETY: `byte` is a valid, aligned, exclusive reference.
        unsafe { core::ptr::write_volatile(byte, 0) };
    }
}
