//! The fail-open watchdog as a pure state machine.
//!
//! Users judge Headroom by one thing first: their tools keep working. So whenever the proxy the
//! tools are wired to stays unhealthy for longer than a grace period (~15 s), the app unwires
//! the tools (they talk to the providers directly), tells the user, keeps trying to bring the
//! proxy back, and rewires once it is healthy again. Keeping the decision logic free of I/O and
//! clocks (time is passed in) makes every transition truth-table testable without a window.

use std::time::{Duration, Instant};

/// Default time the proxy may stay unhealthy before routing is auto-paused.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(15);
/// Minimum time between two restart attempts.
pub const DEFAULT_RESTART_EVERY: Duration = Duration::from_secs(3);

/// What the watchdog knows about the proxy at one tick.
#[derive(Debug, Clone, Copy)]
pub struct Observation {
    /// The user wants the proxy running (not stopped from the tray / UI).
    pub expected_up: bool,
    /// `/health` answered as Headroom and said healthy.
    pub healthy: bool,
    pub now: Instant,
}

/// Side effects the app must carry out after a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The proxy was healthy and stopped answering without the user asking.
    NotifyStopped,
    /// Try to bring the proxy back (restart in-app, recover the service, or take over the port).
    Restart,
    /// The proxy stayed down past the grace period: tools were unwired; tell the user.
    NotifyAutoPaused,
    /// The proxy is healthy again after an outage.
    NotifyRecovered,
}

/// Where the watchdog is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The user stopped the proxy; nothing to watch.
    Idle,
    /// Started, not yet seen healthy.
    Starting {
        since: Instant,
        last_restart: Option<Instant>,
    },
    /// Healthy at the last tick.
    Up,
    /// Unhealthy after having been up; still within the grace period.
    Down {
        since: Instant,
        last_restart: Instant,
    },
    /// Unhealthy past the grace period: routing is auto-paused.
    FailedOpen { last_restart: Instant },
}

/// The outcome of one tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether tools may be wired to the proxy right now (before the user's own pause switch).
    pub route: bool,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone)]
pub struct Watchdog {
    phase: Phase,
    grace: Duration,
    restart_every: Duration,
}

impl Watchdog {
    pub fn new(grace: Duration, restart_every: Duration) -> Self {
        Watchdog {
            phase: Phase::Idle,
            grace,
            restart_every,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// True while routing is paused because the proxy failed, not because the user asked.
    pub fn auto_paused(&self) -> bool {
        matches!(self.phase, Phase::FailedOpen { .. })
    }

    /// Advance one tick.
    pub fn step(&mut self, obs: Observation) -> Verdict {
        let now = obs.now;
        if !obs.expected_up {
            self.phase = Phase::Idle;
            return Verdict {
                route: false,
                actions: Vec::new(),
            };
        }
        let mut actions = Vec::new();
        let (phase, route) = match (self.phase, obs.healthy) {
            (_, true) => {
                if matches!(self.phase, Phase::Down { .. } | Phase::FailedOpen { .. }) {
                    actions.push(Action::NotifyRecovered);
                }
                (Phase::Up, true)
            }
            (Phase::Idle, false) => {
                // Just asked to run and not healthy yet: never route to a port nobody serves.
                (
                    Phase::Starting {
                        since: now,
                        last_restart: None,
                    },
                    false,
                )
            }
            (
                Phase::Starting {
                    since,
                    last_restart,
                },
                false,
            ) => {
                if now.duration_since(since) >= self.grace {
                    actions.push(Action::NotifyAutoPaused);
                    actions.push(Action::Restart);
                    (Phase::FailedOpen { last_restart: now }, false)
                } else if last_restart.is_none_or(|t| now.duration_since(t) >= self.restart_every)
                    && now.duration_since(since) >= self.restart_every
                {
                    actions.push(Action::Restart);
                    (
                        Phase::Starting {
                            since,
                            last_restart: Some(now),
                        },
                        false,
                    )
                } else {
                    (
                        Phase::Starting {
                            since,
                            last_restart,
                        },
                        false,
                    )
                }
            }
            (Phase::Up, false) => {
                actions.push(Action::NotifyStopped);
                actions.push(Action::Restart);
                (
                    Phase::Down {
                        since: now,
                        last_restart: now,
                    },
                    true,
                )
            }
            (
                Phase::Down {
                    since,
                    last_restart,
                },
                false,
            ) => {
                if now.duration_since(since) >= self.grace {
                    actions.push(Action::NotifyAutoPaused);
                    (Phase::FailedOpen { last_restart }, false)
                } else if now.duration_since(last_restart) >= self.restart_every {
                    actions.push(Action::Restart);
                    (
                        Phase::Down {
                            since,
                            last_restart: now,
                        },
                        true,
                    )
                } else {
                    (
                        Phase::Down {
                            since,
                            last_restart,
                        },
                        true,
                    )
                }
            }
            (Phase::FailedOpen { last_restart }, false) => {
                if now.duration_since(last_restart) >= self.restart_every {
                    actions.push(Action::Restart);
                    (Phase::FailedOpen { last_restart: now }, false)
                } else {
                    (Phase::FailedOpen { last_restart }, false)
                }
            }
        };
        self.phase = phase;
        Verdict { route, actions }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;

    const GRACE: Duration = Duration::from_secs(15);
    const EVERY: Duration = Duration::from_secs(3);

    struct Clock {
        t0: Instant,
        wd: Watchdog,
    }

    impl Clock {
        fn new() -> Self {
            Clock {
                t0: Instant::now(),
                wd: Watchdog::new(GRACE, EVERY),
            }
        }
        fn at(&mut self, secs: u64, expected_up: bool, healthy: bool) -> Verdict {
            self.wd.step(Observation {
                expected_up,
                healthy,
                now: self.t0 + Duration::from_secs(secs),
            })
        }
    }

    fn v(route: bool, actions: &[Action]) -> Verdict {
        Verdict {
            route,
            actions: actions.to_vec(),
        }
    }

    #[test]
    fn stopped_by_user_never_routes_nor_notifies() {
        let mut c = Clock::new();
        assert_eq!(c.at(0, false, false), v(false, &[]));
        assert_eq!(c.at(1, false, true), v(false, &[]));
        assert_eq!(c.wd.phase(), Phase::Idle);
    }

    #[test]
    fn healthy_start_routes_without_notifications() {
        let mut c = Clock::new();
        assert_eq!(c.at(0, true, false), v(false, &[]));
        assert_eq!(c.at(1, true, true), v(true, &[]));
        assert_eq!(c.at(2, true, true), v(true, &[]));
    }

    #[test]
    fn crash_notifies_restarts_keeps_routing_within_grace_then_fails_open() {
        let mut c = Clock::new();
        c.at(0, true, true);
        assert_eq!(c.at(1, true, false), v(true, &[NotifyStopped, Restart]));
        assert_eq!(c.at(2, true, false), v(true, &[]));
        assert_eq!(c.at(4, true, false), v(true, &[Restart]));
        assert_eq!(c.at(15, true, false), v(true, &[Restart]));
        assert_eq!(c.at(16, true, false), v(false, &[NotifyAutoPaused]));
        assert!(c.wd.auto_paused());
        assert_eq!(c.at(17, true, false), v(false, &[]));
        assert_eq!(c.at(19, true, false), v(false, &[Restart]));
        assert_eq!(c.at(20, true, true), v(true, &[NotifyRecovered]));
        assert!(!c.wd.auto_paused());
    }

    #[test]
    fn short_blip_recovers_without_unwiring() {
        let mut c = Clock::new();
        c.at(0, true, true);
        assert_eq!(c.at(1, true, false), v(true, &[NotifyStopped, Restart]));
        assert_eq!(c.at(2, true, true), v(true, &[NotifyRecovered]));
    }

    #[test]
    fn never_healthy_start_does_not_route_and_fails_open_after_grace() {
        let mut c = Clock::new();
        assert_eq!(c.at(0, true, false), v(false, &[]));
        assert_eq!(c.at(3, true, false), v(false, &[Restart]));
        assert_eq!(c.at(4, true, false), v(false, &[]));
        assert_eq!(
            c.at(15, true, false),
            v(false, &[NotifyAutoPaused, Restart])
        );
        assert_eq!(c.at(16, true, true), v(true, &[NotifyRecovered]));
    }

    #[test]
    fn user_stop_during_outage_clears_auto_pause() {
        let mut c = Clock::new();
        c.at(0, true, true);
        c.at(1, true, false);
        c.at(17, true, false);
        assert!(c.wd.auto_paused());
        assert_eq!(c.at(18, false, false), v(false, &[]));
        assert!(!c.wd.auto_paused());
        // Starting again is a fresh start: no "recovered" for an outage the user ended.
        assert_eq!(c.at(19, true, true), v(true, &[]));
    }
}
