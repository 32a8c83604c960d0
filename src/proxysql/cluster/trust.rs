//! Which peers may be a sync source at all: pxadm's guard against a lying peer.
//!
//! ProxySQL 2.7 always pulls a module from the peer with the newest epoch
//! (`get_peer_to_sync_<module>`, [`super::decision::choose_peer`]). A peer whose data never
//! hashes to the checksum it announces is refused at every pull ("failed because of
//! mismatching checksum"), and since it keeps the newest epoch it keeps being chosen: changes
//! between the honest peers stop propagating until it is removed. pxadm adds two rules, on
//! top of ProxySQL's and invisible to honest peers:
//!
//! - **refused pulls**: after [`REFUSED_PULLS_BEFORE_SKIP`] refused pulls of a module from a
//!   peer, that peer is no source of that module while it announces the same (version, epoch,
//!   checksum). A new announcement gets one more try; a successful pull forgets the record.
//! - **future epoch**: a peer whose epoch is more than the tolerance ahead of our clock
//!   (default [`DEFAULT_FUTURE_EPOCH_TOLERANCE_S`]) is no source of that module: adopting
//!   such an epoch would make every later local change look older than it.
//!
//! A skipped peer is left out of the peer choice, so the next best peer is chosen.

use std::fmt;

use serde::Serialize;

use super::state::{Module, PeerModuleState};

/// Refused pulls of one announcement before the peer is skipped for that module.
pub const REFUSED_PULLS_BEFORE_SKIP: u32 = 3;

/// Default of how far (seconds) a peer's epoch may be ahead of our clock.
pub const DEFAULT_FUTURE_EPOCH_TOLERANCE_S: u64 = 600;

/// What a peer announced for a module.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Announcement {
    /// Version.
    pub version: u64,
    /// Epoch.
    pub epoch: u64,
    /// Checksum.
    pub checksum: String,
}

impl Announcement {
    /// The announcement of a peer's current state.
    pub fn of(state: &PeerModuleState) -> Self {
        Announcement {
            version: state.version,
            epoch: state.epoch,
            checksum: state.checksum.clone(),
        }
    }
}

/// The record of refused pulls of one module from one peer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Distrust {
    /// Refused pulls since the last successful one.
    pub refused: u32,
    /// The announcement the last refused pull expected.
    pub last_refused: Option<Announcement>,
    /// The skip last logged (to log a skip once, when it starts).
    #[serde(skip)]
    pub logged: Option<Skip>,
}

impl Distrust {
    /// A pull that expected `announced` was refused (its data did not hash to it).
    pub fn refused(&mut self, announced: Announcement) {
        self.refused = self.refused.saturating_add(1);
        self.last_refused = Some(announced);
    }

    /// A pull succeeded: the peer is trusted again.
    pub fn verified(&mut self) {
        *self = Distrust::default();
    }
}

/// Why a peer is no source of a module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Skip {
    /// Its data did not match what it announces, `refused` times.
    Unverifiable {
        /// Refused pulls.
        refused: u32,
        /// The announcement that cannot be verified.
        announced: Announcement,
    },
    /// Its epoch is `ahead` seconds ahead of our clock, past the tolerance.
    FutureEpoch {
        /// The peer's epoch.
        epoch: u64,
        /// Seconds ahead of our clock.
        ahead: u64,
        /// The tolerance.
        tolerance: u64,
    },
}

/// Whether `peer` (its current state and record) is no source of its module now.
pub fn skip(
    state: &PeerModuleState,
    distrust: &Distrust,
    now: u64,
    tolerance_s: u64,
) -> Option<Skip> {
    if state.epoch > now.saturating_add(tolerance_s) {
        return Some(Skip::FutureEpoch {
            epoch: state.epoch,
            ahead: state.epoch - now,
            tolerance: tolerance_s,
        });
    }
    let announced = Announcement::of(state);
    if distrust.refused >= REFUSED_PULLS_BEFORE_SKIP
        && distrust.last_refused.as_ref() == Some(&announced)
    {
        return Some(Skip::Unverifiable {
            refused: distrust.refused,
            announced,
        });
    }
    None
}

impl Skip {
    /// The WARNING pxadm logs when it starts skipping `peer` for `module`.
    pub fn log_line(&self, module: Module, peer: &impl fmt::Display) -> String {
        match self {
            Skip::Unverifiable { refused, announced } => format!(
                "Cluster: not syncing {module} from peer {peer}: {refused} pulls refused because its data does not match its announced checksum {} (version {}, epoch {}). Choosing among the other peers until it announces another checksum",
                announced.checksum, announced.version, announced.epoch
            ),
            Skip::FutureEpoch {
                epoch,
                ahead,
                tolerance,
            } => format!(
                "Cluster: not syncing {module} from peer {peer}: its epoch {epoch} is {ahead}s ahead of this node's clock (tolerance {tolerance}s). Choosing among the other peers"
            ),
        }
    }

    /// Whether `other` is the same skip for logging purposes (a future epoch moving closer
    /// by the clock is the same one).
    pub fn same_as(&self, other: &Skip) -> bool {
        match (self, other) {
            (Skip::FutureEpoch { epoch: a, .. }, Skip::FutureEpoch { epoch: b, .. }) => a == b,
            (a, b) => a == b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(version: u64, epoch: u64, checksum: &str) -> PeerModuleState {
        PeerModuleState {
            version,
            epoch,
            checksum: checksum.into(),
            diff_check: 5,
            ..Default::default()
        }
    }

    #[test]
    fn refused_pulls_skip_the_announcement_then_one_try_per_new_one() {
        let now = 1_000_000;
        let liar = state(99, now + 60, "0xDEADBEEFDEADBEEF");
        let mut d = Distrust::default();
        for _ in 0..REFUSED_PULLS_BEFORE_SKIP {
            assert_eq!(skip(&liar, &d, now, 600), None);
            d.refused(Announcement::of(&liar));
        }
        let s = skip(&liar, &d, now, 600).expect("skipped");
        assert_eq!(
            s.log_line(Module::MysqlQueryRules, &"10.0.0.9:6032"),
            "Cluster: not syncing mysql_query_rules from peer 10.0.0.9:6032: 3 pulls refused because its data does not match its announced checksum 0xDEADBEEFDEADBEEF (version 99, epoch 1000060). Choosing among the other peers until it announces another checksum"
        );
        // A new announcement: one try, then skipped again at once.
        let again = state(100, now + 61, "0xDEADBEEFDEADBEEE");
        assert_eq!(skip(&again, &d, now, 600), None);
        d.refused(Announcement::of(&again));
        assert!(skip(&again, &d, now, 600).is_some());
        // A verified pull forgets everything.
        d.verified();
        assert_eq!(skip(&again, &d, now, 600), None);
    }

    #[test]
    fn an_epoch_too_far_ahead_is_no_source() {
        let now = 1_000_000;
        let d = Distrust::default();
        assert_eq!(skip(&state(2, now + 600, "0xA"), &d, now, 600), None);
        let s = skip(&state(99, now + 100_000, "0xA"), &d, now, 600).expect("skipped");
        assert_eq!(
            s,
            Skip::FutureEpoch {
                epoch: now + 100_000,
                ahead: 100_000,
                tolerance: 600
            }
        );
        assert!(s
            .log_line(Module::MysqlUsers, &"h:1")
            .contains("100000s ahead"));
        let later = skip(&state(99, now + 100_000, "0xA"), &d, now + 5, 600).unwrap();
        assert!(s.same_as(&later));
    }
}
