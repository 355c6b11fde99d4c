//! vigie: synthetic monitoring of France's ANEF portal and prefecture booking systems.
//!
//! The crate is library-first: the `vigie` binary (src/main.rs) is a thin CLI
//! over these modules. See ARCHITECTURE.md for the data flow.

pub mod alert;
pub mod browser;
pub mod cli;
pub mod code_pages;
pub mod config;
pub mod daemon;
pub mod deploy;
pub mod diag;
pub mod events;
pub mod evidence;
pub mod malloc;
pub mod metrics;
pub mod observatory;
pub mod private_fs;
pub mod probe;
pub mod report;
pub mod runner;
pub mod schedule;
pub mod server;
pub mod server_conn;
pub mod sim;
pub mod status;
pub mod store;
pub mod template;
