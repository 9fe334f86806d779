//! ocosim: deterministic simulation and backtesting harness for OCO logic on Binance USD-M futures.
//!
//! Data flows one way: **data → exchange ⇄ engine (only through [`api::Exchange`]) → event log →
//! invariants → report**. `sim` owns simulated time, the RNG and the loop; `cli` (and `serve`, the
//! wire front of `sim serve`) are the only modules that touch the wall clock, sockets, the terminal
//! and output files; every output file or folder is published through [`output`] (never replaces
//! what is not ocosim's, appears whole or not at all).
#![recursion_limit = "256"]
pub mod api;
pub mod cli;
pub mod data;
pub mod engine;
pub mod events;
pub mod exchange;
pub mod explore;
pub mod invariants;
pub mod output;
#[cfg(feature = "serve")]
pub mod parity;
pub mod report;
pub mod scenario;
#[cfg(feature = "serve")]
pub mod serve;
pub mod sim;
pub mod sweep;
pub mod types;
