// SPDX-License-Identifier: GPL-2.0
//! HMAC-SHA256 from the kernel crypto API (thin safe wrapper).

use crate::extra as raw;
use kernel::{error::from_err_ptr, error::to_result, prelude::*};

/// Length of an HMAC-SHA256 output.
pub(crate) const MAC_LEN: usize = 32;

/// A keyed HMAC-SHA256 transform. Computing MACs needs only `&self`: the
/// key is fixed at creation and each computation uses its own descriptor.
pub(crate) struct Hmac {
    tfm: *mut raw::crypto_shash,
}

// SAFETY: a keyed shash transform may be used concurrently with separate
// descriptors (ssi_hmac_sha256 puts one on its own stack).
unsafe impl Send for Hmac {}
// SAFETY: as above.
unsafe impl Sync for Hmac {}

impl Hmac {
    /// A transform keyed with `key` (may sleep).
    pub(crate) fn new(key: &[u8]) -> Result<Hmac> {
        let len = u32::try_from(key.len()).map_err(|_| EINVAL)?;
        // SAFETY: `key` is readable for `len` bytes; the helper copies it.
        let tfm = from_err_ptr(unsafe { raw::ssi_hmac_sha256_new(key.as_ptr(), len) })?;
        Ok(Hmac { tfm })
    }

    /// HMAC over `a || b`.
    pub(crate) fn mac(&self, a: &[u8], b: &[u8]) -> Result<[u8; MAC_LEN]> {
        let mut out = [0u8; MAC_LEN];
        // SAFETY: the slices are valid for their lengths; `out` has room
        // for the 32-byte digest.
        to_result(unsafe { raw::ssi_hmac_sha256(self.tfm, a.as_ptr(), a.len(), b.as_ptr(), b.len(), out.as_mut_ptr()) })?;
        Ok(out)
    }
}

impl Drop for Hmac {
    fn drop(&mut self) {
        // SAFETY: we own the transform.
        unsafe { raw::ssi_hmac_sha256_free(self.tfm) };
    }
}
