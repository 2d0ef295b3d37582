// SPDX-License-Identifier: GPL-2.0
//! A copy's digest at a point (`proto::ha::replica`), computed in the
//! copy's own context, in its write: the CRC-32C of its user registers,
//! of its x87/SSE state (the legacy area of its XSAVE image, whose
//! reserved tail and header the kernel and the CPU may fill differently in
//! two copies with the same state), of its layout (its private readable
//! mappings, adjacent ones merged: a restored copy's mappings may merge
//! where the original's did not), and of every page in memory of its
//! private writable mappings whose content is not all zeros. The
//! thread's rseq area counts as zeros: the kernel writes the CPU the
//! thread runs on there, which differs between copies.

use crate::{
    checkpoint::{crc, task},
    migration::precopy,
    proto::{
        ha::replica::{put_page, zero_page_crc, DigestHead, MAX_DIGEST_PAGES, PAGE, PAGE_ENTRY_LEN},
        image::Crc32c,
    },
};
use kernel::prelude::*;

/// The legacy FXSAVE area's bytes that hold state (x87, MXCSR, XMM0-15).
const FXSAVE_STATE_LEN: usize = 416;

fn crc_of(data: &[u8]) -> u32 {
    let mut c = Crc32c::new();
    crc::update(&mut c, data);
    c.finish()
}

/// The digest of the calling process at the point `head` names (its
/// CRCs and page count are filled in here): an `HaDigest` body.
pub(crate) fn of_current(head: &DigestHead) -> Result<KVec<u8>> {
    let mut h = *head;
    let mut regs = Crc32c::new();
    for r in task::user_regs() {
        crc::update(&mut regs, &r.to_le_bytes());
    }
    h.regs_crc = regs.finish();
    let mut xstate = KVec::from_elem(0u8, crate::proto::image::MAX_XSTATE, GFP_KERNEL)?;
    let n = task::xstate(&mut xstate)?;
    h.fpu_crc = crc_of(&xstate[..n.min(FXSAVE_STATE_LEN)]);
    drop(xstate);

    // The writable private mappings, and the layout.
    let mut writable: KVec<(u64, u64)> = KVec::new();
    let mut layout = Crc32c::new();
    let mut run: Option<(u64, u64)> = None;
    let mut addr = 0u64;
    while let Some(v) = task::vma_find(addr) {
        addr = v.end;
        let private = v.vm_flags & task::VM_SHARED == 0 && v.class.special.is_none() && !v.class.is_io;
        if !private || v.vm_flags & task::VM_READ == 0 {
            continue;
        }
        run = match run {
            Some((s, e)) if e == v.start => Some((s, v.end)),
            Some((s, e)) => {
                crc::update(&mut layout, &s.to_le_bytes());
                crc::update(&mut layout, &e.to_le_bytes());
                Some((v.start, v.end))
            }
            None => Some((v.start, v.end)),
        };
        if v.vm_flags & task::VM_WRITE != 0 && !v.class.is_shmem {
            writable.push((v.start, v.end), GFP_KERNEL)?;
        }
    }
    if let Some((s, e)) = run {
        crc::update(&mut layout, &s.to_le_bytes());
        crc::update(&mut layout, &e.to_le_bytes());
    }
    h.layout_crc = layout.finish();

    // The pages in memory there, by the pagemap (the pre-copy scan, which
    // does not touch the soft-dirty bits without `clear`).
    let scan = precopy::scan_current(false)?;
    let present = scan.present()?;
    let st = task::task_state()?;
    let rseq = (st.rseq, st.rseq.saturating_add(st.rseq_len));
    drop(st);
    let zero = zero_page_crc();
    let mut entries: KVec<(u64, u32)> = KVec::new();
    let mut page = KVec::from_elem(0u8, PAGE, GFP_KERNEL)?;
    for r in present.iter() {
        for i in 0..u64::from(r.npages) {
            let a = r.addr + i * PAGE as u64;
            let i = writable.partition_point(|&(_, end)| end <= a);
            if !writable.get(i).is_some_and(|&(start, _)| start <= a) {
                continue;
            }
            task::read_user(a, &mut page)?;
            if rseq.0 < a + PAGE as u64 && rseq.1 > a {
                let from = rseq.0.saturating_sub(a) as usize;
                let to = ((rseq.1 - a) as usize).min(PAGE);
                for b in page[from..to].iter_mut() {
                    *b = 0;
                }
            }
            let c = crc_of(&page);
            if c != zero {
                if entries.len() >= MAX_DIGEST_PAGES {
                    return Err(E2BIG);
                }
                entries.push((a, c), GFP_KERNEL)?;
            }
        }
    }
    h.pages = entries.len() as u32;
    let mut body = KVec::from_elem(0u8, DigestHead::LEN + entries.len() * PAGE_ENTRY_LEN, GFP_KERNEL)?;
    h.encode(&mut body).map_err(|_| EINVAL)?;
    for (i, &(a, c)) in entries.iter().enumerate() {
        put_page(&mut body, i, a, c).map_err(|_| EINVAL)?;
    }
    Ok(body)
}
