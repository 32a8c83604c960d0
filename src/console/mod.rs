//! Operator-facing front ends (TUI console, `Admin>` shell, `--batch`) and what they share.

pub mod diagnosis;
