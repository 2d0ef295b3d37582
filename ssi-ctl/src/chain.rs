//! `ssi-ctl restart` of an incremental image (high availability's
//! chains, docs/ha.md): the chain it heads is read from its Parent
//! sections down to the full image, checked (each section's CRC, each
//! link's image id, one process), and merged into the one full image it
//! stands for, in a memfd, which the module restores like any image. The
//! merge is the module's (`ha/chain.rs`): the newest image's sections but
//! its Parent section, then each page from the newest image that has it
//! (`ssi_proto::image::merge_pages`), within the newest image's mappings.

use crate::sysfs::CtlError;
use ssi_proto::image::{
    self, merge_pages, ImageHeader, ImageWriter, PageRun, Section, SectionKind, FLAG_INCREMENTAL, MAX_CHAIN,
    MAX_SECTION_BODY, PAGE_SIZE, SECTION_HEADER_LEN,
};
use std::fs::{self, File};
use std::io::{self, Seek, Write};
use std::os::fd::FromRawFd;
use std::path::Path;

/// One image of the chain, read and checked.
struct Read {
    data: Vec<u8>,
    header: ImageHeader,
    runs: Vec<PageRun>,
    /// Its parent: id and path.
    parent: Option<(u64, String)>,
}

fn bad(path: &Path, why: impl ToString) -> CtlError {
    CtlError::BadImage(path.to_path_buf(), why.to_string())
}

fn read(path: &Path) -> Result<Read, CtlError> {
    let data = fs::read(path).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => CtlError::Permission(path.to_path_buf()),
        _ => CtlError::Io(path.to_path_buf(), e),
    })?;
    let header = data
        .get(..image::IMAGE_HEADER_LEN)
        .and_then(|h| ImageHeader::decode(h).ok())
        .ok_or_else(|| bad(path, "no image header"))?;
    let mut runs = Vec::new();
    let mut parent = None;
    let base = data.as_ptr() as usize;
    image::read_image(&data, |_, s| match s {
        Section::Pages(p) => runs.push(PageRun {
            start: p.start,
            npages: (p.data.len() / PAGE_SIZE) as u32,
            at: (p.data.as_ptr() as usize - base) as u64,
        }),
        Section::Parent(p) => {
            let path = String::from_utf8_lossy(p.path.split(|c| *c == 0).next().unwrap_or(p.path)).into_owned();
            parent = Some((p.parent_id, path));
        }
        _ => {}
    })
    .map_err(|e| bad(path, e))?;
    Ok(Read { data, header, runs, parent })
}

/// The full image that the chain headed by `path` stands for, in a memfd
/// at offset 0, and how many images the chain has; `None` if `path` is a
/// full image.
pub fn merged(path: &Path) -> Result<Option<(File, usize)>, CtlError> {
    use std::io::Read as _;
    let mut hdr = [0u8; image::IMAGE_HEADER_LEN];
    let head = File::open(path).and_then(|mut f| f.read_exact(&mut hdr));
    if head.is_err() || !ImageHeader::decode(&hdr).is_ok_and(|h| h.is_incremental()) {
        // Not one: the restart reads it (and says what is wrong with it).
        return Ok(None);
    }
    let newest = read(path)?;
    if newest.parent.is_none() {
        return Err(bad(path, "an incremental image without a Parent section"));
    }
    // Newest first.
    let mut chain = vec![newest];
    while let Some((id, parent)) = chain.last().and_then(|r| r.parent.clone()) {
        if chain.len() >= MAX_CHAIN {
            return Err(bad(path, format!("a chain longer than {MAX_CHAIN} images")));
        }
        let p = Path::new(&parent);
        let r = read(p)?;
        let h = &r.header;
        if h.image_id != id || h.pid != chain[0].header.pid || h.uid != chain[0].header.uid {
            return Err(bad(
                p,
                format!("not the parent of {} (image {id:016x} of the same process and user)", path.display()),
            ));
        }
        chain.push(r);
    }
    let mut header = chain[0].header;
    header.flags &= !FLAG_INCREMENTAL;
    header.parent_id = 0;
    let mut out = header.encode().map_err(|e| bad(path, e))?.to_vec();
    let mut writer = ImageWriter::new(&header).map_err(|e| bad(path, e))?;
    let mut buf = vec![0u8; MAX_SECTION_BODY as usize + SECTION_HEADER_LEN];
    let mut vmas = Vec::new();
    let mut failed = None;
    image::read_image(&chain[0].data, |h, s| {
        if matches!(h.kind, SectionKind::Pages | SectionKind::Parent | SectionKind::End) || failed.is_some() {
            return;
        }
        if let Section::Vma(v) = s {
            vmas.push((v.start, v.end));
        }
        match writer.write_section(s, &mut buf) {
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => failed = Some(e),
        }
    })
    .map_err(|e| bad(path, e))?;
    if let Some(e) = failed {
        return Err(bad(path, e));
    }
    let runs: Vec<&[PageRun]> = chain.iter().map(|r| r.runs.as_slice()).collect();
    let merged = merge_pages(&runs, &vmas, |p| -> Result<(), image::ImageError> {
        let at = p.at as usize;
        let data = &chain[p.image].data[at..at + p.npages as usize * PAGE_SIZE];
        let mut crc = writer.pages_crc_start(p.start, p.npages)?;
        crc.update(data);
        let n = writer.write_pages_start(p.start, p.npages, crc.finish(), &mut buf)?;
        out.extend_from_slice(&buf[..n]);
        out.extend_from_slice(data);
        Ok(())
    });
    match merged {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(bad(path, e)),
        Err(e) => return Err(bad(path, format!("the chain's memory does not merge: {e:?}"))),
    }
    let n = writer.write_end(&mut buf).map_err(|e| bad(path, e))?;
    out.extend_from_slice(&buf[..n]);
    // SAFETY: a plain syscall with a NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"ssi-merged-image".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(CtlError::Io(path.to_path_buf(), io::Error::last_os_error()));
    }
    // SAFETY: `fd` is a new descriptor nobody else owns.
    let mut f = unsafe { File::from_raw_fd(fd) };
    f.write_all(&out).and_then(|()| f.rewind()).map_err(|e| CtlError::Io(path.to_path_buf(), e))?;
    Ok(Some((f, chain.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_incremental_images_are_merged() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.img");
        fs::write(&junk, b"not an image").unwrap();
        // Not an incremental image: left to the restart, which says why.
        assert!(matches!(merged(&junk), Ok(None)));
        assert!(matches!(merged(&dir.path().join("missing.img")), Ok(None)));
        // An incremental header over nothing: refused, naming the file.
        let h = ImageHeader {
            flags: FLAG_INCREMENTAL,
            image_id: 2,
            parent_id: 1,
            created_ns: 0,
            source_node: 1,
            pid: 7,
            uid: 0,
            arch: image::ARCH_X86_64,
        };
        let hdr = h.encode().unwrap();
        let broken = dir.path().join("broken.img");
        fs::write(&broken, hdr).unwrap();
        let e = merged(&broken).unwrap_err();
        assert!(e.to_string().contains("broken.img"), "{e}");
    }
}
