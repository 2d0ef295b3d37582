//! The page server of a post-copy or lazy migration (docs/migration.md).
//!
//! The restarting process (`ssi-ctl restart --migration --pages-later`)
//! creates a userfaultfd and asks the module for the migration's pages
//! file, then forks this server (a grandchild, so the restored process
//! never sees it as a child) before it restores itself. The module
//! registers the restored anonymous memory with the userfaultfd; from then
//! on a touched page that has not arrived stops the process until this
//! server installs it:
//!
//! - a fault: `pread(pages, buf, len, addr)` fetches the page and the next
//!   ones of its range ([`FAULT_AROUND`] at most) from the node that lends
//!   them, `UFFDIO_COPY` installs them (`UFFDIO_ZEROPAGE` for zeros);
//! - post-copy: between faults, the rest is pushed in order, [`PUSH_CHUNK`]
//!   at a time; when all came, the module is told (the lender frees them)
//!   and the server ends, which lets the userfaultfd go;
//! - lazy: only faults; the server ends when the process does;
//! - memory the process unmaps or discards (`UNMAP`, `REMOVE` events) is
//!   never fetched again: it is zero from then on.
//!
//! A fetch that fails means the memory is lost: the module has killed the
//! process by then; the server ends.

use std::{
    fs::File,
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
    os::unix::fs::FileExt,
};

/// Pages fetched around a fault (the faulting one first).
const FAULT_AROUND: u64 = 16;
/// Pages pushed at a time (post-copy): the most one read of the pages
/// file fetches, its requests in flight together.
const PUSH_CHUNK: u64 = ssi_proto::migration::MAX_PAGES_READ as u64 / PAGE;
const PAGE: u64 = 4096;

// <linux/userfaultfd.h>
const UFFD_API: u64 = 0xaa;
const UFFD_FEATURE_EVENT_REMOVE: u64 = 1 << 3;
const UFFD_FEATURE_EVENT_UNMAP: u64 = 1 << 6;
const UFFDIO_API: u64 = 0xc018_aa3f;
const UFFDIO_WAKE: u64 = 0x8010_aa02;
const UFFDIO_COPY: u64 = 0xc028_aa03;
const UFFDIO_ZEROPAGE: u64 = 0xc020_aa04;
const UFFD_EVENT_PAGEFAULT: u8 = 0x12;
const UFFD_EVENT_REMOVE: u8 = 0x15;
const UFFD_EVENT_UNMAP: u8 = 0x16;

#[repr(C)]
struct UffdioApi {
    api: u64,
    features: u64,
    ioctls: u64,
}

#[repr(C)]
struct UffdioRange {
    start: u64,
    len: u64,
}

#[repr(C)]
struct UffdioCopy {
    dst: u64,
    src: u64,
    len: u64,
    mode: u64,
    copy: i64,
}

#[repr(C)]
struct UffdioZeropage {
    range: UffdioRange,
    mode: u64,
    zeropage: i64,
}

/// A new userfaultfd (close-on-exec, non-blocking), its API agreed.
pub fn userfaultfd() -> io::Result<OwnedFd> {
    // SAFETY: plain system call.
    let fd = unsafe { libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    let mut api = UffdioApi { api: UFFD_API, features: UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP, ioctls: 0 };
    // SAFETY: the ioctl reads and writes a `uffdio_api` at `api`.
    if unsafe { libc::ioctl(fd.as_raw_fd(), UFFDIO_API as _, &mut api) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// What the server works on.
pub struct Server {
    uffd: OwnedFd,
    pages: File,
    /// Becomes readable when the restored process ends.
    pidfd: OwnedFd,
    /// Post-copy (push everything) or lazy (faults only).
    push: bool,
    /// Registered ranges (from the pages file), sorted.
    ranges: Vec<(u64, u64)>,
    /// Ranges that are zero from now on (unmapped or discarded).
    fresh: Fresh,
    /// Post-copy: the next address to push.
    cursor: u64,
    /// Faults read but not served yet.
    faults: Vec<u64>,
    buf: Vec<u8>,
}

/// Memory that is zero from now on: sorted ranges `[start, end)`, merged
/// where they touch, so that a process that discards the same memory again
/// and again keeps the set small (and a lookup is a binary search).
#[derive(Default, Debug)]
struct Fresh {
    ranges: Vec<(u64, u64)>,
}

impl Fresh {
    /// Adds `[start, end)` (empty ranges are ignored).
    fn add(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        // The first range that ends at or after `start` (it may touch).
        let i = self.ranges.partition_point(|&(_, e)| e < start);
        // The ranges from `i` that start at or before `end` merge with it.
        let j = i + self.ranges[i..].partition_point(|&(s, _)| s <= end);
        let merged = if i < j { (start.min(self.ranges[i].0), end.max(self.ranges[j - 1].1)) } else { (start, end) };
        self.ranges.splice(i..j, [merged]);
    }

    fn contains(&self, addr: u64) -> bool {
        let i = self.ranges.partition_point(|&(_, e)| e <= addr);
        self.ranges.get(i).is_some_and(|&(s, _)| s <= addr)
    }

    /// Whether any of `[start, end)` is in the set.
    fn overlaps(&self, start: u64, end: u64) -> bool {
        let i = self.ranges.partition_point(|&(_, e)| e <= start);
        self.ranges.get(i).is_some_and(|&(s, _)| s < end)
    }
}

/// How an install went.
enum Installed {
    /// Installed (or there already).
    Done,
    /// The range was unmapped or discarded meanwhile: nothing to install.
    Gone,
}

impl Server {
    pub fn new(uffd: OwnedFd, pages: File, pidfd: OwnedFd, push: bool) -> Server {
        Server {
            uffd,
            pages,
            pidfd,
            push,
            ranges: Vec::new(),
            fresh: Fresh::default(),
            cursor: 0,
            faults: Vec::new(),
            buf: vec![0; (PUSH_CHUNK * PAGE) as usize],
        }
    }

    /// Serves until the process ends, or (post-copy) every page came.
    /// Returns whether every page came.
    pub fn run(&mut self, tell_done: impl Fn(&File) -> io::Result<()>) -> io::Result<bool> {
        loop {
            let idle = self.ranges.is_empty() || !self.push;
            let timeout = if idle { 100 } else { 0 };
            let mut fds = [
                libc::pollfd { fd: self.uffd.as_raw_fd(), events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: self.pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            ];
            // SAFETY: `fds` is an array of two pollfd.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if fds[0].revents & libc::POLLIN != 0 {
                self.read_events()?;
            }
            if !self.faults.is_empty() {
                while let Some(addr) = self.faults.pop() {
                    self.fault(addr)?;
                }
                continue;
            }
            if fds[1].revents != 0 {
                return Ok(false);
            }
            if self.ranges.is_empty() {
                self.load_ranges()?;
                continue;
            }
            if self.push && !self.push_some()? {
                if tell_done(&self.pages).is_ok() {
                    return Ok(true);
                }
                // The module did not take it: every page is here anyway;
                // go on serving (nothing will fault) until the process ends.
                self.push = false;
            }
        }
    }

    /// The registered ranges, once the restore made them.
    fn load_ranges(&mut self) -> io::Result<()> {
        let mut b = vec![0u8; 64 << 10];
        let n = loop {
            match self.pages.read_at(&mut b, 0) {
                Err(e) if e.raw_os_error() == Some(libc::EOVERFLOW) && b.len() < (64 << 20) => b.resize(b.len() * 4, 0),
                r => break r?,
            }
        };
        self.ranges = b[..n]
            .chunks_exact(16)
            .map(|c| (u64::from_le_bytes(c[..8].try_into().unwrap()), u64::from_le_bytes(c[8..].try_into().unwrap())))
            .collect();
        self.ranges.sort_unstable();
        self.cursor = self.ranges.first().map_or(0, |r| r.0);
        Ok(())
    }

    /// Reads every queued event: faults are queued, unmapped or discarded
    /// ranges are noted (the thread that unmaps waits until its event is
    /// read, and copies fail with `EAGAIN` meanwhile).
    fn read_events(&mut self) -> io::Result<()> {
        let mut msg = [0u8; 32];
        loop {
            // SAFETY: reads at most 32 bytes into `msg`.
            let n = unsafe { libc::read(self.uffd.as_raw_fd(), msg.as_mut_ptr().cast(), msg.len()) };
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.raw_os_error() {
                    Some(libc::EAGAIN) => Ok(()),
                    Some(libc::EINTR) => continue,
                    _ => Err(e),
                };
            }
            if n as usize != msg.len() {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "short userfaultfd message"));
            }
            let a = u64::from_le_bytes(msg[8..16].try_into().unwrap());
            let b = u64::from_le_bytes(msg[16..24].try_into().unwrap());
            match msg[0] {
                UFFD_EVENT_PAGEFAULT => self.faults.push(b & !(PAGE - 1)),
                UFFD_EVENT_REMOVE | UFFD_EVENT_UNMAP => self.fresh.add(a, b),
                _ => {}
            }
        }
    }

    fn is_fresh(&self, addr: u64) -> bool {
        self.fresh.contains(addr)
    }

    /// The page at `addr` was touched.
    fn fault(&mut self, addr: u64) -> io::Result<()> {
        if self.ranges.is_empty() {
            self.load_ranges()?;
        }
        if self.is_fresh(addr) {
            self.zero(addr, PAGE)?;
        } else {
            // The faulting page and the following ones of its range (a
            // page outside every range: only itself; the lender gives zeros
            // for what it does not have).
            let end = self.ranges.iter().find(|r| r.0 <= addr && addr < r.1).map_or(addr + PAGE, |r| r.1);
            let mut len = (end - addr).min(FAULT_AROUND * PAGE);
            // Stop before memory that is zero from now on.
            let mut p = addr + PAGE;
            while p < addr + len {
                if self.is_fresh(p) {
                    len = p - addr;
                    break;
                }
                p += PAGE;
            }
            self.fetch_install(addr, len)?;
        }
        let range = UffdioRange { start: addr, len: PAGE };
        // SAFETY: the ioctl reads a `uffdio_range`. A thread woken by the
        // copy already is not woken twice.
        unsafe { libc::ioctl(self.uffd.as_raw_fd(), UFFDIO_WAKE as _, &range) };
        Ok(())
    }

    /// Post-copy: pushes the next chunk; false once everything was pushed.
    fn push_some(&mut self) -> io::Result<bool> {
        let Some(&(first, end)) = self.ranges.iter().find(|r| r.1 > self.cursor) else { return Ok(false) };
        let start = first.max(self.cursor);
        let len = (end - start).min(PUSH_CHUNK * PAGE);
        self.cursor = start + len;
        if self.fresh.overlaps(start, start + len) {
            // Page by page around memory that is zero now.
            for p in (start..start + len).step_by(PAGE as usize) {
                if !self.is_fresh(p) {
                    self.fetch_install(p, PAGE)?;
                }
            }
        } else {
            self.fetch_install(start, len)?;
        }
        Ok(true)
    }

    /// Fetches `len` bytes at `addr` and installs them.
    fn fetch_install(&mut self, addr: u64, len: u64) -> io::Result<()> {
        let len = len as usize;
        let got = self.pages.read_at(&mut self.buf[..len], addr)?;
        if got != len {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short page fetch"));
        }
        let mut off = 0usize;
        while off < len {
            // Runs of zero pages become zero pages, the rest is copied.
            let zero = self.buf[off..off + PAGE as usize].iter().all(|&b| b == 0);
            let mut end = off + PAGE as usize;
            while end < len && self.buf[end..end + PAGE as usize].iter().all(|&b| b == 0) == zero {
                end += PAGE as usize;
            }
            let (at, n) = (addr + off as u64, (end - off) as u64);
            if zero {
                self.zero(at, n)?;
            } else {
                self.copy(at, off, n)?;
            }
            off = end;
        }
        Ok(())
    }

    /// Copies `len` bytes of the buffer at `off` to `dst`.
    fn copy(&mut self, dst: u64, off: usize, len: u64) -> io::Result<Installed> {
        let src = self.buf.as_ptr() as u64 + off as u64;
        self.install(dst, len, |fd, at, n| {
            let mut c = UffdioCopy { dst: dst + at, src: src + at, len: n, mode: 0, copy: 0 };
            // SAFETY: the ioctl reads and writes a `uffdio_copy`; `src + at`
            // is `n` readable bytes of our buffer.
            let r = unsafe { libc::ioctl(fd, UFFDIO_COPY as _, &mut c) };
            (r, c.copy)
        })
    }

    /// Maps zero pages at `dst`.
    fn zero(&mut self, dst: u64, len: u64) -> io::Result<Installed> {
        self.install(dst, len, |fd, at, n| {
            let mut z = UffdioZeropage { range: UffdioRange { start: dst + at, len: n }, mode: 0, zeropage: 0 };
            // SAFETY: the ioctl reads and writes a `uffdio_zeropage`.
            let r = unsafe { libc::ioctl(fd, UFFDIO_ZEROPAGE as _, &mut z) };
            (r, z.zeropage)
        })
    }

    /// Runs `op(fd, offset, len)` (a copy or a zero-fill of `[dst + offset,
    /// dst + len)`) until all of it is in place. Pages already there are
    /// skipped; a range that crosses mappings is done page by page; while
    /// an unmap is pending the events are read first; memory unmapped or
    /// discarded meanwhile is left alone. Any other error is fatal: a page
    /// must never stay missing while the server says it is done.
    fn install(&mut self, dst: u64, len: u64, op: impl Fn(RawFd, u64, u64) -> (i32, i64)) -> io::Result<Installed> {
        let fd = self.uffd.as_raw_fd();
        let mut done = 0u64;
        let mut page_by_page = false;
        while done < len {
            if self.is_fresh(dst + done) {
                done += PAGE;
                continue;
            }
            let n = if page_by_page { PAGE } else { len - done };
            let (r, moved) = op(fd, done, n);
            if r == 0 {
                done += n;
                continue;
            }
            let e = io::Error::last_os_error();
            let moved = if moved > 0 { moved as u64 } else { 0 };
            match e.raw_os_error() {
                // Part of it was done; an unmap waits for us to read its
                // event first.
                Some(libc::EAGAIN) => {
                    done += moved;
                    if moved == 0 {
                        self.read_events()?;
                    }
                }
                // The page at dst + done + moved is there already.
                Some(libc::EEXIST) => done += moved + PAGE,
                // Not one registered mapping (split since): page by page;
                // a page in none was unmapped.
                Some(libc::ENOENT) if !page_by_page => page_by_page = true,
                Some(libc::ENOENT) => done += PAGE,
                // The process is gone.
                Some(libc::ESRCH) => return Ok(Installed::Gone),
                _ => return Err(e),
            }
        }
        Ok(Installed::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::Fresh;

    #[test]
    fn fresh_ranges_merge_and_answer() {
        let mut f = Fresh::default();
        f.add(0x3000, 0x4000);
        f.add(0x1000, 0x2000);
        f.add(0x5000, 0x5000);
        assert_eq!(f.ranges, [(0x1000, 0x2000), (0x3000, 0x4000)]);
        assert!(f.contains(0x1000) && f.contains(0x3fff) && !f.contains(0x2000) && !f.contains(0x4000));
        assert!(f.overlaps(0x1800, 0x3001) && !f.overlaps(0x2000, 0x3000) && !f.overlaps(0x4000, 0x9000));
        f.add(0x2000, 0x3000);
        assert_eq!(f.ranges, [(0x1000, 0x4000)]);
        f.add(0x800, 0x8000);
        assert_eq!(f.ranges, [(0x800, 0x8000)]);
    }

    #[test]
    fn discarding_the_same_memory_again_keeps_the_set_small() {
        let mut f = Fresh::default();
        for round in 0..50u64 {
            for page in (round % 3..3000).step_by(3) {
                f.add(page * 4096, (page + 1) * 4096);
            }
        }
        assert_eq!(f.ranges, [(0, 3000 * 4096)]);
        // Against a plain list: every page answered the same.
        let mut plain = Vec::new();
        let mut g = Fresh::default();
        for (k, page) in [7u64, 3, 9, 4, 8, 20, 2].iter().enumerate() {
            let len = k as u64 % 3 + 1;
            plain.push((page * 4096, (page + len) * 4096));
            g.add(page * 4096, (page + len) * 4096);
        }
        for addr in (0..30 * 4096).step_by(2048) {
            assert_eq!(g.contains(addr), plain.iter().any(|&(s, e)| s <= addr && addr < e), "{addr:#x}");
        }
        assert!(g.ranges.windows(2).all(|w| w[0].1 < w[1].0));
    }
}
