//! The scheduler's pure logic (issue 21): probes' smoothing, filters,
//! placement and balancing policies, and the cluster-wide configuration
//! that ties them into schedulers.
//!
//! # Model
//!
//! Every node runs the same loop every `load.period_ms` (100 ms by
//! default):
//!
//! 1. **Probes.** It samples its run queue (user tasks) into its
//!    [`LoadProbe`], which keeps two per-CPU loads in 1/1024 of a task
//!    ([`LOAD_ONE`]): `upper`, which rises at once and decays slowly
//!    (how loaded the node may be, for a node sending it work), and
//!    `mean`, an exponential average (how loaded it is for sure, for the
//!    node itself deciding to send work away). It reads its free memory
//!    ([`Memory`]), the CPU share of its processes over a window
//!    ([`cpu_share`]) and the run-queue weight each would carry to
//!    another node ([`runnable_share`]: running or waiting for a CPU;
//!    [`demand`] estimates it from the share); [`move_cost_ms`]
//!    estimates what moving a process costs.
//! 2. **Reports.** It offers a [`LoadReport`] to its [`ReportFilter`]
//!    (threshold, frequency limit, a report at least every
//!    `max_silence_ms`); what passes is broadcast. Every node keeps the
//!    others' reports in a [`LoadCache`] (an [`AgeCache`]: a report
//!    older than `max_age_ms` is not used), together with what it sent
//!    each node since its report, and takes a [`NodeTable`] snapshot of
//!    it to decide on.
//! 3. **Policies.** For each enabled [`Scheduler`] of the [`Config`]
//!    whose node set holds it, with the processes of the scheduler's
//!    process set as [`Candidate`]s: [`dynamic_balance`] (MOSIX-like:
//!    one process to the least loaded node that stays no more loaded
//!    than this one, with hysteresis, residency and no return) or
//!    [`memory_pressure`] (under the low watermark, the largest process
//!    to a node that keeps its own watermark). A [`Decision`] is a
//!    [`Move`] (pid, destination, [`Strategy`] by size) or why nothing
//!    moves ([`Stay`], with per-reason [`SkipCounts`]). The caller
//!    offers the process to the destination, which takes it only if it
//!    would not end up more loaded than the source by its own fresh
//!    load ([`admit`]) and then counts it at once ([`LoadProbe::reserve`],
//!    then [`LoadProbe::land`] or [`LoadProbe::cancel`]);
//!    the source then starts the migration, takes the process's demand
//!    off its probe ([`LoadProbe::depart`]) and counts it on the
//!    destination until the destination's reports show it
//!    ([`LoadCache::note_sent`], then [`LoadCache::note_arrived`] or
//!    [`LoadCache::note_failed`]).
//! 4. **Exec.** When a program execs, a round-robin or least-loaded
//!    scheduler ([`place`]) may start it on another node if this one is
//!    busy and the other meaningfully less loaded.
//!
//! The configuration (parameters and schedulers) is one value for the
//! whole cluster: a change is made by one node, the coordinator (see
//! `change.rs`), which bumps its generation and sends it to every node;
//! a node takes it if it [`Config::supersedes`] its own. Its
//! attributes are read and written as text ([`parse_process_set`],
//! [`parse_node_set`], [`set_param`], ...) and it travels with
//! [`Config::encode`]/[`Config::decode`].
//!
//! Nothing here allocates, uses floating point or panics on any input.
//!
//! # Files
//!
//! Each file depends only on the ones listed before it:
//!
//! - `probe.rs`: [`LoadProbe`], [`Smoothing`], [`cpu_share`],
//!   [`runnable_share`], [`demand`], [`Memory`], the fixed-point helpers;
//! - `cost.rs`: [`Strategy`], [`StrategyBySize`], [`MoveCost`],
//!   [`move_cost_ms`];
//! - `filter.rs`: [`Threshold`], [`RateLimit`], [`AgeCache`];
//! - `report.rs`: [`LoadReport`] and its codec, [`ReportParams`],
//!   [`ReportFilter`];
//! - `table.rs`: [`NodeSet`], [`NodeLoad`], [`NodeTable`], [`LoadCache`];
//! - `params.rs`: [`BalanceParams`], [`PlaceParams`], [`MemoryParams`],
//!   [`PolicyParams`], [`BadParam`];
//! - `balance.rs`: [`Candidate`], [`Decision`], [`dynamic_balance`],
//!   [`memory_pressure`];
//! - `place.rs`: [`place`], [`PlaceKind`], [`PlaceState`];
//! - `config.rs`: [`Config`], [`Scheduler`], [`ProcessSet`], [`Params`],
//!   [`ConfigError`] and the codec;
//! - `text.rs`: the attributes' parsers and formatters, [`PARAM_FIELDS`],
//!   [`TextBuf`];
//! - `command.rs`: editing by text: a scheduler's fields
//!   ([`SchedField`], [`SchedChange`]), the `scheduler/command` file's
//!   [`Command`]s, the configfs directory of each part ([`PARAM_DIRS`]);
//! - `offer.rs`: a move offered to its destination, which judges it on
//!   its own load: [`Offer`], [`OfferReply`], [`judge`];
//! - `change.rs`: a change sent to the coordinator: the command's text
//!   form, [`encode_request`], [`decode_request`], [`ChangeReply`];
//! - `policy_tests.rs`, `config_tests.rs`, `sim.rs` (tests only): the
//!   policies' and the configuration's tests, simulated clusters.
//!
//! This file only declares them and re-exports their public items, so
//! that every item is reached as `sched::Item`; the files are private.

mod balance;
mod change;
mod command;
mod config;
mod cost;
mod filter;
mod offer;
mod params;
mod place;
mod probe;
mod report;
mod table;
mod text;

#[cfg(test)]
mod config_tests;
#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod sim;

pub use balance::{
    admit, balance_skip, cpu_move_fits, dynamic_balance, is_destination, memory_pressure,
    memory_room, memory_skip, returns_too_soon, Candidate, Decision, Left, Move, Skip, SkipCounts,
    Stay, Unmovable, MAX_LEFT,
};
pub use change::{decode_request, encode_request, ChangeReply, MAX_COMMAND_LEN, MAX_REASON_LEN};
pub use command::{
    param_dir, param_index, parse_command, Command, SchedChange, SchedField, PARAM_DIRS,
};
pub use config::{
    Config, ConfigError, Name, Params, PidList, Pin, PolicyKind, ProcessIds, ProcessSet, Scheduler,
    CONFIG_VERSION, HEADER_LEN, MAX_CONFIG_LEN, MAX_ID, MAX_NAME, MAX_PIDS, MAX_PINS,
    MAX_SCHEDULERS, PIN_LEN, SCHEDULER_LEN,
};
pub use cost::{move_cost_ms, MoveCost, Strategy, StrategyBySize};
pub use filter::{moved_by_more, AgeCache, CacheFull, RateLimit, Threshold};
pub use offer::{judge, Offer, OfferKind, OfferReply, MAX_HOLD_MS, OFFER_VERSION};
pub use params::{BadParam, BalanceParams, MemoryParams, PlaceParams, PolicyParams};
pub use place::{place, PlaceKind, PlaceState};
pub use probe::{
    approach, cpu_share, demand, kib_of, per_cpu, per_cpu_up, retained, runnable_share,
    sample_weight, tasks, watermark_kib, LoadProbe, Memory, Smoothing, LOAD_ONE, WEIGHT_ONE,
};
pub use report::{
    LoadReport, ReportFilter, ReportParams, MAX_REPORT_CPUS, REPORT_LEN, REPORT_VERSION,
};
pub use table::{
    LoadCache, NodeLoad, NodeSet, NodeTable, MAX_SET_NODE, MAX_TABLE_NODES, PENDING_REPORTS,
};
pub use text::{
    find_param, parse_flag, parse_name, parse_node_set, parse_param_value, parse_policy,
    parse_process_set, parse_strategy, set_param, write_param, ParamField, ParamValue, TextBuf,
    TextError, PARAM_FIELDS,
};
