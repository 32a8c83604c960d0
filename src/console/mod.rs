//! Operator front ends: the TUI console, the `Admin>` shell and `--batch` mode, sharing one
//! node list ([`nodes`]), configuration ([`config`]), diagnosis engine ([`diagnosis`]),
//! checksum matrix ([`matrix`]) and fault injector ([`faults`]); [`drill`] rehearses a VIP
//! failover and measures it.

pub mod batch;
pub mod config;
pub mod demo;
pub mod diagnosis;
pub mod drill;
pub mod fault;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod injector;
pub mod launch;
pub mod matrix;
pub mod nodes;
pub mod screenshots;
pub mod shell;
pub mod tui;
