//! Capture reading: pcap or pcapng, plain, gzip or zstd, every frame to the end.
#![no_main]

use connreuse::capture::Reader;
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = Reader::new(Box::new(Cursor::new(data.to_vec()))) else {
        return;
    };
    let mut previous = 0;
    while let Ok(Some(frame)) = reader.next_frame() {
        assert_eq!(
            frame.index,
            previous + 1,
            "frames are numbered from 1 in order"
        );
        previous = frame.index;
        std::hint::black_box(frame.data);
    }
    let _ = reader.take_secrets();
});
