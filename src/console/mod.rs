//! Operator front ends: the TUI console, the `Admin>` shell and `--batch` mode.

pub mod demo;
