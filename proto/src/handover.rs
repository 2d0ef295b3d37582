//! The prepared hand-over of a post-copy or lazy migration: what the
//! image captured at the freeze may change from the one sent ahead.
//!
//! A post-copy or lazy migration sends the process's description (no
//! anonymous memory) once while the process goes on running (the image
//! "ahead"); the destination rebuilds the process from it and waits. At the
//! freeze the source captures the description again (the "final" image).
//! If the process kept its structure (the same mappings, the same files
//! open on the same descriptors, the same identity), the destination only
//! takes the final image's state into the process it already rebuilt:
//! the registers and FPU state of its threads, its signal handlers and
//! pending signals, its timers, the file positions, the terminal settings
//! and the file-backed pages it wrote (the same pages: a page the ahead
//! image had and the final one lacks would keep stale data). If the
//! mappings, the memory layout, the files or those pages changed, it
//! rebuilds the process again from the final image. If the process's
//! identity changed (credentials, directories, limits, name: what the
//! restart program set from the image sent ahead before the kernel's
//! restore), the migration is given up and the process goes on at the
//! source.
//!
//! This file decides which sections are compared and whether two of them
//! describe the same structure. It is pure logic (`no_std`, no allocation),
//! shared by the module and its tests.

use super::image::{
    FileBody, FileRef, FileTarget, Itimers, PagesRun, ProcessBody, Section, SectionKind, VmaBody,
    TERMIOS2_LEN, WINSIZE_LEN,
};

/// What the comparison of two sections found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The same structure: the final section's state is taken.
    Same,
    /// Another structure: the process is rebuilt again from the final image.
    Changed,
    /// Another identity: the migration is given up.
    Refused,
}

/// Compares `last` (from the final image) with `ahead` (from the image
/// sent ahead, at the same place among the compared sections).
pub fn compare(ahead: &Section<'_>, last: &Section<'_>) -> Verdict {
    match (ahead, last) {
        (Section::Process(a), Section::Process(b))
            if process_without_state(a) != process_without_state(b) =>
        {
            Verdict::Refused
        }
        _ if same_structure(ahead, last) => Verdict::Same,
        _ => Verdict::Changed,
    }
}

/// Whether the final image's sections of `kind` are taken as they are
/// (the state that moves on while the process runs) rather than compared
/// with the image sent ahead.
pub fn taken_from_final(kind: SectionKind) -> bool {
    matches!(
        kind,
        SectionKind::Thread | SectionKind::Signals | SectionKind::Pages | SectionKind::End
    )
}

/// Whether `last` (from the final image) describes the same structure as
/// `ahead` (the same kind, from the image sent ahead, at the same place
/// among the compared sections): equal but for the state the final image
/// carries over (see [`taken_from_final`], file positions, timers,
/// terminal settings, the checkpoint time). Sections that are taken from
/// the final image never match: they are not compared.
pub fn same_structure(ahead: &Section<'_>, last: &Section<'_>) -> bool {
    match (ahead, last) {
        (Section::Process(a), Section::Process(b)) => {
            process_without_state(a) == process_without_state(b)
        }
        (Section::Mm(a), Section::Mm(b)) => a == b,
        (Section::Vma(a), Section::Vma(b)) => vma_without_state(a) == vma_without_state(b),
        (Section::File(a), Section::File(b)) => file_without_state(a) == file_without_state(b),
        _ => false,
    }
}

/// `v` without its raw kernel flags: informational (the restore maps from
/// `prot` and `map_flags`), and some change while the process runs (a
/// pre-copy round clears the soft-dirty flag).
fn vma_without_state<'a>(v: &VmaBody<'a>) -> VmaBody<'a> {
    VmaBody { vm_flags: 0, ..*v }
}

/// `p` without what changes while the process runs.
fn process_without_state<'a>(p: &ProcessBody<'a>) -> ProcessBody<'a> {
    ProcessBody {
        checkpoint_ns: 0,
        itimers: Itimers::default(),
        // Now less its age: the two clocks read a moment apart.
        start_ns: 0,
        ..*p
    }
}

/// `f` without what changes while the process runs: its position, the
/// size and time of an open file it writes (a mapped file must stay the
/// same: Vma sections are compared whole), a terminal's settings.
fn file_without_state<'a>(f: &FileBody<'a>) -> FileBody<'a> {
    let target = match f.target {
        FileTarget::Tty { .. } => FileTarget::Tty {
            termios: [0; TERMIOS2_LEN],
            winsize: [0; WINSIZE_LEN],
        },
        FileTarget::Regular(r) => FileTarget::Regular(FileRef {
            size: 0,
            mtime_sec: 0,
            mtime_nsec: 0,
            ..r
        }),
        FileTarget::Directory(r) => FileTarget::Directory(FileRef {
            size: 0,
            mtime_sec: 0,
            mtime_nsec: 0,
            ..r
        }),
        t => t,
    };
    FileBody {
        pos: 0,
        target,
        ..*f
    }
}

/// Whether two Pages runs (from the prefixes of the images' Pages
/// sections, in order) cover the same pages: their data is taken from the
/// final image, but only over the pages the process rebuilt ahead has.
pub fn same_pages(ahead: &PagesRun, last: &PagesRun) -> bool {
    ahead == last
}

#[cfg(test)]
mod tests {
    use super::super::image::{MmBody, RecordList, ThreadBody, VmaKind, PROT_READ, PROT_WRITE};
    use super::*;
    use proptest::prelude::*;

    fn process(comm: u8, checkpoint_ns: u64, real_ns: u64) -> ProcessBody<'static> {
        let mut p = ProcessBody {
            pid: 7,
            tgid: 7,
            nr_threads: 1,
            checkpoint_ns,
            cwd: b"/cluster",
            root: b"/",
            ..ProcessBody::default()
        };
        p.comm[0] = comm;
        p.itimers.real.value_ns = real_ns;
        p.exe = FileRef {
            path: b"/cluster/bin/prog",
            size: 4096,
            ino: 11,
            ..FileRef::default()
        };
        p
    }

    fn file<'a>(fd: u32, pos: u64, target: FileTarget<'a>) -> FileBody<'a> {
        FileBody {
            fd,
            open_flags: 1,
            pos,
            cloexec: false,
            target,
        }
    }

    fn log(size: u64, mtime_sec: i64) -> FileTarget<'static> {
        FileTarget::Regular(FileRef {
            path: b"/cluster/log",
            size,
            mtime_sec,
            mtime_nsec: 3,
            ino: 42,
        })
    }

    fn vma(end: u64, file: Option<FileRef<'static>>) -> VmaBody<'static> {
        VmaBody {
            start: 0x1000,
            end,
            pgoff: 0,
            vm_flags: 0,
            prot: PROT_READ | PROT_WRITE,
            map_flags: 0,
            kind: if file.is_some() {
                VmaKind::FilePrivate
            } else {
                VmaKind::Anon
            },
            file,
        }
    }

    #[test]
    fn state_sections_are_taken_and_never_compared() {
        for kind in [
            SectionKind::Thread,
            SectionKind::Signals,
            SectionKind::Pages,
            SectionKind::End,
        ] {
            assert!(taken_from_final(kind));
        }
        for kind in [
            SectionKind::Process,
            SectionKind::Mm,
            SectionKind::Vma,
            SectionKind::File,
            SectionKind::Parent,
        ] {
            assert!(!taken_from_final(kind));
        }
        let t = Section::Thread(ThreadBody {
            tid: 1,
            ..ThreadBody::default()
        });
        assert!(!same_structure(&t, &t));
    }

    #[test]
    fn sections_of_different_kinds_differ() {
        let p = Section::Process(process(b'a', 1, 2));
        let m = Section::Mm(MmBody::default());
        assert!(!same_structure(&p, &m));
        assert!(!same_structure(&m, &p));
    }

    #[test]
    fn a_mapped_file_that_changed_is_another_structure() {
        let f = FileRef {
            path: b"/usr/lib/libc.so.6",
            size: 100,
            mtime_sec: 5,
            mtime_nsec: 0,
            ino: 9,
        };
        let a = Section::Vma(vma(0x3000, Some(f)));
        let b = Section::Vma(vma(0x3000, Some(FileRef { size: 101, ..f })));
        assert!(same_structure(&a, &a));
        assert!(!same_structure(&a, &b));
    }

    #[test]
    fn another_identity_is_refused_another_layout_rebuilt() {
        let p = Section::Process(process(b'a', 1, 2));
        assert_eq!(
            compare(&p, &Section::Process(process(b'a', 9, 9))),
            Verdict::Same
        );
        assert_eq!(
            compare(&p, &Section::Process(process(b'b', 1, 2))),
            Verdict::Refused
        );
        let a = Section::Vma(vma(0x3000, None));
        assert_eq!(compare(&a, &a), Verdict::Same);
        assert_eq!(
            compare(&a, &Section::Vma(vma(0x4000, None))),
            Verdict::Changed
        );
        assert_eq!(
            compare(&a, &Section::File(file(3, 0, log(1, 1)))),
            Verdict::Changed
        );
        assert_eq!(compare(&p, &a), Verdict::Changed);
    }

    #[test]
    fn pages_runs_must_cover_the_same_pages() {
        let r = |start: u64, npages: u32| PagesRun { start, npages };
        assert!(same_pages(&r(0x1000, 3), &r(0x1000, 3)));
        assert!(!same_pages(&r(0x1000, 3), &r(0x1000, 2)));
        assert!(!same_pages(&r(0x1000, 3), &r(0x2000, 3)));
    }

    proptest! {
        #[test]
        fn running_state_keeps_the_structure(ns1 in any::<u64>(), ns2 in any::<u64>(), t1 in any::<u64>(), t2 in any::<u64>(),
                                            pos1 in any::<u64>(), pos2 in any::<u64>(), size in any::<u64>(), mtime in any::<i64>(),
                                            termios in any::<u8>()) {
            prop_assert!(same_structure(&Section::Process(process(b'a', ns1, t1)), &Section::Process(process(b'a', ns2, t2))));
            prop_assert!(same_structure(&Section::File(file(3, pos1, log(1, 1))), &Section::File(file(3, pos2, log(size, mtime)))));
            let tty = |b: u8| FileTarget::Tty { termios: [b; TERMIOS2_LEN], winsize: [b; WINSIZE_LEN] };
            prop_assert!(same_structure(&Section::File(file(0, 0, tty(0))), &Section::File(file(0, pos1, tty(termios)))));
            // The raw flags (a pre-copy round clears VM_SOFTDIRTY).
            let flagged = |flags: u64| Section::Vma(VmaBody { vm_flags: flags, ..vma(0x3000, None) });
            prop_assert!(same_structure(&flagged(t1), &flagged(t2)));
        }

        #[test]
        fn a_changed_structure_is_seen(end in 0x2000u64..0x10_0000, other in 0x2000u64..0x10_0000, fd in 0u32..64, other_fd in 0u32..64,
                                       comm in any::<u8>(), other_comm in any::<u8>(), ino in any::<u64>(), brk in any::<u64>()) {
            let a = Section::Vma(vma(end, None));
            prop_assert_eq!(same_structure(&a, &Section::Vma(vma(other, None))), end == other);
            let f = |fd: u32, ino: u64| Section::File(file(fd, 0, FileTarget::Regular(FileRef { path: b"/cluster/log", ino, ..FileRef::default() })));
            prop_assert_eq!(same_structure(&f(fd, 42), &f(other_fd, 42)), fd == other_fd);
            prop_assert_eq!(same_structure(&f(fd, 42), &f(fd, ino)), ino == 42);
            prop_assert_eq!(same_structure(&Section::Process(process(comm, 0, 0)), &Section::Process(process(other_comm, 0, 0))), comm == other_comm);
            let m = Section::Mm(MmBody { brk: 0x5000, auxv: RecordList::Items(&[]), ..MmBody::default() });
            prop_assert_eq!(same_structure(&m, &Section::Mm(MmBody { brk, auxv: RecordList::Items(&[]), ..MmBody::default() })), brk == 0x5000);
        }
    }
}
