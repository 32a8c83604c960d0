//! Operator front ends: the TUI console, the `Admin>` shell and `--batch` mode, sharing one
//! node list ([`nodes`]), configuration ([`config`]), diagnosis engine ([`diagnosis`]),
//! checksum matrix ([`matrix`]) and faults ([`fault`], [`injector`]); [`drill`] rehearses a
//! VIP failover and measures it, and [`launcher`] starts the `pxadm node` children of the
//! demo, the drill and the tests.

pub mod argv;
pub mod batch;
pub mod config;
pub mod demo;
pub mod diagnosis;
pub mod drill;
pub mod exporter;
pub mod fault;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod injector;
pub mod launcher;
pub mod matrix;
pub mod nodes;
pub mod option_files;
pub mod recording;
pub mod screenshots;
pub mod shell;
pub mod traffic;
pub mod tui;
