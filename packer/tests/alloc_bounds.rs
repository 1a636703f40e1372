//! Huge declared counts and sizes are refused *before* allocating: a counting global
//! allocator measures the peak heap growth while parsing crafted files.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use wasm_torch_format::*;
use wasm_torch_packer::*;

struct Counting;
static CUR: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = CUR.fetch_add(l.size(), Ordering::SeqCst) + l.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let now = CUR.fetch_add(l.size(), Ordering::SeqCst) + l.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        CUR.fetch_sub(l.size(), Ordering::SeqCst);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Peak heap growth (bytes) while running `f`.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = CUR.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    f();
    PEAK.load(Ordering::SeqCst) - base
}

fn patched(bytes: &[u8], kind: SectionKind, at: usize, new: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let h = parse_header(&b, &Limits::default()).unwrap();
    let s = h.section(kind).unwrap().offset as usize + at;
    b[s..s + new.len()].copy_from_slice(new);
    refresh_checksums(&mut b).unwrap();
    b
}

#[test]
fn huge_declarations_error_without_allocating() {
    let ir = testgen::model(&[3u8; 300]);
    let bytes = pack(&ir, &PackOptions::default()).unwrap();
    let cases = [
        patched(&bytes, SectionKind::OpTable, 0, &(1u32 << 16).to_le_bytes()),
        patched(
            &bytes,
            SectionKind::Constants,
            0,
            &(1u32 << 20).to_le_bytes(),
        ),
        patched(
            &bytes,
            SectionKind::Bytecode,
            0,
            &(1u32 << 16).to_le_bytes(),
        ),
        patched(&bytes, SectionKind::Chunks, 0, &(3u64 << 30).to_le_bytes()),
        patched(
            &bytes,
            SectionKind::Metadata,
            0,
            &(1u32 << 20).to_le_bytes(),
        ),
    ];
    for (i, b) in cases.iter().enumerate() {
        let peak = peak_during(|| {
            assert!(parse_file(b, &Limits::default()).is_err(), "case {i}");
            let mut sp = StreamParser::new(Limits::default());
            assert!(sp.feed(b).is_err(), "case {i}");
        });
        // The file is ~1 KiB; the graph structures and messages stay far below 1 MiB.
        assert!(peak < 1 << 20, "case {i}: peak heap growth {peak} bytes");
    }
}
