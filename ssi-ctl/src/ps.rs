//! `ssi-ctl ps`: every user process of the cluster, from `/proc/ssi/ps`.
//!
//! The module builds the file from the `ProcList` snapshots of every alive
//! node (issue 20): a header line, [`PS_HEADER`], then one line per
//! process in the format of `ssi_proto::procs::ProcLine`: fields separated
//! by one space, `comm` with spaces and control bytes shown as `?` (`-`
//! when empty), the command line the rest of the line (`-` when empty).
//! The header must be exactly this version's: a module that changes the
//! format changes the header, and ssi-ctl says so rather than guessing.
//!
//! User names come from `/etc/passwd` ([`parse_passwd`]): uids are the
//! same on every node (one root file system).

use serde::Serialize;
use ssi_proto::procs::{PS_HEADER, STATES};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::str::FromStr;

/// One line of `/proc/ssi/ps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcRow {
    /// The node that runs it.
    pub node: u16,
    /// Its pid there.
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    /// One of `ssi_proto::procs::STATES`.
    pub state: char,
    pub threads: u16,
    pub cpu_ms: u64,
    pub rss_kb: u64,
    /// Start time, seconds since the Unix epoch (its node's clock).
    pub start_s: u64,
    /// A process that migrated to `node`: its home node and its pid there.
    pub home: Option<Home>,
    /// Its name as the file shows it (`?` for spaces; empty if `-`).
    pub comm: String,
    /// Its command line (empty if `-`).
    pub cmd: String,
}

/// Where a migrated process's deputy keeps its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Home {
    pub node: u16,
    pub pid: u32,
}

/// A decimal number of digits only (no sign, no spaces).
fn num<T: FromStr>(line_no: usize, name: &str, s: &str) -> Result<T, String> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| s.parse().ok()).flatten().ok_or_else(|| format!("line {line_no}: {name} '{s}' is not a number"))
}

/// Parses one process line (`line_no` for errors).
fn parse_line(line_no: usize, line: &str) -> Result<ProcRow, String> {
    let columns = PS_HEADER.split(' ').count();
    let f: Vec<&str> = line.splitn(columns, ' ').collect();
    if f.len() != columns {
        return Err(format!("line {line_no}: expected {columns} fields ({PS_HEADER}), found {}", f.len()));
    }
    let state = match f[5].as_bytes() {
        [s] if STATES.contains(s) => char::from(*s),
        _ => return Err(format!("line {line_no}: state '{}' is not one of {}", f[5], String::from_utf8_lossy(STATES))),
    };
    let threads: u16 = num(line_no, "threads", f[6])?;
    if threads == 0 {
        return Err(format!("line {line_no}: threads is 0"));
    }
    let pid: u32 = num(line_no, "pid", f[1])?;
    if pid == 0 {
        return Err(format!("line {line_no}: pid is 0"));
    }
    let home = match (num::<u16>(line_no, "home_node", f[10])?, num::<u32>(line_no, "home_pid", f[11])?) {
        (0, 0) => None,
        (node, pid) if node != 0 && pid != 0 => Some(Home { node, pid }),
        (node, pid) => {
            return Err(format!("line {line_no}: home_node {node} and home_pid {pid}: both or neither must be 0"))
        }
    };
    let text = |s: &str, name: &str| match s {
        "" => Err(format!("line {line_no}: empty {name}")),
        "-" => Ok(String::new()),
        _ => Ok(s.to_string()),
    };
    Ok(ProcRow {
        node: num(line_no, "node", f[0])?,
        pid,
        ppid: num(line_no, "ppid", f[2])?,
        uid: num(line_no, "uid", f[3])?,
        gid: num(line_no, "gid", f[4])?,
        state,
        threads,
        cpu_ms: num(line_no, "cpu_ms", f[7])?,
        rss_kb: num(line_no, "rss_kb", f[8])?,
        start_s: num(line_no, "start_s", f[9])?,
        home,
        comm: text(f[12], "comm")?,
        cmd: text(f[13], "cmdline")?,
    })
}

/// Parses `/proc/ssi/ps`; the rows sorted by node, then pid.
pub fn parse(text: &str) -> Result<Vec<ProcRow>, String> {
    let mut lines = text.lines();
    match lines.next() {
        Some(h) if h == PS_HEADER => {}
        Some(h) => return Err(format!("line 1: header '{h}' is not '{PS_HEADER}' (ssi-ctl and ssi.ko differ?)")),
        None => return Err(format!("empty file: no header '{PS_HEADER}'")),
    }
    let mut rows = lines.enumerate().map(|(i, l)| parse_line(i + 2, l)).collect::<Result<Vec<_>, _>>()?;
    rows.sort_by_key(|r| (r.node, r.pid));
    Ok(rows)
}

/// User names by uid, from the text of `/etc/passwd` (`name:pw:uid:...`).
/// Comments, blank and malformed lines are skipped; the first name of a
/// uid wins, as with getpwuid.
pub fn parse_passwd(text: &str) -> HashMap<u32, String> {
    let mut users = HashMap::new();
    for line in text.lines() {
        let mut f = line.split(':');
        let (Some(name), Some(_), Some(uid)) = (f.next(), f.next(), f.next()) else { continue };
        if name.is_empty() || name.starts_with(['#', '+', '-']) {
            continue;
        }
        if let Ok(uid) = uid.parse::<u32>() {
            users.entry(uid).or_insert_with(|| name.to_string());
        }
    }
    users
}

/// The user name of `uid`, or the number if `/etc/passwd` has none.
fn user_of(users: &HashMap<u32, String>, uid: u32) -> String {
    users.get(&uid).cloned().unwrap_or_else(|| uid.to_string())
}

/// CPU time as `ps` shows it: minutes and seconds, `M:SS`.
fn cpu_time(cpu_ms: u64) -> String {
    let s = cpu_ms / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

/// The table `ssi-ctl ps` prints: a header line, then one aligned row per
/// process, in the order of `rows`.
pub fn table(rows: &[ProcRow], users: &HashMap<u32, String>) -> String {
    const HEADER: [&str; 9] = ["NODE", "PID", "PPID", "USER", "STAT", "TIME", "RSS", "HOME", "CMD"];
    // Right-aligned: the numbers and TIME.
    const RIGHT: [bool; 9] = [true, true, true, false, false, true, true, false, false];
    let mut cells: Vec<[String; 9]> = vec![HEADER.map(String::from)];
    cells.extend(rows.iter().map(|r| {
        [
            r.node.to_string(),
            r.pid.to_string(),
            r.ppid.to_string(),
            user_of(users, r.uid),
            r.state.to_string(),
            cpu_time(r.cpu_ms),
            r.rss_kb.to_string(),
            r.home.map_or_else(|| "-".to_string(), |h| format!("{}/{}", h.node, h.pid)),
            if r.cmd.is_empty() { format!("[{}]", r.comm) } else { r.cmd.clone() },
        ]
    }));
    let mut widths = [0usize; 9];
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut s = String::new();
    for row in &cells {
        let mut line = String::new();
        for (i, c) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let _ = match (i == 8, RIGHT[i]) {
                (true, _) => write!(line, "{c}"),
                (false, true) => write!(line, "{c:>w$}", w = widths[i]),
                (false, false) => write!(line, "{c:<w$}", w = widths[i]),
            };
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

/// One process in `ssi-ctl ps --json`.
#[derive(Serialize)]
struct ProcJson<'a> {
    node: u16,
    pid: u32,
    ppid: u32,
    uid: u32,
    user: String,
    state: String,
    threads: u16,
    cpu_ms: u64,
    rss_kb: u64,
    start_s: u64,
    home: Option<Home>,
    comm: &'a str,
    cmd: &'a str,
}

/// `ssi-ctl ps --json`: an array of one object per process, in the order
/// of `rows`.
pub fn json(rows: &[ProcRow], users: &HashMap<u32, String>) -> String {
    let items: Vec<ProcJson> = rows
        .iter()
        .map(|r| ProcJson {
            node: r.node,
            pid: r.pid,
            ppid: r.ppid,
            uid: r.uid,
            user: user_of(users, r.uid),
            state: r.state.to_string(),
            threads: r.threads,
            cpu_ms: r.cpu_ms,
            rss_kb: r.rss_kb,
            start_s: r.start_s,
            home: r.home,
            comm: &r.comm,
            cmd: &r.cmd,
        })
        .collect();
    serde_json::to_string(&items).expect("plain data serializes to JSON")
}

/// The row of process `pid` in the listing: the process that runs as
/// `pid` (node `own`'s first: pids below the node ranges, such as those of
/// processes started at boot, repeat on every node), or else the one whose
/// home pid is `pid` (its deputy's, on its home node). Either may be the
/// same process (a pid kept across migrations); nothing assumes it.
pub fn locate(rows: &[ProcRow], pid: u32, own: Option<u16>) -> Option<&ProcRow> {
    rows.iter()
        .find(|r| r.pid == pid && Some(r.node) == own)
        .or_else(|| rows.iter().find(|r| r.pid == pid))
        .or_else(|| rows.iter().find(|r| r.home.is_some_and(|h| h.pid == pid)))
}

/// Where process `pid` (found as `row`) runs, in one line.
pub fn where_line(pid: u32, row: &ProcRow) -> String {
    let home = row.home.map_or(row.node, |h| h.node);
    if row.pid == pid {
        format!("pid {pid} runs on node {} (home node {home})", row.node)
    } else {
        format!("pid {pid} runs on node {} as pid {} (home node {home})", row.node, row.pid)
    }
}

/// `ssi-ctl where --json`.
#[derive(Serialize)]
struct WhereJson<'a> {
    /// The pid asked about.
    pid: u32,
    /// The node that runs it, and its pid there.
    node: u16,
    node_pid: u32,
    /// Its home node and its pid there (the running node's own if it
    /// never migrated).
    home_node: u16,
    home_pid: u32,
    migrated: bool,
    uid: u32,
    comm: &'a str,
}

/// `ssi-ctl where --json`: one object.
pub fn where_json(pid: u32, row: &ProcRow) -> String {
    let (home_node, home_pid) = row.home.map_or((row.node, row.pid), |h| (h.node, h.pid));
    let w = WhereJson {
        pid,
        node: row.node,
        node_pid: row.pid,
        home_node,
        home_pid,
        migrated: row.home.is_some(),
        uid: row.uid,
        comm: &row.comm,
    };
    serde_json::to_string(&w).expect("plain data serializes to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// As the module prints it: node 2's lines before node 1's, a process
    /// migrated from node 1 (its pid 812 there) running on node 2 as 377,
    /// a zombie with no command line, a comm with a space (`?`).
    const SAMPLE: &str = "\
node pid ppid uid gid state threads cpu_ms rss_kb start_s home_node home_pid comm cmdline
2 377 2 1000 1000 R 1 754321 20480 1700000100 1 812 ssi-wl-count /opt/ssi/ssi-wl-count --to  60
2 90 1 0 0 S 4 1500 5120 1700000000 0 0 sshd sshd: /usr/sbin/sshd -D
1 4242 1 65534 65534 Z 1 0 0 1700000050 0 0 my?tool -
1 300 1 0 0 S 1 61000 3000 1700000010 0 0 bash -bash
";

    const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/bash
# a comment

broken line
+nisuser::::::
alice:x:1000:1000:Alice,,,:/home/alice:/bin/sh
alias:x:1000:1000::/home/alias:/bin/sh
nouid:x:abc:1::/:/bin/sh
";

    fn users() -> HashMap<u32, String> {
        parse_passwd(PASSWD)
    }

    #[test]
    fn parses_sample_sorted_by_node_then_pid() {
        let rows = parse(SAMPLE).unwrap();
        let keys: Vec<(u16, u32)> = rows.iter().map(|r| (r.node, r.pid)).collect();
        assert_eq!(keys, [(1, 300), (1, 4242), (2, 90), (2, 377)]);
        let migrated = &rows[3];
        assert_eq!(
            *migrated,
            ProcRow {
                node: 2,
                pid: 377,
                ppid: 2,
                uid: 1000,
                gid: 1000,
                state: 'R',
                threads: 1,
                cpu_ms: 754321,
                rss_kb: 20480,
                start_s: 1700000100,
                home: Some(Home { node: 1, pid: 812 }),
                comm: "ssi-wl-count".into(),
                // The rest of the line, spaces kept.
                cmd: "/opt/ssi/ssi-wl-count --to  60".into(),
            }
        );
        let zombie = &rows[1];
        assert_eq!((zombie.state, zombie.comm.as_str(), zombie.cmd.as_str(), zombie.home), ('Z', "my?tool", "", None));
        assert_eq!((rows[2].threads, rows[2].cmd.as_str()), (4, "sshd: /usr/sbin/sshd -D"));
    }

    #[test]
    fn locate_by_running_pid_then_home_pid() {
        let rows = parse(SAMPLE).unwrap();
        // Runs as 377 on node 2; its home is node 1, pid 812.
        let by_there = locate(&rows, 377, None).unwrap();
        assert_eq!((by_there.node, by_there.pid), (2, 377));
        assert_eq!(where_line(377, by_there), "pid 377 runs on node 2 (home node 1)");
        let by_home = locate(&rows, 812, None).unwrap();
        assert_eq!((by_home.node, by_home.pid), (2, 377));
        assert_eq!(where_line(812, by_home), "pid 812 runs on node 2 as pid 377 (home node 1)");
        let local = locate(&rows, 300, None).unwrap();
        assert_eq!(where_line(300, local), "pid 300 runs on node 1 (home node 1)");
        assert!(locate(&rows, 9999, None).is_none());
        // A pid kept across migrations: the same row either way.
        let kept = parse(&format!("{PS_HEADER}\n3 131074 1 0 0 S 1 0 0 0 2 131074 c c\n")).unwrap();
        assert_eq!(where_line(131074, locate(&kept, 131074, None).unwrap()), "pid 131074 runs on node 3 (home node 2)");
        // A running pid wins over another process's home pid.
        let both = parse(&format!("{PS_HEADER}\n3 70 1 0 0 S 1 0 0 0 2 5 a a\n2 5 1 0 0 S 1 0 0 0 0 0 b b\n")).unwrap();
        assert_eq!(locate(&both, 5, None).map(|r| (r.node, r.pid)), Some((2, 5)));
        // A boot-time pid on every node: this node's.
        let boot =
            parse(&format!("{PS_HEADER}\n1 1 0 0 0 S 1 0 0 0 0 0 init init\n2 1 0 0 0 S 1 0 0 0 0 0 init init\n")).unwrap();
        assert_eq!(locate(&boot, 1, Some(2)).map(|r| r.node), Some(2));
        assert_eq!(locate(&boot, 1, Some(3)).map(|r| r.node), Some(1));
    }

    #[test]
    fn where_json_has_its_fields() {
        let rows = parse(SAMPLE).unwrap();
        let v: Value = serde_json::from_str(&where_json(812, locate(&rows, 812, None).unwrap())).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"pid": 812, "node": 2, "node_pid": 377, "home_node": 1, "home_pid": 812,
                               "migrated": true, "uid": 1000, "comm": "ssi-wl-count"})
        );
        let v: Value = serde_json::from_str(&where_json(300, locate(&rows, 300, None).unwrap())).unwrap();
        assert_eq!(
            (&v["node"], &v["home_node"], &v["home_pid"], &v["migrated"]),
            (&1.into(), &1.into(), &300.into(), &false.into())
        );
    }

    #[test]
    fn header_only_is_no_process() {
        assert_eq!(parse(&format!("{PS_HEADER}\n")).unwrap(), []);
    }

    #[test]
    fn bad_header_is_refused() {
        let err = parse("node pid ppid uid gid state threads cpu_ms rss_kb start_s comm cmdline\n").unwrap_err();
        assert!(err.starts_with("line 1: header"), "{err}");
        assert!(parse(&format!("{PS_HEADER} extra\n")).unwrap_err().starts_with("line 1: header"));
        assert!(parse("").unwrap_err().contains("no header"));
    }

    #[test]
    fn malformed_lines_name_their_line() {
        let bad =
            |line: &str| parse(&format!("{PS_HEADER}\n1 5 1 0 0 S 1 0 0 0 0 0 init /sbin/init\n{line}\n")).unwrap_err();
        let err = bad("1 6 1 0 0 S 1 0 0 0 0 0 short");
        assert!(err.starts_with("line 3: expected 14 fields"), "{err}");
        assert!(bad("1 x 1 0 0 S 1 0 0 0 0 0 a b").starts_with("line 3: pid 'x'"));
        assert!(bad("1 +6 1 0 0 S 1 0 0 0 0 0 a b").starts_with("line 3: pid '+6'"));
        assert!(bad("70000 6 1 0 0 S 1 0 0 0 0 0 a b").starts_with("line 3: node '70000'"));
        assert!(bad("1 6 1 0 0 Q 1 0 0 0 0 0 a b").starts_with("line 3: state 'Q'"));
        assert!(bad("1 6 1 0 0 SS 1 0 0 0 0 0 a b").starts_with("line 3: state 'SS'"));
        assert!(bad("1 6 1 0 0 S 0 0 0 0 0 0 a b").starts_with("line 3: threads is 0"));
        assert!(bad("1 0 1 0 0 S 1 0 0 0 0 0 a b").starts_with("line 3: pid is 0"));
        assert!(bad("1 6 1 0 0 S 1 0 0 0 2 0 a b").contains("both or neither"));
        // Two spaces: an empty field.
        assert!(bad("1 6 1 0 0  S 1 0 0 0 0 0 a b").starts_with("line 3:"));
        assert!(bad("1 6 1 0 0 S 1 0 0 0 0 0 a ").starts_with("line 3: empty cmdline"));
        assert!(bad("").starts_with("line 3: expected 14 fields"));
    }

    #[test]
    fn passwd_names_by_uid() {
        let u = users();
        assert_eq!(u.get(&0).map(String::as_str), Some("root"));
        // The first name of a uid wins.
        assert_eq!(u.get(&1000).map(String::as_str), Some("alice"));
        assert_eq!(u.len(), 2);
        assert_eq!(user_of(&u, 65534), "65534");
        assert!(parse_passwd("").is_empty());
    }

    #[test]
    fn cpu_time_is_minutes_and_seconds() {
        assert_eq!(cpu_time(0), "0:00");
        assert_eq!(cpu_time(999), "0:00");
        assert_eq!(cpu_time(61_000), "1:01");
        assert_eq!(cpu_time(754_321), "12:34");
        assert_eq!(cpu_time(6_000_000), "100:00");
    }

    #[test]
    fn table_is_aligned_and_sorted() {
        let t = table(&parse(SAMPLE).unwrap(), &users());
        let expected = "\
NODE   PID  PPID  USER   STAT   TIME    RSS  HOME   CMD
   1   300     1  root   S      1:01   3000  -      -bash
   1  4242     1  65534  Z      0:00      0  -      [my?tool]
   2    90     1  root   S      0:01   5120  -      sshd: /usr/sbin/sshd -D
   2   377     2  alice  R     12:34  20480  1/812  /opt/ssi/ssi-wl-count --to  60
";
        assert_eq!(t, expected);
        assert_eq!(table(&[], &users()), "NODE  PID  PPID  USER  STAT  TIME  RSS  HOME  CMD\n");
    }

    #[test]
    fn json_has_every_key() {
        let v: Value = serde_json::from_str(&json(&parse(SAMPLE).unwrap(), &users())).unwrap();
        let items = v.as_array().unwrap();
        assert_eq!(items.len(), 4);
        let keys: Vec<&str> = items[0].as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected =
            ["node", "pid", "ppid", "uid", "user", "state", "threads", "cpu_ms", "rss_kb", "start_s", "home", "comm", "cmd"];
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        expected.sort_unstable();
        assert_eq!(sorted, expected);
        let m = &items[3];
        assert_eq!(m["node"], 2);
        assert_eq!(m["pid"], 377);
        assert_eq!(m["ppid"], 2);
        assert_eq!(m["uid"], 1000);
        assert_eq!(m["user"], "alice");
        assert_eq!(m["state"], "R");
        assert_eq!(m["threads"], 1);
        assert_eq!(m["cpu_ms"], 754321);
        assert_eq!(m["rss_kb"], 20480);
        assert_eq!(m["start_s"], 1700000100u64);
        assert_eq!(m["home"], serde_json::json!({"node": 1, "pid": 812}));
        assert_eq!(m["comm"], "ssi-wl-count");
        assert_eq!(m["cmd"], "/opt/ssi/ssi-wl-count --to  60");
        let z = &items[1];
        assert_eq!(
            (&z["pid"], &z["user"], &z["home"], &z["comm"], &z["cmd"]),
            (&4242.into(), &"65534".into(), &Value::Null, &"my?tool".into(), &"".into())
        );
        assert_eq!(json(&[], &users()), "[]");
    }
}
