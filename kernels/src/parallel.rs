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
pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    #[cfg(feature = "threads")]
    if threads() > 1 && rayon::current_thread_index().is_none() {
        // `scope` runs its body on a pool thread when called from outside the pool.
        return rayon::scope(|_| f());
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
