//! The text of a process's `/proc/PID/` files when the process runs on
//! another node (issue 20): `stat`, `statm`, `status` and `comm`, rendered
//! from its [`ProcEntry`] in the layout of the kernel's own files
//! (`fs/proc/array.c`, `fs/proc/task_mmu.c` of Linux 6.12), so that
//! unmodified procps (`ps`, `top`, `pgrep`) reads them as it reads a local
//! process's. `cmdline` needs no formatter: it is [`ProcEntry::cmdline`].
//!
//! What the entry does not carry is shown as an unprivileged reader of a
//! local process sees it: code and stack addresses, signal masks, wchan
//! and exit code as 0 (`startcode`/`endcode` as 1, as the kernel shows
//! them to a reader that may not ptrace the process); children's times
//! and faults, `TracerPid`, `Ngid`, `FDSize` and `SigQ` as 0, no groups.
//!
//! A process's name is bytes; `core::fmt::Write` takes UTF-8. Valid UTF-8
//! is written as it is, every byte of an invalid sequence as `?`.

use super::page::PAGE;
use super::procs::ProcEntry;
use core::fmt::{self, Write};

/// Clock ticks per second of `/proc` files (the kernel's `USER_HZ`).
pub const USER_HZ: u64 = 100;
/// Nanoseconds of one clock tick.
const NS_PER_TICK: u64 = 1_000_000_000 / USER_HZ;

/// The reading node's clocks, for fields relative to its boot.
pub struct ReaderClock {
    /// Wall-clock nanoseconds (since the Unix epoch) of this node's boot:
    /// `CLOCK_REALTIME - CLOCK_BOOTTIME`, read together.
    pub boot_wall_ns: u64,
}

/// The kernel's `nsec_to_clock_t`.
fn ticks(ns: u64) -> u64 {
    ns / NS_PER_TICK
}

/// Whether the process still has its memory (a zombie has none); the
/// kernel writes the memory fields only then. Every mm maps something.
fn has_mm(e: &ProcEntry) -> bool {
    e.vsize != 0
}

/// The state as `status` names it (`task_state_array`).
fn state_name(state: u8) -> &'static str {
    match state {
        b'R' => "R (running)",
        b'S' => "S (sleeping)",
        b'D' => "D (disk sleep)",
        b'T' => "T (stopped)",
        b't' => "t (tracing stop)",
        b'X' => "X (dead)",
        b'Z' => "Z (zombie)",
        b'P' => "P (parked)",
        b'I' => "I (idle)",
        _ => "R (running)",
    }
}

/// Writes `bytes`: valid UTF-8 as it is, each byte of an invalid sequence
/// as `?`. With `escape`, `\n` and `\` are escaped as `seq_escape_str`
/// does for `status`'s `Name` (`"\n\\"`).
fn write_bytes(out: &mut impl Write, bytes: &[u8], escape: bool) -> fmt::Result {
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        if escape {
            // Char by char: no slicing, so nothing here can panic (the
            // kernel's objtool does not know every panic path of core).
            for c in valid.chars() {
                match c {
                    '\n' => out.write_str("\\n")?,
                    '\\' => out.write_str("\\\\")?,
                    c => out.write_char(c)?,
                }
            }
        } else {
            out.write_str(valid)?;
        }
        for _ in chunk.invalid() {
            out.write_char('?')?;
        }
    }
    Ok(())
}

/// `/proc/PID/stat`: the 52 fields of `do_task_stat` (whole thread group),
/// one line. `starttime` (field 22) counts clock ticks since the reading
/// node's boot, 0 for a process started before it.
pub fn write_stat(e: &ProcEntry, clock: &ReaderClock, out: &mut impl Write) -> fmt::Result {
    let mm = has_mm(e);
    write!(out, "{} (", e.pid)?;
    write_bytes(out, e.comm(), false)?;
    write!(out, ") {}", e.state as char)?;
    // ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
    write!(
        out,
        " {} {} {} {} {} {} {} 0 {} 0",
        e.ppid, e.pgrp, e.session, e.tty_nr as i32, e.tpgid, e.task_flags, e.minflt, e.majflt
    )?;
    // utime stime cutime cstime priority nice num_threads itrealvalue
    write!(
        out,
        " {} {} 0 0 {} {} {} 0",
        ticks(e.utime_ns),
        ticks(e.stime_ns),
        e.priority,
        e.nice,
        e.threads
    )?;
    // starttime vsize rss rsslim
    let start = ticks(e.start_ns.saturating_sub(clock.boot_wall_ns));
    let rss = if mm { e.rss_bytes / PAGE } else { 0 };
    write!(out, " {} {} {} {}", start, e.vsize, rss, e.rsslim)?;
    // startcode endcode startstack kstkesp kstkeip signal blocked
    // sigignore sigcatch wchan nswap cnswap
    let code = u8::from(mm);
    write!(out, " {code} {code} 0 0 0 0 0 0 0 0 0 0")?;
    // exit_signal processor rt_priority policy delayacct_blkio_ticks
    // guest_time cguest_time
    write!(
        out,
        " {} {} {} {} 0 0 0",
        e.exit_signal, e.processor, e.rt_priority, e.policy
    )?;
    // start_data end_data start_brk arg_start arg_end env_start env_end
    // exit_code
    out.write_str(" 0 0 0 0 0 0 0 0\n")
}

/// `/proc/PID/statm`: size, resident, shared, text, 0, data, 0, in pages
/// (`task_statm`; text as VmExe).
pub fn write_statm(e: &ProcEntry, out: &mut impl Write) -> fmt::Result {
    if !has_mm(e) {
        return out.write_str("0 0 0 0 0 0 0\n");
    }
    let shared = e.rss_file.saturating_add(e.rss_shmem);
    writeln!(
        out,
        "{} {} {} {} 0 {} 0",
        e.vsize / PAGE,
        e.rss_bytes / PAGE,
        shared / PAGE,
        e.text / PAGE,
        e.data.saturating_add(e.stack) / PAGE
    )
}

/// One `Vm*:` line of `status`: kB right-aligned in 8 columns.
fn vm_line(out: &mut impl Write, key: &str, bytes: u64) -> fmt::Result {
    writeln!(out, "{key}:\t{:>8} kB", bytes >> 10)
}

/// `/proc/PID/status`, up to `SigCgt` in the kernel's order, then
/// `Node:\t<node>` (the node that runs it) and, for a process that
/// migrated there, `Home:\t<node> <pid>` (its home node and its pid
/// there). Every line is `key:\tvalue`.
pub fn write_status(e: &ProcEntry, node: u16, out: &mut impl Write) -> fmt::Result {
    out.write_str("Name:\t")?;
    write_bytes(out, e.comm(), true)?;
    out.write_char('\n')?;
    if e.umask <= 0o777 {
        writeln!(out, "Umask:\t{:04o}", e.umask)?;
    }
    writeln!(out, "State:\t{}", state_name(e.state))?;
    writeln!(out, "Tgid:\t{}\nNgid:\t0\nPid:\t{}", e.pid, e.pid)?;
    writeln!(out, "PPid:\t{}\nTracerPid:\t0", e.ppid)?;
    writeln!(out, "Uid:\t{}\t{}\t{}\t{}", e.uid, e.euid, e.suid, e.fsuid)?;
    writeln!(out, "Gid:\t{}\t{}\t{}\t{}", e.gid, e.egid, e.sgid, e.fsgid)?;
    // The kernel leaves a space after the groups, even with none.
    out.write_str("FDSize:\t0\nGroups:\t \n")?;
    writeln!(out, "NStgid:\t{}\nNSpid:\t{}", e.pid, e.pid)?;
    writeln!(out, "NSpgid:\t{}\nNSsid:\t{}", e.pgrp, e.session)?;
    out.write_str("Kthread:\t0\n")?;
    if has_mm(e) {
        for (key, bytes) in [
            ("VmPeak", e.hiwater_vm.max(e.vsize)),
            ("VmSize", e.vsize),
            ("VmLck", e.locked),
            ("VmPin", e.pinned),
            ("VmHWM", e.hiwater_rss.max(e.rss_bytes)),
            ("VmRSS", e.rss_bytes),
            ("RssAnon", e.rss_anon),
            ("RssFile", e.rss_file),
            ("RssShmem", e.rss_shmem),
            ("VmData", e.data),
            ("VmStk", e.stack),
            ("VmExe", e.text),
            ("VmLib", e.lib),
            ("VmPTE", e.pte),
            ("VmSwap", e.swap),
        ] {
            vm_line(out, key, bytes)?;
        }
        out.write_str("CoreDumping:\t0\n")?;
    }
    writeln!(out, "Threads:\t{}\nSigQ:\t0/0", e.threads)?;
    for key in ["SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt"] {
        writeln!(out, "{key}:\t{:016x}", 0)?;
    }
    writeln!(out, "Node:\t{node}")?;
    if e.home_node != 0 {
        writeln!(out, "Home:\t{} {}", e.home_node, e.home_pid)?;
    }
    Ok(())
}

/// `/proc/PID/comm`: the name and a newline.
pub fn write_comm(e: &ProcEntry, out: &mut impl Write) -> fmt::Result {
    write_bytes(out, e.comm(), false)?;
    out.write_char('\n')
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::procs::{COMM_LEN, ENTRY_MIGRATED, STATES};
    use super::*;
    use proptest::prelude::*;
    use std::{string::String, vec::Vec};

    /// `/proc/self/stat` of `cat` on the host these tests were written
    /// on (Linux 6.12), for the shape of the line.
    const HOST_STAT: &str = "30445 (cat) R 30436 30436 29101 0 -1 4194304 103 0 0 0 0 0 0 0 \
        20 0 1 0 2112902 3133440 379 18446744073709551615 94578947977216 94578947997097 \
        140722965050048 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 94578948013104 94578948014720 \
        94579610603520 140722965056226 140722965056246 140722965056246 140722965057515 0\n";

    /// What procps's `stat2proc` (procps-ng 4.0.2, `readproc.c`) reads.
    #[derive(Debug, Default, PartialEq)]
    struct Stat {
        pid: i32,
        cmd: Vec<u8>,
        state: u8,
        ppid: i32,
        pgrp: i32,
        session: i32,
        tty: i32,
        tpgid: i32,
        flags: u64,
        min_flt: u64,
        maj_flt: u64,
        utime: u64,
        stime: u64,
        priority: i32,
        nice: i32,
        nlwp: i32,
        start_time: u64,
        vsize: u64,
        rss: u64,
        rss_rlim: u64,
        exit_signal: i32,
        processor: i32,
        rtprio: u64,
        sched: u64,
    }

    /// A port of `stat2proc`: the name is between the first `(` and the
    /// last `)`, which must be followed by something; then `sscanf` of the
    /// fields after `") "`. `None` where procps would fail or read garbage.
    fn stat2proc(s: &[u8]) -> Option<Stat> {
        let open = s.iter().position(|&b| b == b'(')?;
        let pid = std::str::from_utf8(&s[..open]).ok()?.trim().parse().ok()?;
        let s = &s[open + 1..];
        let close = s.iter().rposition(|&b| b == b')')?;
        if close + 1 >= s.len() {
            return None;
        }
        let cmd = s[..close].to_vec();
        let rest = std::str::from_utf8(s.get(close + 2..)?).ok()?;
        let f: Vec<&str> = rest.split_ascii_whitespace().collect();
        fn n<T: core::str::FromStr>(f: &[&str], i: usize) -> Option<T> {
            f.get(i)?.parse().ok()
        }
        if f.first()?.len() != 1 {
            return None;
        }
        Some(Stat {
            pid,
            cmd,
            state: f[0].as_bytes()[0],
            ppid: n(&f, 1)?,
            pgrp: n(&f, 2)?,
            session: n(&f, 3)?,
            tty: n(&f, 4)?,
            tpgid: n(&f, 5)?,
            flags: n(&f, 6)?,
            min_flt: n(&f, 7)?,
            maj_flt: n(&f, 9)?,
            utime: n(&f, 11)?,
            stime: n(&f, 12)?,
            priority: n(&f, 15)?,
            nice: n(&f, 16)?,
            nlwp: n(&f, 17)?,
            start_time: n(&f, 19)?,
            vsize: n(&f, 20)?,
            rss: n(&f, 21)?,
            rss_rlim: n(&f, 22)?,
            exit_signal: n(&f, 35)?,
            processor: n(&f, 36)?,
            rtprio: n(&f, 37)?,
            sched: n(&f, 38)?,
        })
    }

    /// The `key:\tvalue` lines of a `status`, as procps's `status2proc`
    /// takes them; `None` if a line lacks `:\t` or the text lacks its
    /// final newline.
    fn status_lines(s: &str) -> Option<Vec<(&str, &str)>> {
        let body = s.strip_suffix('\n')?;
        body.split('\n').map(|l| l.split_once(":\t")).collect()
    }

    fn value<'a>(lines: &[(&str, &'a str)], key: &str) -> &'a str {
        lines
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .unwrap()
    }

    /// The name as the formatters show it: invalid UTF-8 as `?`.
    fn shown(comm: &[u8]) -> Vec<u8> {
        let mut s = String::new();
        write_bytes(&mut s, comm, false).unwrap();
        s.into_bytes()
    }

    fn entry() -> ProcEntry {
        let mut e = ProcEntry {
            pid: 65_600,
            ppid: 65_537,
            uid: 1000,
            gid: 100,
            euid: 1001,
            egid: 101,
            suid: 1002,
            sgid: 102,
            fsuid: 1003,
            fsgid: 103,
            pgrp: 65_537,
            session: 65_536,
            tty_nr: 34_816,
            tpgid: 65_537,
            task_flags: 0x40_0000,
            processor: 1,
            state: b'S',
            threads: 3,
            priority: 25,
            nice: 5,
            umask: 0o22,
            start_ns: 1_700_000_100_000_000_000,
            minflt: 103,
            majflt: 2,
            vsize: 3060 * 1024,
            hiwater_vm: 4000 * 1024,
            hiwater_rss: 200 * PAGE,
            text: 5 * PAGE,
            lib: 382 * PAGE,
            data: 90 * PAGE,
            stack: 33 * PAGE,
            pte: 11 * PAGE,
            ..ProcEntry::EMPTY
        };
        e.set_cpu_time(2_345_000_000, 3, 1);
        e.set_rss(10 * PAGE, 30 * PAGE, 0);
        e.comm[..6].copy_from_slice(b"a) b(c");
        e.set_cmdline(b"sleep\x00600\x00");
        e
    }

    const CLOCK: ReaderClock = ReaderClock {
        boot_wall_ns: 1_700_000_000_000_000_000,
    };

    fn render(f: impl FnOnce(&mut String) -> fmt::Result) -> String {
        let mut s = String::new();
        f(&mut s).unwrap();
        s
    }

    #[test]
    fn stat_has_the_kernels_shape() {
        let e = entry();
        let line = render(|s| write_stat(&e, &CLOCK, s));
        let host = HOST_STAT;
        for l in [line.as_str(), host] {
            assert!(l.ends_with('\n') && l.matches('\n').count() == 1);
            let close = l.rfind(')').unwrap();
            let fields: Vec<&str> = l[close + 1..].split_ascii_whitespace().collect();
            // pid and comm, then 50 more.
            assert_eq!(fields.len() + 2, 52, "{l}");
            assert!(fields[1..].iter().all(|f| f.parse::<i128>().is_ok()), "{l}");
        }
        let st = stat2proc(line.as_bytes()).unwrap();
        assert_eq!(st.pid, 65_600);
        assert_eq!(st.cmd, b"a) b(c");
        assert_eq!((st.state, st.ppid, st.nlwp), (b'S', 65_537, 3));
        assert_eq!(
            (st.pgrp, st.session, st.tty, st.tpgid),
            (65_537, 65_536, 34_816, 65_537)
        );
        assert_eq!((st.flags, st.min_flt, st.maj_flt), (0x40_0000, 103, 2));
        // 2.345 s split 3:1.
        assert_eq!((st.utime, st.stime), (175, 58));
        // 100 s after the reader's boot.
        assert_eq!(st.start_time, 10_000);
        assert_eq!((st.vsize, st.rss, st.rss_rlim), (3060 * 1024, 40, u64::MAX));
        assert_eq!(
            (st.priority, st.nice, st.exit_signal, st.processor),
            (25, 5, 17, 1)
        );
        assert_eq!((st.rtprio, st.sched), (0, 0));
        // And the host's own line reads as procps reads it.
        let host = stat2proc(HOST_STAT.as_bytes()).unwrap();
        assert_eq!(
            (host.pid, host.cmd.as_slice(), host.rss),
            (30445, &b"cat"[..], 379)
        );
    }

    #[test]
    fn stat_of_this_process_has_the_same_shape() {
        // The live kernel's line, where there is one.
        let Ok(own) = std::fs::read("/proc/self/stat") else {
            return;
        };
        let st = stat2proc(&own).unwrap();
        assert_eq!(st.pid as u32, std::process::id());
        let close = own.iter().rposition(|&b| b == b')').unwrap();
        let n = std::str::from_utf8(&own[close + 1..])
            .unwrap()
            .split_ascii_whitespace()
            .count();
        assert_eq!(n + 2, 52);
    }

    #[test]
    fn start_before_the_readers_boot_is_zero() {
        let e = ProcEntry {
            start_ns: 5,
            ..entry()
        };
        let st = stat2proc(render(|s| write_stat(&e, &CLOCK, s)).as_bytes()).unwrap();
        assert_eq!(st.start_time, 0);
    }

    #[test]
    fn zombie_has_no_memory() {
        let mut e = ProcEntry {
            state: b'Z',
            vsize: 0,
            hiwater_vm: 0,
            hiwater_rss: 0,
            ..entry()
        };
        e.set_rss(0, 0, 0);
        e.set_cmdline(b"");
        assert!(e.is_valid());
        assert_eq!(render(|s| write_statm(&e, s)), "0 0 0 0 0 0 0\n");
        let st = stat2proc(render(|s| write_stat(&e, &CLOCK, s)).as_bytes()).unwrap();
        assert_eq!((st.vsize, st.rss), (0, 0));
        let status = render(|s| write_status(&e, 2, s));
        assert!(!status.contains("VmRSS"));
        assert!(status.contains("State:\tZ (zombie)\n"));
    }

    #[test]
    fn statm_in_pages() {
        let line = render(|s| write_statm(&entry(), s));
        let f: Vec<u64> = line
            .trim_end()
            .split(' ')
            .map(|f| f.parse().unwrap())
            .collect();
        assert_eq!(f, [765, 40, 30, 5, 0, 123, 0]);
    }

    #[test]
    fn status_lines_and_node() {
        let mut e = entry();
        e.comm[..8].copy_from_slice(b"x\ny\\z\x00\x00\x00");
        let s = render(|s| write_status(&e, 3, s));
        let lines = status_lines(&s).unwrap();
        assert_eq!(lines[0], ("Name", "x\\ny\\\\z"));
        assert_eq!(lines[1], ("Umask", "0022"));
        assert_eq!(value(&lines, "Uid"), "1000\t1001\t1002\t1003");
        assert_eq!(value(&lines, "Gid"), "100\t101\t102\t103");
        assert_eq!(value(&lines, "VmRSS"), "     160 kB");
        assert_eq!(value(&lines, "VmPeak"), "    4000 kB");
        assert_eq!(value(&lines, "VmSize"), "    3060 kB");
        assert_eq!(value(&lines, "VmHWM"), "     800 kB");
        assert_eq!(value(&lines, "RssFile"), "     120 kB");
        assert_eq!(value(&lines, "VmLib"), "    1528 kB");
        assert_eq!(value(&lines, "NSsid"), "65536");
        assert_eq!(value(&lines, "Groups"), " ");
        assert_eq!(lines.last().unwrap(), &("Node", "3"));
        let m = ProcEntry {
            flags: ENTRY_MIGRATED,
            home_node: 1,
            home_pid: 77,
            ..e
        };
        let s = render(|s| write_status(&m, 3, s));
        let lines = status_lines(&s).unwrap();
        assert_eq!(
            &lines[lines.len() - 2..],
            &[("Node", "3"), ("Home", "1 77")]
        );
        // The keys procps reads, in the kernel's order.
        let keys: Vec<&str> = lines.iter().map(|(k, _)| *k).collect();
        let order = [
            "Name",
            "State",
            "Tgid",
            "Ngid",
            "Pid",
            "PPid",
            "TracerPid",
            "Uid",
            "Gid",
            "FDSize",
            "Groups",
            "VmPeak",
            "VmSize",
            "VmLck",
            "VmPin",
            "VmHWM",
            "VmRSS",
            "RssAnon",
            "RssFile",
            "RssShmem",
            "VmData",
            "VmStk",
            "VmExe",
            "VmLib",
            "VmPTE",
            "VmSwap",
            "Threads",
            "SigQ",
            "SigPnd",
            "ShdPnd",
            "SigBlk",
            "SigIgn",
            "SigCgt",
        ];
        let at: Vec<usize> = order
            .iter()
            .map(|k| keys.iter().position(|x| x == k).unwrap())
            .collect();
        assert!(at.windows(2).all(|p| p[0] < p[1]), "{keys:?}");
    }

    #[test]
    fn comm_file_and_invalid_utf8() {
        let mut e = entry();
        assert_eq!(render(|s| write_comm(&e, s)), "a) b(c\n");
        e.comm = [0; COMM_LEN];
        e.comm[..5].copy_from_slice(b"\xffab\xc3\xa9");
        assert_eq!(render(|s| write_comm(&e, s)), "?ab\u{e9}\n");
    }

    fn any_entry() -> impl Strategy<Value = ProcEntry> {
        // Pids as the kernel has them (at most PID_MAX_LIMIT, 2^22).
        let pid = || 1u32..=1 << 22;
        (
            (
                pid(),
                0u32..=1 << 22,
                pid(),
                pid(),
                prop::sample::select(STATES.to_vec()),
                1u16..,
            ),
            (
                -101i32..=39,
                -20i32..=19,
                any::<(u64, u64, u64)>(),
                any::<(u64, u64)>(),
            ),
            (any::<[u32; 3]>(), 0u64..1 << 50, any::<u64>()),
            prop::option::of((1u16.., 1u32..)),
            prop::collection::vec(
                prop_oneof![Just(b')'), Just(b'('), Just(b' '), Just(b'\n'), 1u8..],
                0..=COMM_LEN,
            ),
        )
            .prop_map(
                |(
                    (pid, ppid, pgrp, session, state, threads),
                    (priority, nice, (cpu_ns, raw_u, raw_s), (start_ns, minflt)),
                    ([anon, file, shmem], vsize, rsslim),
                    home,
                    comm,
                )| {
                    let mut e = ProcEntry {
                        pid,
                        ppid,
                        pgrp,
                        session,
                        state,
                        threads,
                        priority,
                        nice,
                        start_ns,
                        minflt,
                        vsize,
                        hiwater_vm: vsize,
                        rsslim,
                        ..ProcEntry::EMPTY
                    };
                    e.set_cpu_time(cpu_ns, raw_u, raw_s);
                    e.set_rss(
                        u64::from(anon) * PAGE,
                        u64::from(file) * PAGE,
                        u64::from(shmem) * PAGE,
                    );
                    e.hiwater_rss = e.rss_bytes;
                    e.comm[..comm.len()].copy_from_slice(&comm);
                    if let Some((node, pid)) = home {
                        e.flags = ENTRY_MIGRATED;
                        e.home_node = node;
                        e.home_pid = pid;
                    }
                    e
                },
            )
    }

    proptest! {
        #[test]
        fn procps_reads_back_stat(e in any_entry(), boot in any::<u64>()) {
            let clock = ReaderClock { boot_wall_ns: boot };
            let line = render(|s| write_stat(&e, &clock, s));
            // `comm` may hold a newline; the kernel's line does too then,
            // and procps reads the whole file.
            prop_assert!(line.ends_with('\n'));
            let st = stat2proc(line.as_bytes()).unwrap();
            prop_assert_eq!(st.pid as u32, e.pid);
            prop_assert_eq!(st.cmd, shown(e.comm()));
            prop_assert_eq!(st.state, e.state);
            prop_assert_eq!(st.ppid as u32, e.ppid);
            prop_assert_eq!((st.utime, st.stime), (ticks(e.utime_ns), ticks(e.stime_ns)));
            prop_assert!(e.is_valid());
            prop_assert_eq!(st.nlwp as u16, e.threads);
            prop_assert_eq!(st.start_time, e.start_ns.saturating_sub(boot) / 10_000_000);
            let rss = if has_mm(&e) { e.rss_bytes / PAGE } else { 0 };
            prop_assert_eq!(st.rss, rss);
            prop_assert_eq!((st.pgrp as u32, st.session as u32), (e.pgrp, e.session));
            prop_assert_eq!((st.priority, st.nice), (e.priority, e.nice));
            prop_assert_eq!((st.vsize, st.rss_rlim, st.min_flt), (e.vsize, e.rsslim, e.minflt));
        }

        #[test]
        fn status_is_key_tab_value_to_the_end(e in any_entry(), node in 1u16..) {
            let s = render(|s| write_status(&e, node, s));
            let lines = status_lines(&s).unwrap();
            prop_assert_eq!(lines[0].0, "Name");
            prop_assert_eq!(value(&lines, "Pid").parse::<u32>().unwrap(), e.pid);
            prop_assert_eq!(value(&lines, "PPid").parse::<u32>().unwrap(), e.ppid);
            prop_assert_eq!(value(&lines, "Threads").parse::<u16>().unwrap(), e.threads);
            prop_assert_eq!(value(&lines, "State").as_bytes()[0], e.state);
            prop_assert_eq!(value(&lines, "Node").parse::<u16>().unwrap(), node);
            prop_assert_eq!(lines.iter().any(|(k, _)| *k == "Home"), e.home_node != 0);
        }

        #[test]
        fn statm_and_comm_are_one_line(e in any_entry()) {
            let m = render(|s| write_statm(&e, s));
            prop_assert_eq!(m.trim_end().split(' ').filter(|f| f.parse::<u64>().is_ok()).count(), 7);
            let c = render(|s| write_comm(&e, s));
            prop_assert_eq!(c.into_bytes(), [shown(e.comm()), std::vec![b'\n']].concat());
        }
    }
}
