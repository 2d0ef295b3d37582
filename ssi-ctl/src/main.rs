//! ssi-ctl: the operator's tool for an ssi cluster.
//!
//! It talks to the local ssi.ko through its files: `/proc/ssi/*` to read,
//! `/sys/kernel/config/ssi/*` to read and set configuration.

mod sysfs;

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use sysfs::{CtlError, Node};

#[derive(Parser)]
#[command(name = "ssi-ctl", version = ssi_proto::version::RELEASE, about = "Inspect and configure an ssi cluster node")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show whether ssi.ko is loaded, its version and this node's identity.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let node = Node::from_env();
    let result = match cli.command {
        Command::Status { json } => status(&node, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ssi-ctl: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn status(node: &Node, json: bool) -> Result<(), CtlError> {
    let st = node.status()?;
    if json {
        println!(
            "{{\"loaded\":true,\"release\":{},\"interface\":{},\"node_id\":{},\"address\":{},\"port\":{}}}",
            sysfs::json_str(&st.release),
            st.interface,
            st.node_id.map_or("null".into(), |v| v.to_string()),
            st.address.map_or("null".into(), |a| sysfs::json_str(&a.to_string())),
            st.port
        );
    } else {
        println!("module:     ssi.ko loaded (release {}, interface {})", st.release, st.interface);
        println!("node id:    {}", st.node_id.map_or("not set".into(), |v| v.to_string()));
        println!("address:    {}", st.address.map_or("not set".into(), |a| a.to_string()));
        println!("krpc port:  {}", st.port);
    }
    Ok(())
}
