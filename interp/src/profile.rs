//! Run-time profile of a session: per op kind, calls and time; planned vs actual peak bytes.

/// Counters for one op kind.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpProfile {
    /// Fully qualified op name.
    pub name: String,
    /// Number of calls.
    pub calls: u64,
    /// Total time spent inside the op, nanoseconds (0 when no clock is available).
    pub total_ns: u64,
}

/// A session's profile, accumulated over runs since profiling was switched on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    /// One entry per op-table entry (op kinds never called have `calls == 0`).
    pub ops: Vec<OpProfile>,
    /// Number of runs profiled.
    pub runs: u64,
    /// Whether times were measured (false on wasm32 without an injected clock).
    pub timed: bool,
    /// Peak bytes of tensor storage the memory plan keeps alive (registers live at each
    /// instruction per the liveness analysis; shared buffers counted once).
    pub planned_peak_bytes: u64,
    /// Peak bytes of tensor storage actually held by all registers of all active frames.
    pub actual_peak_bytes: u64,
    /// Total wall time of the profiled runs, nanoseconds (0 without a clock).
    pub total_ns: u64,
    /// Part of `total_ns` the profiler spent on its own byte accounting after each
    /// instruction (0 without a clock). An unprofiled run does not pay it, so the executor's
    /// own overhead is `total_ns - bookkeeping_ns - (sum of the ops' total_ns)`.
    pub bookkeeping_ns: u64,
}

impl Profile {
    /// Op kinds sorted by total time (then calls), most expensive first, skipping unused ones.
    pub fn hottest(&self) -> Vec<&OpProfile> {
        let mut v: Vec<&OpProfile> = self.ops.iter().filter(|o| o.calls > 0).collect();
        v.sort_by(|a, b| b.total_ns.cmp(&a.total_ns).then(b.calls.cmp(&a.calls)));
        v
    }
}
