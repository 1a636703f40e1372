//! The profiler's clock. Natively it is `std::time::Instant`; on wasm32 there is no OS clock
//! to call, so time is injected by the host (e.g. JS `performance.now()`) or profiling only
//! counts calls.

/// A monotonic clock in nanoseconds.
pub trait Clock: Send + Sync {
    /// Nanoseconds since an arbitrary fixed origin.
    fn now_ns(&self) -> u64;
}

/// `std::time::Instant`-based clock (native only).
#[cfg(not(target_family = "wasm"))]
pub struct InstantClock(std::time::Instant);

#[cfg(not(target_family = "wasm"))]
impl Default for InstantClock {
    fn default() -> Self {
        InstantClock(std::time::Instant::now())
    }
}

#[cfg(not(target_family = "wasm"))]
impl Clock for InstantClock {
    fn now_ns(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }
}

/// A clock backed by a host function (wasm: `performance.now()` in milliseconds).
pub struct FnClock(pub Box<dyn Fn() -> f64 + Send + Sync>);

impl Clock for FnClock {
    fn now_ns(&self) -> u64 {
        ((self.0)() * 1e6).max(0.0) as u64
    }
}

/// The platform default: an `Instant` clock natively, none on wasm32.
pub fn default_clock() -> Option<Box<dyn Clock>> {
    #[cfg(not(target_family = "wasm"))]
    {
        Some(Box::new(InstantClock::default()))
    }
    #[cfg(target_family = "wasm")]
    {
        None
    }
}
