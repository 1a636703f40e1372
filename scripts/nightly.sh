# The one nightly toolchain the project uses (sourced by scripts/setup.sh,
# js/scripts/build-wasm.sh and fuzz/run.sh): the threads build (build-std with atomics) and
# cargo-fuzz need nightly, and a dated one keeps their results reproducible. Move it forward
# deliberately, in one commit that also runs the threads build and the fuzz stage.
NIGHTLY="${WASM_TORCH_NIGHTLY:-nightly-2026-05-20}"
# Installs $NIGHTLY with the wasm32 target and rust-src when missing.
ensure_nightly() {
    rustup toolchain list | grep -q "^$NIGHTLY" || rustup toolchain install "$NIGHTLY" --profile minimal
    rustup "+$NIGHTLY" target list --installed | grep -qx wasm32-unknown-unknown ||
        rustup "+$NIGHTLY" target add wasm32-unknown-unknown
    rustup "+$NIGHTLY" component list --installed | grep -q '^rust-src' ||
        rustup "+$NIGHTLY" component add rust-src
}
