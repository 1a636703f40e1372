//! Interpreter errors as JavaScript `Error` objects with a stable `code`.
//!
//! The SDK (`js/src/errors.ts`) turns the code into an `Error` subclass; keep both lists in
//! sync.

use wasm_bindgen::prelude::*;
use wasm_torch_interp::{Error, ErrorKind};

/// The stable code of an interpreter error kind.
pub fn code_of(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::BadFile => "BAD_FILE",
        ErrorKind::UnsupportedOps => "UNSUPPORTED_OPS",
        ErrorKind::InvalidInput => "INVALID_INPUT",
        ErrorKind::OutOfMemory => "OUT_OF_MEMORY",
        ErrorKind::Runtime => "RUNTIME",
    }
}

/// A JavaScript `Error` with `message` and a `code` property.
pub fn js_error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    // Setting a property on a fresh Error object cannot fail; ignore the Result rather than
    // unwrap so no panic path exists here.
    let _ = js_sys::Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from_str(code));
    err.into()
}

/// Convert an interpreter error.
pub fn from_interp(err: Error) -> JsValue {
    js_error(code_of(err.kind()), &err.to_string())
}

/// An `INVALID_INPUT` error for arguments the bindings reject before calling the interpreter.
pub fn invalid_input(message: impl AsRef<str>) -> JsValue {
    js_error("INVALID_INPUT", message.as_ref())
}
