//! The configuration checksums ProxySQL nodes publish and compare (spec §5).

pub mod spooky;
