//! Session state (format 1.1): a toy KV cache written in place by `index_copy_`, kept across
//! runs, reset on demand and after a failed run; no copy of the cache per step.

use std::sync::Arc;

use wasm_torch_format::StateInit;
use wasm_torch_interp::{Program, Session, Tensor, WriteStats};
use wasm_torch_packer::{pack, PackOptions};
use wasm_torch_test_support::fixtures::kv_cache::{
    self, CACHE_POSITIONS as POSITIONS, CACHE_WIDTH as WIDTH,
};

/// `cache.index_copy_(1, pos, x); y = cache * 2` with `cache: f32[1, 8, 4]` (state, initial
/// value per `init`: the tensor holds `-i` at flat index `i`) and `x: f32[1, t, 4]`.
fn cache_model(init: StateInit) -> wasm_torch_packer::ModelIr {
    let init_values: Vec<f32> = (0..POSITIONS * WIDTH).map(|i| -(i as f32)).collect();
    kv_cache::model(vec![1, POSITIONS, WIDTH], init, &init_values)
}

fn session(init: StateInit) -> Session {
    let bytes = pack(&cache_model(init), &PackOptions::default()).unwrap();
    assert_eq!(
        &bytes[8..12],
        &[1, 0, 1, 0],
        "a stateful file is version 1.1"
    );
    Session::new(Arc::new(Program::from_bytes(&bytes).unwrap())).unwrap()
}

fn step(s: &mut Session, pos: &[i64], rows: &[f32]) -> wasm_torch_interp::Result<Vec<f32>> {
    let t = pos.len();
    let out = s.run(&[
        ("pos", Tensor::from_i64(vec![t], pos.to_vec())),
        (
            "x",
            Tensor::from_f32(vec![1, t, WIDTH as usize], rows.to_vec()),
        ),
    ])?;
    Ok(out[0].1.to_f32_vec())
}

fn row(v: f32) -> Vec<f32> {
    vec![v; WIDTH as usize]
}

#[test]
fn state_is_written_in_place_and_kept_across_runs() {
    let mut s = session(StateInit::Zeros);
    // prefill 2 positions, then decode one position per run
    let prefill: Vec<f32> = [row(1.0), row(2.0)].concat();
    step(&mut s, &[0, 1], &prefill).unwrap();
    assert_eq!(s.states()[0].to_f32_vec()[..8], prefill[..]);
    for p in 2..POSITIONS as i64 {
        s.reset_write_stats();
        let y = step(&mut s, &[p], &row(p as f32 + 1.0)).unwrap();
        // one decode step: writes one row (WIDTH f32) into the cache and copies nothing
        assert_eq!(
            s.write_stats(),
            WriteStats {
                bytes_written: WIDTH * 4,
                bytes_copied: 0
            },
            "step {p}"
        );
        for q in 0..=p as usize {
            let w = WIDTH as usize;
            assert_eq!(
                y[q * w..(q + 1) * w],
                row(2.0 * (q as f32 + 1.0))[..],
                "step {p} row {q}"
            );
        }
    }
}

#[test]
fn reset_state_restores_the_initial_value() {
    let mut s = session(StateInit::Tensor(0));
    let init: Vec<f32> = (0..POSITIONS * WIDTH).map(|i| -(i as f32)).collect();
    assert_eq!(s.states()[0].to_f32_vec(), init);
    step(&mut s, &[3], &row(9.0)).unwrap();
    assert_eq!(s.states()[0].to_f32_vec()[12..16], row(9.0)[..]);
    s.reset_state().unwrap();
    assert_eq!(s.states()[0].to_f32_vec(), init);
}

#[test]
fn sessions_own_their_state() {
    let bytes = pack(&cache_model(StateInit::Zeros), &PackOptions::default()).unwrap();
    let program = Arc::new(Program::from_bytes(&bytes).unwrap());
    let mut a = Session::new(program.clone()).unwrap();
    let b = Session::new(program).unwrap();
    step(&mut a, &[0], &row(5.0)).unwrap();
    assert_eq!(a.states()[0].to_f32_vec()[..4], row(5.0)[..]);
    assert_eq!(
        b.states()[0].to_f32_vec(),
        vec![0.0; (POSITIONS * WIDTH) as usize]
    );
}

#[test]
fn a_failed_run_resets_the_state_and_the_session_stays_usable() {
    let mut s = session(StateInit::Zeros);
    step(&mut s, &[0], &row(1.0)).unwrap();
    // position 8 is past the cache: a typed error, not a panic
    let err = step(&mut s, &[8], &row(2.0)).unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");
    assert!(err.to_string().contains("state was reset"), "{err}");
    assert_eq!(
        s.states()[0].to_f32_vec(),
        vec![0.0; (POSITIONS * WIDTH) as usize]
    );
    let y = step(&mut s, &[1], &row(3.0)).unwrap();
    assert_eq!(y[4..8], row(6.0)[..]);
}
