//! ssi-ctl: the operator's tool for an ssi cluster.
//!
//! It talks to the local ssi.ko through its files: `/proc/ssi/*` to read,
//! `/sys/kernel/config/ssi/*` to read and set configuration, `/dev/ssi`
//! for requests (checkpoint, restart, migrate, ha).

mod chain;
mod checkpoint;
mod ha;
mod keep_pid;
mod migrations;
mod pager;
mod ps;
mod scheduler;
mod sysfs;

use checkpoint::Strategy;
use clap::{Parser, Subcommand};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use std::process::ExitCode;
use sysfs::{CtlError, Node, NodeRow, PeerRow, Status, CONFIG_KEYS};

#[derive(Parser)]
#[command(name = "ssi-ctl", version = ssi_proto::version::RELEASE, about = "Inspect and configure an ssi cluster node")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show whether ssi.ko is loaded, its version, this node's identity and the cluster's size.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List every node this node knows, with its state and resources.
    Nodes {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Read or change a setting (node_id, address, port, seeds, secret, heartbeat_ms, dead_after_ms, enabled, ctl_path, ps_refresh_ms, merged_proc).
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Save a running process to an image file (root or the process's owner).
    Checkpoint {
        /// The process.
        pid: u32,
        /// The image file (created 0600); default PID.ssi-img.
        #[arg(short = 'o', long = "output")]
        output: Option<std::path::PathBuf>,
        /// Kill the process once its image is written (without it, the process goes on).
        #[arg(long)]
        kill: bool,
    },
    /// Become the process saved in an image (root or the image's owner); exits with its status.
    Restart {
        /// The image file (with --check: one or more).
        #[arg(required_unless_present = "migration")]
        files: Vec<std::path::PathBuf>,
        /// Only check, in the module, that this node can restart it (nothing changes).
        #[arg(long, conflicts_with = "node")]
        check: bool,
        /// Restart it on node N (through krpc; the image must be on the shared file system).
        #[arg(long, value_name = "N")]
        node: Option<u16>,
        /// (Internal) the remote restart this process carries out.
        #[arg(long, hide = true, requires = "as_uid")]
        token: Option<u32>,
        /// (Internal) the user who asked for the remote restart.
        #[arg(long, hide = true)]
        as_uid: Option<u32>,
        /// (Internal) restart the incoming migration of --token (its image is in the module).
        #[arg(long, hide = true, requires = "token")]
        migration: bool,
        /// (Internal) post-copy or lazy: the memory comes after the restore (a page server fetches it).
        #[arg(long, hide = true, requires = "migration", value_name = "STRATEGY", value_parser = ["postcopy", "lazy"])]
        pages_later: Option<String>,
        /// (Internal) the migrating process's cluster-wide pid, which it keeps here.
        #[arg(long, hide = true, requires = "migration", value_name = "PID")]
        keep_pid: Option<u32>,
    },
    /// Move a running process to another node (root or the process's owner); it goes on there.
    ///
    /// PID is any pid the cluster listing shows (`ssi-ctl where PID`): a process this node runs, one
    /// another node runs, or a migrated process's home pid. Another node checks the permission by uid.
    Migrate {
        /// The process (its pid where it runs, or its home pid).
        pid: u32,
        /// The node it moves to.
        node: u16,
        /// How it moves.
        #[arg(long, value_enum, default_value_t = Strategy::Eager)]
        strategy: Strategy,
    },
    /// Show recent migrations, this node's deputies, the memory it lends (post-copy, lazy) and the processes it runs for other nodes.
    Migrations {
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// List every user process of the cluster's alive nodes: node, pid, parent, user, state, CPU time, memory, home, command.
    Ps {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Say which node runs a process of the cluster (by its pid there or its home pid).
    Where {
        /// The process.
        pid: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check a checkpoint image and say what it holds.
    Image {
        /// The image file.
        file: std::path::PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also list the mappings and page runs.
        #[arg(long)]
        maps: bool,
    },
    /// Show krpc counters (frames, bytes, connections, refused and dropped input) and per-peer traffic and RTT.
    Stats {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show the cluster-wide scheduler configuration (parameters by part, schedulers), or change it (root).
    ///
    /// A change made on any node is in force on every node (docs/scheduler.md).
    #[command(args_conflicts_with_subcommands = true)]
    Scheduler {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<scheduler::SchedulerAction>,
    },
    /// Balance the cluster's load: `on` installs the default preset on every node, `off` removes it,
    /// `status` shows what the scheduler does.
    Balance {
        #[command(subcommand)]
        action: scheduler::BalanceAction,
    },
    /// Keep a process where it runs, or move it to NODE and keep it there: no policy moves it or
    /// its descendants on its node (root; cluster-wide).
    Pin {
        /// The process (its cluster-wide pid).
        pid: u32,
        /// The node it stays on (migrated there first if it runs elsewhere).
        node: Option<u16>,
    },
    /// Let the policies move a pinned process again (root; cluster-wide).
    Unpin {
        /// The process.
        pid: u32,
    },
    /// High availability: `on` protects a process (a checkpoint every interval, restarted from the
    /// newest one on another node if its node is lost), `off` stops, `status` shows this node's.
    Ha {
        #[command(subcommand)]
        action: ha::HaAction,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Print a setting.
    Get { key: String },
    /// Change a setting (root only).
    Set { key: String, value: String },
    /// Print every readable setting.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let node = Node::from_env();
    run(&node, cli.command)
}

/// Carries out `command`; the process's exit code.
fn run(node: &Node, command: Command) -> ExitCode {
    let result = match command {
        Command::Status { json } => status(node, json),
        Command::Nodes { json } => nodes(node, json),
        Command::Config { action } => config(node, action),
        Command::Stats { json } => stats(node, json),
        Command::Migrations { json } => migrations(node, json),
        Command::Ps { json } => ps(node, json),
        Command::Scheduler { json, action: None } => scheduler::show(node, json),
        Command::Scheduler { action: Some(action), .. } => scheduler::run(node, action),
        Command::Balance { action } => scheduler::balance(node, action),
        Command::Pin { pid, node: to } => pin(node, pid, to),
        Command::Unpin { pid } => scheduler::unpin(node, pid),
        Command::Ha { action } => ha::run(node, action),
        Command::Checkpoint { pid, output, kill } => checkpoint::checkpoint(node.root(), pid, output, kill),
        Command::Image { file, json, maps } => checkpoint::image_info(&file, json, maps),
        Command::Restart { files, check: true, .. } => checkpoint::restart_check(node.root(), &files),
        Command::Restart { migration: true, token: Some(token), as_uid, pages_later, keep_pid, .. } => {
            let pages_later = pages_later.map(|s| s == "postcopy");
            checkpoint::restart_migration(node.root(), token, as_uid.unwrap_or(0), pages_later, keep_pid)
        }
        Command::Migrate { pid, node: to, strategy } => migrate(node, pid, to, strategy),
        Command::Where { pid, json } => where_is(node, pid, json),
        Command::Restart { files, check: false, node: remote, token, as_uid, .. } => match files.as_slice() {
            [file] => match (remote, token.zip(as_uid)) {
                (Some(n), _) => checkpoint::restart_remote(node.root(), n, file),
                (None, Some(asked)) => checkpoint::restart_for(node.root(), file, asked),
                (None, None) => checkpoint::restart(node.root(), file, None, None),
            },
            _ => {
                eprintln!("ssi-ctl: restart takes one image (several only with --check)");
                return ExitCode::from(2);
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ssi-ctl: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// `v` as compact JSON.
fn to_json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serializes to JSON")
}

/// A number from one of the module's files, as a JSON number if it is
/// one (integer or decimal), else as a string.
fn json_number(text: &str) -> serde_json::Value {
    if let Ok(n) = text.parse::<u64>() {
        n.into()
    } else if let Ok(n) = text.parse::<i64>() {
        n.into()
    } else {
        text.parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| text.into(), serde_json::Value::Number)
    }
}

/// `ssi-ctl status --json`.
#[derive(Serialize)]
struct StatusJson<'a> {
    loaded: bool,
    release: &'a str,
    interface: u32,
    node_id: Option<u32>,
    address: Option<String>,
    port: u16,
    enabled: bool,
    incarnation: &'a str,
    connected_peers: u32,
    alive_nodes: u32,
    cpus: u32,
    mem_total_kib: u64,
    mem_free_kib: u64,
}

fn status_json(st: &Status) -> String {
    to_json(&StatusJson {
        loaded: true,
        release: &st.release,
        interface: st.interface,
        node_id: st.node_id,
        address: st.address.map(|a| a.to_string()),
        port: st.port,
        enabled: st.enabled,
        incarnation: &st.incarnation,
        connected_peers: st.connected_peers,
        alive_nodes: st.totals.alive_nodes,
        cpus: st.totals.cpus,
        mem_total_kib: st.totals.mem_total_kib,
        mem_free_kib: st.totals.mem_free_kib,
    })
}

/// `ssi-ctl nodes --json`: one object per node, the load averages as numbers.
#[derive(Serialize)]
struct NodeJson<'a> {
    id: u32,
    address: &'a str,
    port: u16,
    state: &'a str,
    incarnation: &'a str,
    cpus: u32,
    mem_total_kib: u64,
    mem_free_kib: u64,
    load: [serde_json::Value; 3],
    last_heard_ms: u64,
}

fn nodes_json(rows: &[NodeRow]) -> String {
    let items: Vec<NodeJson> = rows
        .iter()
        .map(|r| NodeJson {
            id: r.id,
            address: &r.address,
            port: r.port,
            state: &r.state,
            incarnation: &r.incarnation,
            cpus: r.cpus,
            mem_total_kib: r.mem_total_kib,
            mem_free_kib: r.mem_free_kib,
            load: r.load.each_ref().map(|l| json_number(l)),
            last_heard_ms: r.last_heard_ms,
        })
        .collect();
    to_json(&items)
}

/// `ssi-ctl stats --json`: the krpc counters (in the module's order, as
/// numbers), then `peers`.
struct StatsJson<'a> {
    counters: &'a [(String, String)],
    peers: &'a [PeerRow],
}

impl Serialize for StatsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.counters.len() + 1))?;
        for (k, v) in self.counters {
            map.serialize_entry(k, &json_number(v))?;
        }
        map.serialize_entry("peers", self.peers)?;
        map.end()
    }
}

fn stats_json(counters: &[(String, String)], peers: &[PeerRow]) -> String {
    to_json(&StatsJson { counters, peers })
}

fn status(node: &Node, json: bool) -> Result<(), CtlError> {
    let st = node.status()?;
    if json {
        println!("{}", status_json(&st));
    } else {
        println!("module:     ssi.ko loaded (release {}, interface {})", st.release, st.interface);
        println!("node id:    {}", st.node_id.map_or("not set".into(), |v| v.to_string()));
        println!("address:    {}", st.address.map_or("not set".into(), |a| a.to_string()));
        println!("krpc port:  {}", st.port);
        if st.enabled {
            println!("cluster:    joined (incarnation {}, {} peer(s) connected)", st.incarnation, st.connected_peers);
        } else {
            println!("cluster:    not joined (ssi-ctl config set enabled 1)");
        }
        println!(
            "merged:     {} node(s) alive, {} CPUs, {} MiB memory ({} MiB free)",
            st.totals.alive_nodes,
            st.totals.cpus,
            st.totals.mem_total_kib / 1024,
            st.totals.mem_free_kib / 1024
        );
    }
    Ok(())
}

fn nodes(node: &Node, json: bool) -> Result<(), CtlError> {
    let rows = node.nodes()?;
    if json {
        println!("{}", nodes_json(&rows));
        return Ok(());
    }
    println!(
        "{:>4}  {:<15} {:>5}  {:<6} {:>8} {:>4} {:>9} {:>9}  {:<17} {:>9}",
        "NODE", "ADDRESS", "PORT", "STATE", "INCARN", "CPUS", "MEM MiB", "FREE MiB", "LOAD 1/5/15", "HEARD"
    );
    for r in &rows {
        println!(
            "{:>4}  {:<15} {:>5}  {:<6} {:>8} {:>4} {:>9} {:>9}  {:<17} {:>7}ms",
            r.id,
            r.address,
            r.port,
            r.state,
            r.incarnation,
            r.cpus,
            r.mem_total_kib / 1024,
            r.mem_free_kib / 1024,
            format!("{} {} {}", r.load[0], r.load[1], r.load[2]),
            r.last_heard_ms
        );
    }
    Ok(())
}

fn config(node: &Node, action: ConfigAction) -> Result<(), CtlError> {
    match action {
        ConfigAction::Get { key } => println!("{}", node.config_get(&key)?),
        ConfigAction::Set { key, value } => node.config_set(&key, &value)?,
        ConfigAction::List => {
            node.check_loaded()?;
            for key in CONFIG_KEYS.iter().filter(|k| **k != "secret") {
                println!("{key} = {}", node.config_get(key)?);
            }
        }
    }
    Ok(())
}

fn stats(node: &Node, json: bool) -> Result<(), CtlError> {
    let kv = node.krpc_stats()?;
    let peers = node.peers()?;
    if json {
        println!("{}", stats_json(&kv, &peers));
    } else {
        for (k, v) in &kv {
            println!("{k:<18} {v}");
        }
        println!();
        let row = |cells: [&dyn std::fmt::Display; 12]| {
            let [id, addr, ftx, frx, ktx, krx, sq, inbox, qw, rtt, avg, min] = cells;
            println!(
                "{id:>4}  {addr:<15} {ftx:>10} {frx:>10} {ktx:>11} {krx:>11} {sq:>5} {inbox:>5} {qw:>6} {rtt:>9} {avg:>9} {min:>9}"
            );
        };
        row([
            &"PEER",
            &"ADDRESS",
            &"FRAMES TX",
            &"FRAMES RX",
            &"KIB TX",
            &"KIB RX",
            &"SENDQ",
            &"INBOX",
            &"QWAITS",
            &"RTT us",
            &"AVG us",
            &"MIN us",
        ]);
        for p in &peers {
            row([
                &p.id,
                &p.address,
                &p.frames_sent,
                &p.frames_received,
                &(p.bytes_sent / 1024),
                &(p.bytes_received / 1024),
                &p.send_queue,
                &p.inbox,
                &p.queue_waits,
                &p.rtt_us,
                &p.rtt_avg_us,
                &p.rtt_min_us,
            ]);
        }
    }
    Ok(())
}

fn migrations(node: &Node, json: bool) -> Result<(), CtlError> {
    let m = node.migrations()?;
    if json {
        println!("{}", to_json(&m));
    } else {
        print!("{}", migrations::table(&m));
    }
    Ok(())
}

/// `ssi-ctl where PID`: one line (or a JSON object) from the cluster
/// listing; no such process is an error (exit 1).
fn where_is(node: &Node, pid: u32, json: bool) -> Result<(), CtlError> {
    let rows = node.ps()?;
    let row = ps::locate(&rows, pid, node.own_node_id()).ok_or(CtlError::NoProcess(pid))?;
    if json {
        println!("{}", ps::where_json(pid, row));
    } else {
        println!("{}", ps::where_line(pid, row));
    }
    Ok(())
}

/// `ssi-ctl migrate PID NODE` from any node: a process the listing shows
/// on another node is migrated there, asked through this node's module;
/// one it shows here, or does not show (the module then says why not),
/// here.
fn migrate(node: &Node, pid: u32, to: u16, strategy: Strategy) -> Result<(), CtlError> {
    let own = node.own_node_id();
    let rows = node.ps().unwrap_or_default();
    match (ps::locate(&rows, pid, own), own) {
        (Some(row), Some(own)) if row.node != own => {
            checkpoint::migrate_elsewhere(node.root(), pid, row.node, row.pid, to, strategy)
        }
        (Some(row), _) => checkpoint::migrate(node.root(), row.pid, to, strategy),
        (None, _) => checkpoint::migrate(node.root(), pid, to, strategy),
    }
}

/// `ssi-ctl pin PID [NODE]`: pinned first (no policy moves it meanwhile),
/// then moved to NODE if it runs elsewhere.
fn pin(node: &Node, pid: u32, to: Option<u16>) -> Result<(), CtlError> {
    scheduler::pin(node, pid, to)?;
    let Some(to) = to else { return Ok(()) };
    let own = node.own_node_id();
    let rows = node.ps().unwrap_or_default();
    let here = ps::locate(&rows, pid, own).map(|r| r.node).or(own);
    if here == Some(to) {
        return Ok(());
    }
    migrate(node, pid, to, Strategy::Eager)
}

fn ps(node: &Node, json: bool) -> Result<(), CtlError> {
    let rows = node.ps()?;
    let users = node.users();
    if json {
        println!("{}", ps::json(&rows, &users));
    } else {
        print!("{}", ps::table(&rows, &users));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use std::path::PathBuf;
    use sysfs::tests::fake_node;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("ssi-ctl").chain(args.iter().copied())).map(|c| c.command)
    }

    fn refused(args: &[&str]) -> clap::Error {
        match parse(args) {
            Ok(_) => panic!("{args:?} was accepted"),
            Err(e) => e,
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn reading_commands() {
        assert!(matches!(parse(&["status"]).unwrap(), Command::Status { json: false }));
        assert!(matches!(parse(&["status", "--json"]).unwrap(), Command::Status { json: true }));
        assert!(matches!(parse(&["nodes", "--json"]).unwrap(), Command::Nodes { json: true }));
        assert!(matches!(parse(&["stats"]).unwrap(), Command::Stats { json: false }));
        assert!(matches!(parse(&["migrations"]).unwrap(), Command::Migrations { json: false }));
        assert!(matches!(parse(&["migrations", "--json"]).unwrap(), Command::Migrations { json: true }));
        assert!(matches!(parse(&["ps"]).unwrap(), Command::Ps { json: false }));
        assert!(matches!(parse(&["ps", "--json"]).unwrap(), Command::Ps { json: true }));
        assert!(matches!(parse(&["where", "131074"]).unwrap(), Command::Where { pid: 131074, json: false }));
        assert!(matches!(parse(&["where", "--json", "7"]).unwrap(), Command::Where { pid: 7, json: true }));
        assert_eq!(refused(&["where"]).kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(refused(&["where", "x"]).kind(), ErrorKind::ValueValidation);
        assert_eq!(refused(&["ps", "aux"]).kind(), ErrorKind::UnknownArgument);
        assert_eq!(refused(&[]).kind(), ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand);
        assert_eq!(refused(&["bogus"]).kind(), ErrorKind::InvalidSubcommand);
        assert_eq!(refused(&["status", "--yaml"]).kind(), ErrorKind::UnknownArgument);
        assert_eq!(refused(&["migrations", "extra"]).kind(), ErrorKind::UnknownArgument);
    }

    #[test]
    fn config_commands() {
        match parse(&["config", "set", "port", "7071"]).unwrap() {
            Command::Config { action: ConfigAction::Set { key, value } } => {
                assert_eq!((key.as_str(), value.as_str()), ("port", "7071"))
            }
            _ => panic!("not config set"),
        }
        assert!(matches!(
            parse(&["config", "get", "node_id"]).unwrap(),
            Command::Config { action: ConfigAction::Get { .. } }
        ));
        assert!(matches!(parse(&["config", "list"]).unwrap(), Command::Config { action: ConfigAction::List }));
        assert_eq!(refused(&["config", "set", "port"]).kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(refused(&["config"]).kind(), ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand);
    }

    #[test]
    fn scheduler_commands() {
        use scheduler::{BalanceAction, SchedulerAction};
        assert!(matches!(parse(&["scheduler"]).unwrap(), Command::Scheduler { json: false, action: None }));
        assert!(matches!(parse(&["scheduler", "--json"]).unwrap(), Command::Scheduler { json: true, action: None }));
        let action = |args: &[&str]| match parse(args).unwrap() {
            Command::Scheduler { json: false, action: Some(a) } => a,
            _ => panic!("not a scheduler action: {args:?}"),
        };
        assert_eq!(
            action(&["scheduler", "set", "balance.margin", "300"]),
            SchedulerAction::Set { param: "balance.margin".into(), value: "300".into() }
        );
        assert_eq!(
            action(&["scheduler", "add", "batch", "balance"]),
            SchedulerAction::Add {
                name: "batch".into(),
                policy: "balance".into(),
                processes: None,
                nodes: None,
                disabled: false
            }
        );
        assert_eq!(
            action(&["scheduler", "add", "batch", "memory", "--processes", "uid 1000", "--nodes", "1-3", "--disabled"]),
            SchedulerAction::Add {
                name: "batch".into(),
                policy: "memory".into(),
                processes: Some("uid 1000".into()),
                nodes: Some("1-3".into()),
                disabled: true
            }
        );
        assert_eq!(
            action(&["scheduler", "edit", "batch", "processes", "pids", "5", "7"]),
            SchedulerAction::Edit {
                name: "batch".into(),
                field: "processes".into(),
                value: vec!["pids".into(), "5".into(), "7".into()]
            }
        );
        assert_eq!(action(&["scheduler", "remove", "batch"]), SchedulerAction::Remove { name: "batch".into() });
        assert_eq!(refused(&["scheduler", "set", "balance.margin"]).kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(refused(&["scheduler", "add", "batch"]).kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(refused(&["scheduler", "edit", "batch", "nodes"]).kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(refused(&["scheduler", "remove"]).kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(refused(&["scheduler", "add", "b", "balance", "--enabled"]).kind(), ErrorKind::UnknownArgument);
        assert_eq!(refused(&["scheduler", "--json", "remove", "b"]).kind(), ErrorKind::ArgumentConflict);
        assert_eq!(refused(&["scheduler", "bogus"]).kind(), ErrorKind::InvalidSubcommand);
        assert!(matches!(parse(&["pin", "70000"]).unwrap(), Command::Pin { pid: 70000, node: None }));
        assert!(matches!(parse(&["pin", "70000", "2"]).unwrap(), Command::Pin { pid: 70000, node: Some(2) }));
        assert!(matches!(parse(&["unpin", "70000"]).unwrap(), Command::Unpin { pid: 70000 }));
        assert!(parse(&["pin"]).is_err());
        let balance = |args: &[&str]| match parse(args).unwrap() {
            Command::Balance { action } => action,
            _ => panic!("not balance: {args:?}"),
        };
        assert_eq!(balance(&["balance", "on"]), BalanceAction::On);
        assert_eq!(balance(&["balance", "off"]), BalanceAction::Off);
        assert_eq!(balance(&["balance", "status"]), BalanceAction::Status { json: false });
        assert_eq!(balance(&["balance", "status", "--json"]), BalanceAction::Status { json: true });
        assert_eq!(refused(&["balance"]).kind(), ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand);
        assert_eq!(refused(&["balance", "maybe"]).kind(), ErrorKind::InvalidSubcommand);
        assert_eq!(refused(&["balance", "on", "--json"]).kind(), ErrorKind::UnknownArgument);
    }

    #[test]
    fn ha_commands() {
        use ha::HaAction;
        let ha = |args: &[&str]| match parse(args).unwrap() {
            Command::Ha { action } => action,
            _ => panic!("not ha: {args:?}"),
        };
        assert_eq!(ha(&["ha", "on", "70012"]), HaAction::On { pid: 70012, interval: None, replicas: None });
        assert_eq!(
            ha(&["ha", "on", "70012", "--interval", "2"]),
            HaAction::On { pid: 70012, interval: Some(2), replicas: None }
        );
        assert_eq!(
            ha(&["ha", "on", "--interval", "3600", "7", "--replicas", "3"]),
            HaAction::On { pid: 7, interval: Some(3600), replicas: Some(3) }
        );
        assert_eq!(ha(&["ha", "off", "70012"]), HaAction::Off { pid: 70012 });
        assert_eq!(ha(&["ha", "status"]), HaAction::Status { json: false });
        assert_eq!(ha(&["ha", "status", "--json"]), HaAction::Status { json: true });
        for bad in ["0", "3601", "2s", " "] {
            let e = refused(&["ha", "on", "7", "--interval", bad]);
            assert_eq!(e.kind(), ErrorKind::ValueValidation, "{bad}");
            assert_eq!(e.exit_code(), 2);
            let text = e.render().to_string();
            assert!(text.contains("the interval must be 1 to 3600 seconds"), "{text}");
        }
        assert_eq!(refused(&["ha", "on", "7", "--interval", "-1"]).kind(), ErrorKind::UnknownArgument);
        for bad in ["1", "4", "x"] {
            assert_eq!(refused(&["ha", "on", "7", "--replicas", bad]).kind(), ErrorKind::ValueValidation, "{bad}");
        }
        assert_eq!(refused(&["ha", "on"]).kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(refused(&["ha", "off"]).kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(refused(&["ha", "on", "x"]).kind(), ErrorKind::ValueValidation);
        assert_eq!(refused(&["ha", "off", "7", "--interval", "2"]).kind(), ErrorKind::UnknownArgument);
        assert_eq!(refused(&["ha", "status", "7"]).kind(), ErrorKind::UnknownArgument);
        assert_eq!(refused(&["ha"]).kind(), ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand);
        assert_eq!(refused(&["ha", "maybe"]).kind(), ErrorKind::InvalidSubcommand);
    }

    /// `--replicas` goes to the module like the rest (none here: exit 3);
    /// `ha flip` parses its address in hex or decimal.
    #[test]
    fn replicas_and_flips_go_to_the_module() {
        let dir = tempfile::tempdir().unwrap();
        let node = Node::with_root(dir.path());
        let on = |args: &[&str]| parse(args).unwrap();
        assert_eq!(run(&node, on(&["ha", "on", "7", "--replicas", "2"])), ExitCode::from(3));
        assert_eq!(run(&node, on(&["ha", "on", "7", "--interval", "5", "--replicas", "3"])), ExitCode::from(3));
        assert!(parse(&["ha", "on", "7", "--replicas", "4"]).is_err());
        assert_eq!(run(&node, on(&["ha", "on", "7"])), ExitCode::from(3));
        assert_eq!(run(&node, on(&["ha", "off", "7"])), ExitCode::from(3));
        let Command::Ha { action } = on(&["ha", "flip", "7", "0x7f0000001234", "3", "--clean"]) else { panic!("not ha") };
        assert_eq!(action, ha::HaAction::Flip { pid: 7, addr: 0x7f00_0000_1234, bit: 3, clean: true });
        assert!(parse(&["ha", "flip", "7", "0x1000", "8"]).is_err());
        assert!(parse(&["ha", "flip", "7", "zz", "1"]).is_err());
        assert_eq!(run(&node, on(&["ha", "flip", "7", "4096", "1", "--clean"])), ExitCode::from(3));
    }

    #[test]
    fn checkpoint_options() {
        match parse(&["checkpoint", "42", "-o", "/tmp/x.img", "--kill"]).unwrap() {
            Command::Checkpoint { pid, output, kill } => {
                assert_eq!((pid, output, kill), (42, Some(PathBuf::from("/tmp/x.img")), true));
            }
            _ => panic!("not checkpoint"),
        }
        assert!(matches!(parse(&["checkpoint", "42"]).unwrap(), Command::Checkpoint { pid: 42, output: None, kill: false }));
        // The process goes on unless --kill: there is no option to say so.
        assert_eq!(refused(&["checkpoint", "42", "--leave-running"]).kind(), ErrorKind::UnknownArgument);
        assert_eq!(refused(&["checkpoint", "x"]).kind(), ErrorKind::ValueValidation);
        assert_eq!(refused(&["checkpoint"]).kind(), ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn migrate_strategies_are_a_fixed_choice() {
        let strategy = |args: &[&str]| match parse(args).unwrap() {
            Command::Migrate { pid: 7, node: 2, strategy } => strategy,
            _ => panic!("not migrate 7 2"),
        };
        assert_eq!(strategy(&["migrate", "7", "2"]), Strategy::Eager);
        for (name, s) in [
            ("eager", Strategy::Eager),
            ("precopy", Strategy::Precopy),
            ("postcopy", Strategy::Postcopy),
            ("lazy", Strategy::Lazy),
        ] {
            assert_eq!(strategy(&["migrate", "7", "2", "--strategy", name]), s);
            assert_eq!(strategy(&["migrate", "--strategy", name, "7", "2"]), s);
            // The module's code for it is the one proto gives the name.
            assert_eq!(Some(s.code()), ssi_proto::ctl::strategy_of(name));
            assert_eq!(s.name(), name);
        }
        let e = refused(&["migrate", "7", "2", "--strategy", "bogus"]);
        assert_eq!(e.kind(), ErrorKind::InvalidValue);
        assert_eq!(e.exit_code(), 2);
        // What qemu-tests/scenarios/31-migrate-faults.sh expects.
        let text = e.render().to_string();
        assert!(text.contains("invalid value 'bogus'"), "{text}");
        assert!(text.contains("eager") && text.contains("lazy"), "{text}");
        assert_eq!(refused(&["migrate", "7"]).kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(refused(&["migrate", "7", "70000"]).kind(), ErrorKind::ValueValidation);
    }

    #[test]
    fn restart_forms() {
        match parse(&["restart", "a.img"]).unwrap() {
            Command::Restart {
                files,
                check: false,
                node: None,
                token: None,
                as_uid: None,
                migration: false,
                pages_later: None,
                keep_pid: None,
            } => {
                assert_eq!(files, vec![PathBuf::from("a.img")])
            }
            _ => panic!("not a plain restart"),
        }
        assert!(matches!(parse(&["restart", "--node", "3", "a.img"]).unwrap(), Command::Restart { node: Some(3), .. }));
        match parse(&["restart", "--check", "a.img", "b.img"]).unwrap() {
            Command::Restart { files, check: true, .. } => assert_eq!(files.len(), 2),
            _ => panic!("not restart --check"),
        }
        assert_eq!(refused(&["restart"]).kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(refused(&["restart", "--check", "--node", "2", "a.img"]).kind(), ErrorKind::ArgumentConflict);
    }

    /// The command lines the module starts (checkpoint/remote.rs and
    /// migration/incoming.rs: `ctl_path restart --token T ARGS...`).
    #[test]
    fn restart_as_the_module_starts_it() {
        match parse(&["restart", "--token", "9", "--as-uid", "1000", "/cluster/x.img"]).unwrap() {
            Command::Restart { files, token: Some(9), as_uid: Some(1000), migration: false, .. } => {
                assert_eq!(files, vec![PathBuf::from("/cluster/x.img")])
            }
            _ => panic!("not a remote restart"),
        }
        assert!(matches!(
            parse(&["restart", "--token", "9", "--as-uid", "0", "--migration"]).unwrap(),
            Command::Restart { token: Some(9), as_uid: Some(0), migration: true, pages_later: None, .. }
        ));
        for how in ["postcopy", "lazy"] {
            match parse(&["restart", "--token", "9", "--as-uid", "0", "--migration", "--pages-later", how]).unwrap() {
                Command::Restart { migration: true, pages_later: Some(p), .. } => assert_eq!(p, how),
                _ => panic!("not a migration restart"),
            }
        }
        assert_eq!(refused(&["restart", "--token", "9", "a.img"]).kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(refused(&["restart", "--migration"]).kind(), ErrorKind::MissingRequiredArgument);
        assert!(matches!(
            parse(&["restart", "--token", "9", "--as-uid", "0", "--migration", "--keep-pid", "131073"]).unwrap(),
            Command::Restart { migration: true, keep_pid: Some(131073), .. }
        ));
        assert_eq!(refused(&["restart", "--keep-pid", "5", "a.img"]).kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(
            refused(&["restart", "--token", "9", "--as-uid", "0", "--migration", "--pages-later", "eager"]).kind(),
            ErrorKind::InvalidValue
        );
    }

    #[test]
    fn internal_options_are_hidden() {
        use clap::CommandFactory;
        let mut cmd = Cli::command();
        let top = cmd.render_long_help().to_string();
        let restart = cmd.find_subcommand_mut("restart").unwrap().render_long_help().to_string();
        for hidden in ["--token", "--as-uid", "--migration", "--pages-later", "--keep-pid"] {
            assert!(!top.contains(hidden), "{hidden} in ssi-ctl --help");
            assert!(!restart.contains(hidden), "{hidden} in ssi-ctl restart --help");
        }
        assert!(restart.contains("--check") && restart.contains("--node"));
        assert!(top.contains("migrations"));
        assert!(top.contains("ps "));
        assert!(top.contains("ha "));
        let ha = cmd.find_subcommand_mut("ha").unwrap().find_subcommand_mut("on").unwrap().render_long_help().to_string();
        assert!(ha.contains("--interval <SECONDS>") && ha.contains("--replicas <N>"), "{ha}");
    }

    #[test]
    fn status_json_keeps_its_fields() {
        let (_d, node) = fake_node("release: 0.1.0\ninterface: 1\n", "2\n");
        assert_eq!(
            status_json(&node.status().unwrap()),
            "{\"loaded\":true,\"release\":\"0.1.0\",\"interface\":1,\"node_id\":2,\"address\":\"10.99.0.12\",\"port\":7070,\
             \"enabled\":true,\"incarnation\":\"0000abcd\",\"connected_peers\":2,\"alive_nodes\":3,\"cpus\":6,\
             \"mem_total_kib\":3000,\"mem_free_kib\":2000}"
        );
        let (_d, node) = fake_node("release: 0.1.\"x\ninterface: 1\n", "0\n");
        let json = status_json(&node.status().unwrap());
        assert!(json.contains("\"release\":\"0.1.\\\"x\",\"interface\":1,\"node_id\":null,"), "{json}");
    }

    #[test]
    fn nodes_json_keeps_its_fields() {
        let rows = sysfs::parse_nodes(
            "id address port state incarn cpus mem_kib free_kib load1 load5 load15 heard_ms\n\
             1 10.99.0.11 7070 alive 3ce85d07 2 1010192 977192 1.45 0.40 0.00 140\n\
             3 10.99.0.13 7070 dead 00000001 1 500 400 2 0.5 x 99999\n",
        )
        .unwrap();
        assert_eq!(
            nodes_json(&rows),
            "[{\"id\":1,\"address\":\"10.99.0.11\",\"port\":7070,\"state\":\"alive\",\"incarnation\":\"3ce85d07\",\"cpus\":2,\
             \"mem_total_kib\":1010192,\"mem_free_kib\":977192,\"load\":[1.45,0.4,0.0],\"last_heard_ms\":140},\
             {\"id\":3,\"address\":\"10.99.0.13\",\"port\":7070,\"state\":\"dead\",\"incarnation\":\"00000001\",\"cpus\":1,\
             \"mem_total_kib\":500,\"mem_free_kib\":400,\"load\":[2,0.5,\"x\"],\"last_heard_ms\":99999}]"
        );
        assert_eq!(nodes_json(&[]), "[]");
    }

    #[test]
    fn stats_json_keeps_the_counters_order() {
        let counters = sysfs::parse_kv("frames_sent: 10\nframes_received: 12\nconnections: 2\nodd: n/a\n");
        let peers = sysfs::parse_peers(
            "id address frames_tx frames_rx bytes_tx bytes_rx sendq inbox qwaits rtt_us rtt_avg rtt_min\n\
             2 10.99.0.2 10 12 1000 1200 0 1 3 350 400 300\n",
        )
        .unwrap();
        assert_eq!(
            stats_json(&counters, &peers),
            "{\"frames_sent\":10,\"frames_received\":12,\"connections\":2,\"odd\":\"n/a\",\"peers\":[{\"id\":2,\
             \"address\":\"10.99.0.2\",\"frames_sent\":10,\"frames_received\":12,\"bytes_sent\":1000,\"bytes_received\":1200,\
             \"send_queue\":0,\"inbox\":1,\"queue_waits\":3,\"rtt_us\":350,\"rtt_avg_us\":400,\"rtt_min_us\":300}]}"
        );
        assert_eq!(stats_json(&[], &[]), "{\"peers\":[]}");
    }

    #[test]
    fn json_numbers() {
        assert_eq!(json_number("18446744073709551615"), serde_json::json!(u64::MAX));
        assert_eq!(json_number("-3"), serde_json::json!(-3));
        assert_eq!(json_number("1.25"), serde_json::json!(1.25));
        assert_eq!(json_number("nan"), serde_json::json!("nan"));
        assert_eq!(json_number(""), serde_json::json!(""));
    }

    #[test]
    fn errors_become_exit_codes() {
        let dir = tempfile::tempdir().unwrap();
        // No module under this root: exit status 3.
        let node = Node::with_root(dir.path());
        assert_eq!(run(&node, Command::Status { json: true }), ExitCode::from(3));
        assert_eq!(run(&node, Command::Migrations { json: false }), ExitCode::from(3));
        assert_eq!(run(&node, Command::Ps { json: false }), ExitCode::from(3));
        assert_eq!(run(&node, Command::Ps { json: true }), ExitCode::from(3));
        assert_eq!(run(&node, Command::Where { pid: 1, json: false }), ExitCode::from(3));
        assert_eq!(run(&node, Command::Scheduler { json: false, action: None }), ExitCode::from(3));
        assert_eq!(
            run(&node, Command::Balance { action: scheduler::BalanceAction::Status { json: true } }),
            ExitCode::from(3)
        );
        assert_eq!(run(&node, Command::Ha { action: ha::HaAction::Status { json: false } }), ExitCode::from(3));
        assert_eq!(run(&node, Command::Ha { action: ha::HaAction::Status { json: true } }), ExitCode::from(3));
        assert_eq!(run(&node, Command::Config { action: ConfigAction::Get { key: "bogus".into() } }), ExitCode::from(2));
        let (_d, node) = fake_node("release: 0.1.0\ninterface: 1\n", "2\n");
        assert_eq!(run(&node, Command::Status { json: true }), ExitCode::SUCCESS);
        assert_eq!(run(&node, Command::Config { action: ConfigAction::Get { key: "secret".into() } }), ExitCode::from(2));
        // `where`: a process the listing shows, or exit 1.
        let ps = format!("{}\n3 196610 1 0 0 S 1 0 0 0 2 131074 c c\n", ssi_proto::procs::PS_HEADER);
        std::fs::write(node.root().join("proc/ssi/ps"), ps).unwrap();
        assert_eq!(run(&node, Command::Where { pid: 131074, json: false }), ExitCode::SUCCESS);
        assert_eq!(run(&node, Command::Where { pid: 196610, json: true }), ExitCode::SUCCESS);
        assert_eq!(run(&node, Command::Where { pid: 5, json: false }), ExitCode::from(1));
    }
}
