//! The NSS key log parser over any text, then a look-up of every random it
//! may have stored.
#![no_main]

use connreuse::keys::KeyLog;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (log, warnings) = KeyLog::parse(data);
    // At most 1000 warnings are kept (keys::keylog::MAX_WARNINGS), plus
    // one that counts the rest.
    assert!(warnings.len() <= 1001);
    for w in &warnings {
        let _ = w.to_string();
    }
    let _ = format!("{log:?}");
    // Any 32 bytes of the input may be a client random the log holds.
    for window in data.windows(32).step_by(7).take(64) {
        if let Ok(random) = <&[u8; 32]>::try_from(window) {
            let _ = log.secrets_for(random);
        }
    }
    let mut merged = KeyLog::new();
    merged.merge(log);
});
