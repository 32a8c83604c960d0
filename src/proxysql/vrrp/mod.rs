//! VRRP as keepalived runs it next to ProxySQL: the keepalived-shaped configuration
//! ([`config`]), the pure RFC 5798 state machine tested in virtual time ([`machine`]), the
//! advert datagram ([`wire`]), the real keepalived.conf rendering ([`keepalived`]) and one
//! description of a whole VIP cluster ([`cluster`]).
//!
//! Pure like the rest of [`crate::proxysql`]: addresses are `core::net` values, never sockets.
//! The node's VIP service ([`crate::node::vip`]) drives the machine with real sockets.

pub mod cluster;
pub mod config;
pub mod keepalived;
pub mod machine;
pub mod wire;

pub use config::{CheckKind, InitialState, TrackConfig, VipConfig, VipConfigError, VipFileError};
pub use machine::{Action, Advert, CheckOutcome, Machine, VrrpState};

/// DDL of the admin stats table listing this node's VRRP instances.
pub const STATS_PXADM_VRRP_DDL: &str = "CREATE TABLE stats_pxadm_vrrp (instance VARCHAR NOT NULL PRIMARY KEY , state VARCHAR NOT NULL CHECK (state IN ('INIT','BACKUP','MASTER','FAULT')) , priority INT NOT NULL , effective_priority INT NOT NULL , vip VARCHAR NOT NULL , vip_held INT NOT NULL CHECK (vip_held IN (0,1)) , last_advert_from VARCHAR , last_advert_age_ms INT , check_status VARCHAR NOT NULL CHECK (check_status IN ('NONE','INIT','GOOD','BAD')))";

/// Column names of `stats_pxadm_vrrp`, in order.
pub const STATS_PXADM_VRRP_COLUMNS: [&str; 9] = [
    "instance",
    "state",
    "priority",
    "effective_priority",
    "vip",
    "vip_held",
    "last_advert_from",
    "last_advert_age_ms",
    "check_status",
];
