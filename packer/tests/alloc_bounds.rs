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

/// Streaming a 24 MiB model (compressible and incompressible chunks) in 64 KiB pieces holds
/// at most the arena + about one chunk + the graph: never the file. (Only the Rust heap is
/// counted; zstd's decoder context lives on the C heap, bounded by `max_zstd_window_log`.)
#[test]
fn streaming_peak_memory_is_arena_plus_one_chunk() {
    let mut ir = testgen::model(&[5u8; 200]);
    let mut state = 1u32;
    for i in 0..6 {
        let n = 4 << 20;
        let data: Vec<u8> = if i % 2 == 0 {
            (0..n).map(|j| (j % 251) as u8).collect()
        } else {
            (0..n)
                .map(|_| {
                    state = state.wrapping_mul(1664525).wrapping_add(1013904223);
                    (state >> 24) as u8
                })
                .collect()
        };
        ir.weights.push(WeightIr {
            name: format!("big{i}"),
            dtype: DType::U8,
            shape: vec![n as u64],
            data,
            encoding: WeightEncoding::AsIs,
        });
    }
    let opts = PackOptions::default(); // 4 MiB chunks, zstd where it pays
    let bytes = pack(&ir, &opts).unwrap();
    drop(ir);
    let g = parse_file(&bytes, &Limits::default()).unwrap();
    assert!(g.chunks.iter().any(|c| c.codec == Codec::Zstd));
    assert!(g.chunks.iter().any(|c| c.codec == Codec::Stored));
    let arena = g.arena_size as usize;
    let mut result = None;
    let peak = peak_during(|| {
        let mut sp = StreamParser::new(Limits::default());
        for p in bytes.chunks(64 << 10) {
            sp.feed(p).unwrap();
        }
        result = Some(sp.finish().unwrap());
    });
    let (g2, a2) = result.unwrap();
    assert_eq!(g2, g);
    assert_eq!(a2.len(), arena);
    let budget = arena + opts.chunk_target + (1 << 20);
    eprintln!(
        "stream peak {peak} B, arena {arena} B, file {} B",
        bytes.len()
    );
    assert!(
        peak < budget,
        "peak {peak} bytes, arena {arena}, budget {budget} (file is {} bytes)",
        bytes.len()
    );
}
