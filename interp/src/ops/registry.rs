//! The op registry: fully qualified ATen names ("aten::add.Tensor") → implementations.
//!
//! A program resolves its op table against this registry once, at load time, into a vector
//! indexed by op-table index, so the executor never looks names up while running. Every
//! op follows the calling convention of `docs/architecture.md`: the full positional argument
//! list in ATen schema order, one result per schema return.
//!
//! Each family registers its ops with the `reg!` macro of `ops/mod.rs` into one list; a name
//! registered twice is a bug (one of the two implementations would silently win), so
//! building the table refuses it in debug and test builds and a unit test checks the list.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::OpFn;

/// The list every family's `register` appends its `(name, implementation)` pairs to.
pub(crate) type OpList = Vec<(&'static str, OpFn)>;

/// Every registration of every family, in registration order (duplicates included).
pub(crate) fn registrations() -> OpList {
    let mut v = OpList::new();
    super::register_all(&mut v);
    v
}

/// The names registered more than once, sorted.
pub(crate) fn duplicate_names(list: &OpList) -> Vec<&'static str> {
    let mut seen = std::collections::HashSet::new();
    let mut dups: Vec<&'static str> = list
        .iter()
        .filter(|(name, _)| !seen.insert(*name))
        .map(|(name, _)| *name)
        .collect();
    dups.sort_unstable();
    dups.dedup();
    dups
}

fn table() -> &'static HashMap<&'static str, OpFn> {
    static TABLE: OnceLock<HashMap<&'static str, OpFn>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let list = registrations();
        debug_assert!(
            duplicate_names(&list).is_empty(),
            "ops registered twice: {:?}",
            duplicate_names(&list)
        );
        let mut table = HashMap::with_capacity(list.len());
        for (name, f) in list {
            // Release builds keep the first registration (debug builds refused above).
            table.entry(name).or_insert(f);
        }
        table
    })
}

/// Look an op up by its fully qualified name.
pub fn lookup(name: &str) -> Option<OpFn> {
    table().get(name).copied()
}

/// Every op name the interpreter implements, sorted (for `docs/ops.md`).
pub fn supported_ops() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = table().keys().copied().collect();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Registering an overload twice would let one implementation silently replace another.
    #[test]
    fn no_op_is_registered_twice() {
        let dups = duplicate_names(&registrations());
        assert!(dups.is_empty(), "ops registered twice: {dups:?}");
    }

    #[test]
    fn duplicate_names_finds_repeats() {
        fn f(
            _: &mut super::super::OpCtx,
            _: Vec<crate::value::Value>,
        ) -> crate::error::Result<Vec<crate::value::Value>> {
            Ok(vec![])
        }
        let list: OpList = vec![("a", f), ("b", f), ("a", f), ("c", f), ("a", f)];
        assert_eq!(duplicate_names(&list), vec!["a"]);
        assert!(duplicate_names(&list[..2].to_vec()).is_empty());
    }
}
