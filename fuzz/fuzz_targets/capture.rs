//! Capture reading: pcap or pcapng, plain, gzip or zstd, every frame to the end,
//! read in place and read ahead on a thread (`capture::ahead`): the same
//! frames and the same end.
#![no_main]

use connreuse::capture::Reader;
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;

/// Every frame's number, time, link type, lengths and bytes, then how the
/// reading ended.
fn frames(
    reader: Result<Reader, connreuse::capture::Error>,
) -> (Vec<(u64, i64, u32, u32, Vec<u8>)>, String) {
    let mut reader = match reader {
        Ok(reader) => reader,
        Err(e) => return (Vec::new(), e.to_string()),
    };
    let mut out = Vec::new();
    let mut previous = 0;
    let end = loop {
        match reader.next_frame() {
            Ok(Some(frame)) => {
                assert_eq!(
                    frame.index,
                    previous + 1,
                    "frames are numbered from 1 in order"
                );
                previous = frame.index;
                out.push((
                    frame.index,
                    frame.ts.0,
                    frame.linktype.0,
                    frame.orig_len,
                    frame.data.to_vec(),
                ));
            }
            Ok(None) => break format!("end at {}", reader.offset()),
            Err(e) => break e.to_string(),
        }
    };
    let _ = reader.take_secrets();
    (out, end)
}

fuzz_target!(|data: &[u8]| {
    let (here, end) = frames(Reader::new(Box::new(Cursor::new(data.to_vec()))));
    let (ahead, end_ahead) = frames(Reader::ahead(Box::new(Cursor::new(data.to_vec()))));
    // Read ahead, the compressed bytes counted lead the decompressed ones
    // by up to two chunks: a decompression bomb may be stopped a little
    // later (docs/DESIGN.md, "Capture input").
    if end.contains("expands over 1000-fold") || end_ahead.contains("expands over 1000-fold") {
        return;
    }
    assert!(here == ahead, "frames read ahead differ");
    assert_eq!(end, end_ahead, "reading ahead ends differently");
});
