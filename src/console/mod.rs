//! Operator front ends: the TUI console, the `Admin>` shell and `--batch` mode, sharing one
//! node list, configuration and diagnosis engine.

pub mod demo;
pub mod diagnosis;
pub mod tui;
