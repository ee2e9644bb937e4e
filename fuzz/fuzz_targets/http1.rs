//! HTTP/1.x over one connection's two streams, as the operations of
//! `connreuse_fuzz::ops` (a toggle starts a parser for a capture that began
//! mid-connection instead, when it comes first).
#![no_main]

use connreuse::http1::{self, Http1};
use connreuse_fuzz::{Op, ops};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let midstream = data.first().is_some_and(|c| c & 0x80 != 0);
    let mut h = if midstream {
        Http1::new_midstream()
    } else {
        Http1::new()
    };
    let mut requests = 0usize;
    let mut last = None;
    for (op, at) in ops(data) {
        last = Some(at);
        match op {
            Op::Data(side, bytes) => h.on_data(side, bytes, at),
            Op::Gap(side, len) => h.on_gap(side, len),
            Op::Close(_) => break,
            Op::Toggle => {}
        }
        requests += h.take_requests().count();
        let _ = h.take_switch();
    }
    h.on_close(last.unwrap_or_default());
    requests += h.take_requests().count();
    let summary = h.summary();
    assert!(summary.anomalies.len() <= http1::ANOMALY_CAP);
    std::hint::black_box(requests);
});
