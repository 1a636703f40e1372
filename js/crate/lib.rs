//! wasm-bindgen bindings of the wasm-torch interpreter, the layer under the `wasm-torch` npm
//! package (`js/src/`).
//!
//! The surface is deliberately small and byte-oriented so the TypeScript SDK owns all the
//! ergonomics: a [`Loader`] takes the file piece by piece as it arrives over the network or
//! from disk, a [`Model`] is the parsed, validated program with its weights, and a
//! [`Session`] runs it on tensors passed as `{name, dtype, shape, bytes}` objects.
//!
//! Every fallible call returns a JavaScript `Error` carrying a string `code`
//! (`BAD_FILE`, `UNSUPPORTED_OPS`, `INVALID_INPUT`, `OUT_OF_MEMORY`, `RUNTIME`) — see
//! [`error`]. Inputs coming from JavaScript are validated here before they reach the
//! interpreter because a panic inside wasm aborts the instance (panic = abort on
//! wasm32-unknown-unknown); [`panic_hook`] records the message of any panic that slips through
//! so the SDK can report it instead of an opaque `unreachable` trap.

// The memory64 build (wasm64, nightly only) reads the memory size through
// `core::arch::wasm64`, which is still feature-gated.
#![cfg_attr(target_arch = "wasm64", feature(simd_wasm64))]

pub mod digest;
pub mod error;
pub mod loader;
pub mod panic_hook;
pub mod session;
pub mod tensor_io;

pub use loader::Loader;
pub use session::{Model, Session};

#[cfg(feature = "threads")]
pub use wasm_bindgen_rayon::init_thread_pool;

use wasm_bindgen::prelude::*;

/// Called once by the SDK after instantiating the module: installs the panic hook.
#[wasm_bindgen(js_name = initRuntime)]
pub fn init_runtime() {
    panic_hook::install();
}

/// Current size of this instance's linear memory in bytes. The SDK samples it while loading
/// to measure peak memory against the weights' size (the loader's goal is weights + one chunk
/// + small overhead). Returns 0 outside wasm.
#[wasm_bindgen(js_name = memoryBytes)]
pub fn memory_bytes() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size(0) as f64) * 65536.0
    }
    #[cfg(target_arch = "wasm64")]
    {
        (core::arch::wasm64::memory_size(0) as f64) * 65536.0
    }
    #[cfg(not(target_family = "wasm"))]
    {
        0.0
    }
}

/// Which build this module is: `"threads"` or `"single"` (no thread pool), `+` its SIMD level,
/// and `+memory64` for the 64-bit memory build, e.g. `"single+relaxed-simd+memory64"`.
#[wasm_bindgen(js_name = buildFlavor)]
pub fn build_flavor() -> String {
    let threads = if cfg!(feature = "threads") {
        "threads"
    } else {
        "single"
    };
    let simd = if cfg!(target_feature = "relaxed-simd") {
        "relaxed-simd"
    } else if cfg!(target_feature = "simd128") {
        "simd128"
    } else {
        "scalar"
    };
    // The memory64 build says so: its pointers and lengths cross the boundary as f64.
    let memory = if cfg!(target_arch = "wasm64") {
        "+memory64"
    } else {
        ""
    };
    format!("{threads}+{simd}{memory}")
}
