//! CRC-32C (Castagnoli), table-driven and incremental: the checksum of
//! the image header and of every section.

/// CRC-32C (Castagnoli) polynomial, reflected.
pub(super) const CRC32C_POLY: u32 = 0x82F6_3B78;

/// Slice-by-8 tables: `T[0]` is the usual byte table, `T[k][i]` is the CRC
/// of byte `i` followed by `k` zero bytes.
const fn crc32c_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ CRC32C_POLY
            } else {
                c >> 1
            };
            bit += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

static CRC32C_TABLES: [[u32; 256]; 8] = crc32c_tables();

/// Table lookup by the low byte of `x` (always in bounds).
#[inline(always)]
fn lookup(table: &[u32; 256], x: u32) -> u32 {
    table[(x & 0xff) as usize]
}

/// Incremental CRC-32C: init `!0`, reflected, final xor `!0` (the value of
/// Linux's `crc32c(~0, data, len) ^ ~0`). Feeding the data in any number of
/// pieces gives the same result as [`crc32c`] over all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crc32c {
    state: u32,
}

impl Crc32c {
    /// A CRC over no data yet.
    pub const fn new() -> Crc32c {
        Crc32c { state: !0 }
    }

    /// Continues from a running register, as Linux's `crc32c(seed, ..)`
    /// takes and returns it (for a hardware routine to take over or hand
    /// back a computation). `from_state(!0)` is [`Crc32c::new`].
    pub const fn from_state(state: u32) -> Crc32c {
        Crc32c { state }
    }

    /// The running register (not inverted): what Linux's
    /// `crc32c(seed, ..)` takes as `seed` to continue this computation.
    pub const fn state(&self) -> u32 {
        self.state
    }

    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        let t = &CRC32C_TABLES;
        let mut crc = self.state;
        let mut chunks = data.chunks_exact(8);
        for chunk in &mut chunks {
            // chunks_exact yields 8-byte chunks: the conversion always works.
            let Ok(b) = <[u8; 8]>::try_from(chunk) else {
                continue;
            };
            let lo = crc ^ u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            crc = lookup(&t[7], lo)
                ^ lookup(&t[6], lo >> 8)
                ^ lookup(&t[5], lo >> 16)
                ^ lookup(&t[4], lo >> 24)
                ^ lookup(&t[3], u32::from(b[4]))
                ^ lookup(&t[2], u32::from(b[5]))
                ^ lookup(&t[1], u32::from(b[6]))
                ^ lookup(&t[0], u32::from(b[7]));
        }
        for &byte in chunks.remainder() {
            crc = lookup(&t[0], crc ^ u32::from(byte)) ^ (crc >> 8);
        }
        self.state = crc;
    }

    /// The CRC of everything fed so far.
    pub const fn finish(&self) -> u32 {
        !self.state
    }
}

impl Default for Crc32c {
    fn default() -> Crc32c {
        Crc32c::new()
    }
}

/// CRC-32C of `data` (check value: `crc32c(b"123456789") == 0xE306_9283`).
pub fn crc32c(data: &[u8]) -> u32 {
    let mut c = Crc32c::new();
    c.update(data);
    c.finish()
}
