//! `ssi-ctl migrations`: what `/proc/ssi/migrations` says (recent
//! migrations, deputies, lenders, hosted processes), parsed by the column
//! names of each table's header line.
//!
//! The file (`MigrationsFile::show` in migration/mod.rs) is a table of
//! recent migrations, then for deputies, lenders and hosted processes a
//! `NAME: COUNT` line and a table. The module may add columns later: a
//! column this version does not know is kept, as text, in `extra`; a table
//! it does not know is skipped.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::str::FromStr;

/// Columns this version of ssi-ctl does not know: name to text.
pub type Extra = BTreeMap<String, String>;

/// Everything `/proc/ssi/migrations` holds.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct Migrations {
    /// Recent migrations, newest first.
    pub migrations: Vec<MigrationRow>,
    /// Processes of this node that run on another node (their deputies).
    pub deputies: Vec<DeputyRow>,
    /// Migrations whose memory this node still serves (post-copy, lazy).
    pub lenders: Vec<LenderRow>,
    /// Processes of other nodes running here.
    pub hosted: Vec<HostedRow>,
}

/// One recent migration.
#[derive(Debug, PartialEq, Serialize)]
pub struct MigrationRow {
    /// The migration's id (16 hex digits).
    pub id: String,
    /// `out` (from this node) or `in`.
    pub dir: String,
    /// The process here (source: before; destination: after).
    pub pid: u32,
    /// The other node.
    pub peer: u16,
    pub strategy: String,
    pub state: String,
    pub bytes: u64,
    pub rounds: u32,
    pub frozen_us: u64,
    pub total_us: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A deputy: a process of this node running elsewhere.
#[derive(Debug, PartialEq, Serialize)]
pub struct DeputyRow {
    /// Its pid here.
    pub pid: u32,
    /// Its home id (16 hex digits).
    pub home_id: String,
    /// Where it runs, and its pid there.
    pub node: u16,
    pub pid_there: u32,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Memory this node lends to a post-copy or lazy migration.
#[derive(Debug, PartialEq, Serialize)]
pub struct LenderRow {
    /// The migration's id (16 hex digits).
    pub id: String,
    /// The node the process runs on.
    pub node: u16,
    pub pages_sent: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A process of another node running here.
#[derive(Debug, PartialEq, Serialize)]
pub struct HostedRow {
    /// Its pid here.
    pub pid: u32,
    /// Its home id (16 hex digits).
    pub home_id: String,
    /// Its home node and its pid there.
    pub home: u16,
    pub home_pid: u32,
    pub state: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One line of a table, read by column name.
struct Row<'a> {
    line: usize,
    columns: &'a [&'a str],
    fields: Vec<&'a str>,
}

impl Row<'_> {
    fn get(&self, name: &str) -> Result<&str, String> {
        self.columns
            .iter()
            .position(|c| *c == name)
            .map(|i| self.fields[i])
            .ok_or_else(|| format!("line {}: no column '{name}' in the table's header", self.line))
    }

    fn text(&self, name: &str) -> Result<String, String> {
        self.get(name).map(str::to_string)
    }

    fn num<T: FromStr>(&self, name: &str) -> Result<T, String> {
        let s = self.get(name)?;
        s.parse().map_err(|_| format!("line {}: {name} '{s}' is not a number", self.line))
    }

    /// An id: hexadecimal digits (up to 64 bits), kept as written.
    fn hex(&self, name: &str) -> Result<String, String> {
        let s = self.get(name)?;
        u64::from_str_radix(s, 16)
            .map(|_| s.to_string())
            .map_err(|_| format!("line {}: {name} '{s}' is not a hexadecimal id", self.line))
    }

    /// The columns not in `known`, by name.
    fn extra(&self, known: &[&str]) -> Extra {
        let mut extra = Extra::new();
        for (c, f) in self.columns.iter().zip(&self.fields) {
            if !known.contains(c) {
                extra.entry(c.to_string()).or_insert_with(|| f.to_string());
            }
        }
        extra
    }
}

/// `NAME: COUNT`, the line before each table but the first: NAME.
fn table_label(line: &str) -> Option<&str> {
    let (name, count) = line.trim().split_once(':')?;
    let named = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (named && count.trim().parse::<u64>().is_ok()).then_some(name)
}

/// Parses `/proc/ssi/migrations`.
pub fn parse(text: &str) -> Result<Migrations, String> {
    let mut out = Migrations::default();
    let mut table = "migrations";
    let mut header: Option<Vec<&str>> = None;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(name) = table_label(line) {
            table = name;
            header = None;
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(columns) = &header else {
            header = Some(fields);
            continue;
        };
        if fields.len() != columns.len() {
            return Err(format!(
                "line {line_no}: expected {} columns ({}), found {}",
                columns.len(),
                columns.join(" "),
                fields.len()
            ));
        }
        let r = Row { line: line_no, columns, fields };
        match table {
            "migrations" => out.migrations.push(MigrationRow {
                id: r.hex("id")?,
                dir: r.text("dir")?,
                pid: r.num("pid")?,
                peer: r.num("peer")?,
                strategy: r.text("strategy")?,
                state: r.text("state")?,
                bytes: r.num("bytes")?,
                rounds: r.num("rounds")?,
                frozen_us: r.num("frozen_us")?,
                total_us: r.num("total_us")?,
                extra: r.extra(&[
                    "id",
                    "dir",
                    "pid",
                    "peer",
                    "strategy",
                    "state",
                    "bytes",
                    "rounds",
                    "frozen_us",
                    "total_us",
                ]),
            }),
            "deputies" => out.deputies.push(DeputyRow {
                pid: r.num("pid")?,
                home_id: r.hex("home_id")?,
                node: r.num("node")?,
                pid_there: r.num("pid_there")?,
                extra: r.extra(&["pid", "home_id", "node", "pid_there"]),
            }),
            "lenders" => out.lenders.push(LenderRow {
                id: r.hex("id")?,
                node: r.num("node")?,
                pages_sent: r.num("pages_sent")?,
                extra: r.extra(&["id", "node", "pages_sent"]),
            }),
            "hosted" => out.hosted.push(HostedRow {
                pid: r.num("pid")?,
                home_id: r.hex("home_id")?,
                home: r.num("home")?,
                home_pid: r.num("home_pid")?,
                state: r.text("state")?,
                extra: r.extra(&["pid", "home_id", "home", "home_pid", "state"]),
            }),
            // A table this version does not know.
            _ => {}
        }
    }
    Ok(out)
}

/// Unknown columns, as ` name=value` each (nothing if none).
fn extra_text(extra: &Extra) -> String {
    extra.iter().fold(String::new(), |mut s, (k, v)| {
        let _ = write!(s, " {k}={v}");
        s
    })
}

/// The tables `ssi-ctl migrations` prints.
pub fn table(m: &Migrations) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "recent migrations (newest first): {}", m.migrations.len());
    if !m.migrations.is_empty() {
        let _ = writeln!(
            s,
            "{:<16} {:>3} {:>7} {:>4} {:<8} {:<13} {:>12} {:>6} {:>10} {:>10}",
            "ID", "DIR", "PID", "PEER", "STRATEGY", "STATE", "BYTES", "ROUNDS", "FROZEN us", "TOTAL us"
        );
    }
    for r in &m.migrations {
        let _ = writeln!(
            s,
            "{:<16} {:>3} {:>7} {:>4} {:<8} {:<13} {:>12} {:>6} {:>10} {:>10}{}",
            r.id,
            r.dir,
            r.pid,
            r.peer,
            r.strategy,
            r.state,
            r.bytes,
            r.rounds,
            r.frozen_us,
            r.total_us,
            extra_text(&r.extra)
        );
    }
    let _ = writeln!(s, "\ndeputies (processes of this node running on another): {}", m.deputies.len());
    if !m.deputies.is_empty() {
        let _ = writeln!(s, "{:>7} {:<16} {:>4} {:>9}", "PID", "HOME ID", "NODE", "PID THERE");
    }
    for d in &m.deputies {
        let _ = writeln!(s, "{:>7} {:<16} {:>4} {:>9}{}", d.pid, d.home_id, d.node, d.pid_there, extra_text(&d.extra));
    }
    let _ = writeln!(s, "\nlenders (memory this node serves to post-copy and lazy migrations): {}", m.lenders.len());
    if !m.lenders.is_empty() {
        let _ = writeln!(s, "{:<16} {:>4} {:>10}", "ID", "NODE", "PAGES SENT");
    }
    for l in &m.lenders {
        let _ = writeln!(s, "{:<16} {:>4} {:>10}{}", l.id, l.node, l.pages_sent, extra_text(&l.extra));
    }
    let _ = writeln!(s, "\nhosted (processes of other nodes running here): {}", m.hosted.len());
    if !m.hosted.is_empty() {
        let _ = writeln!(s, "{:>7} {:<16} {:>4} {:>8} {:<10}", "PID", "HOME ID", "HOME", "HOME PID", "STATE");
    }
    for h in &m.hosted {
        let _ = writeln!(
            s,
            "{:>7} {:<16} {:>4} {:>8} {:<10}{}",
            h.pid,
            h.home_id,
            h.home,
            h.home_pid,
            h.state,
            extra_text(&h.extra)
        );
    }
    s.lines().map(|l| format!("{}\n", l.trim_end())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As `MigrationsFile::show` prints it.
    const SAMPLE: &str = "\
id               dir     pid peer strategy state             bytes rounds  frozen_us   total_us
0000000200000007 out    4242    2 precopy  done           17039360      3      41210     702113
0000000100000003  in     311    1 eager    ended            532480      0       1200       9000
deputies: 1
    pid home_id          node pid_there
   4242 0000000200000007    2     377
lenders: 1
id               node pages_sent
0000000200000009    3       1024
hosted: 1
    pid home_id          home home_pid state     \n\
    311 0000000100000003    1      998 running   \n\
";

    #[test]
    fn parses_every_table() {
        let m = parse(SAMPLE).unwrap();
        assert_eq!(m.migrations.len(), 2);
        let r = &m.migrations[0];
        assert_eq!(
            (r.id.as_str(), r.dir.as_str(), r.pid, r.peer, r.strategy.as_str(), r.state.as_str()),
            ("0000000200000007", "out", 4242, 2, "precopy", "done")
        );
        assert_eq!((r.bytes, r.rounds, r.frozen_us, r.total_us), (17039360, 3, 41210, 702113));
        assert!(r.extra.is_empty());
        assert_eq!(m.migrations[1].dir, "in");
        assert_eq!(
            m.deputies,
            vec![DeputyRow { pid: 4242, home_id: "0000000200000007".into(), node: 2, pid_there: 377, extra: Extra::new() }]
        );
        assert_eq!(
            m.lenders,
            vec![LenderRow { id: "0000000200000009".into(), node: 3, pages_sent: 1024, extra: Extra::new() }]
        );
        assert_eq!(
            m.hosted,
            vec![HostedRow {
                pid: 311,
                home_id: "0000000100000003".into(),
                home: 1,
                home_pid: 998,
                state: "running".into(),
                extra: Extra::new()
            }]
        );
    }

    #[test]
    fn unknown_columns_are_kept_and_columns_found_by_name() {
        // A later module adds `cpu_us` in the middle of the history and
        // `faults` to the lenders, and moves columns around.
        let text = "\
state id               dir     pid peer strategy  cpu_us     bytes rounds  frozen_us   total_us
done  00000002000000aa out     10    3 lazy          77      4096      0          5         50
deputies: 0
    pid home_id          node pid_there
lenders: 1
id               node pages_sent faults
0000000200000009    3       1024      6
hosted: 0
    pid home_id          home home_pid state
";
        let m = parse(text).unwrap();
        let r = &m.migrations[0];
        assert_eq!(
            (r.id.as_str(), r.state.as_str(), r.strategy.as_str(), r.total_us),
            ("00000002000000aa", "done", "lazy", 50)
        );
        assert_eq!(r.extra, Extra::from([("cpu_us".to_string(), "77".to_string())]));
        assert_eq!(m.lenders[0].extra, Extra::from([("faults".to_string(), "6".to_string())]));
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(
            json,
            "{\"migrations\":[{\"id\":\"00000002000000aa\",\"dir\":\"out\",\"pid\":10,\"peer\":3,\"strategy\":\"lazy\",\
             \"state\":\"done\",\"bytes\":4096,\"rounds\":0,\"frozen_us\":5,\"total_us\":50,\"cpu_us\":\"77\"}],\
             \"deputies\":[],\"lenders\":[{\"id\":\"0000000200000009\",\"node\":3,\"pages_sent\":1024,\"faults\":\"6\"}],\
             \"hosted\":[]}"
        );
        assert!(table(&m).contains(" cpu_us=77"));
    }

    #[test]
    fn unknown_tables_are_skipped() {
        let text = "id dir pid peer strategy state bytes rounds frozen_us total_us\n\
                    groups: 2\nname size\na 1\nb 2\nhosted: 0\npid home_id home home_pid state\n";
        let m = parse(text).unwrap();
        assert_eq!(m, Migrations::default());
    }

    #[test]
    fn json_has_numbers_as_numbers_and_ids_as_strings() {
        let m = parse(SAMPLE).unwrap();
        let v: serde_json::Value = serde_json::to_value(&m).unwrap();
        assert_eq!(v["migrations"][0]["id"], "0000000200000007");
        assert_eq!(v["migrations"][0]["bytes"], 17039360);
        assert_eq!(v["migrations"][1]["frozen_us"], 1200);
        assert_eq!(v["deputies"][0]["home_id"], "0000000200000007");
        assert_eq!(v["deputies"][0]["pid_there"], 377);
        assert_eq!(v["lenders"][0]["pages_sent"], 1024);
        assert_eq!(v["hosted"][0]["state"], "running");
        assert_eq!(v["hosted"][0]["home_pid"], 998);
    }

    #[test]
    fn empty_file_parts() {
        let text = "id dir pid peer strategy state bytes rounds frozen_us total_us\ndeputies: 0\n\
                    pid home_id node pid_there\nlenders: 0\nid node pages_sent\nhosted: 0\npid home_id home home_pid state\n";
        assert_eq!(parse(text).unwrap(), Migrations::default());
        assert_eq!(parse("").unwrap(), Migrations::default());
        let t = table(&Migrations::default());
        assert!(t.contains("recent migrations (newest first): 0"));
        assert!(t.contains("hosted (processes of other nodes running here): 0"));
    }

    #[test]
    fn malformed_rows_are_refused() {
        let h = "id dir pid peer strategy state bytes rounds frozen_us total_us\n";
        assert!(parse(&format!("{h}0000000000000001 out 1 2 eager done 3 4 5\n"))
            .unwrap_err()
            .contains("line 2: expected 10 columns"));
        assert!(parse(&format!("{h}0000000000000001 out x 2 eager done 3 4 5 6\n")).unwrap_err().contains("pid 'x'"));
        assert!(parse(&format!("{h}zz out 1 2 eager done 3 4 5 6\n")).unwrap_err().contains("hexadecimal"));
        // A column this version needs is gone.
        let err = parse("id dir pid peer strategy state bytes rounds total_us\n1 out 1 2 eager done 3 4 6\n").unwrap_err();
        assert!(err.contains("no column 'frozen_us'"), "{err}");
    }

    #[test]
    fn table_shows_every_part() {
        let m = parse(SAMPLE).unwrap();
        let t = table(&m);
        assert!(t.contains("recent migrations (newest first): 2"));
        assert!(t.contains("0000000200000007 out    4242    2 precopy  done"));
        assert!(t.contains("deputies (processes of this node running on another): 1"));
        assert!(t.contains("   4242 0000000200000007    2       377"));
        assert!(t.contains("lenders (memory this node serves to post-copy and lazy migrations): 1"));
        assert!(t.contains("    311 0000000100000003    1      998 running"));
    }
}
