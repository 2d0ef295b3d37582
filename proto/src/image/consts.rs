//! Constants and limits of the image format: magic, version, header and
//! section lengths, flags, per-kind limits, register indices and the
//! Linux flag values (`PROT_*`, `MAP_*`, `SS_*`, `O_*`) bodies carry.

/// First eight bytes of every image.
pub const IMAGE_MAGIC: [u8; 8] = *b"SSICKPT\0";
/// Version of the image format this code reads and writes. A reader
/// refuses every other version ([`ImageError::UnsupportedVersion`](super::ImageError::UnsupportedVersion)).
pub const IMAGE_VERSION: u16 = 2;
/// Length of the fixed image header.
pub const IMAGE_HEADER_LEN: usize = 64;
/// Length of the fixed section header.
pub const SECTION_HEADER_LEN: usize = 16;

/// Image flag: the image holds only the pages dirtied since its parent
/// image ([`ImageHeader::parent_id`](super::ImageHeader::parent_id)); it has a Parent section.
pub const FLAG_INCREMENTAL: u16 = 1 << 0;
/// Image flag: the Pages sections carry no CRC (0) and readers do not
/// check one. Only a live migration's image has it: it goes from the
/// capture to the destination's kernel memory in authenticated krpc frames
/// and is never stored; a restart from a file refuses it.
pub const FLAG_PAGES_UNCHECKED: u16 = 1 << 1;
/// All image flags defined by [`IMAGE_VERSION`] 1.
pub const KNOWN_IMAGE_FLAGS: u16 = FLAG_INCREMENTAL | FLAG_PAGES_UNCHECKED;

/// Architecture code of x86_64, the only one version 1 defines.
pub const ARCH_X86_64: u32 = 1;

pub use super::super::page::PAGE_SIZE;
/// Most pages one Pages section carries.
pub const MAX_PAGES_PER_SECTION: u32 = 256;
/// Longest path, in bytes (paths are 1..=MAX_PATH bytes long).
pub const MAX_PATH: usize = 4096;
/// Most supplementary groups of a process.
pub const MAX_GROUPS: usize = 64;
/// Most threads of a process.
pub const MAX_THREADS: u32 = 256;
/// Most VMAs of a process (the default `vm.max_map_count`).
pub const MAX_VMAS: u32 = 65530;
/// File descriptors must be below this (so at most this many files).
pub const MAX_FDS: u32 = 1024;
/// Largest xstate blob of a thread, in bytes.
pub const MAX_XSTATE: usize = 16384;
/// Most pending signals in one queue (per thread, or process-wide).
pub const MAX_PENDING_SIGNALS: usize = 64;
/// Size of one raw `siginfo_t`.
pub const SIGINFO_LEN: usize = 128;
/// Number of signals (1..=NSIG); one handler is saved per signal.
pub const NSIG: usize = 64;
/// Number of resource limits saved (`RLIM_NLIMITS`).
pub const RLIM_NLIMITS: usize = 16;
/// Most auxiliary-vector words (`AT_*` key/value pairs, so even).
pub const MAX_AUXV_WORDS: usize = 128;
/// Length of a task name (`TASK_COMM_LEN`), NUL-padded.
pub const COMM_LEN: usize = 16;
/// Number of registers in `user_regs_struct` on x86_64.
pub const NR_REGS: usize = 27;
/// Size of a raw x86_64 `struct termios2`.
pub const TERMIOS2_LEN: usize = 44;
/// Size of a raw `struct winsize`.
pub const WINSIZE_LEN: usize = 8;

/// Index of `r15` in [`ThreadBody::regs`](super::ThreadBody::regs) (`user_regs_struct` order).
pub const REG_R15: usize = 0;
/// Index of `r14` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_R14: usize = 1;
/// Index of `r13` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_R13: usize = 2;
/// Index of `r12` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_R12: usize = 3;
/// Index of `rbp` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_RBP: usize = 4;
/// Index of `rbx` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_RBX: usize = 5;
/// Index of `r11` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_R11: usize = 6;
/// Index of `r10` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_R10: usize = 7;
/// Index of `r9` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_R9: usize = 8;
/// Index of `r8` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_R8: usize = 9;
/// Index of `rax` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_RAX: usize = 10;
/// Index of `rcx` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_RCX: usize = 11;
/// Index of `rdx` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_RDX: usize = 12;
/// Index of `rsi` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_RSI: usize = 13;
/// Index of `rdi` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_RDI: usize = 14;
/// Index of `orig_rax` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_ORIG_RAX: usize = 15;
/// Index of `rip` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_RIP: usize = 16;
/// Index of `cs` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_CS: usize = 17;
/// Index of `eflags` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_EFLAGS: usize = 18;
/// Index of `rsp` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_RSP: usize = 19;
/// Index of `ss` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_SS: usize = 20;
/// Index of `fs_base` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_FS_BASE: usize = 21;
/// Index of `gs_base` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_GS_BASE: usize = 22;
/// Index of `ds` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_DS: usize = 23;
/// Index of `es` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_ES: usize = 24;
/// Index of `fs` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_FS: usize = 25;
/// Index of `gs` in [`ThreadBody::regs`](super::ThreadBody::regs).
pub const REG_GS: usize = 26;

/// `PROT_READ`.
pub const PROT_READ: u32 = 0x1;
/// `PROT_WRITE`.
pub const PROT_WRITE: u32 = 0x2;
/// `PROT_EXEC`.
pub const PROT_EXEC: u32 = 0x4;
/// The protection bits a VMA may have.
pub const KNOWN_PROT: u32 = PROT_READ | PROT_WRITE | PROT_EXEC;

/// `MAP_SHARED`.
pub const MAP_SHARED: u32 = 0x01;
/// `MAP_PRIVATE`.
pub const MAP_PRIVATE: u32 = 0x02;
/// `MAP_GROWSDOWN` (stack-like VMA).
pub const MAP_GROWSDOWN: u32 = 0x0100;
/// `MAP_LOCKED` (mlocked VMA).
pub const MAP_LOCKED: u32 = 0x2000;
/// `MAP_NORESERVE`.
pub const MAP_NORESERVE: u32 = 0x4000;
/// The map flags a VMA may have: exactly one of [`MAP_SHARED`] and
/// [`MAP_PRIVATE`], plus any of [`MAP_GROWSDOWN`], [`MAP_LOCKED`],
/// [`MAP_NORESERVE`]. Anonymous/file is said by [`VmaKind`](super::VmaKind), not by
/// `MAP_ANONYMOUS`.
pub const KNOWN_MAP_FLAGS: u32 =
    MAP_SHARED | MAP_PRIVATE | MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE;

/// `SS_ONSTACK`.
pub const SS_ONSTACK: u32 = 1;
/// `SS_DISABLE`.
pub const SS_DISABLE: u32 = 2;
/// `SS_AUTODISARM`.
pub const SS_AUTODISARM: u32 = 1 << 31;
/// The alternate-stack flags a thread may have.
pub const KNOWN_ALTSTACK_FLAGS: u32 = SS_ONSTACK | SS_DISABLE | SS_AUTODISARM;

/// `O_ACCMODE`: the access-mode bits of open flags (3 is invalid).
pub const O_ACCMODE: u32 = 0o3;
/// `O_RDONLY`.
pub const O_RDONLY: u32 = 0o0;
/// `O_WRONLY`.
pub const O_WRONLY: u32 = 0o1;

/// Major number of the memory character devices (`/dev/null` & co).
pub const MEM_MAJOR: u32 = 1;
/// The (major, minor) character devices a File section may name:
/// `/dev/null`, `/dev/zero`, `/dev/full`, `/dev/random`, `/dev/urandom`.
pub const ALLOWED_CHAR_DEVICES: [(u32, u32); 5] = [
    (MEM_MAJOR, 3),
    (MEM_MAJOR, 5),
    (MEM_MAJOR, 7),
    (MEM_MAJOR, 8),
    (MEM_MAJOR, 9),
];
