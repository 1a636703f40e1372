//! `wasm-torch bench FILE [INPUT.npy ...] [--input NAME=x.npy ...] [--runs N] [--warmup N]`:
//! a simple native benchmark — load time (memory map), the first (cold) run, then latency
//! statistics over N timed runs after W untimed warm-up runs.

use crate::common::{human, ms, parse_args, CliError};
use crate::feed::{gather, load};
use std::time::Instant;

/// Latency statistics over sorted samples (milliseconds).
#[derive(Debug, PartialEq)]
pub struct Stats {
    /// Fastest run.
    pub min: f64,
    /// Median (mean of the two middle samples for an even count).
    pub median: f64,
    /// 90th percentile, nearest rank.
    pub p90: f64,
    /// Slowest run.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

/// Statistics of `samples` (at least one).
pub fn stats(samples: &[f64]) -> Stats {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    // nearest rank: the smallest sample with at least 90% of samples at or below it
    let rank = (0.9 * n as f64).ceil() as usize;
    Stats {
        min: s[0],
        median,
        p90: s[rank.clamp(1, n) - 1],
        max: s[n - 1],
        mean: s.iter().sum::<f64>() / n as f64,
    }
}

/// Run the subcommand.
pub fn run(args: &[String]) -> Result<(), CliError> {
    let p = parse_args(args, &["input", "runs", "warmup"], &[])?;
    let Some((file, positional)) = p.positional.split_first() else {
        return Err(CliError::Usage("bench: expected FILE".into()));
    };
    let runs = p.count("runs", 20, 1, 1_000_000)?;
    let warmup = p.count("warmup", 3, 0, 1_000_000)?;
    if cfg!(debug_assertions) {
        eprintln!(
            "note: a debug build of wasm-torch; build with --release for representative timings"
        );
    }
    let mut loaded = load(file)?;
    let mut feeds: Vec<&str> = positional.iter().map(String::as_str).collect();
    feeds.extend(p.all("input"));
    let inputs = gather(loaded.session.program().inputs(), &feeds)?;
    let session = &mut loaded.session;
    println!(
        "{file}: {} weights, {} ops in the table",
        human(session.program().weight_bytes()),
        session.program().graph().ops.len()
    );
    println!(
        "load (mmap)  {:.3} ms  + planning {:.3} ms",
        loaded.load_ms, loaded.plan_ms
    );
    let t = Instant::now();
    session.run_positional(inputs.clone())?;
    println!("first run    {:.3} ms", ms(t.elapsed()));
    for _ in 0..warmup {
        session.run_positional(inputs.clone())?;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        session.run_positional(inputs.clone())?;
        times.push(ms(t.elapsed()));
    }
    let s = stats(&times);
    println!("runs         {runs} timed after {warmup} warm-up");
    println!("median       {:.3} ms", s.median);
    println!("min          {:.3} ms", s.min);
    println!("p90          {:.3} ms", s.p90);
    println!("max          {:.3} ms", s.max);
    println!("mean         {:.3} ms", s.mean);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_by_hand() {
        let s = stats(&[5.0, 1.0, 3.0, 2.0, 4.0, 10.0, 6.0, 7.0, 8.0, 9.0]);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 10.0);
        assert_eq!(s.median, 5.5);
        assert_eq!(s.p90, 9.0);
        assert_eq!(s.mean, 5.5);
        let one = stats(&[2.5]);
        assert_eq!(
            (one.min, one.median, one.p90, one.max),
            (2.5, 2.5, 2.5, 2.5)
        );
        assert_eq!(stats(&[3.0, 1.0, 2.0]).median, 2.0);
        assert_eq!(stats(&[3.0, 1.0, 2.0]).p90, 3.0);
    }
}
