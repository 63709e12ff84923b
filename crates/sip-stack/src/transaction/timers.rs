//! Timer values (RFC 3261 §17, Table 4 of Appendix A).

use std::time::Duration;

/// T1, T2, T4 and Timer D, configurable (RFC 3261 §17.1.1.1: T1 "SHOULD be 500 ms" by default
/// and may be smaller in managed networks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate (default 500 ms).
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses (default 4 s).
    pub t2: Duration,
    /// Maximum duration a message remains in the network (default 5 s).
    pub t4: Duration,
    /// Timer D on unreliable transports (default and minimum per §17.1.1.2: 32 s).
    pub timer_d: Duration,
    /// Timer C of a proxy's INVITE client transactions (RFC 3261 §16.6 step 11: "MUST be larger
    /// than 3 minutes"; default 181 s). Reset by every 101–199 response (§16.7 step 2).
    pub timer_c: Duration,
    /// How long an INVITE server transaction waits for its user's final response before it
    /// answers 408 itself (policy, see [`Timer::Unanswered`]; default 240 s, i.e. after a
    /// proxy's Timer C + the 64·T1 CANCEL wait). Restarted by every provisional the user sends.
    pub unanswered_invite: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_d: Duration::from_secs(32),
            timer_c: Duration::from_secs(181),
            unanswered_invite: Duration::from_secs(240),
        }
    }
}

impl TimerConfig {
    /// 64·T1: Timers B, F, H, and J on unreliable transports.
    pub fn t1x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// How long a non-INVITE server transaction waits for its user's final response before it
    /// is dropped silently: 64·T1 + T4 (the client's Timer F has fired by then; RFC 4320 §4.2
    /// forbids a 408 to a non-INVITE request).
    pub fn unanswered_non_invite(&self) -> Duration {
        self.t1x64().saturating_add(self.t4)
    }
}

/// The RFC 3261 §17 timers, named as in Table 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// INVITE request retransmit (client, unreliable).
    A,
    /// INVITE transaction timeout (client).
    B,
    /// Wait time for response retransmits (INVITE client, Completed).
    D,
    /// Non-INVITE request retransmit (client, unreliable).
    E,
    /// Non-INVITE transaction timeout (client).
    F,
    /// INVITE response retransmit (server, unreliable).
    G,
    /// Wait time for ACK receipt (INVITE server).
    H,
    /// Wait time for ACK retransmits (INVITE server, Confirmed).
    I,
    /// Wait time for request retransmits (non-INVITE server, Completed).
    J,
    /// Wait time for response retransmits (non-INVITE client, Completed).
    K,
    /// Wait time for INVITE retransmissions and further 2xx (INVITE server, Accepted; RFC 6026).
    L,
    /// Wait time for 2xx retransmissions (INVITE client, Accepted; RFC 6026).
    M,
    /// Proxy INVITE client transaction in Proceeding (RFC 3261 §16.6 step 11, §16.8); kept by
    /// [`crate::proxy::StatefulProxy`], not by the transaction itself.
    C,
    /// Server transaction whose user never sent a final response (policy, not in RFC 3261):
    /// INVITE → 408 sent by the transaction ([`TimerConfig::unanswered_invite`]); non-INVITE →
    /// terminated without a response ([`TimerConfig::unanswered_non_invite`]). Either way the
    /// user gets `Failed(Timeout)`.
    Unanswered,
}
