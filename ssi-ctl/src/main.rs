//! ssi-ctl: the operator's tool for an ssi cluster.
//!
//! It talks to the local ssi.ko through its files: `/proc/ssi/*` to read,
//! `/sys/kernel/config/ssi/*` to read and set configuration.

mod checkpoint;
mod pager;
mod sysfs;

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use sysfs::{json_str, CtlError, Node, CONFIG_KEYS};

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
    /// Read or change a setting (node_id, address, port, seeds, secret, heartbeat_ms, dead_after_ms, enabled, ctl_path).
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
        /// Kill the process once its image is written.
        #[arg(long, conflicts_with = "leave_running")]
        kill: bool,
        /// Let the process continue afterwards (the default).
        #[arg(long)]
        leave_running: bool,
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
        #[arg(long, hide = true, requires = "migration", value_name = "STRATEGY")]
        pages_later: Option<String>,
    },
    /// Move a running process to another node (root or the process's owner); it goes on there.
    Migrate {
        /// The process (on this node).
        pid: u32,
        /// The node it moves to.
        node: u16,
        /// How: eager (freeze, copy, resume there), precopy (copy while it runs, then the dirty rest), postcopy (resume there at once, push the memory after), lazy (resume there at once, fetch pages when touched).
        #[arg(long, default_value = "eager")]
        strategy: String,
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
    let result = match cli.command {
        Command::Status { json } => status(&node, json),
        Command::Nodes { json } => nodes(&node, json),
        Command::Config { action } => config(&node, action),
        Command::Stats { json } => stats(&node, json),
        Command::Checkpoint { pid, output, kill, leave_running: _ } => {
            checkpoint::checkpoint(node.root(), pid, output, kill)
        }
        Command::Image { file, json, maps } => checkpoint::image_info(&file, json, maps),
        Command::Restart { files, check: true, .. } => checkpoint::restart_check(node.root(), &files),
        Command::Restart { migration: true, token: Some(token), as_uid, pages_later, .. } => {
            let pages_later = pages_later.map(|s| s == "postcopy");
            checkpoint::restart_migration(node.root(), token, as_uid.unwrap_or(0), pages_later)
        }
        Command::Migrate { pid, node: to, strategy } => checkpoint::migrate(node.root(), pid, to, &strategy),
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

fn opt_json<T: ToString>(v: Option<T>) -> String {
    v.map_or("null".into(), |v| v.to_string())
}

fn status(node: &Node, json: bool) -> Result<(), CtlError> {
    let st = node.status()?;
    if json {
        println!(
            "{{\"loaded\":true,\"release\":{},\"interface\":{},\"node_id\":{},\"address\":{},\"port\":{},\
             \"enabled\":{},\"incarnation\":{},\"connected_peers\":{},\"alive_nodes\":{},\"cpus\":{},\
             \"mem_total_kib\":{},\"mem_free_kib\":{}}}",
            json_str(&st.release),
            st.interface,
            opt_json(st.node_id),
            st.address.map_or("null".into(), |a| json_str(&a.to_string())),
            st.port,
            st.enabled,
            json_str(&st.incarnation),
            st.connected_peers,
            st.totals.alive_nodes,
            st.totals.cpus,
            st.totals.mem_total_kib,
            st.totals.mem_free_kib,
        );
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
        let items: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{{\"id\":{},\"address\":{},\"port\":{},\"state\":{},\"incarnation\":{},\"cpus\":{},\
                     \"mem_total_kib\":{},\"mem_free_kib\":{},\"load\":[{},{},{}],\"last_heard_ms\":{}}}",
                    r.id,
                    json_str(&r.address),
                    r.port,
                    json_str(&r.state),
                    json_str(&r.incarnation),
                    r.cpus,
                    r.mem_total_kib,
                    r.mem_free_kib,
                    r.load[0],
                    r.load[1],
                    r.load[2],
                    r.last_heard_ms
                )
            })
            .collect();
        println!("[{}]", items.join(","));
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
        let items: Vec<String> = kv.iter().map(|(k, v)| format!("{}:{v}", json_str(k))).collect();
        let peer_items: Vec<String> = peers
            .iter()
            .map(|p| {
                format!(
                    "{{\"id\":{},\"address\":{},\"frames_sent\":{},\"frames_received\":{},\"bytes_sent\":{},\
                     \"bytes_received\":{},\"send_queue\":{},\"inbox\":{},\"queue_waits\":{},\"rtt_us\":{},\
                     \"rtt_avg_us\":{},\"rtt_min_us\":{}}}",
                    p.id,
                    json_str(&p.address),
                    p.frames_sent,
                    p.frames_received,
                    p.bytes_sent,
                    p.bytes_received,
                    p.send_queue,
                    p.inbox,
                    p.queue_waits,
                    p.rtt_us,
                    p.rtt_avg_us,
                    p.rtt_min_us
                )
            })
            .collect();
        println!("{{{},\"peers\":[{}]}}", items.join(","), peer_items.join(","));
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
        row([&"PEER", &"ADDRESS", &"FRAMES TX", &"FRAMES RX", &"KIB TX", &"KIB RX", &"SENDQ", &"INBOX", &"QWAITS", &"RTT us", &"AVG us", &"MIN us"]);
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
