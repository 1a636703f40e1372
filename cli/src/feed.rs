//! What `run` and `bench` share: loading a model by memory map and turning `.npy` arguments
//! into the model's inputs. Inputs are never invented: a missing one is an error that lists
//! what the model expects, because made-up data would produce plausible-looking garbage.

use crate::common::{ms, read, CliError};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use wasm_torch_interp::{npy, Error, Program, Session, Tensor, ValueSpec};

/// A loaded model with a session over it, and how long loading took.
pub struct Loaded {
    /// The session (owns an `Arc` of the program).
    pub session: Session,
    /// Milliseconds for `Program::from_path` (map, parse, resolve ops, view/decode weights).
    pub load_ms: f64,
    /// Milliseconds for `Session::new` (memory planning).
    pub plan_ms: f64,
}

/// Load `path` by memory-mapping it and create a session.
pub fn load(path: &str) -> Result<Loaded, CliError> {
    if !Path::new(path).is_file() {
        return Err(CliError::Io(format!("{path}: no such file")));
    }
    let t = Instant::now();
    let program = Arc::new(Program::from_path(Path::new(path))?);
    let load_ms = ms(t.elapsed());
    let t = Instant::now();
    let session = Session::new(program)?;
    Ok(Loaded {
        session,
        load_ms,
        plan_ms: ms(t.elapsed()),
    })
}

fn expected(specs: &[ValueSpec]) -> String {
    let mut s = String::from("the model takes:");
    for (i, spec) in specs.iter().enumerate() {
        s.push_str(&format!("\n  [{i}] {spec}"));
    }
    s.push_str("\ngive each as NAME=FILE.npy (--input) or as FILE.npy positionally, in this order");
    s
}

/// Assign `.npy` arguments to the model's inputs and read them, in signature order.
///
/// `args` are `NAME=PATH` (when NAME is one of the model's inputs) or a bare `PATH`; bare
/// paths fill the inputs not given by name, in signature order.
pub fn gather(specs: &[ValueSpec], args: &[&str]) -> Result<Vec<Tensor>, CliError> {
    let mut slots: Vec<Option<&str>> = vec![None; specs.len()];
    let mut positional = Vec::new();
    for a in args {
        let named = a
            .split_once('=')
            .and_then(|(n, p)| specs.iter().position(|s| s.name == n).map(|i| (i, p)));
        match named {
            Some((i, p)) => {
                if slots[i].is_some() {
                    return Err(Error::invalid_input(format!(
                        "input '{}' given twice",
                        specs[i].name
                    ))
                    .into());
                }
                slots[i] = Some(p);
            }
            None => {
                // NAME=PATH with an unknown NAME (and no file of that literal name).
                if let Some((n, _)) = a.split_once('=') {
                    if !Path::new(a).exists() {
                        return Err(Error::invalid_input(format!(
                            "'{n}' is not an input of the model; {}",
                            expected(specs)
                        ))
                        .into());
                    }
                }
                positional.push(*a)
            }
        }
    }
    let free: Vec<usize> = (0..specs.len()).filter(|&i| slots[i].is_none()).collect();
    let mut free = free.into_iter();
    for p in positional {
        match free.next() {
            Some(i) => slots[i] = Some(p),
            None => {
                return Err(Error::invalid_input(format!(
                    "'{p}' is one input too many; {}",
                    expected(specs)
                ))
                .into());
            }
        }
    }
    let missing: Vec<&str> = specs
        .iter()
        .zip(&slots)
        .filter(|(_, s)| s.is_none())
        .map(|(spec, _)| spec.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(Error::invalid_input(format!(
            "missing input(s) {}; {}",
            missing
                .iter()
                .map(|m| format!("'{m}'"))
                .collect::<Vec<_>>()
                .join(", "),
            expected(specs)
        ))
        .into());
    }
    specs
        .iter()
        .zip(slots)
        .map(|(spec, path)| {
            let path = path.unwrap_or_default();
            let t = npy::read_npy(&read(path)?)
                .map_err(|e| e.context(format!("input '{}' from {path}", spec.name)))?;
            Ok(t)
        })
        .collect()
}
