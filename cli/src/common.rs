//! Shared CLI plumbing: errors with exit codes, argument checks, and opening a model file
//! as a read-only memory mapping.

use std::fmt;
use wasm_torch_format::FormatError;

/// Why a command failed; the variant decides the exit code.
#[derive(Debug)]
pub enum CliError {
    /// Bad command line (exit 2).
    Usage(String),
    /// The file could not be read (exit 2).
    Io(String),
    /// The file is not a valid `.wtb` (exit 1).
    Invalid(FormatError),
    /// The interpreter refused the model or its inputs, or failed while running (exit 1).
    Model(wasm_torch_interp::Error),
}

impl CliError {
    /// Process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Invalid(_) | CliError::Model(_) => 1,
            CliError::Usage(_) | CliError::Io(_) => 2,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) => write!(f, "{m}"),
            CliError::Io(m) => write!(f, "{m}"),
            CliError::Invalid(e) => write!(f, "invalid file: {e} [{:?}]", e.kind),
            // The interpreter's Display already starts with the kind ("invalid_input: ...").
            CliError::Model(e) => write!(f, "{e}"),
        }
    }
}

impl From<FormatError> for CliError {
    fn from(e: FormatError) -> Self {
        CliError::Invalid(e)
    }
}

impl From<wasm_torch_interp::Error> for CliError {
    fn from(e: wasm_torch_interp::Error) -> Self {
        CliError::Model(e)
    }
}

/// A command line split into positional arguments, valued options (`--name VALUE` or
/// `--name=VALUE`, repeatable) and switches (`--name`).
#[derive(Debug, Default)]
pub struct Parsed {
    /// Arguments that are not options, in order.
    pub positional: Vec<String>,
    /// `(name, value)` of every valued option, in order (names without the dashes).
    pub options: Vec<(String, String)>,
    /// Names of the switches given.
    pub switches: Vec<String>,
}

impl Parsed {
    /// Every value given for option `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.options
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of a non-repeatable option (an error when given twice).
    pub fn one(&self, name: &str) -> Result<Option<&str>, CliError> {
        match self.all(name).as_slice() {
            [] => Ok(None),
            [v] => Ok(Some(v)),
            _ => Err(CliError::Usage(format!("--{name} given more than once"))),
        }
    }

    /// Whether switch `name` was given.
    pub fn has(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }

    /// A count option (`--runs N`): `default` when absent, at least `min`, at most `max`.
    pub fn count(
        &self,
        name: &str,
        default: usize,
        min: usize,
        max: usize,
    ) -> Result<usize, CliError> {
        let Some(v) = self.one(name)? else {
            return Ok(default);
        };
        match v.parse::<usize>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(CliError::Usage(format!(
                "--{name} expects a whole number from {min} to {max}, got {v:?}"
            ))),
        }
    }
}

/// Split `args` per [`Parsed`]; options not listed in `valued` or `switches` are errors.
pub fn parse_args(args: &[String], valued: &[&str], switches: &[&str]) -> Result<Parsed, CliError> {
    let mut p = Parsed::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let Some(opt) = a.strip_prefix("--") else {
            p.positional.push(a.clone());
            continue;
        };
        let (name, inline) = match opt.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (opt, None),
        };
        if valued.contains(&name) {
            let v = match inline {
                Some(v) => v,
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| CliError::Usage(format!("--{name} needs a value")))?,
            };
            p.options.push((name.to_string(), v));
        } else if switches.contains(&name) && inline.is_none() {
            p.switches.push(name.to_string());
        } else {
            return Err(CliError::Usage(format!("unknown option {a:?}")));
        }
    }
    Ok(p)
}

/// Exactly one positional FILE argument.
pub fn one_file(args: &[String]) -> Result<&str, CliError> {
    match args {
        [f] if !f.starts_with('-') => Ok(f),
        _ => Err(CliError::Usage("expected exactly one FILE argument".into())),
    }
}

/// The file's bytes: a memory mapping (no copy, any size), or an empty slice for an empty
/// file (which cannot be mapped).
pub enum FileBytes {
    /// A read-only mapping.
    Mapped(memmap2::Mmap),
    /// An empty file.
    Empty,
}

impl FileBytes {
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(m) => m,
            FileBytes::Empty => &[],
        }
    }
}

/// Map `path` read-only.
pub fn open(path: &str) -> Result<FileBytes, CliError> {
    let f = std::fs::File::open(path).map_err(|e| CliError::Io(format!("{path}: {e}")))?;
    let len = f
        .metadata()
        .map_err(|e| CliError::Io(format!("{path}: {e}")))?
        .len();
    if len == 0 {
        return Ok(FileBytes::Empty);
    }
    // SAFETY: the mapping is read-only; a concurrent writer could change bytes under us, which
    // the parser tolerates (every read is bounds-checked and validated), so no UB follows
    // beyond what any file read race would cause.
    let m = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| CliError::Io(format!("{path}: {e}")))?;
    Ok(FileBytes::Mapped(m))
}

/// Human-readable byte count.
pub fn human(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

/// Milliseconds of a duration, for timing lines.
pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Read a whole file, with the path in the error.
pub fn read(path: &str) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::Io(format!("{path}: {e}")))
}

/// Write a whole file, with the path in the error.
pub fn write(path: &std::path::Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes).map_err(|e| CliError::Io(format!("{}: {e}", path.display())))
}
