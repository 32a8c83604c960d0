//! An embedded VRRP-like virtual address for pxadm nodes, needing no root.
//!
//! Real VRRP moves an IP address between hosts with raw sockets and netlink. A pxadm node
//! instead moves a *listening socket*: whichever node is MASTER binds the traffic listener on
//! the VIP address:port (for example 127.0.0.20:6033 on a laptop, where all of 127/8 is
//! local), and the kernel refuses a second bind while it is held, so the VIP is served by at
//! most one live node at a time; a holder that freezes with the socket is taken over through
//! its SO_REUSEPORT group (see `docs/vip.md`). Election follows RFC 5798 with keepalived's
//! behaviour and log wording, over small UDP adverts sent to the configured peers
//! (keepalived's unicast mode).
//!
//! - [`crate::proxysql::vrrp`]: the configuration ([`VipConfig`]), the pure state machine,
//!   the advert datagram and the keepalived.conf rendering;
//! - [`service`]: sockets, the VIP listener and checks on tokio ([`VipHandle`]);
//! - this module: the published [`VipStatus`] and its `stats_pxadm_vrrp` rows.

pub mod service;

use std::net::SocketAddr;
use std::time::Instant;

pub use crate::proxysql::vrrp::{
    CheckKind, InitialState, TrackConfig, VipConfig, VipConfigError, VipFileError, VrrpState,
};
pub use crate::proxysql::vrrp::{STATS_PXADM_VRRP_COLUMNS, STATS_PXADM_VRRP_DDL};
pub use service::{Connection, HealthCheck, VipError, VipHandle};

use crate::proxysql::resultset::ResultSet;

/// A snapshot of one instance, published on every change through [`VipHandle::subscribe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipStatus {
    /// Instance name (`VI_1`).
    pub instance: String,
    /// Protocol state.
    pub state: VrrpState,
    /// Configured priority.
    pub base_priority: u8,
    /// Priority after tracking adjustments (what this node advertises).
    pub effective_priority: u8,
    /// Sender of the last valid advert received.
    pub last_advert_from: Option<SocketAddr>,
    /// Arrival time of that advert.
    pub last_advert_at: Option<Instant>,
    /// The VIP address:port.
    pub vip: SocketAddr,
    /// Whether this node's listener is bound on the VIP right now (a new MASTER may still be
    /// waiting for the old holder to let go).
    pub vip_held: bool,
    /// Tracked check health; `None` without a check or before its first result.
    pub check_ok: Option<bool>,
    /// Number of state changes since start.
    pub transitions: u64,
    /// Whether a check is configured at all.
    pub has_check: bool,
}

impl VipStatus {
    /// `check_status` column text: NONE (no check), INIT (no result yet), GOOD or BAD, as
    /// keepalived's data dump calls script states.
    pub fn check_status(&self) -> &'static str {
        match (self.has_check, self.check_ok) {
            (false, _) => "NONE",
            (true, None) => "INIT",
            (true, Some(true)) => "GOOD",
            (true, Some(false)) => "BAD",
        }
    }

    /// One `stats_pxadm_vrrp` row, ages measured at `now`.
    pub fn stats_row(&self, now: Instant) -> Vec<Option<String>> {
        vec![
            Some(self.instance.clone()),
            Some(self.state.to_string()),
            Some(self.base_priority.to_string()),
            Some(self.effective_priority.to_string()),
            Some(self.vip.to_string()),
            Some(u8::from(self.vip_held).to_string()),
            self.last_advert_from.map(|a| a.to_string()),
            self.last_advert_at
                .map(|at| now.saturating_duration_since(at).as_millis().to_string()),
            Some(self.check_status().to_string()),
        ]
    }
}

/// The `stats_pxadm_vrrp` result set for a node's instances.
pub fn stats_resultset<'a>(
    statuses: impl IntoIterator<Item = &'a VipStatus>,
    now: Instant,
) -> ResultSet {
    let mut rs = ResultSet::with_columns(STATS_PXADM_VRRP_COLUMNS);
    for status in statuses {
        rs.push_row(status.stats_row(now));
    }
    rs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ddl_and_columns_agree_and_load_in_sqlite() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(STATS_PXADM_VRRP_DDL).unwrap();
        let stmt = db.prepare("SELECT * FROM stats_pxadm_vrrp").unwrap();
        assert_eq!(stmt.column_names(), STATS_PXADM_VRRP_COLUMNS);
        let now = Instant::now();
        let status = VipStatus {
            instance: "VI_1".into(),
            state: VrrpState::Backup,
            base_priority: 100,
            effective_priority: 80,
            last_advert_from: Some("127.0.0.12:5405".parse().unwrap()),
            last_advert_at: Some(now),
            vip: "127.0.0.20:6033".parse().unwrap(),
            vip_held: false,
            check_ok: Some(false),
            transitions: 3,
            has_check: true,
        };
        let row = status.stats_row(now + Duration::from_millis(1500));
        db.execute(
            "INSERT INTO stats_pxadm_vrrp VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
            rusqlite::params_from_iter(row.iter()),
        )
        .unwrap();
        let rs = stats_resultset([&status], now + Duration::from_millis(1500));
        assert_eq!(
            rs.rows[0],
            [
                Some("VI_1"),
                Some("BACKUP"),
                Some("100"),
                Some("80"),
                Some("127.0.0.20:6033"),
                Some("0"),
                Some("127.0.0.12:5405"),
                Some("1500"),
                Some("BAD")
            ]
            .map(|f| f.map(String::from))
        );
    }
}
