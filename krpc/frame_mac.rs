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
    /// Tags keyed with the first 16 bytes of `session_key`.
    pub(crate) fn new(session_key: &[u8; 32]) -> FrameMac {
        let mut key = [0u8; FRAME_KEY_LEN];
        key.copy_from_slice(&session_key[..FRAME_KEY_LEN]);
        FrameMac { key }
    }

    /// The tag of `header_with_tag_zeroed || body`.
    pub(crate) fn tag(&self, header_with_tag_zeroed: &[u8], body: &[u8]) -> [u8; TAG_LEN] {
        frame_tag::frame_tag(&self.key, header_with_tag_zeroed, body)
    }
}

impl Drop for FrameMac {
    fn drop(&mut self) {
        for byte in self.key.iter_mut() {
            // SAFETY: `byte` is a valid, aligned, exclusive reference; the
            // volatile write keeps the compiler from dropping the wipe.
            unsafe { core::ptr::write_volatile(byte, 0) };
        }
    }
}
