//! What a mapping or an open file of a process is, for a checkpoint.
//!
//! The C glue (`checkpoint/task_helpers.c`, `file_helpers.c`) reads raw
//! facts only: a mapping's flags, the name its operations give it, the
//! superblock magic of its file, the process's stack and heap boundaries;
//! a file's mode, device numbers and whether it is one of the module's own
//! stream files.
//! The decisions made from them (which mapping is the vDSO, the stack, the
//! heap, shared memory or a device; which file is a terminal or a pipe)
//! are here, so they can be tested in userspace. The kernel values the
//! constants below stand for are checked against the kernel's own at
//! build time (`checkpoint/task.rs`).
//!
//! It is pure logic (`no_std`, no allocation), shared by the module and its
//! tests.

use super::image::VmaKind;

/// `vm_flags`: readable (`include/linux/mm.h`).
pub const VM_READ: u64 = 0x1;
/// `vm_flags`: writable.
pub const VM_WRITE: u64 = 0x2;
/// `vm_flags`: executable.
pub const VM_EXEC: u64 = 0x4;
/// `vm_flags`: shared (`MAP_SHARED`).
pub const VM_SHARED: u64 = 0x8;
/// `vm_flags`: grows down (a stack).
pub const VM_GROWSDOWN: u64 = 0x100;
/// `vm_flags`: page ranges without `struct page` (raw PFNs).
pub const VM_PFNMAP: u64 = 0x400;
/// `vm_flags`: locked in memory (`mlock`).
pub const VM_LOCKED: u64 = 0x2000;
/// `vm_flags`: memory-mapped I/O.
pub const VM_IO: u64 = 0x4000;
/// `vm_flags`: no swap space reserved (`MAP_NORESERVE`).
pub const VM_NORESERVE: u64 = 0x0020_0000;
/// `vm_flags`: both `struct page` pages and raw PFNs.
pub const VM_MIXEDMAP: u64 = 0x1000_0000;

/// The superblock magic of tmpfs and shmem (`include/uapi/linux/magic.h`).
pub const TMPFS_MAGIC: u64 = 0x0102_1994;

/// The file type bits of an inode's mode (`include/uapi/linux/stat.h`).
pub const S_IFMT: u32 = 0o170000;
/// A socket.
pub const S_IFSOCK: u32 = 0o140000;
/// A regular file.
pub const S_IFREG: u32 = 0o100000;
/// A directory.
pub const S_IFDIR: u32 = 0o040000;
/// A character device.
pub const S_IFCHR: u32 = 0o020000;
/// A FIFO (named or unnamed pipe).
pub const S_IFIFO: u32 = 0o010000;

/// The virtual consoles and serial ports (`include/uapi/linux/major.h`).
pub const TTY_MAJOR: u32 = 4;
/// `/dev/tty`, `/dev/console`, `/dev/ptmx`.
pub const TTYAUX_MAJOR: u32 = 5;
/// The first of the Unix 98 pseudo-terminal slaves' majors (`/dev/pts/N`).
pub const UNIX98_PTY_SLAVE_MAJOR: u32 = 136;
/// How many majors the Unix 98 pseudo-terminal slaves have.
pub const UNIX98_PTY_MAJOR_COUNT: u32 = 8;

/// The name of the vDSO's mapping.
pub const VDSO_NAME: &[u8] = b"[vdso]";
/// The name of the vvar mapping.
pub const VVAR_NAME: &[u8] = b"[vvar]";

/// What the kernel tells about one mapping of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VmaFacts<'a> {
    /// First address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// Its `vm_flags`.
    pub vm_flags: u64,
    /// The name its operations give it (`vm_ops->name`: the special
    /// mappings, `[vdso]`, `[vvar]`, ...), if they give one.
    pub special_name: Option<&'a [u8]>,
    /// Whether a file is mapped.
    pub has_file: bool,
    /// The magic number of the mapped file's superblock (0 without a file).
    pub file_magic: u64,
    /// The process's `start_stack`.
    pub start_stack: u64,
    /// The process's `start_brk`.
    pub start_brk: u64,
    /// The process's `brk`.
    pub brk: u64,
}

/// A mapping the kernel installs itself and names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Special {
    /// The vDSO.
    Vdso,
    /// The vvar page(s).
    Vvar,
    /// Any other (uprobes' page, a device's named mapping, ...).
    Other,
}

/// Which special mapping a mapping of that name is (`None`: it has no name,
/// an ordinary mapping).
pub fn special_mapping(name: Option<&[u8]>) -> Option<Special> {
    Some(match name? {
        VDSO_NAME => Special::Vdso,
        VVAR_NAME => Special::Vvar,
        _ => Special::Other,
    })
}

/// What a mapping is, as the checkpoint and migration code ask it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VmaClass {
    /// A special mapping, or `None`.
    pub special: Option<Special>,
    /// It holds the process's initial stack pointer (`start_stack`).
    pub is_stack: bool,
    /// Anonymous memory overlapping the heap (`start_brk..brk`).
    pub is_heap: bool,
    /// A shared mapping of a tmpfs or shmem file (SysV shared memory and
    /// shared anonymous memory are such files too).
    pub is_shmem: bool,
    /// Device memory (`VM_IO`, `VM_PFNMAP` or `VM_MIXEDMAP`).
    pub is_io: bool,
    /// A shared mapping (`VM_SHARED`).
    pub shared: bool,
    /// A file is mapped.
    pub has_file: bool,
}

/// Classifies a mapping from its raw facts.
pub fn classify_vma(v: &VmaFacts<'_>) -> VmaClass {
    let shared = v.vm_flags & VM_SHARED != 0;
    VmaClass {
        special: special_mapping(v.special_name),
        is_stack: v.start <= v.start_stack && v.end >= v.start_stack,
        is_heap: v.start <= v.brk && v.end >= v.start_brk && !v.has_file,
        is_shmem: v.has_file && shared && v.file_magic == TMPFS_MAGIC,
        is_io: v.vm_flags & (VM_IO | VM_PFNMAP | VM_MIXEDMAP) != 0,
        shared,
        has_file: v.has_file,
    }
}

/// Why a mapping cannot go into an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unsupported {
    /// A special mapping other than the vDSO and vvar.
    Special,
    /// Device memory.
    Device,
    /// Shared memory on tmpfs or shmem.
    SharedMemory,
    /// Shared memory with no file.
    SharedAnon,
}

impl Unsupported {
    /// What it is, for the message "... at ADDR is not supported".
    pub fn what(self) -> &'static str {
        match self {
            Unsupported::Special => "special mapping",
            Unsupported::Device => "device mapping",
            Unsupported::SharedMemory => "shared memory (SysV or shared anonymous)",
            Unsupported::SharedAnon => "shared anonymous memory",
        }
    }
}

impl VmaClass {
    /// The kind an image gives the mapping, or why it cannot have one. A
    /// file mapping ([`VmaKind::has_file`]) is refused too if its file has
    /// no name any more ([`path_is_deleted`]), which the caller checks.
    pub fn kind(&self) -> Result<VmaKind, Unsupported> {
        match self.special {
            Some(Special::Vdso) => return Ok(VmaKind::Vdso),
            Some(Special::Vvar) => return Ok(VmaKind::Vvar),
            Some(Special::Other) => return Err(Unsupported::Special),
            None => {}
        }
        if self.is_io {
            Err(Unsupported::Device)
        } else if self.is_shmem {
            Err(Unsupported::SharedMemory)
        } else if self.has_file {
            Ok(if self.shared {
                VmaKind::FileShared
            } else {
                VmaKind::FilePrivate
            })
        } else if self.shared {
            Err(Unsupported::SharedAnon)
        } else if self.is_stack {
            Ok(VmaKind::Stack)
        } else if self.is_heap {
            Ok(VmaKind::Heap)
        } else {
            Ok(VmaKind::Anon)
        }
    }
}

/// Whether `path`, as `d_path` gives it, names no file any more: a deleted
/// file (`" (deleted)"` appended) or one outside the mount tree (no
/// leading `/`: `pipe:[N]`, `anon_inode:...`, ...).
pub fn path_is_deleted(path: &[u8]) -> bool {
    path.ends_with(b" (deleted)") || !path.starts_with(b"/")
}

/// What the kernel tells about an open file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileFacts {
    /// Its inode's `i_mode`.
    pub mode: u32,
    /// The major number of the device it is (`i_rdev`; 0 for other files).
    pub rdev_major: u32,
    /// One of the module's own stream files: the stand-in a migrated
    /// process has for a pipe or terminal its deputy keeps at home.
    pub module_stream: bool,
}

/// What an open file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileClass {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A character device that is not a terminal.
    CharDev,
    /// A terminal.
    Tty,
    /// A pipe or FIFO, or a stand-in for one (or for a terminal) that a
    /// migrated process's deputy keeps.
    Pipe,
    /// A socket.
    Socket,
    /// Anything else (block devices, anonymous inodes, ...).
    Other,
}

/// Whether a character device of major `major` is a terminal: a virtual
/// console or serial port, `/dev/tty` and its kin, or a pseudo-terminal
/// slave.
pub fn is_tty_major(major: u32) -> bool {
    major == TTY_MAJOR
        || major == TTYAUX_MAJOR
        || (UNIX98_PTY_SLAVE_MAJOR..UNIX98_PTY_SLAVE_MAJOR + UNIX98_PTY_MAJOR_COUNT)
            .contains(&major)
}

/// Classifies an open file from its raw facts.
pub fn classify_file(f: &FileFacts) -> FileClass {
    if f.module_stream {
        return FileClass::Pipe;
    }
    match f.mode & S_IFMT {
        S_IFREG => FileClass::Regular,
        S_IFDIR => FileClass::Directory,
        S_IFCHR if is_tty_major(f.rdev_major) => FileClass::Tty,
        S_IFCHR => FileClass::CharDev,
        S_IFIFO => FileClass::Pipe,
        S_IFSOCK => FileClass::Socket,
        _ => FileClass::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S_IFBLK: u32 = 0o060000;
    const S_IFLNK: u32 = 0o120000;

    fn anon(start: u64, end: u64) -> VmaFacts<'static> {
        VmaFacts {
            start,
            end,
            vm_flags: VM_READ | VM_WRITE,
            start_stack: 0x7fff_0000_0000,
            start_brk: 0x60_0000,
            brk: 0x62_0000,
            ..VmaFacts::default()
        }
    }

    #[test]
    fn special_names() {
        assert_eq!(special_mapping(None), None);
        assert_eq!(special_mapping(Some(b"[vdso]")), Some(Special::Vdso));
        assert_eq!(special_mapping(Some(b"[vvar]")), Some(Special::Vvar));
        assert_eq!(special_mapping(Some(b"[uprobes]")), Some(Special::Other));
        assert_eq!(
            special_mapping(Some(b"[vvar_vclock]")),
            Some(Special::Other)
        );
        assert_eq!(special_mapping(Some(b"")), Some(Special::Other));
        assert_eq!(special_mapping(Some(b"[vdso")), Some(Special::Other));
    }

    #[test]
    fn vma_examples() {
        let vdso = VmaFacts {
            special_name: Some(b"[vdso]"),
            ..anon(0x7fff_1000_0000, 0x7fff_1000_2000)
        };
        assert_eq!(classify_vma(&vdso).kind(), Ok(VmaKind::Vdso));
        let vvar = VmaFacts {
            special_name: Some(b"[vvar]"),
            ..vdso
        };
        assert_eq!(classify_vma(&vvar).kind(), Ok(VmaKind::Vvar));
        let other = VmaFacts {
            special_name: Some(b"[uprobes]"),
            ..vdso
        };
        assert_eq!(classify_vma(&other).kind(), Err(Unsupported::Special));

        // The stack: start_stack inside, both ends included.
        let stack = anon(0x7ffe_ff00_0000, 0x7fff_0000_0000);
        assert!(classify_vma(&stack).is_stack);
        assert_eq!(classify_vma(&stack).kind(), Ok(VmaKind::Stack));
        let above = anon(0x7fff_0000_0000, 0x7fff_0000_1000);
        assert!(classify_vma(&above).is_stack);
        let below = anon(0x7ffe_0000_0000, 0x7ffe_ffff_f000);
        assert!(!classify_vma(&below).is_stack);

        // The heap: anonymous memory overlapping start_brk..brk.
        let heap = anon(0x60_0000, 0x62_0000);
        assert_eq!(classify_vma(&heap).kind(), Ok(VmaKind::Heap));
        let file_at_heap = VmaFacts {
            has_file: true,
            ..heap
        };
        assert!(!classify_vma(&file_at_heap).is_heap);
        assert_eq!(classify_vma(&file_at_heap).kind(), Ok(VmaKind::FilePrivate));
        assert_eq!(
            classify_vma(&anon(0x1000, 0x2000)).kind(),
            Ok(VmaKind::Anon)
        );

        // Files, shared memory, devices.
        let shared_file = VmaFacts {
            has_file: true,
            vm_flags: VM_READ | VM_SHARED,
            file_magic: 0xef53,
            ..anon(0x1000, 0x2000)
        };
        assert_eq!(classify_vma(&shared_file).kind(), Ok(VmaKind::FileShared));
        let shm = VmaFacts {
            file_magic: TMPFS_MAGIC,
            ..shared_file
        };
        assert!(classify_vma(&shm).is_shmem);
        assert_eq!(classify_vma(&shm).kind(), Err(Unsupported::SharedMemory));
        let private_tmpfs = VmaFacts {
            vm_flags: VM_READ,
            ..shm
        };
        assert_eq!(
            classify_vma(&private_tmpfs).kind(),
            Ok(VmaKind::FilePrivate)
        );
        let shared_anon = VmaFacts {
            vm_flags: VM_READ | VM_SHARED,
            ..anon(0x1000, 0x2000)
        };
        assert_eq!(
            classify_vma(&shared_anon).kind(),
            Err(Unsupported::SharedAnon)
        );
        for bit in [VM_IO, VM_PFNMAP, VM_MIXEDMAP] {
            let dev = VmaFacts {
                vm_flags: VM_READ | bit,
                ..shared_file
            };
            assert!(classify_vma(&dev).is_io);
            assert_eq!(classify_vma(&dev).kind(), Err(Unsupported::Device));
        }
    }

    #[test]
    fn messages() {
        assert_eq!(Unsupported::Special.what(), "special mapping");
        assert_eq!(Unsupported::Device.what(), "device mapping");
        assert_eq!(
            Unsupported::SharedMemory.what(),
            "shared memory (SysV or shared anonymous)"
        );
        assert_eq!(Unsupported::SharedAnon.what(), "shared anonymous memory");
    }

    #[test]
    fn deleted_paths() {
        assert!(!path_is_deleted(b"/usr/bin/cat"));
        assert!(path_is_deleted(b"/tmp/x (deleted)"));
        assert!(path_is_deleted(b"pipe:[1234]"));
        assert!(path_is_deleted(b"anon_inode:[eventfd]"));
        assert!(path_is_deleted(b""));
    }

    #[test]
    fn file_examples() {
        let f = |mode, major, module_stream| {
            classify_file(&FileFacts {
                mode,
                rdev_major: major,
                module_stream,
            })
        };
        assert_eq!(f(S_IFREG | 0o644, 0, false), FileClass::Regular);
        assert_eq!(f(S_IFDIR | 0o755, 0, false), FileClass::Directory);
        assert_eq!(f(S_IFCHR | 0o666, 1, false), FileClass::CharDev);
        for major in [4, 5, 136, 137, 143] {
            assert_eq!(f(S_IFCHR | 0o620, major, false), FileClass::Tty);
        }
        for major in [3, 6, 128, 135, 144] {
            assert_eq!(f(S_IFCHR | 0o620, major, false), FileClass::CharDev);
        }
        assert_eq!(f(S_IFBLK | 0o660, 4, false), FileClass::Other);
        assert_eq!(f(S_IFIFO | 0o600, 0, false), FileClass::Pipe);
        assert_eq!(f(S_IFSOCK | 0o777, 0, false), FileClass::Socket);
        assert_eq!(f(S_IFLNK | 0o777, 0, false), FileClass::Other);
        // An anonymous inode (no type bits), as the stand-in files are.
        assert_eq!(f(0o600, 0, false), FileClass::Other);
        assert_eq!(f(0o600, 0, true), FileClass::Pipe);
    }

    static NAMES: [&[u8]; 4] = [b"[vdso]", b"[vvar]", b"[uprobes]", b""];

    fn class_of(kind: VmaKind) -> &'static str {
        match kind {
            VmaKind::Vdso | VmaKind::Vvar | VmaKind::Vsyscall => "special",
            VmaKind::FilePrivate | VmaKind::FileShared => "file",
            VmaKind::Anon | VmaKind::Heap | VmaKind::Stack | VmaKind::AnonShared => "anon",
        }
    }

    proptest! {
        #[test]
        fn vma_kind_follows_the_facts(
            start in any::<u64>(),
            len in any::<u64>(),
            vm_flags in any::<u64>(),
            name in prop::option::of(prop::sample::select(&NAMES[..])),
            has_file in any::<bool>(),
            tmpfs in any::<bool>(),
            start_stack in any::<u64>(),
            start_brk in any::<u64>(),
            brk in any::<u64>(),
        ) {
            let v = VmaFacts {
                start,
                end: start.saturating_add(len),
                vm_flags,
                special_name: name,
                has_file,
                file_magic: if has_file && tmpfs { TMPFS_MAGIC } else if has_file { 0xef53 } else { 0 },
                start_stack,
                start_brk,
                brk,
            };
            let c = classify_vma(&v);
            prop_assert_eq!(c.special.is_some(), name.is_some());
            prop_assert_eq!(c.shared, vm_flags & VM_SHARED != 0);
            prop_assert_eq!(c.has_file, has_file);
            prop_assert!(!c.is_shmem || (has_file && c.shared));
            prop_assert!(!c.is_heap || !has_file);
            match c.kind() {
                Ok(kind) => {
                    // Special mappings only by name, files only with one,
                    // and nothing shared but a file of a disk file system.
                    prop_assert_eq!(class_of(kind) == "special", name.is_some());
                    prop_assert_eq!(kind.has_file(), has_file && name.is_none());
                    prop_assert!(name.is_some() || !c.is_io);
                    prop_assert!(!c.is_shmem || name.is_some());
                    prop_assert_eq!(kind == VmaKind::FileShared, has_file && c.shared && name.is_none());
                    prop_assert!(kind != VmaKind::AnonShared && kind != VmaKind::Vsyscall);
                    if kind == VmaKind::Stack {
                        prop_assert!(c.is_stack);
                    }
                    if kind == VmaKind::Heap {
                        prop_assert!(c.is_heap && !c.is_stack);
                    }
                }
                Err(Unsupported::Special) => prop_assert!(name.is_some()),
                Err(Unsupported::Device) => prop_assert!(name.is_none() && c.is_io),
                Err(Unsupported::SharedMemory) => prop_assert!(!c.is_io && has_file && tmpfs && c.shared),
                Err(Unsupported::SharedAnon) => prop_assert!(!c.is_io && !has_file && c.shared),
            }
        }

        #[test]
        fn file_class_follows_the_mode(mode in any::<u32>(), major in any::<u32>(), module_stream in any::<bool>()) {
            let class = classify_file(&FileFacts { mode, rdev_major: major, module_stream });
            let kind = mode & S_IFMT;
            if module_stream {
                prop_assert_eq!(class, FileClass::Pipe);
            } else {
                prop_assert_eq!(class == FileClass::Regular, kind == S_IFREG);
                prop_assert_eq!(class == FileClass::Directory, kind == S_IFDIR);
                prop_assert_eq!(class == FileClass::Tty, kind == S_IFCHR && is_tty_major(major));
                prop_assert_eq!(class == FileClass::CharDev, kind == S_IFCHR && !is_tty_major(major));
                prop_assert_eq!(class == FileClass::Pipe, kind == S_IFIFO);
                prop_assert_eq!(class == FileClass::Socket, kind == S_IFSOCK);
            }
        }

        #[test]
        fn tty_majors(major in any::<u32>()) {
            prop_assert_eq!(is_tty_major(major), major == 4 || major == 5 || (136..=143).contains(&major));
        }
    }
}
