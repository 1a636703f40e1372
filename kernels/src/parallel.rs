//! Intra-op parallelism: the one place in the crate that knows about threads.
//!
//! With the cargo feature `threads`, work is spread over rayon's global pool (its size comes
//! from `RAYON_NUM_THREADS`, else the number of CPUs; in the wasm threads build the host
//! creates it with `initThreadPool(n)`), or over the pool of an enclosing
//! `ThreadPool::install`. Without the feature every function here runs its work serially
//! on the calling thread, and the crate has no dependency on rayon or on threads at all
//! (the plain wasm32 builds).
//!
//! Kernels split their work into a few *parts* (usually one per thread) that write disjoint
//! outputs; each part computes exactly what the serial loop would, in the same order, so
//! results do not depend on the number of threads.

/// Threads that parallel work is spread over (1 without the `threads` feature).
pub fn threads() -> usize {
    #[cfg(feature = "threads")]
    {
        rayon::current_num_threads().max(1)
    }
    #[cfg(not(feature = "threads"))]
    {
        1
    }
}

/// How many parts to split `units` units of work into, when every part should have at
/// least `min_units` units (so tiny work is not split: a fork/join costs a few
/// microseconds). At most one part per thread; 1 means "run serially".
pub fn parts(units: usize, min_units: usize) -> usize {
    let t = threads();
    if t <= 1 {
        return 1;
    }
    (units / min_units.max(1)).clamp(1, t)
}

/// What the spinning team divides split thresholds by (see [`split_threshold`]).
#[cfg(feature = "threads")]
const CHEAP_SPLIT_DIVISOR: usize = 16;

/// The least work per part worth a split, for a kernel whose figure for a split through
/// rayon is `threshold` (in the kernel's own unit, usually multiply-adds).
///
/// Why: through rayon a split wakes a parked thread (in wasm an `Atomics.notify` to a Web
/// Worker, tens of microseconds), so the kernels' thresholds ask for 10-20 µs of work per
/// part. While this thread's inference has helpers spinning (see [`on_pool`] and
/// `spin_team.rs`), a split costs about a microsecond, and a sixteenth of the work pays:
/// measured in the wasm threads build at 2 threads (Node 24, 2 cores), thresholds of 2^15
/// instead of 2^19 multiply-adds took mobilenet_v3_small from 10.0-10.7 to 6.6-6.7 ms and
/// the zoo's LSTM from 4.7-5.2 to 3.7 ms, with squeezenet1_1 14.3-14.6 -> 13.5-13.9 ms.
pub fn split_threshold(threshold: usize) -> usize {
    #[cfg(feature = "threads")]
    if crate::spin_team::ready() {
        return (threshold / CHEAP_SPLIT_DIVISOR).max(1);
    }
    threshold
}

/// Splits `0..n` into `parts` contiguous ranges of nearly equal length (the first ones one
/// longer), as `(start, end)` pairs; empty ranges are left out.
pub fn split_even(n: usize, parts: usize) -> Vec<(usize, usize)> {
    let parts = parts.clamp(1, n.max(1));
    let (q, r) = (n / parts, n % parts);
    let mut v = Vec::with_capacity(parts);
    let mut s = 0;
    for i in 0..parts {
        let len = q + usize::from(i < r);
        if len > 0 {
            v.push((s, s + len));
        }
        s += len;
    }
    v
}

/// Runs `f` on every item, in parallel with `threads`. Items typically own disjoint
/// mutable views of the output.
pub fn for_each<T: Send>(items: Vec<T>, f: impl Fn(T) + Sync + Send) {
    #[cfg(feature = "threads")]
    if items.len() > 1 && crate::spin_team::ready() {
        let n = items.len();
        let cells: Vec<std::sync::Mutex<Option<T>>> = items
            .into_iter()
            .map(|t| std::sync::Mutex::new(Some(t)))
            .collect();
        let run = |i: usize| {
            let item = cells[i].lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(t) = item {
                f(t);
            }
        };
        crate::spin_team::run_parts(n, &run);
        return;
    }
    #[cfg(feature = "threads")]
    if items.len() > 1 {
        use rayon::prelude::*;
        items.into_par_iter().for_each(f);
        return;
    }
    items.into_iter().for_each(f)
}

/// Splits `data` (a sequence of `unit`-element rows) into parts of whole rows, at least
/// `min_rows` rows each, and calls `f(first_row, rows)` on each part, in parallel with
/// `threads`.
pub fn for_each_rows<T: Send>(
    data: &mut [T],
    unit: usize,
    min_rows: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    let unit = unit.max(1);
    let rows = data.len() / unit;
    let n = parts(rows, min_rows);
    if n <= 1 {
        f(0, data);
        return;
    }
    let mut items = Vec::with_capacity(n);
    let mut rest = data;
    for (s, e) in split_even(rows, n) {
        let len = if e == rows {
            rest.len()
        } else {
            (e - s) * unit
        };
        let (head, tail) = rest.split_at_mut(len);
        items.push((s, head));
        rest = tail;
    }
    for_each(items, |(s, chunk)| f(s, chunk));
}

/// Runs `f` on a thread of the pool (the caller blocks until it returns) when there is a
/// pool of more than one thread and the caller is not already one of its threads; else on
/// the calling thread.
///
/// Why: a split started from outside the pool is *injected*: the caller sleeps on a latch
/// while pool threads are woken to run every part, then wakes again, so each split pays
/// several thread wake-ups (costly in wasm, where a wake-up is an `Atomics.notify` to a Web
/// Worker). Started from a pool thread, the split keeps one part on that thread and only
/// offers the others to idle threads (running them itself when nobody takes them in time).
/// The interpreter runs a whole inference through this, so each op's split is a cheap one.
///
/// While `f` runs, the pool's other threads spin as its helpers (`spin_team.rs`), so the
/// splits of its ops skip the wake-ups altogether and can be smaller
/// ([`split_threshold`]); they keep spinning for a few milliseconds after `f` returns, so
/// that back-to-back inferences (a decode loop, a benchmark) find them still there.
pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    #[cfg(feature = "threads")]
    if threads() > 1 {
        if rayon::current_thread_index().is_none() {
            // `scope` runs its body on a pool thread when called from outside the pool.
            return rayon::scope(|_| crate::spin_team::with_team(f));
        }
        return crate::spin_team::with_team(f);
    }
    f()
}

/// Runs `f` with the kernels' parallel work spread over a private pool of `n` threads
/// (tests and benchmarks compare thread counts in one process with it). Without the
/// `threads` feature it just calls `f`.
#[cfg_attr(not(feature = "threads"), allow(unused_variables))]
pub fn with_threads<R: Send>(n: usize, f: impl FnOnce() -> R + Send) -> R {
    #[cfg(feature = "threads")]
    {
        match rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
        {
            Ok(pool) => pool.install(f),
            Err(_) => f(),
        }
    }
    #[cfg(not(feature = "threads"))]
    {
        f()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_even_covers_range() {
        for n in 0..20 {
            for p in 1..6 {
                let v = split_even(n, p);
                let mut next = 0;
                for &(s, e) in &v {
                    assert_eq!(s, next);
                    assert!(e > s);
                    next = e;
                }
                assert_eq!(next, n);
                assert!(v.len() <= p);
            }
        }
    }

    #[test]
    fn rows_visited_once() {
        for t in [1, 2, 3] {
            with_threads(t, || {
                let mut v = vec![0u32; 7 * 5];
                for_each_rows(&mut v, 5, 1, |first, rows| {
                    for (i, r) in rows.chunks_mut(5).enumerate() {
                        r.iter_mut().for_each(|x| *x += (first + i) as u32 + 1);
                    }
                });
                for (i, r) in v.chunks(5).enumerate() {
                    assert!(r.iter().all(|&x| x == i as u32 + 1), "{t} threads: {v:?}");
                }
            });
        }
    }

    #[test]
    fn on_pool_runs_on_a_pool_thread() {
        let outside = on_pool(|| 41) + 1;
        assert_eq!(outside, 42);
        with_threads(2, || {
            // Inside `with_threads` the caller already is a pool thread: it stays there.
            let here = std::thread::current().id();
            assert_eq!(on_pool(|| std::thread::current().id()), here);
        });
        #[cfg(feature = "threads")]
        {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap();
            assert!(pool
                .install(|| on_pool(rayon::current_thread_index))
                .is_some());
            // From outside any pool it moves to the global pool (when that has 2+ threads).
            let moved = on_pool(rayon::current_thread_index);
            assert_eq!(moved.is_some(), threads() > 1);
        }
    }

    /// The spinning team: thousands of splits of 2-3 parts in a pool of 3, each part writing
    /// its own outputs; every part must run exactly once per split, as serially.
    #[cfg(feature = "threads")]
    #[test]
    fn team_runs_every_part_exactly_once() {
        let posted_before =
            crate::spin_team::POSTED_PARTS.load(std::sync::atomic::Ordering::Relaxed);
        with_threads(3, || {
            crate::spin_team::with_team(|| {
                let mut v = vec![0u64; 3 * 64];
                // The helpers check in a little after the team starts, and the rounds below
                // could all be over by then: wait for one (up to a second) first.
                let t = std::time::Instant::now();
                while !crate::spin_team::ready() && t.elapsed().as_secs() < 1 {
                    std::hint::spin_loop();
                }
                for round in 0..3000u64 {
                    let parts = 2 + (round % 2) as usize;
                    let items: Vec<(usize, &mut [u64])> =
                        v.chunks_mut(64).take(parts).enumerate().collect();
                    for_each(items, |(p, chunk)| {
                        for (j, x) in chunk.iter_mut().enumerate() {
                            *x += (p * 64 + j) as u64 + round;
                        }
                    });
                }
                let rounds_with = |p: usize| if p < 2 { 3000 } else { 1500 };
                let sum_rounds =
                    |p: usize| -> u64 { (0..3000u64).filter(|r| p < 2 || r % 2 == 1).sum() };
                for (p, chunk) in v.chunks(64).enumerate() {
                    for (j, &x) in chunk.iter().enumerate() {
                        assert_eq!(
                            x,
                            rounds_with(p) * (p * 64 + j) as u64 + sum_rounds(p),
                            "part {p}"
                        );
                    }
                }
            });
        });
        let posted = crate::spin_team::POSTED_PARTS.load(std::sync::atomic::Ordering::Relaxed)
            - posted_before;
        assert!(posted > 0, "no part went to a spinning helper");
    }

    /// The team outlives the inference: helpers that checked in during one `with_team` are
    /// still spinning when the next one starts, so its first split is cheap; and only then
    /// are thresholds lowered.
    #[cfg(feature = "threads")]
    #[test]
    fn team_outlives_the_inference() {
        with_threads(2, || {
            assert_eq!(split_threshold(1 << 19), 1 << 19, "no team yet");
            crate::spin_team::with_team(|| {
                let t = std::time::Instant::now();
                while !crate::spin_team::ready() && t.elapsed().as_secs() < 5 {
                    std::hint::spin_loop();
                }
                assert!(crate::spin_team::ready(), "the helper never checked in");
                assert_eq!(split_threshold(1 << 19), 1 << 15);
            });
            assert_eq!(split_threshold(1 << 19), 1 << 19, "owned by nobody");
            // The helper leaves after a millisecond without work: on a busy test machine
            // this thread can be descheduled for longer between the two calls, so it is
            // enough that the helper was found waiting in one of a few tries.
            let mut found = 0;
            for _ in 0..20 {
                crate::spin_team::with_team(|| {
                    found += usize::from(crate::spin_team::ready());
                    let mut v = [0u32; 32];
                    let items: Vec<&mut [u32]> = v.chunks_mut(16).collect();
                    for_each(items, |h| h.iter_mut().for_each(|x| *x += 1));
                    assert!(v.iter().all(|&x| x == 1));
                });
            }
            assert!(found > 0, "the helper never outlived an inference");
        });
    }

    /// A part that splits again (on a helper thread, which owns no team), and a split after
    /// a serial stretch long enough for the helpers to check out.
    #[cfg(feature = "threads")]
    #[test]
    fn team_nested_splits_and_idle_helpers() {
        with_threads(2, || {
            crate::spin_team::with_team(|| {
                let mut v = [0u32; 4 * 8];
                let items: Vec<&mut [u32]> = v.chunks_mut(16).collect();
                for_each(items, |half| {
                    let inner: Vec<&mut [u32]> = half.chunks_mut(8).collect();
                    for_each(inner, |q| q.iter_mut().for_each(|x| *x += 1));
                });
                assert!(v.iter().all(|&x| x == 1));
                std::thread::sleep(std::time::Duration::from_millis(50));
                let items: Vec<&mut [u32]> = v.chunks_mut(16).collect();
                for_each(items, |h| h.iter_mut().for_each(|x| *x += 1));
                assert!(v.iter().all(|&x| x == 2));
            });
        });
    }

    /// A part that panics on a helper thread makes the split panic on the owner (natively;
    /// wasm aborts on panic).
    #[cfg(feature = "threads")]
    #[test]
    fn team_propagates_a_panicking_part() {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            with_threads(2, || {
                crate::spin_team::with_team(|| {
                    for _ in 0..200 {
                        for_each(vec![0, 1], |p| assert!(p == 0, "part {p} fails"));
                    }
                })
            })
        }));
        assert!(r.is_err());
    }

    #[test]
    fn parts_respect_minimum() {
        with_threads(2, || {
            assert_eq!(threads(), if cfg!(feature = "threads") { 2 } else { 1 });
            assert_eq!(parts(10, 100), 1);
            assert_eq!(parts(0, 1), 1);
            assert_eq!(parts(1000, 1), threads());
        });
    }
}
