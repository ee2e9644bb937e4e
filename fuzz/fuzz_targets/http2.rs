//! HTTP/2 frames and HPACK over one connection's two streams (cleartext,
//! prior knowledge), as the operations of `connreuse_fuzz::ops`.
#![no_main]

use connreuse::http2::{self, Http2};
use connreuse_fuzz::{Op, ops};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut h = Http2::new_prior_knowledge();
    let mut last = None;
    for (op, at) in ops(data) {
        last = Some(at);
        match op {
            Op::Data(side, bytes) => h.on_data(side, bytes, at),
            Op::Gap(side, len) => h.on_gap(side, len),
            Op::Close(_) => break,
            Op::Toggle => {}
        }
        let _ = h.take_requests().count();
    }
    h.on_close(last.unwrap_or_default());
    let _ = h.take_requests().count();
    let summary = h.summary();
    assert!(summary.anomalies.len() <= http2::ANOMALY_CAP);
});
