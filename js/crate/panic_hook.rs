//! Turns a panic into a message the SDK can report.
//!
//! On `wasm32-unknown-unknown` a panic aborts with an `unreachable` trap and the instance's
//! state can no longer be trusted. The hook stores the panic message; the SDK, on catching a
//! `WebAssembly.RuntimeError`, reads it with [`take_panic_message`], marks the instance as
//! poisoned and creates a fresh instance for later loads, so a bug surfaces as an `Error` with
//! code `INTERNAL` and a readable message instead of an abort number.

use std::sync::Mutex;
use wasm_bindgen::prelude::*;

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Install the hook (idempotent).
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info.to_string();
        if let Ok(mut slot) = LAST_PANIC.lock() {
            *slot = Some(msg);
        }
    }));
}

/// The message of the last panic, if any, cleared by reading it.
#[wasm_bindgen(js_name = takePanicMessage)]
pub fn take_panic_message() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|mut s| s.take())
}
