//! A loaded model and the sessions that run it.

use crate::error::{from_interp, invalid_input};
use crate::tensor_io::{read_input, write_output, write_scalar_fields, write_spec};
use js_sys::{Array, Object, Reflect};
use std::sync::Arc;
use wasm_bindgen::prelude::*;
use wasm_torch_format::model::{Dim, ValueSpec};
use wasm_torch_interp::{FirstRun, Program, Tensor};

#[cfg(target_family = "wasm")]
#[wasm_bindgen]
extern "C" {
    /// The host's monotonic clock in milliseconds (browsers, workers and Node all have it).
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

/// wasm32 has no OS clock: the profiler times ops with the host's `performance.now()`.
#[cfg(target_family = "wasm")]
fn install_clock(session: &mut wasm_torch_interp::Session) {
    let clock = wasm_torch_interp::clock::FnClock(Box::new(performance_now));
    session.set_clock(Some(Box::new(clock)));
}

/// Natively the interpreter's default clock is kept.
#[cfg(not(target_family = "wasm"))]
fn install_clock(_session: &mut wasm_torch_interp::Session) {}

/// A parsed, validated program with its weights in wasm memory. Sessions share it.
#[wasm_bindgen]
pub struct Model {
    program: Arc<Program>,
    /// The session that ran the model while it loaded, for the first `createSession`.
    first_session: Option<wasm_torch_interp::Session>,
    /// That run's outputs, until taken.
    first_outputs: Option<Vec<(String, Tensor)>>,
}

impl Model {
    /// Wrap a program.
    pub fn new(program: Arc<Program>) -> Model {
        Model::with_first_run(program, None)
    }

    /// Wrap a program and the run made while it loaded.
    pub fn with_first_run(program: Arc<Program>, first: Option<FirstRun>) -> Model {
        let (first_session, first_outputs) = match first {
            Some(f) => (Some(f.session), Some(f.outputs)),
            None => (None, None),
        };
        Model {
            program,
            first_session,
            first_outputs,
        }
    }
}

#[wasm_bindgen]
impl Model {
    /// The inputs as `[{name, dtype, shape}]` (symbolic dims are strings); a scalar input
    /// (format 1.1) also has `scalar` ("int" | "float" | "bool"), `default` (a number, a
    /// bigint for an int beyond 2^53, or a boolean; absent without one) and `fixed`.
    pub fn inputs(&self) -> Array {
        let scalars = self.program.scalar_inputs();
        self.program
            .inputs()
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let spec = write_spec(s);
                if let Some(si) = scalars.iter().find(|si| si.input as usize == i) {
                    write_scalar_fields(&spec, si);
                }
                spec
            })
            .collect()
    }

    /// The outputs as `[{name, dtype, shape}]`.
    pub fn outputs(&self) -> Array {
        self.program.outputs().iter().map(write_spec).collect()
    }

    /// Bytes of the weights at f32 (their logical size).
    #[wasm_bindgen(js_name = weightBytes)]
    pub fn weight_bytes(&self) -> f64 {
        self.program.weight_bytes() as f64
    }

    /// Bytes the weights occupy in memory as held (quantized weights at their quantized
    /// size; see `Program::resident_weight_bytes`).
    #[wasm_bindgen(js_name = residentWeightBytes)]
    pub fn resident_weight_bytes(&self) -> f64 {
        self.program.resident_weight_bytes() as f64
    }

    /// The session-state tensors (format 1.1: e.g. a KV cache) as `[{name, dtype, shape}]`,
    /// in file order; empty for a stateless model. Generation checks it to refuse a model
    /// without a cache before running anything.
    pub fn states(&self) -> Array {
        self.program
            .graph()
            .states
            .iter()
            .map(|st| {
                write_spec(&ValueSpec {
                    name: st.name.clone(),
                    dtype: st.dtype,
                    shape: st.shape.iter().map(|&d| Dim::Fixed(d)).collect(),
                })
            })
            .collect()
    }

    /// The bytes of the asset named `name` the file ships with (a tokenizer, a generation
    /// config), copied out of wasm memory; `undefined` when there is none of that name.
    pub fn asset(&self, name: &str) -> Option<Vec<u8>> {
        self.program.asset(name).map(<[u8]>::to_vec)
    }

    /// The names of the file's assets, in file order.
    #[wasm_bindgen(js_name = assetNames)]
    pub fn asset_names(&self) -> Array {
        self.program
            .asset_names()
            .into_iter()
            .map(JsValue::from_str)
            .collect()
    }

    /// The outputs of the run made while the model loaded (`Loader.runWhileLoading`), as
    /// `run` returns them; `undefined` without one or once taken.
    #[wasm_bindgen(js_name = takeFirstOutputs)]
    pub fn take_first_outputs(&mut self) -> Result<Option<Array>, JsValue> {
        let Some(outputs) = self.first_outputs.take() else {
            return Ok(None);
        };
        outputs
            .iter()
            .map(|(n, t)| write_output(n, t))
            .collect::<Result<Array, JsValue>>()
            .map(Some)
    }

    /// A session (execution state, memory plan) over this model. The first one is the
    /// session that ran while the model loaded, if one did (with its packed weights).
    #[wasm_bindgen(js_name = createSession)]
    pub fn create_session(&mut self) -> Result<Session, JsValue> {
        if let Some(mut inner) = self.first_session.take() {
            install_clock(&mut inner);
            return Ok(Session { inner });
        }
        let mut inner =
            wasm_torch_interp::Session::new(Arc::clone(&self.program)).map_err(from_interp)?;
        install_clock(&mut inner);
        Ok(Session { inner })
    }
}

/// Execution state for one model: run it on named inputs.
#[wasm_bindgen]
pub struct Session {
    inner: wasm_torch_interp::Session,
}

#[wasm_bindgen]
impl Session {
    /// Run on `inputs`, an array of `{name, dtype, shape, bytes: Uint8Array}`; returns the
    /// outputs in the same form, in the model's output order.
    pub fn run(&mut self, inputs: Array) -> Result<Array, JsValue> {
        let mut names: Vec<String> = Vec::with_capacity(inputs.length() as usize);
        let mut tensors: Vec<Tensor> = Vec::with_capacity(inputs.length() as usize);
        for item in inputs.iter() {
            if !item.is_object() {
                return Err(invalid_input("each input must be an object"));
            }
            let (name, tensor) = read_input(&item)?;
            names.push(name);
            tensors.push(tensor);
        }
        let refs: Vec<(&str, Tensor)> = names.iter().map(String::as_str).zip(tensors).collect();
        let outputs = self.inner.run(&refs).map_err(from_interp)?;
        outputs.iter().map(|(n, t)| write_output(n, t)).collect()
    }

    /// Put the session state (KV cache) back to its initial value from the file: the next
    /// run starts a new sequence. A no-op for stateless models.
    #[wasm_bindgen(js_name = resetState)]
    pub fn reset_state(&mut self) -> Result<(), JsValue> {
        self.inner.reset_state().map_err(from_interp)
    }

    /// Bytes of packed weight copies this session may keep (see
    /// `wasm_torch_interp::Session::set_prepack_budget`; default 256 MiB, 0 = none).
    #[wasm_bindgen(js_name = setPrepackBudget)]
    pub fn set_prepack_budget(&mut self, bytes: f64) -> Result<(), JsValue> {
        if !(bytes >= 0.0 && bytes.is_finite()) {
            return Err(invalid_input(
                "prepackBudget must be a non-negative number of bytes",
            ));
        }
        self.inner
            .set_prepack_budget(bytes.min(usize::MAX as f64) as usize);
        Ok(())
    }

    /// Bytes held by packed weight copies so far.
    #[wasm_bindgen(js_name = prepackedBytes)]
    pub fn prepacked_bytes(&self) -> f64 {
        self.inner.prepacked_bytes() as f64
    }

    /// Turn per-op timing on (resetting the counters) or off.
    #[wasm_bindgen(js_name = setProfiling)]
    pub fn set_profiling(&mut self, on: bool) {
        self.inner.set_profiling(on);
    }

    /// The profile since profiling was switched on, as `{runs, totalMs, ops: [{name, calls,
    /// ms}]}` with ops sorted by time, most expensive first; `undefined` when off.
    pub fn profile(&self) -> JsValue {
        let Some(p) = self.inner.profile() else {
            return JsValue::UNDEFINED;
        };
        let obj = Object::new();
        let set = |o: &Object, k: &str, v: JsValue| {
            let _ = Reflect::set(o, &JsValue::from_str(k), &v);
        };
        set(&obj, "runs", JsValue::from_f64(p.runs as f64));
        set(&obj, "timed", JsValue::from_bool(p.timed));
        set(&obj, "totalMs", JsValue::from_f64(p.total_ns as f64 / 1e6));
        set(
            &obj,
            "bookkeepingMs",
            JsValue::from_f64(p.bookkeeping_ns as f64 / 1e6),
        );
        set(
            &obj,
            "plannedPeakBytes",
            JsValue::from_f64(p.planned_peak_bytes as f64),
        );
        set(
            &obj,
            "actualPeakBytes",
            JsValue::from_f64(p.actual_peak_bytes as f64),
        );
        let ops: Array = p
            .hottest()
            .into_iter()
            .map(|op| {
                let o = Object::new();
                set(&o, "name", JsValue::from_str(&op.name));
                set(&o, "calls", JsValue::from_f64(op.calls as f64));
                set(&o, "ms", JsValue::from_f64(op.total_ns as f64 / 1e6));
                JsValue::from(o)
            })
            .collect();
        set(&obj, "ops", ops.into());
        obj.into()
    }
}
