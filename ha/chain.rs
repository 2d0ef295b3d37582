// SPDX-License-Identifier: GPL-2.0
//! A restart from a chain of images: the chain read, checked and sent as
//! the one full image it stands for.
//!
//! The images of a protected process form a chain: a full image and the
//! incremental images after it (`increments.rs`). To restart the process
//! the home node reads every image of the chain (each section's CRC
//! checked, the chain's links checked: each image's parent id is the
//! image before it, only the first is full, one process), and writes,
//! into the stream of the restart (`migration::resume`), a full image: the
//! newest image's header (no longer incremental) and sections but its
//! Parent section, then the memory of the whole chain
//! (`proto::image::merge_pages`: each page from the newest image that has
//! it, only inside the newest image's mappings), then End. The
//! destination restores it like any checkpoint image.

use super::images;
use crate::{
    checkpoint::{capture::ImageSink, crc, task::File},
    ctl_reply::fail,
    proto::{
        ctl::CtlReply,
        image::{
            merge_pages, ImageHeader, ImageReader, ImageWriter, PageRun, PagesBody, Section, SectionKind, FLAG_INCREMENTAL,
            IMAGE_HEADER_LEN, MAX_CHAIN, MAX_SECTION_BODY, PAGE_SIZE, SECTION_HEADER_LEN,
        },
    },
};
use kernel::prelude::*;

/// One image of the chain, read.
struct Read {
    file: File,
    header: ImageHeader,
    runs: KVec<PageRun>,
}

/// What the newest image gives besides its memory.
#[derive(Default)]
struct Newest {
    /// Its sections but Pages, Parent and End, in order: kind and body.
    sections: KVec<(SectionKind, KVec<u8>)>,
    /// Its mappings.
    vmas: KVec<(u64, u64)>,
}

/// Reads image `file` section by section, checking each (its CRC, its
/// place); its header and page runs, and, with `newest`, what the merged
/// image takes from it.
fn read(file: File, mut newest: Option<&mut Newest>, buf: &mut KVec<u8>, reply: &mut CtlReply) -> Result<Read> {
    let mut hdr = [0u8; IMAGE_HEADER_LEN];
    let mut pos = 0i64;
    file.read_exact(&mut hdr, &mut pos).map_err(|_| fail(reply, EINVAL, format_args!("image truncated")))?;
    let mut reader = ImageReader::new(&hdr).map_err(|e| fail(reply, EINVAL, format_args!("{}", e)))?;
    let header = *reader.header();
    let mut runs = KVec::new();
    while !reader.is_complete() {
        let mut sh = [0u8; SECTION_HEADER_LEN];
        file.read_exact(&mut sh, &mut pos).map_err(|_| fail(reply, EINVAL, format_args!("image truncated")))?;
        let h = reader.read_section_header(&sh).map_err(|e| fail(reply, EINVAL, format_args!("{}", e)))?;
        let len = h.body_len as usize;
        if len > buf.len() {
            return Err(fail(reply, EINVAL, format_args!("a section of {len} bytes")));
        }
        let body_at = pos as u64;
        file.read_exact(&mut buf[..len], &mut pos).map_err(|_| fail(reply, EINVAL, format_args!("image truncated")))?;
        let mut c = h.crc_start();
        crc::update(&mut c, &buf[..len]);
        let section = reader
            .read_section_body_with_crc(&buf[..len], c.finish())
            .map_err(|e| fail(reply, EINVAL, format_args!("{}", e)))?;
        match (&section, newest.as_deref_mut()) {
            (Section::Pages(p), _) => {
                let npages = (p.data.len() / PAGE_SIZE) as u32;
                runs.push(PageRun { start: p.start, npages, at: body_at + PagesBody::PREFIX_LEN as u64 }, GFP_KERNEL)?;
            }
            (Section::Parent(_) | Section::End(_), _) | (_, None) => {}
            (s, Some(n)) => {
                if let Section::Vma(v) = s {
                    n.vmas.push((v.start, v.end), GFP_KERNEL)?;
                }
                let mut body = KVec::with_capacity(len, GFP_KERNEL)?;
                body.extend_from_slice(&buf[..len], GFP_KERNEL)?;
                n.sections.push((h.kind, body), GFP_KERNEL)?;
            }
        }
    }
    Ok(Read { file, header, runs })
}

/// Writes into `sink` the full image that the chain `seqs` (its full image
/// first) of process `pid`'s images in `dir` stands for; why not in
/// `reply`.
pub(crate) fn stream(dir: &str, pid: u32, seqs: &[u32], sink: &mut dyn ImageSink, reply: &mut CtlReply) -> Result {
    if seqs.is_empty() || seqs.len() > MAX_CHAIN {
        return Err(fail(reply, EINVAL, format_args!("a chain of {} images", seqs.len())));
    }
    let mut buf = KVec::from_elem(0u8, MAX_SECTION_BODY as usize + SECTION_HEADER_LEN, GFP_KERNEL)?;
    let mut newest = Newest::default();
    // Newest first.
    let mut chain: KVec<Read> = KVec::with_capacity(seqs.len(), GFP_KERNEL)?;
    for (i, &seq) in seqs.iter().rev().enumerate() {
        let file = images::open(dir, pid, seq)
            .map_err(|e| fail(reply, e, format_args!("cannot open image {seq} (error {})", e.to_errno())))?;
        let r = read(file, if i == 0 { Some(&mut newest) } else { None }, &mut buf, reply)?;
        chain.push(r, GFP_KERNEL)?;
    }
    for (i, r) in chain.iter().enumerate() {
        let last = i + 1 == chain.len();
        let linked = match chain.get(i + 1) {
            Some(parent) => r.header.parent_id == parent.header.image_id,
            None => true,
        };
        if r.header.is_incremental() == last || !linked || r.header.pid != chain[0].header.pid {
            return Err(fail(
                reply,
                EINVAL,
                format_args!("image {} does not follow image {} in one chain", seqs[seqs.len() - 1 - i], seqs[0]),
            ));
        }
    }
    let mut header = chain[0].header;
    header.flags &= !FLAG_INCREMENTAL;
    header.parent_id = 0;
    let bad = |e: crate::proto::image::ImageError, reply: &mut CtlReply| fail(reply, EINVAL, format_args!("{}", e));
    sink.put(&header.encode().map_err(|e| bad(e, reply))?)?;
    let mut writer = ImageWriter::new(&header).map_err(|e| bad(e, reply))?;
    for (kind, body) in newest.sections.iter() {
        let s = Section::decode(*kind, body).map_err(|e| bad(e, reply))?;
        let n = writer.write_section(&s, &mut buf).map_err(|e| bad(e, reply))?;
        sink.put(&buf[..n])?;
    }
    let mut runs: KVec<&[PageRun]> = KVec::with_capacity(chain.len(), GFP_KERNEL)?;
    for r in chain.iter() {
        runs.push(&r.runs, GFP_KERNEL)?;
    }
    let merged = merge_pages(&runs, &newest.vmas, |p| -> Result {
        let len = p.npages as usize * PAGE_SIZE;
        let (head, data) = buf.split_at_mut(SECTION_HEADER_LEN + PagesBody::PREFIX_LEN);
        let data = &mut data[..len];
        chain[p.image].file.read_exact(data, &mut (p.at as i64))?;
        let mut c = writer.pages_crc_start(p.start, p.npages).map_err(|_| EINVAL)?;
        crc::update(&mut c, data);
        let n = writer.write_pages_start(p.start, p.npages, c.finish(), head).map_err(|_| EINVAL)?;
        sink.put(&head[..n])?;
        sink.put(data)
    });
    match merged {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(fail(reply, e, format_args!("cannot write the chain's memory (error {})", e.to_errno()))),
        Err(e) => return Err(fail(reply, EINVAL, format_args!("the chain's memory does not merge: {:?}", e))),
    }
    let n = writer.write_end(&mut buf).map_err(|e| bad(e, reply))?;
    sink.put(&buf[..n])
}
