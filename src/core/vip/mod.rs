//! An embedded VRRP-like virtual address for pxadm nodes, needing no root.
//!
//! Election follows RFC 5798 with keepalived's behaviour and log wording.
//!
//! - [`config`]: [`VipConfig`], the keepalived-shaped configuration;
//! - [`machine`]: the pure state machine, tested in virtual time;
//! - [`wire`]: the advert datagram;
//! - [`keepalived`]: the same configuration rendered as a real keepalived.conf.

pub mod config;
pub mod keepalived;
pub mod machine;
pub mod wire;

pub use config::{CheckKind, InitialState, TrackConfig, VipConfig, VipConfigError};
pub use machine::{Action, Advert, CheckOutcome, Machine, VrrpState};
