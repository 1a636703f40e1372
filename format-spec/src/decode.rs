//! Incremental chunk decoding shared by both drivers: CRC over the encoded bytes, stored
//! chunks copied, zstd chunks stream-decompressed straight into the chunk's arena slot, and
//! an error whenever the output would be longer or shorter than declared.

use crate::error::{ErrorKind, FormatError, SectionKind};
use crate::model::{ChunkInfo, Codec};
use zstd::stream::raw::{DParameter, Decoder, Operation};

/// Decodes one chunk from encoded pieces into its slot (`out`, exactly `decoded_len` bytes).
pub(crate) struct ChunkSink {
    index: u32,
    codec: Codec,
    file_offset: u64,
    /// The CRC-32 of the encoded bytes so far; `None` when the caller checks the whole file
    /// by other means (see `StreamParser::without_chunk_crcs`).
    hasher: Option<crc32fast::Hasher>,
    consumed: u64,
    written: usize,
    zstd: Option<Decoder<'static>>,
    frame_done: bool,
}

impl ChunkSink {
    /// Start decoding chunk `index`; `check_crc: false` skips its CRC-32.
    pub fn new(
        index: u32,
        c: &ChunkInfo,
        max_window_log: u32,
        check_crc: bool,
    ) -> Result<ChunkSink, FormatError> {
        let zstd = match c.codec {
            Codec::Stored => None,
            Codec::Zstd => {
                let mut d = Decoder::new().map_err(|e| {
                    FormatError::new(
                        ErrorKind::Alloc,
                        Some(SectionKind::Weights),
                        c.file_offset,
                        format!("zstd decoder: {e}"),
                    )
                })?;
                d.set_parameter(DParameter::WindowLogMax(max_window_log))
                    .map_err(|e| {
                        FormatError::new(
                            ErrorKind::Usage,
                            Some(SectionKind::Weights),
                            c.file_offset,
                            format!("zstd window limit: {e}"),
                        )
                    })?;
                Some(d)
            }
        };
        Ok(ChunkSink {
            index,
            codec: c.codec,
            file_offset: c.file_offset,
            hasher: check_crc.then(crc32fast::Hasher::new),
            consumed: 0,
            written: 0,
            zstd,
            frame_done: false,
        })
    }

    fn err(&self, kind: ErrorKind, msg: String) -> FormatError {
        FormatError::new(
            kind,
            Some(SectionKind::Weights),
            self.file_offset + self.consumed,
            format!("chunk {}: {msg}", self.index),
        )
    }

    /// Feed the next encoded bytes of the chunk.
    pub fn push(&mut self, input: &[u8], out: &mut [u8]) -> Result<(), FormatError> {
        if let Some(h) = self.hasher.as_mut() {
            h.update(input);
        }
        match self.codec {
            Codec::Stored => {
                let end = self.written + input.len();
                let Some(dst) = out.get_mut(self.written..end) else {
                    return Err(
                        self.err(ErrorKind::Decompress, "stored bytes exceed the slot".into())
                    );
                };
                dst.copy_from_slice(input);
                self.written = end;
                self.consumed += input.len() as u64;
            }
            Codec::Zstd => {
                let mut rest = input;
                while !rest.is_empty() {
                    if self.frame_done {
                        return Err(self.err(
                            ErrorKind::Decompress,
                            "bytes after the end of the zstd frame".into(),
                        ));
                    }
                    let (read, wrote, hint) = self.run(rest, out)?;
                    rest = &rest[read..];
                    self.consumed += read as u64;
                    if hint == 0 {
                        self.frame_done = true;
                    } else if read == 0 && wrote == 0 {
                        return Err(self.err(
                            ErrorKind::Decompress,
                            "zstd decoder made no progress".into(),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// One decoder step: into the slot while it has room, else into a scratch buffer whose
    /// any output proves the chunk decodes to more than declared.
    fn run(&mut self, input: &[u8], out: &mut [u8]) -> Result<(usize, usize, usize), FormatError> {
        let full = self.written >= out.len();
        let mut scratch = [0u8; 64];
        let dst: &mut [u8] = if full {
            &mut scratch
        } else {
            &mut out[self.written..]
        };
        let Some(d) = self.zstd.as_mut() else {
            return Err(self.err(ErrorKind::Usage, "no zstd decoder".into()));
        };
        let st = match d.run_on_buffers(input, dst) {
            Ok(st) => st,
            Err(e) => return Err(self.err(ErrorKind::Decompress, format!("zstd: {e}"))),
        };
        if full && st.bytes_written > 0 {
            return Err(self.err(
                ErrorKind::Decompress,
                format!("decompresses to more than the declared {} bytes", out.len()),
            ));
        }
        self.written += st.bytes_written;
        Ok((st.bytes_read, st.bytes_written, st.remaining))
    }

    /// All encoded bytes were pushed: flush, then check size, frame end and CRC.
    pub fn finish(mut self, c: &ChunkInfo, out: &mut [u8]) -> Result<(), FormatError> {
        if self.codec == Codec::Zstd && !self.frame_done {
            // Flush output the decoder still holds (the slot may have filled exactly).
            loop {
                let (_, wrote, hint) = self.run(&[], out)?;
                if hint == 0 {
                    self.frame_done = true;
                    break;
                }
                if wrote == 0 {
                    break;
                }
            }
            if !self.frame_done {
                return Err(self.err(ErrorKind::Decompress, "zstd frame is incomplete".into()));
            }
        }
        if self.written != out.len() {
            return Err(self.err(
                ErrorKind::Decompress,
                format!("decoded {} bytes, declared {}", self.written, out.len()),
            ));
        }
        let Some(hasher) = self.hasher.take() else {
            return Ok(());
        };
        let crc = hasher.finalize();
        if crc != c.crc32 {
            return Err(FormatError::new(
                ErrorKind::ChecksumMismatch,
                Some(SectionKind::Weights),
                c.file_offset,
                format!(
                    "chunk {}: CRC-32 is {:#010x}, its bytes hash to {crc:#010x}",
                    self.index, c.crc32
                ),
            ));
        }
        Ok(())
    }
}
