// SPDX-License-Identifier: GPL-2.0
//! CRC-32C of image pages with the CPU's `crc32` instruction.
//!
//! Every page of an image carries a CRC-32C (`docs/image-format.md`); the
//! capture computes it and a restore checks it, over hundreds of MiB for a
//! big process. `proto`'s portable slice-by-8 code is the reference and the
//! fallback; on x86 with SSE4.2 the module feeds the same running register
//! ([`Crc32c::state`]) through the `crc32` instruction, which works on
//! general-purpose registers only (no FPU state to save in the kernel),
//! when [`choose`] found it correct and faster at load time.

use crate::proto::image::Crc32c;
use core::sync::atomic::{AtomicU8, Ordering};
use kernel::prelude::*;

/// 0: not asked yet, 1: software, 2: the `crc32` instruction.
static ENGINE: AtomicU8 = AtomicU8::new(0);

fn has_instruction() -> bool {
    match ENGINE.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: reads the boot CPU's feature bits; no other effect.
            let yes = cfg!(target_arch = "x86_64") && unsafe { crate::extra::ssi_cpu_has_crc32c() } != 0;
            ENGINE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
            yes
        }
        e => e == 2,
    }
}

/// Whether CRCs are computed with the CPU's instruction (for the log).
pub(crate) fn in_hardware() -> bool {
    has_instruction()
}

/// Feeds `data` into `crc`: the same result as [`Crc32c::update`].
pub(crate) fn update(crc: &mut Crc32c, data: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    if has_instruction() {
        *crc = Crc32c::from_state(update_x86(crc.state(), data));
        return;
    }
    crc.update(data);
}

#[cfg(target_arch = "x86_64")]
fn update_x86(state: u32, data: &[u8]) -> u32 {
    let mut crc = u64::from(state);
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let Ok(b) = <[u8; 8]>::try_from(w) else { continue };
        let v = u64::from_le_bytes(b);
        // SAFETY: `crc32` (SSE4.2, checked by the caller) reads and writes
        // these two registers only.
        unsafe { core::arch::asm!("crc32 {c}, {v}", c = inout(reg) crc, v = in(reg) v, options(pure, nomem, nostack)) };
    }
    let mut c32 = crc as u32;
    for &b in words.remainder() {
        // SAFETY: as above, one byte.
        unsafe {
            core::arch::asm!("crc32 {c:e}, {b}", c = inout(reg) c32, b = in(reg_byte) b, options(pure, nomem, nostack))
        };
    }
    c32
}

/// Picks the faster way at load time (as the kernel picks its RAID xor
/// routines): the instruction is the fast one on real CPUs, but an
/// emulator may run it a bit at a time, slower than the table code. A
/// routine that disagrees with `proto`'s reference is never used. Returns
/// the two speeds in MB/s (software, instruction; 0 if there is none).
pub(crate) fn choose() -> (u64, u64) {
    let mut data = KVec::new();
    if data.extend_from_slice(&[0u8; 1024], GFP_KERNEL).is_err() {
        ENGINE.store(1, Ordering::Relaxed);
        return (0, 0);
    }
    for (i, b) in data.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(7);
    }
    let mut reference = Crc32c::new();
    reference.update(&data);
    let sw = speed(&data, |c, d| c.update(d));
    #[cfg(target_arch = "x86_64")]
    if has_instruction() {
        let mut hw = Crc32c::new();
        hw = Crc32c::from_state(update_x86(hw.state(), &data[..3]));
        hw = Crc32c::from_state(update_x86(hw.state(), &data[3..]));
        if hw != reference {
            pr_err!("the crc32 instruction disagrees with the CRC-32C reference: not used\n");
            ENGINE.store(1, Ordering::Relaxed);
            return (sw, 0);
        }
        let hw_speed = speed(&data, |c, d| *c = Crc32c::from_state(update_x86(c.state(), d)));
        if hw_speed < sw {
            ENGINE.store(1, Ordering::Relaxed);
        }
        return (sw, hw_speed);
    }
    ENGINE.store(1, Ordering::Relaxed);
    (sw, 0)
}

/// MB/s of `f` over `data`, fed 64 times.
fn speed(data: &[u8], f: impl Fn(&mut Crc32c, &[u8])) -> u64 {
    const ROUNDS: u64 = 64;
    let mut c = Crc32c::new();
    let t0 = super::task::mono_ns();
    for _ in 0..ROUNDS {
        f(&mut c, core::hint::black_box(data));
    }
    core::hint::black_box(c);
    let ns = super::task::mono_ns().saturating_sub(t0).max(1);
    ROUNDS * data.len() as u64 * 1000 / ns
}
