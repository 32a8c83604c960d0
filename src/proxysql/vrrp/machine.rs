//! The VRRP state machine (RFC 5798 §6 with keepalived's behaviour where the two differ),
//! free of I/O and clocks: every input carries `now`, every output is an [`Action`], and
//! [`Machine::deadline`] says when [`Machine::on_timer`] wants to run next. That keeps the
//! protocol testable in virtual time and leaves sockets to [`super::runtime`].

use core::net::SocketAddr;
use std::time::{Duration, Instant};

use super::config::{InitialState, TrackConfig, VipConfig, PRIORITY_OWNER};

/// RFC 5798 instance states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VrrpState {
    /// Not started yet, stopped, or waiting for the first result of a weight-0 check.
    Init,
    /// Watching the master's adverts; takes over when they stop.
    Backup,
    /// Holding the VIP and advertising.
    Master,
    /// Tracked check failed with weight 0: silent, VIP released.
    Fault,
}

impl VrrpState {
    /// The upper-case name keepalived prints.
    pub fn as_str(self) -> &'static str {
        match self {
            VrrpState::Init => "INIT",
            VrrpState::Backup => "BACKUP",
            VrrpState::Master => "MASTER",
            VrrpState::Fault => "FAULT",
        }
    }
}

impl std::fmt::Display for VrrpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated advertisement from a peer (VRID and authentication already checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advert {
    /// The sender's primary address (its advert socket address).
    pub from: SocketAddr,
    /// The sender's effective priority; 0 means "master stopping".
    pub priority: u8,
    /// The sender's advertisement interval (becomes our Master_Adver_Interval).
    pub advert_int: Duration,
}

/// What the transport must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send an advert with this priority to every peer.
    SendAdvert(u8),
    /// Start holding the VIP listener (after the advert that precedes it went out).
    AcquireVip,
    /// Stop holding the VIP listener.
    ReleaseVip,
    /// A keepalived-worded log line.
    LogLine(String),
}

/// Result of one tracked-check run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Healthy (script exit status 0).
    Succeeded,
    /// Unhealthy, with keepalived's reason text such as `exited with status 1`.
    Failed(String),
    /// The run exceeded its timeout (counts as a failure).
    TimedOut,
}

impl CheckOutcome {
    /// Whether the run counts as a success.
    pub fn is_ok(&self) -> bool {
        matches!(self, CheckOutcome::Succeeded)
    }

    /// The outcome of a process that exited with `status`.
    pub fn exited(status: i32) -> Self {
        if status == 0 {
            CheckOutcome::Succeeded
        } else {
            CheckOutcome::Failed(format!("exited with status {status}"))
        }
    }
}

/// keepalived's rise/fall counter: `result` runs from 0 to `rise + fall - 1` and the check
/// is healthy while `result >= rise`, so a healthy check needs `fall` failures in a row to
/// turn bad and a bad one `rise` successes in a row to turn good.
#[derive(Debug, Clone)]
struct Tracker {
    name: String,
    weight: i32,
    rise: u32,
    fall: u32,
    result: u32,
    /// No result yet: the first result alone decides the state.
    initialising: bool,
}

impl Tracker {
    fn new(cfg: &TrackConfig) -> Self {
        Self {
            name: cfg.name.clone(),
            weight: cfg.weight,
            rise: cfg.rise,
            fall: cfg.fall,
            result: if cfg.init_fail { 0 } else { cfg.rise - 1 },
            initialising: !cfg.init_fail,
        }
    }

    fn healthy(&self) -> Option<bool> {
        (!self.initialising).then_some(self.result >= self.rise)
    }

    /// Records one run; returns the new health when it changes (or is first established).
    fn record(&mut self, ok: bool) -> Option<bool> {
        let top = self.rise + self.fall - 1;
        let was_initialising = std::mem::replace(&mut self.initialising, false);
        if ok {
            if self.result + 1 < self.rise {
                self.result += 1;
                None
            } else if self.result != top {
                let turned_good = self.result < self.rise;
                self.result = top;
                turned_good.then_some(true)
            } else {
                None
            }
        } else if self.result > self.rise {
            self.result -= 1;
            None
        } else {
            let turned_bad = self.result == self.rise || was_initialising;
            self.result = 0;
            turned_bad.then_some(false)
        }
    }
}

/// One VRRP instance's protocol state.
#[derive(Debug, Clone)]
pub struct Machine {
    instance: String,
    self_addr: SocketAddr,
    initial: InitialState,
    base_priority: u8,
    /// Base plus tracking adjustments, unclamped (keepalived's `total_priority`).
    total_priority: i32,
    effective_priority: u8,
    advert_int: Duration,
    master_adver_int: Duration,
    preempt: bool,
    preempt_delay: Duration,
    /// While a lower-priority master is tolerated because of `preempt_delay`.
    preempt_until: Option<Instant>,
    state: VrrpState,
    deadline: Option<Instant>,
    tracker: Option<Tracker>,
    started: bool,
    stopped: bool,
    transitions: u64,
    last_advert: Option<(SocketAddr, Instant)>,
}

impl Machine {
    /// A machine in INIT for a validated configuration; call [`Machine::start`] next.
    pub fn new(cfg: &VipConfig) -> Self {
        let tracker = cfg.check.as_ref().map(Tracker::new);
        let mut total = i32::from(cfg.priority);
        // An `init_fail` check with a negative weight counts as failed from the start.
        if let Some(t) = &tracker {
            if t.healthy() == Some(false) && t.weight < 0 && cfg.priority != PRIORITY_OWNER {
                total += t.weight;
            }
        }
        let mut machine = Self {
            instance: cfg.instance.clone(),
            self_addr: cfg.bind,
            initial: cfg.state,
            base_priority: cfg.priority,
            total_priority: total,
            effective_priority: cfg.priority,
            advert_int: cfg.advert_int,
            master_adver_int: cfg.advert_int,
            preempt: cfg.preempt,
            preempt_delay: cfg.preempt_delay,
            preempt_until: None,
            state: VrrpState::Init,
            deadline: None,
            tracker,
            started: false,
            stopped: false,
            transitions: 0,
            last_advert: None,
        };
        if machine.base_priority != PRIORITY_OWNER {
            machine.effective_priority = clamp_priority(total);
        }
        machine
    }

    /// Current state.
    pub fn state(&self) -> VrrpState {
        self.state
    }

    /// Configured priority.
    pub fn base_priority(&self) -> u8 {
        self.base_priority
    }

    /// Priority after tracking adjustments, as advertised.
    pub fn effective_priority(&self) -> u8 {
        self.effective_priority
    }

    /// When [`Machine::on_timer`] wants to run: the advert timer as MASTER, the master-down
    /// timer as BACKUP, nothing otherwise.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Health of the tracked check: `None` without a check or before its first result.
    pub fn check_ok(&self) -> Option<bool> {
        self.tracker.as_ref().and_then(Tracker::healthy)
    }

    /// Number of state changes so far.
    pub fn transitions(&self) -> u64 {
        self.transitions
    }

    /// Sender and arrival time of the last valid advert.
    pub fn last_advert(&self) -> Option<(SocketAddr, Instant)> {
        self.last_advert
    }

    /// RFC 5798 Skew_Time: `((256 - priority) * Master_Adver_Interval) / 256`.
    pub fn skew_time(&self) -> Duration {
        let priority = if self.base_priority == PRIORITY_OWNER {
            PRIORITY_OWNER
        } else {
            self.effective_priority
        };
        self.master_adver_int * (256 - u32::from(priority)) / 256
    }

    /// RFC 5798 Master_Down_Interval: `3 * Master_Adver_Interval + Skew_Time`.
    pub fn master_down_interval(&self) -> Duration {
        self.master_adver_int * 3 + self.skew_time()
    }

    /// Leaves INIT: the address owner configured as MASTER takes over at once; any other
    /// instance enters BACKUP, and one configured as MASTER only waits one advert interval
    /// (plus the minimal skew) to make sure no master exists, as keepalived does. An instance
    /// tracking a weight-0 check stays in INIT until the check's first result.
    pub fn start(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.started || self.stopped {
            return out;
        }
        self.started = true;
        match self.tracker.as_ref() {
            Some(t) if t.weight == 0 && t.healthy().is_none() => {}
            Some(t) if t.weight == 0 && t.healthy() == Some(false) => self.enter_fault(&mut out),
            _ => self.enter_initial(now, &mut out),
        }
        out
    }

    /// Fires the advert timer (MASTER) or the master-down timer (BACKUP) once `now` has
    /// reached [`Machine::deadline`]; earlier calls do nothing.
    pub fn on_timer(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(deadline) = self.deadline else {
            return out;
        };
        if now < deadline || self.stopped {
            return out;
        }
        match self.state {
            VrrpState::Backup => {
                out.push(self.log("Receive advertisement timeout"));
                self.become_master(now, &mut out);
            }
            VrrpState::Master => {
                out.push(Action::SendAdvert(self.effective_priority));
                self.deadline = Some(now + self.advert_int);
            }
            VrrpState::Init | VrrpState::Fault => self.deadline = None,
        }
        out
    }

    /// Processes a validated advert from a peer.
    pub fn on_advert(&mut self, now: Instant, advert: &Advert) -> Vec<Action> {
        let mut out = Vec::new();
        if self.stopped || advert.from == self.self_addr {
            return out;
        }
        self.last_advert = Some((advert.from, now));
        match self.state {
            VrrpState::Backup => self.backup_rx(now, advert, &mut out),
            VrrpState::Master => self.master_rx(now, advert, &mut out),
            VrrpState::Init | VrrpState::Fault => {}
        }
        out
    }

    /// Processes one tracked-check result: rise/fall counting, then on a health change the
    /// weight (priority adjustment) or, for weight 0, FAULT entry/exit.
    pub fn on_check_result(&mut self, now: Instant, outcome: &CheckOutcome) -> Vec<Action> {
        let mut out = Vec::new();
        if self.stopped {
            return out;
        }
        let Some(tracker) = self.tracker.as_mut() else {
            return out;
        };
        let was_initialising = tracker.initialising;
        let Some(healthy) = tracker.record(outcome.is_ok()) else {
            return out;
        };
        let (name, weight) = (tracker.name.clone(), tracker.weight);
        out.push(Action::LogLine(match outcome {
            CheckOutcome::Succeeded => format!("VRRP_Script({name}) succeeded"),
            CheckOutcome::Failed(reason) => format!("VRRP_Script({name}) failed ({reason})"),
            CheckOutcome::TimedOut => format!("VRRP_Script({name}) timed_out"),
        }));
        if weight == 0 {
            if !self.started {
                return out;
            }
            match (healthy, self.state) {
                (false, VrrpState::Fault) => {}
                (false, _) => self.enter_fault(&mut out),
                (true, VrrpState::Fault) => self.leave_fault(now, &mut out),
                (true, VrrpState::Init) => self.enter_initial(now, &mut out),
                (true, _) => {}
            }
            return out;
        }
        if self.base_priority == PRIORITY_OWNER {
            return out;
        }
        // Before the first result the priority was the base one, so only the direction the
        // weight applies in changes it; afterwards every change toggles the whole weight.
        let delta = if was_initialising {
            match (healthy, weight > 0) {
                (true, true) | (false, false) => weight,
                _ => 0,
            }
        } else if healthy {
            weight.abs()
        } else {
            -weight.abs()
        };
        self.total_priority += delta;
        self.set_effective_priority(&mut out);
        out
    }

    /// Stops the instance: a MASTER sends a priority-0 advert so a backup takes over after
    /// its skew time instead of a full Master_Down_Interval, then releases the VIP.
    pub fn shutdown(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if self.stopped {
            return out;
        }
        self.stopped = true;
        if self.state == VrrpState::Master {
            out.push(Action::SendAdvert(0));
            out.push(self.log("sent 0 priority"));
            out.push(Action::ReleaseVip);
        }
        if self.state != VrrpState::Init {
            self.transitions += 1;
        }
        self.state = VrrpState::Init;
        self.deadline = None;
        out
    }

    fn log(&self, text: impl std::fmt::Display) -> Action {
        Action::LogLine(format!("({}) {text}", self.instance))
    }

    fn enter_initial(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.master_adver_int = self.advert_int;
        if self.initial == InitialState::Master && self.base_priority == PRIORITY_OWNER {
            self.become_master(now, out);
            return;
        }
        let wait = if self.initial == InitialState::Master {
            self.master_adver_int + self.master_adver_int / 256
        } else {
            self.master_down_interval()
        };
        out.push(self.log("Entering BACKUP STATE (init)"));
        self.set_state(VrrpState::Backup);
        self.deadline = Some(now + wait);
    }

    fn become_master(&mut self, now: Instant, out: &mut Vec<Action>) {
        // The advert goes out before the VIP is taken so the old holder lets go first.
        out.push(Action::SendAdvert(self.effective_priority));
        out.push(self.log("Entering MASTER STATE"));
        out.push(Action::AcquireVip);
        self.set_state(VrrpState::Master);
        self.preempt_until = None;
        self.deadline = Some(now + self.advert_int);
    }

    fn become_backup(&mut self, now: Instant, master_adver_int: Duration, out: &mut Vec<Action>) {
        out.push(self.log("Entering BACKUP STATE"));
        if self.state == VrrpState::Master {
            out.push(Action::ReleaseVip);
        }
        self.set_state(VrrpState::Backup);
        self.preempt_until = None;
        self.master_adver_int = master_adver_int;
        self.deadline = Some(now + self.master_down_interval());
    }

    fn enter_fault(&mut self, out: &mut Vec<Action>) {
        out.push(self.log("Entering FAULT STATE"));
        if self.state == VrrpState::Master {
            out.push(Action::SendAdvert(0));
            out.push(self.log("sent 0 priority"));
            out.push(Action::ReleaseVip);
        }
        self.set_state(VrrpState::Fault);
        self.deadline = None;
    }

    fn leave_fault(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.initial == InitialState::Master && self.base_priority == PRIORITY_OWNER {
            self.become_master(now, out);
        } else {
            self.become_backup(now, self.advert_int, out);
        }
    }

    fn set_state(&mut self, state: VrrpState) {
        if self.state != state {
            self.state = state;
            self.transitions += 1;
        }
    }

    fn backup_rx(&mut self, now: Instant, advert: &Advert, out: &mut Vec<Action>) {
        if advert.priority == 0 {
            // The master is leaving: take over after Skew_Time so the highest-priority
            // backup wins without waiting for Master_Down_Interval.
            out.push(self.log("Backup received priority 0 advertisement"));
            self.deadline = Some(now + self.skew_time());
            return;
        }
        let delay_pending =
            !self.preempt_delay.is_zero() && self.preempt_until.is_none_or(|until| until > now);
        if !self.preempt || advert.priority >= self.effective_priority || delay_pending {
            if !advert.advert_int.is_zero() {
                self.master_adver_int = advert.advert_int;
            }
            self.deadline = Some(now + self.master_down_interval());
            if !self.preempt_delay.is_zero() {
                if advert.priority >= self.effective_priority {
                    self.preempt_until = None;
                } else if self.preempt_until.is_none() {
                    self.preempt_until = Some(now + self.preempt_delay);
                }
            }
        } else {
            // Not resetting the master-down timer is what makes us preempt: it fires
            // Master_Down_Interval after the last advert we accepted.
            out.push(self.log(format!(
                "received lower priority ({}) advert from {} - discarding",
                advert.priority,
                advert.from.ip()
            )));
        }
    }

    fn master_rx(&mut self, now: Instant, advert: &Advert, out: &mut Vec<Action>) {
        if advert.priority == 0 {
            // Another master is stopping: make sure backups hear from us at once.
            out.push(Action::SendAdvert(self.effective_priority));
            self.deadline = Some(now + self.advert_int);
            return;
        }
        let ours = self.effective_priority;
        // Equal priorities are broken by the higher primary address (RFC 5798 §6.4.3).
        match advert
            .priority
            .cmp(&ours)
            .then(advert.from.cmp(&self.self_addr))
        {
            std::cmp::Ordering::Less => {
                out.push(self.log(format!(
                    "Received advert from {} with lower priority {}, ours {ours}, forcing new election",
                    advert.from.ip(),
                    advert.priority
                )));
                out.push(Action::SendAdvert(ours));
            }
            std::cmp::Ordering::Greater => {
                out.push(self.log(if advert.priority > ours {
                    format!(
                        "Master received advert from {} with higher priority {}, ours {ours}",
                        advert.from.ip(),
                        advert.priority
                    )
                } else {
                    format!(
                        "Master received advert from {} with same priority {} but higher IP address than ours",
                        advert.from.ip(),
                        advert.priority
                    )
                }));
                let interval = if advert.advert_int.is_zero() {
                    self.advert_int
                } else {
                    advert.advert_int
                };
                self.become_backup(now, interval, out);
            }
            std::cmp::Ordering::Equal => {}
        }
    }

    fn set_effective_priority(&mut self, out: &mut Vec<Action>) {
        let new = clamp_priority(self.total_priority);
        if new == self.effective_priority {
            return;
        }
        out.push(self.log(format!(
            "Changing effective priority from {} to {new}",
            self.effective_priority
        )));
        let old_down = self.master_down_interval();
        self.effective_priority = new;
        let new_down = self.master_down_interval();
        // A running master-down timer follows the new skew, as keepalived shifts `sands`.
        if self.state == VrrpState::Backup {
            if let Some(deadline) = self.deadline {
                self.deadline = Some(if new_down > old_down {
                    deadline + (new_down - old_down)
                } else {
                    deadline
                        .checked_sub(old_down - new_down)
                        .unwrap_or(deadline)
                });
            }
        }
    }
}

/// Tracking never takes a non-owner to 0 ("stopping") or 255 ("owner").
fn clamp_priority(total: i32) -> u8 {
    total.clamp(1, i32::from(PRIORITY_OWNER) - 1) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxysql::vrrp::config::CheckKind;

    const MS: Duration = Duration::from_millis(1);

    fn addr(last: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, last], 5405))
    }

    fn config(last: u8, priority: u8, state: InitialState) -> VipConfig {
        let mut cfg = VipConfig::new(51, "127.0.0.20:6033".parse().unwrap(), addr(last));
        cfg.priority = priority;
        cfg.state = state;
        cfg
    }

    fn with_check(mut cfg: VipConfig, weight: i32, fall: u32, rise: u32) -> VipConfig {
        let mut check = TrackConfig::new("chk_service", CheckKind::Builtin);
        check.weight = weight;
        check.fall = fall;
        check.rise = rise;
        check.interval = Duration::from_secs(2);
        cfg.check = Some(check);
        cfg
    }

    fn logs(actions: &[Action]) -> Vec<&str> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::LogLine(l) => Some(l.as_str()),
                _ => None,
            })
            .collect()
    }

    /// A virtual LAN: every advert reaches every other running node instantly, timers fire
    /// in order, and each node's VIP holding is tracked from its actions.
    struct Net {
        t0: Instant,
        now: Instant,
        nodes: Vec<Machine>,
        up: Vec<bool>,
        holds: Vec<bool>,
        pending: Vec<bool>,
        log: Vec<(Duration, usize, String)>,
    }

    impl Net {
        fn new(cfgs: Vec<VipConfig>) -> Self {
            let t0 = Instant::now();
            let n = cfgs.len();
            let mut net = Net {
                t0,
                now: t0,
                nodes: cfgs.iter().map(Machine::new).collect(),
                up: vec![true; n],
                holds: vec![false; n],
                pending: vec![false; n],
                log: Vec::new(),
            };
            for i in 0..n {
                let acts = net.nodes[i].start(t0);
                net.apply(i, acts);
            }
            net
        }

        fn at(&self) -> Duration {
            self.now - self.t0
        }

        /// Delivers adverts depth-first (instantly), so a receiver reacts before the sender
        /// goes on; a VIP acquisition stays pending while another node still holds it, as the
        /// transport retries its bind until the old holder lets go.
        fn apply(&mut self, from: usize, actions: Vec<Action>) {
            let mut queue: std::collections::VecDeque<(usize, Action)> =
                actions.into_iter().map(|a| (from, a)).collect();
            while let Some((node, action)) = queue.pop_front() {
                match action {
                    Action::AcquireVip => self.pending[node] = true,
                    Action::ReleaseVip => {
                        self.holds[node] = false;
                        self.pending[node] = false;
                    }
                    Action::LogLine(l) => self.log.push((self.at(), node, l)),
                    Action::SendAdvert(priority) => {
                        let advert = Advert {
                            from: self.nodes[node].self_addr,
                            priority,
                            advert_int: self.nodes[node].advert_int,
                        };
                        for j in (0..self.nodes.len()).rev() {
                            if j != node && self.up[j] {
                                let acts = self.nodes[j].on_advert(self.now, &advert);
                                for a in acts.into_iter().rev() {
                                    queue.push_front((j, a));
                                }
                            }
                        }
                    }
                }
            }
            for i in 0..self.nodes.len() {
                if self.pending[i] && !self.holds.iter().any(|h| *h) {
                    self.pending[i] = false;
                    self.holds[i] = true;
                }
            }
        }

        /// Runs every timer due up to `now + span`.
        fn run_for(&mut self, span: Duration) {
            let end = self.now + span;
            loop {
                let next = (0..self.nodes.len())
                    .filter(|&i| self.up[i])
                    .filter_map(|i| self.nodes[i].deadline().map(|d| (d, i)))
                    .min();
                match next {
                    Some((d, i)) if d <= end => {
                        self.now = self.now.max(d);
                        let acts = self.nodes[i].on_timer(self.now);
                        self.apply(i, acts);
                    }
                    _ => break,
                }
            }
            self.now = end;
        }

        /// Runs until `node` is MASTER; returns the virtual time that took.
        fn until_master(&mut self, node: usize, limit: Duration) -> Duration {
            let start = self.now;
            while self.nodes[node].state() != VrrpState::Master {
                assert!(
                    self.now - start < limit,
                    "node {node} not master: {:?}",
                    self.log
                );
                self.run_for(MS);
            }
            self.now - start
        }

        fn check(&mut self, node: usize, outcome: CheckOutcome) {
            let acts = self.nodes[node].on_check_result(self.now, &outcome);
            self.apply(node, acts);
        }

        /// `kill -9`: the node vanishes without a goodbye and its VIP socket closes.
        fn kill(&mut self, node: usize) {
            self.up[node] = false;
            self.holds[node] = false;
            self.pending[node] = false;
        }

        fn stop(&mut self, node: usize) {
            let acts = self.nodes[node].shutdown();
            self.apply(node, acts);
            self.up[node] = false;
        }

        fn restart(&mut self, node: usize, cfg: &VipConfig) {
            self.nodes[node] = Machine::new(cfg);
            self.up[node] = true;
            let acts = self.nodes[node].start(self.now);
            self.apply(node, acts);
        }

        fn states(&self) -> Vec<VrrpState> {
            self.nodes.iter().map(Machine::state).collect()
        }

        fn holder(&self) -> Option<usize> {
            let holders: Vec<usize> = (0..self.holds.len()).filter(|&i| self.holds[i]).collect();
            assert!(holders.len() <= 1, "{holders:?}");
            assert!(
                !self.pending.iter().any(|p| *p),
                "an acquisition is still pending"
            );
            holders.first().copied()
        }
    }

    #[test]
    fn timers_follow_rfc5798() {
        let mut m = Machine::new(&config(12, 90, InitialState::Backup));
        assert_eq!(m.skew_time(), Duration::from_secs(1) * 166 / 256);
        assert_eq!(
            m.master_down_interval(),
            Duration::from_secs(3) + Duration::from_secs(1) * 166 / 256
        );
        let now = Instant::now();
        let acts = m.start(now);
        assert_eq!(logs(&acts), ["(VI_1) Entering BACKUP STATE (init)"]);
        assert_eq!(m.deadline(), Some(now + m.master_down_interval()));

        let mut cfg = config(12, 200, InitialState::Backup);
        cfg.advert_int = Duration::from_millis(100);
        let m = Machine::new(&cfg);
        assert_eq!(m.skew_time(), Duration::from_millis(100) * 56 / 256);
        assert_eq!(m.master_down_interval(), Duration::from_nanos(321_875_000));
    }

    #[test]
    fn two_node_election_scenario() {
        let mut net = Net::new(vec![
            config(11, 100, InitialState::Master),
            config(12, 90, InitialState::Backup),
        ]);
        // A MASTER-configured node waits one advert interval plus minimal skew.
        let wait = Duration::from_secs(1) + Duration::from_secs(1) / 256;
        assert_eq!(net.nodes[0].deadline(), Some(net.t0 + wait));
        let took = net.until_master(0, Duration::from_secs(2));
        assert!(took >= wait && took <= wait + MS, "{took:?}");
        assert_eq!(net.holder(), Some(0));
        net.run_for(Duration::from_secs(10));
        assert_eq!(net.states(), [VrrpState::Master, VrrpState::Backup]);
        assert_eq!(net.holder(), Some(0));
        let first = &net.log.iter().find(|(_, n, _)| *n == 0).unwrap().2;
        assert_eq!(first, "(VI_1) Entering BACKUP STATE (init)");
        assert!(net
            .log
            .iter()
            .any(|(_, n, l)| *n == 0 && l == "(VI_1) Entering MASTER STATE"));
    }

    #[test]
    fn three_node_election_and_failover() {
        // All BACKUP: the highest priority's master-down timer fires first (smallest skew).
        let mut net = Net::new(vec![
            config(11, 100, InitialState::Backup),
            config(12, 150, InitialState::Backup),
            config(13, 120, InitialState::Backup),
        ]);
        net.run_for(Duration::from_secs(10));
        assert_eq!(
            net.states(),
            [VrrpState::Backup, VrrpState::Master, VrrpState::Backup]
        );
        assert_eq!(net.holder(), Some(1));
        // The master vanishes: of the two backups, the higher priority (120) wins.
        net.kill(1);
        net.run_for(Duration::from_secs(10));
        assert_eq!(net.nodes[0].state(), VrrpState::Backup);
        assert_eq!(net.nodes[2].state(), VrrpState::Master);
        assert_eq!(net.holder(), Some(2));
    }

    #[test]
    fn equal_priority_is_won_by_the_higher_address() {
        let now = Instant::now();
        let mut m = Machine::new(&config(12, 100, InitialState::Master));
        m.start(now);
        m.on_timer(now + Duration::from_secs(2));
        assert_eq!(m.state(), VrrpState::Master);
        let advert = |last| Advert {
            from: addr(last),
            priority: 100,
            advert_int: Duration::from_secs(1),
        };
        let acts = m.on_advert(now, &advert(11));
        assert_eq!(acts.last(), Some(&Action::SendAdvert(100)));
        assert_eq!(m.state(), VrrpState::Master);
        let acts = m.on_advert(now, &advert(13));
        assert_eq!(
            logs(&acts),
            [
                "(VI_1) Master received advert from 127.0.0.13 with same priority 100 but higher IP address than ours",
                "(VI_1) Entering BACKUP STATE"
            ]
        );
        assert!(acts.contains(&Action::ReleaseVip));
        assert_eq!(m.state(), VrrpState::Backup);
    }

    #[test]
    fn killed_master_is_replaced_after_master_down_interval() {
        let mut net = Net::new(vec![
            config(11, 100, InitialState::Master),
            config(12, 90, InitialState::Backup),
        ]);
        net.run_for(Duration::from_secs(5));
        let last_advert = net.nodes[1].last_advert().unwrap().1;
        net.kill(0);
        let mdi = net.nodes[1].master_down_interval();
        assert_eq!(net.nodes[1].deadline(), Some(last_advert + mdi));
        let took = net.until_master(1, Duration::from_secs(5));
        assert!(took <= mdi + MS, "{took:?}");
        assert_eq!(net.holder(), Some(1));
        assert!(net
            .log
            .iter()
            .any(|(_, n, l)| *n == 1 && l == "(VI_1) Receive advertisement timeout"));
    }

    #[test]
    fn priority_zero_advert_hands_over_after_skew_time() {
        let mut net = Net::new(vec![
            config(11, 100, InitialState::Master),
            config(12, 90, InitialState::Backup),
        ]);
        net.run_for(Duration::from_millis(5_500));
        net.stop(0);
        assert_eq!(net.holder(), None);
        let skew = net.nodes[1].skew_time();
        let took = net.until_master(1, Duration::from_secs(5));
        // `until_master` steps in 1 ms, so the takeover is seen within 1 ms of the skew.
        assert!(took >= skew && took <= skew + MS, "{took:?} vs {skew:?}");
        assert_eq!(net.holder(), Some(1));
        let lines: Vec<(usize, &str)> = net.log.iter().map(|(_, n, l)| (*n, l.as_str())).collect();
        assert!(lines.contains(&(0, "(VI_1) sent 0 priority")), "{lines:?}");
        let node1: Vec<&str> = lines.iter().filter(|l| l.0 == 1).map(|l| l.1).collect();
        assert_eq!(
            node1[node1.len() - 3..],
            [
                "(VI_1) Backup received priority 0 advertisement",
                "(VI_1) Receive advertisement timeout",
                "(VI_1) Entering MASTER STATE",
            ]
        );
    }

    #[test]
    fn preempt_returns_vip_to_higher_priority_node() {
        let cfgs = vec![
            config(11, 100, InitialState::Backup),
            config(12, 90, InitialState::Backup),
        ];
        let mut net = Net::new(cfgs.clone());
        net.run_for(Duration::from_secs(5));
        assert_eq!(net.holder(), Some(0));
        net.stop(0);
        net.run_for(Duration::from_secs(5));
        assert_eq!(net.holder(), Some(1));
        net.restart(0, &cfgs[0]);
        // node0 (100) discards node1's lower adverts and preempts after its own
        // Master_Down_Interval; node1 then sees a higher priority and steps down.
        let took = net.until_master(0, Duration::from_secs(10));
        assert!(took <= net.nodes[0].master_down_interval() + MS, "{took:?}");
        net.run_for(Duration::from_secs(3));
        assert_eq!(net.states(), [VrrpState::Master, VrrpState::Backup]);
        assert_eq!(net.holder(), Some(0));
        assert!(net.log.iter().any(|(_, n, l)| *n == 0
            && l == "(VI_1) received lower priority (90) advert from 127.0.0.12 - discarding"));
        assert!(net.log.iter().any(|(_, n, l)| *n == 1
            && l == "(VI_1) Master received advert from 127.0.0.11 with higher priority 100, ours 90"));
    }

    #[test]
    fn nopreempt_leaves_vip_with_lower_priority_master() {
        let mut cfgs = vec![
            config(11, 100, InitialState::Backup),
            config(12, 90, InitialState::Backup),
        ];
        cfgs[0].preempt = false;
        let mut net = Net::new(cfgs.clone());
        net.run_for(Duration::from_secs(5));
        net.stop(0);
        net.run_for(Duration::from_secs(5));
        assert_eq!(net.holder(), Some(1));
        net.restart(0, &cfgs[0]);
        net.run_for(Duration::from_secs(30));
        assert_eq!(net.states(), [VrrpState::Backup, VrrpState::Master]);
        assert_eq!(net.holder(), Some(1));
    }

    #[test]
    fn preempt_delay_postpones_takeover() {
        let mut cfgs = vec![
            config(11, 100, InitialState::Backup),
            config(12, 90, InitialState::Backup),
        ];
        cfgs[0].preempt_delay = Duration::from_secs(10);
        let mut net = Net::new(cfgs.clone());
        net.run_for(Duration::from_secs(5));
        net.stop(0);
        net.run_for(Duration::from_secs(5));
        net.restart(0, &cfgs[0]);
        let took = net.until_master(0, Duration::from_secs(30));
        let mdi = net.nodes[0].master_down_interval();
        assert!(took >= Duration::from_secs(10) + mdi - Duration::from_secs(1));
        assert!(took <= Duration::from_secs(10) + mdi + MS, "{took:?}");
    }

    #[test]
    fn failover_drill_weight_minus_20() {
        // The scenario: node1 priority 100, node2 90; node1's check (interval 2 s, fall 2,
        // weight -20) starts failing; 100 - 20 = 80 < 90 so node2 takes the VIP.
        let mut net = Net::new(vec![
            with_check(config(11, 100, InitialState::Master), -20, 2, 1),
            with_check(config(12, 90, InitialState::Backup), -20, 2, 1),
        ]);
        for node in 0..2 {
            net.check(node, CheckOutcome::Succeeded);
        }
        net.run_for(Duration::from_secs(6));
        assert_eq!(net.holder(), Some(0));

        net.check(0, CheckOutcome::exited(1));
        assert_eq!(
            net.nodes[0].effective_priority(),
            100,
            "fall 2 needs two failures"
        );
        net.run_for(Duration::from_secs(2));
        let failed_at = net.now;
        net.check(0, CheckOutcome::exited(1));
        assert_eq!(net.nodes[0].effective_priority(), 80);
        assert_eq!(net.nodes[0].check_ok(), Some(false));
        let took = net.until_master(1, Duration::from_secs(10));
        assert!(took <= net.nodes[1].master_down_interval(), "{took:?}");
        net.run_for(Duration::from_secs(1));
        assert_eq!(net.states(), [VrrpState::Backup, VrrpState::Master]);
        assert_eq!(net.holder(), Some(1));
        let node0: Vec<&str> = net
            .log
            .iter()
            .filter(|(t, n, _)| *n == 0 && *t >= failed_at - net.t0)
            .map(|(_, _, l)| l.as_str())
            .collect();
        assert_eq!(
            node0[..4],
            [
                "VRRP_Script(chk_service) failed (exited with status 1)",
                "(VI_1) Changing effective priority from 100 to 80",
                "(VI_1) Master received advert from 127.0.0.12 with higher priority 90, ours 80",
                "(VI_1) Entering BACKUP STATE",
            ]
        );
        assert!(net.log.iter().any(|(_, n, l)| *n == 1
            && l == "(VI_1) received lower priority (80) advert from 127.0.0.11 - discarding"));

        // Recovery: one success (rise 1) restores 100 and node1 preempts again.
        net.check(0, CheckOutcome::Succeeded);
        assert_eq!(net.nodes[0].effective_priority(), 100);
        net.until_master(0, Duration::from_secs(10));
        assert_eq!(net.holder(), Some(0));
    }

    #[test]
    fn master_answers_lower_priority_master_by_forcing_new_election() {
        let mut m = Machine::new(&config(11, 100, InitialState::Master));
        let t0 = Instant::now();
        m.start(t0);
        let t1 = t0 + Duration::from_secs(2);
        m.on_timer(t1);
        assert_eq!(m.state(), VrrpState::Master);
        let acts = m.on_advert(
            t1,
            &Advert {
                from: "127.0.0.1:5405".parse().unwrap(),
                priority: 80,
                advert_int: Duration::from_secs(1),
            },
        );
        assert_eq!(
            acts,
            [
                Action::LogLine(
                    "(VI_1) Received advert from 127.0.0.1 with lower priority 80, ours 100, forcing new election"
                        .into()
                ),
                Action::SendAdvert(100)
            ]
        );
    }

    #[test]
    fn weight_zero_failure_means_fault() {
        let mut net = Net::new(vec![
            with_check(config(11, 100, InitialState::Master), 0, 1, 2),
            config(12, 90, InitialState::Backup),
        ]);
        // Weight 0: no adverts and no VIP before the first check result.
        net.run_for(Duration::from_millis(500));
        assert_eq!(net.nodes[0].state(), VrrpState::Init);
        net.check(0, CheckOutcome::Succeeded);
        net.until_master(0, Duration::from_secs(3));
        net.run_for(Duration::from_secs(2));

        let before = net.log.len();
        net.check(0, CheckOutcome::TimedOut);
        assert_eq!(net.nodes[0].state(), VrrpState::Fault);
        assert_eq!(net.nodes[0].deadline(), None);
        // The priority-0 advert lets node1 in after its skew time.
        let took = net.until_master(1, Duration::from_secs(2));
        assert!(took <= net.nodes[1].skew_time() + MS);
        assert_eq!(net.holder(), Some(1));
        let lines: Vec<&str> = net.log[before..]
            .iter()
            .map(|(_, _, l)| l.as_str())
            .collect();
        assert_eq!(
            lines[..2],
            [
                "VRRP_Script(chk_service) timed_out",
                "(VI_1) Entering FAULT STATE"
            ]
        );

        // rise 2: the first success is not enough, the second leaves FAULT for BACKUP,
        // and node0 (100 > 90) preempts again.
        net.check(0, CheckOutcome::Succeeded);
        assert_eq!(net.nodes[0].state(), VrrpState::Fault);
        net.check(0, CheckOutcome::Succeeded);
        assert_eq!(net.nodes[0].state(), VrrpState::Backup);
        net.until_master(0, Duration::from_secs(5));
        assert_eq!(net.holder(), Some(0));
    }

    #[test]
    fn fall_and_rise_counting_matches_keepalived() {
        let cfg = with_check(config(11, 100, InitialState::Backup), -20, 3, 2);
        let mut m = Machine::new(&cfg);
        let now = Instant::now();
        let f = CheckOutcome::Failed("exited with status 1".into());
        let s = CheckOutcome::Succeeded;
        assert_eq!(m.check_ok(), None);
        // One success is enough at start.
        m.on_check_result(now, &s);
        assert_eq!((m.check_ok(), m.effective_priority()), (Some(true), 100));
        // Two failures, a success (back to full), three failures: only now it fails.
        for outcome in [&f, &f, &s, &f, &f] {
            m.on_check_result(now, outcome);
            assert_eq!(m.check_ok(), Some(true));
        }
        let acts = m.on_check_result(now, &f);
        assert_eq!(
            logs(&acts),
            [
                "VRRP_Script(chk_service) failed (exited with status 1)",
                "(VI_1) Changing effective priority from 100 to 80"
            ]
        );
        // rise 2: success, failure (resets), success, success.
        for outcome in [&s, &f, &s] {
            assert!(logs(&m.on_check_result(now, outcome)).is_empty());
            assert_eq!(m.effective_priority(), 80);
        }
        let acts = m.on_check_result(now, &s);
        assert_eq!(
            logs(&acts),
            [
                "VRRP_Script(chk_service) succeeded",
                "(VI_1) Changing effective priority from 80 to 100"
            ]
        );
    }

    #[test]
    fn first_failure_counts_at_once_and_positive_weight_adds_while_healthy() {
        let mut m = Machine::new(&with_check(
            config(11, 100, InitialState::Backup),
            -20,
            5,
            1,
        ));
        let now = Instant::now();
        let acts = m.on_check_result(now, &CheckOutcome::exited(2));
        assert_eq!(m.effective_priority(), 80, "{acts:?}");

        let mut m = Machine::new(&with_check(config(11, 100, InitialState::Backup), 30, 1, 1));
        assert_eq!(m.effective_priority(), 100);
        m.on_check_result(now, &CheckOutcome::Succeeded);
        assert_eq!(m.effective_priority(), 130);
        m.on_check_result(now, &CheckOutcome::exited(1));
        assert_eq!(m.effective_priority(), 100);

        // Clamped to 1..=254 and never applied to the owner.
        let mut m = Machine::new(&with_check(config(11, 250, InitialState::Backup), 30, 1, 1));
        m.on_check_result(now, &CheckOutcome::Succeeded);
        assert_eq!(m.effective_priority(), 254);
        let mut cfg = with_check(config(11, 20, InitialState::Backup), -50, 1, 1);
        cfg.check.as_mut().unwrap().init_fail = true;
        let m = Machine::new(&cfg);
        assert_eq!(m.effective_priority(), 1);
    }

    #[test]
    fn priority_change_moves_running_master_down_timer() {
        let mut m = Machine::new(&with_check(config(12, 90, InitialState::Backup), -20, 1, 1));
        let now = Instant::now();
        m.start(now);
        let before = m.deadline().unwrap();
        m.on_check_result(now, &CheckOutcome::exited(1));
        // Skew grows by 20/256 of the interval.
        assert_eq!(
            m.deadline().unwrap() - before,
            Duration::from_secs(1) * 20 / 256
        );
    }

    #[test]
    fn owner_becomes_master_at_once() {
        let mut m = Machine::new(&config(11, 255, InitialState::Master));
        let acts = m.start(Instant::now());
        assert_eq!(
            acts,
            [
                Action::SendAdvert(255),
                Action::LogLine("(VI_1) Entering MASTER STATE".into()),
                Action::AcquireVip
            ]
        );
    }

    #[test]
    fn sub_second_advert_int_timers() {
        let mut cfgs = vec![
            config(11, 100, InitialState::Master),
            config(12, 90, InitialState::Backup),
        ];
        for cfg in &mut cfgs {
            cfg.advert_int = Duration::from_millis(100);
        }
        let mut net = Net::new(cfgs);
        let took = net.until_master(0, Duration::from_secs(1));
        assert!(took <= Duration::from_millis(101), "{took:?}");
        net.run_for(Duration::from_secs(1));
        net.kill(0);
        let mdi = net.nodes[1].master_down_interval();
        assert_eq!(
            mdi,
            Duration::from_millis(300) + Duration::from_millis(100) * 166 / 256
        );
        let took = net.until_master(1, Duration::from_secs(1));
        assert!(took <= mdi + MS, "{took:?}");
        // A backup learns the master's interval from its adverts (RFC 5798 Master_Adver_Interval).
        let mut slow = config(13, 50, InitialState::Backup);
        slow.advert_int = Duration::from_secs(2);
        let mut m = Machine::new(&slow);
        let now = Instant::now();
        m.start(now);
        m.on_advert(
            now,
            &Advert {
                from: addr(12),
                priority: 90,
                advert_int: Duration::from_millis(100),
            },
        );
        assert_eq!(
            m.master_down_interval(),
            Duration::from_millis(300) + Duration::from_millis(100) * 206 / 256
        );
    }

    #[test]
    fn stopped_machine_ignores_everything() {
        let mut m = Machine::new(&config(11, 255, InitialState::Master));
        let now = Instant::now();
        m.start(now);
        assert_eq!(
            m.shutdown(),
            [
                Action::SendAdvert(0),
                Action::LogLine("(VI_1) sent 0 priority".into()),
                Action::ReleaseVip
            ]
        );
        assert!(m.shutdown().is_empty());
        assert!(m.on_timer(now + Duration::from_secs(9)).is_empty());
        assert_eq!(m.state(), VrrpState::Init);
    }
}
