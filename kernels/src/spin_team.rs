//! A spinning team for the splits of inferences: pool threads that wait for parts by
//! spinning instead of parking, so a split costs a store and a load, not a thread wake-up.
//!
//! Why: rayon parks an idle worker after a few rounds of `yield_now`, which is a no-op in
//! wasm, so in the wasm threads build a worker parks almost at once and every split wakes it
//! again through `Atomics.notify` to its Web Worker: tens of microseconds, more than the
//! work of a small op's half. Models made of many small ops (an LSTM's per-step GEMV, small
//! convolutions) then got no faster, or slower, with a second thread. onnxruntime-web's pool
//! spins for the same reason.
//!
//! A first version (one team per inference, stopped when the inference ended) did not help:
//! counted per split, most splits of a 5 ms LSTM inference found no helper checked in,
//! because every inference had to wake the helpers again through rayon before they could
//! spin, and that wake-up takes a good part of a small inference. So the team now outlives
//! the inference: a helper keeps spinning until it has had nothing to do for a while
//! (`IDLE_SPINS` rounds in wasm, a few milliseconds; `IDLE_TIME` natively), across the gap
//! between two inferences, and the next inference finds it checked in. Only then does its
//! thread go back to rayon (and park). The cost is that spell of CPU per helper after the
//! last inference, as with onnxruntime-web's pool (and PyTorch's OpenMP threads natively).
//!
//! How: [`with_team`] (called by `parallel::on_pool` around a whole inference) makes the
//! calling pool thread the team's *owner*, and recruits the pool's other threads with a
//! broadcast job when any of them is not spinning already. Each helper checks in to its own
//! slot and spins on it. `parallel::for_each`, on the owner, posts parts to checked-in
//! helpers and runs the rest itself, then waits for the posted parts. Each part runs exactly
//! the code it would run serially: results do not depend on who runs it.
//!
//! The team belongs to one rayon pool and is found through a thread-local that every pool
//! thread it has reached holds, so a later inference whose owner is another thread of the
//! same pool uses the same helpers. One owner at a time: a concurrent inference on the same
//! pool (natively, two callers) runs its splits through rayon as before.
//!
//! The slot protocol (one slot per pool thread, state in one atomic):
//! `OFF --helper--> IDLE --owner--> POSTED --helper--> DONE --owner--> IDLE`, and
//! `IDLE --helper--> OFF` to leave. Owner and helper each move the state only out of the
//! states the table gives them, with compare-and-swap where both could act (`IDLE`), so a
//! part is never posted to a helper that is leaving.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

const OFF: u8 = 0;
const IDLE: u8 = 1;
const POSTED: u8 = 2;
const DONE: u8 = 3;

/// `Team::owner` when no inference owns the team.
const NO_OWNER: usize = usize::MAX;

/// Rounds a helper spins with nothing posted before it checks out, in wasm (which has no
/// clock without a call out to JavaScript). One round is an atomic load and a compare. The
/// gap to bridge is the caller's work between two runs: in Node 2^20 rounds (0.35-1.35 ms of
/// CPU after a run) were enough, but in Chromium a `WorkerSession`'s message round trip is
/// longer, and the zoo's LSTM at 2 threads took 6.35 ms with 2^20 against 3.56 ms with
/// 2^22. 2^22 rounds came to 2.3-6.2 ms of CPU after a run in Node 24.
#[cfg(target_family = "wasm")]
const IDLE_SPINS: u32 = 1 << 22;

/// How long a helper spins with nothing posted before it checks out, natively (checked
/// every [`CLOCK_EVERY`] rounds).
#[cfg(not(target_family = "wasm"))]
const IDLE_TIME: std::time::Duration = std::time::Duration::from_millis(1);

/// Rounds between two looks at the clock (and two `yield_now`s) natively.
#[cfg(not(target_family = "wasm"))]
const CLOCK_EVERY: u32 = 256;

/// Parts handed to helpers so far (tests check that the team was used at all).
#[cfg(test)]
pub(crate) static POSTED_PARTS: AtomicUsize = AtomicUsize::new(0);

/// A part handed to a helper: the type-erased runner of the current split and the part index.
type Job = (*const (dyn Fn(usize) + Sync), usize);

/// One pool thread's slot (the owner's stays `OFF`). Aligned to its own 128 bytes (two
/// cache lines, for the adjacent-line prefetcher): a helper spins reading its `state`, and
/// any other data the owner writes on the same line would bounce between the two cores on
/// every write (false sharing), whatever the allocator happened to place there.
#[repr(align(128))]
struct Slot {
    state: AtomicU8,
    /// Written by the owner before it stores `POSTED`, read by the helper after it loads it.
    job: UnsafeCell<Option<Job>>,
    /// Set by the helper when the part panicked (natively; wasm aborts on panic).
    panicked: AtomicBool,
}

// SAFETY: `job` is only accessed under the state protocol above (the Release store of
// `POSTED` publishes it, the Acquire load of `POSTED` receives it), and the pointer it holds
// is only dereferenced while the owner waits for `DONE`, so its referent outlives the use;
// the runner behind it is `Sync`, so calling it from the helper thread is sound.
unsafe impl Sync for Slot {}
// SAFETY: as for `Sync`: the raw pointer in `job` is only a borrowed `Sync` runner.
unsafe impl Send for Slot {}

/// The helpers of one rayon pool.
pub(crate) struct Team {
    /// One per pool thread, by rayon thread index.
    slots: Box<[Slot]>,
    /// Rayon index of the thread whose inference owns the team, or [`NO_OWNER`].
    owner: AtomicUsize,
}

impl Team {
    fn new(threads: usize) -> Team {
        Team {
            slots: (0..threads)
                .map(|_| Slot {
                    state: AtomicU8::new(OFF),
                    job: UnsafeCell::new(None),
                    panicked: AtomicBool::new(false),
                })
                .collect(),
            owner: AtomicUsize::new(NO_OWNER),
        }
    }
}

thread_local! {
    /// The team of the pool this thread belongs to, once the thread has met it.
    static POOL_TEAM: RefCell<Option<Arc<Team>>> = const { RefCell::new(None) };
    /// The team this thread owns while it runs a [`with_team`] body.
    static OWNED: Cell<*const Team> = const { Cell::new(std::ptr::null()) };
}

/// Runs `f` on the calling pool thread with the pool's other threads spinning as its
/// helpers (see the module doc). Outside a pool, in a pool of one, in nested calls and while
/// another thread owns the team it just runs `f`.
pub(crate) fn with_team<R>(f: impl FnOnce() -> R) -> R {
    let threads = rayon::current_num_threads();
    let Some(me) = rayon::current_thread_index() else {
        return f();
    };
    if threads < 2 || !OWNED.with(|o| o.get().is_null()) {
        return f();
    }
    let team = POOL_TEAM.with(|t| {
        let mut t = t.borrow_mut();
        match &*t {
            Some(team) if team.slots.len() == threads => Arc::clone(team),
            _ => {
                let team = Arc::new(Team::new(threads));
                *t = Some(Arc::clone(&team));
                team
            }
        }
    });
    if team
        .owner
        .compare_exchange(NO_OWNER, me, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return f();
    }
    /// Gives the team up, also when `f` unwinds.
    struct Release<'a>(&'a Team);
    impl Drop for Release<'_> {
        fn drop(&mut self) {
            OWNED.with(|o| o.set(std::ptr::null()));
            self.0.owner.store(NO_OWNER, Ordering::Release);
        }
    }
    OWNED.with(|o| o.set(Arc::as_ptr(&team)));
    let _release = Release(&team);
    let missing = team
        .slots
        .iter()
        .enumerate()
        .any(|(i, s)| i != me && s.state.load(Ordering::Acquire) == OFF);
    if missing {
        recruit(&team);
    }
    f()
}

/// Sends every pool thread a job that makes it a helper of `team` (the owner's copy, and any
/// that arrives when no inference owns the team, returns at once). A job in the owner's own
/// deque (`scope.spawn`) could be popped by the owner itself and lose that helper, hence one
/// job per thread in that thread's own queue.
fn recruit(team: &Arc<Team>) {
    let shared = Arc::clone(team);
    rayon::spawn_broadcast(move |ctx| {
        let i = ctx.index();
        POOL_TEAM.with(|t| {
            let mut t = t.borrow_mut();
            if t.is_none() {
                *t = Some(Arc::clone(&shared));
            }
        });
        let owner = shared.owner.load(Ordering::Acquire);
        if owner != NO_OWNER && owner != i && i < shared.slots.len() {
            helper(&shared, i);
        }
    });
}

/// A helper: check in to slot `i`, run what is posted, leave when idle for long.
fn helper(team: &Team, i: usize) {
    let slot = &team.slots[i];
    if slot
        .state
        .compare_exchange(OFF, IDLE, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return;
    }
    let mut idle = 0u32;
    #[cfg(not(target_family = "wasm"))]
    let mut idle_since = std::time::Instant::now();
    loop {
        match slot.state.load(Ordering::Acquire) {
            POSTED => {
                // SAFETY: published by the owner before it stored POSTED (see `Slot`).
                let (run, part) = unsafe { (*slot.job.get()).take() }.expect("posted job");
                // SAFETY: the owner waits for DONE before the runner goes out of scope.
                let run = unsafe { &*run };
                if catch_unwind(AssertUnwindSafe(|| run(part))).is_err() {
                    slot.panicked.store(true, Ordering::Relaxed);
                }
                slot.state.store(DONE, Ordering::Release);
                idle = 0;
                #[cfg(not(target_family = "wasm"))]
                {
                    idle_since = std::time::Instant::now();
                }
            }
            IDLE => {
                idle = idle.wrapping_add(1);
                #[cfg(target_family = "wasm")]
                let tired = idle > IDLE_SPINS;
                // Natively, let the scheduler run someone else now and then: with more pool
                // threads than free cores a pure spin could hold the core the part we wait
                // for needs. (wasm has no yield; there the pool is sized to the cores.)
                #[cfg(not(target_family = "wasm"))]
                let tired = idle % CLOCK_EVERY == 0 && {
                    std::thread::yield_now();
                    idle_since.elapsed() > IDLE_TIME
                };
                if tired
                    && slot
                        .state
                        .compare_exchange(IDLE, OFF, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                {
                    return;
                }
                std::hint::spin_loop();
            }
            _ => std::hint::spin_loop(), // DONE: the owner has yet to collect it
        }
    }
}

/// Whether this thread owns a team with at least one helper waiting for work (else a split
/// should go through rayon, which wakes parked threads).
pub(crate) fn ready() -> bool {
    let team = OWNED.with(|o| o.get());
    // SAFETY: set by `with_team` on this thread for the duration of its body, which is
    // still running when this thread asks; the team is kept alive by this thread's
    // `POOL_TEAM`.
    !team.is_null()
        && unsafe { &*team }
            .slots
            .iter()
            .any(|s| s.state.load(Ordering::Acquire) == IDLE)
}

/// Runs `run(i)` for every `i < parts`, each exactly once: parts 1.. are offered to
/// checked-in helpers of the team this thread owns, the rest run here. Without a team (see
/// [`ready`]) everything runs here.
pub(crate) fn run_parts(parts: usize, run: &(dyn Fn(usize) + Sync)) {
    let team = OWNED.with(|o| o.get());
    if team.is_null() {
        (0..parts).for_each(run);
        return;
    }
    // SAFETY: as in `ready`.
    let team = unsafe { &*team };
    // SAFETY: only the lifetime is erased; the helper dereferences the pointer only
    // between our POSTED store and our observing DONE below, while `run` is alive.
    let erased: *const (dyn Fn(usize) + Sync) = unsafe {
        std::mem::transmute::<&(dyn Fn(usize) + Sync), &'static (dyn Fn(usize) + Sync)>(run)
    };
    // Slots posted to; a split has at most one part per pool thread.
    let mut posted = [0usize; 16];
    let mut n_posted = 0;
    let mut next = 1;
    for (i, slot) in team.slots.iter().enumerate() {
        if next >= parts || n_posted == posted.len() {
            break;
        }
        if slot.state.load(Ordering::Acquire) != IDLE {
            continue;
        }
        // SAFETY: in IDLE only the owner writes `job`; the helper reads it after POSTED.
        unsafe { *slot.job.get() = Some((erased, next)) };
        if slot
            .state
            .compare_exchange(IDLE, POSTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            posted[n_posted] = i;
            n_posted += 1;
            next += 1;
            #[cfg(test)]
            POSTED_PARTS.fetch_add(1, Ordering::Relaxed);
        } else {
            // The helper checked out meanwhile: take the job back.
            // SAFETY: the helper is OFF and never reads `job` again.
            unsafe { *slot.job.get() = None };
        }
    }
    let own = catch_unwind(AssertUnwindSafe(|| {
        run(0);
        for p in next..parts {
            run(p);
        }
    }));
    let mut helper_panicked = false;
    for &i in &posted[..n_posted] {
        let slot = &team.slots[i];
        let mut spins = 0u32;
        while slot.state.load(Ordering::Acquire) != DONE {
            spins = spins.wrapping_add(1);
            #[cfg(not(target_family = "wasm"))]
            if spins % 256 == 0 {
                std::thread::yield_now(); // see `helper`
            }
            std::hint::spin_loop();
        }
        helper_panicked |= slot.panicked.swap(false, Ordering::Relaxed);
        slot.state.store(IDLE, Ordering::Release);
    }
    if let Err(p) = own {
        resume_unwind(p);
    }
    assert!(
        !helper_panicked,
        "a parallel part panicked on a helper thread"
    );
}
