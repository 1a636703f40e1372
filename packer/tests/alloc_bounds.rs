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

/// Tests in this file run on parallel threads but share the counting allocator: each one
/// holds this lock for its whole body so the measured peaks are its own.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

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
    let _serial = serial();
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
/// A model with six 4 MiB u8 weights, alternately compressible and not.
fn big_model() -> ModelIr {
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
    ir
}

#[test]
fn streaming_peak_memory_is_arena_plus_one_chunk() {
    let _serial = serial();
    let opts = PackOptions::default(); // 4 MiB chunks, zstd where it pays
    let bytes = pack(&big_model(), &opts).unwrap();
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
    assert_bit_eq!(g2, g);
    assert_eq!(a2.planned_bytes() as usize, arena);
    assert_eq!(a2.allocated_bytes() as usize, arena);
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

/// Declaring a large arena costs nothing until weight bytes arrive: the segmented arena is
/// allocated one segment at a time, when the segment's first chunk byte arrives. (A hostile
/// header can therefore not make a reader allocate the declared arena up front.)
#[test]
fn arena_segments_are_allocated_only_as_their_bytes_arrive() {
    let _serial = serial();
    let opts = PackOptions {
        compression: Compression::Never,
        ..PackOptions::default()
    };
    let bytes = pack(&big_model(), &opts).unwrap();
    let g = parse_file(&bytes, &Limits::default()).unwrap();
    let big: Vec<&ChunkInfo> = g
        .chunks
        .iter()
        .filter(|c| c.decoded_len >= 4 << 20)
        .collect();
    assert!(big.len() >= 6 && g.arena_size >= 24 << 20);
    let seg = 8u64 << 20;
    let mut sp = StreamParser::new(Limits::default()).with_segment_target(seg);
    let w = parse_header(&bytes, &Limits::default())
        .unwrap()
        .weights_offset() as usize;
    let peak = peak_during(|| {
        sp.feed(&bytes[..w]).unwrap();
    });
    let arena = sp.arena().unwrap();
    assert!(sp.graph().is_some());
    assert_eq!(arena.allocated_bytes(), 0);
    assert!(
        arena.segment_count() >= 3,
        "{} segments",
        arena.segment_count()
    );
    assert!(peak < 1 << 20, "graph only: peak {peak} bytes");
    // The first byte of the first big chunk allocates its segment (≤ 8 MiB), nothing more.
    let first = big[0].file_offset as usize;
    let peak = peak_during(|| {
        sp.feed(&bytes[w..first + 1]).unwrap();
    });
    let alloc = sp.arena().unwrap().allocated_bytes();
    assert!(alloc > 0 && alloc <= seg, "allocated {alloc}");
    assert!(peak <= seg as usize + (1 << 20), "peak {peak}");
    sp.feed(&bytes[first + 1..]).unwrap();
    let (_, a) = sp.finish().unwrap();
    assert_eq!(a.allocated_bytes(), a.planned_bytes());
    assert_eq!(a, decode_all(&bytes, &g, &Limits::default()).unwrap());
}
