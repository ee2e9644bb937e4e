//! HPACK alone: two bytes of SETTINGS_HEADER_TABLE_SIZE (times 16), then
//! header blocks, each behind a two-byte big-endian length. Every block
//! goes to three decoders that rebuild their table never, before every
//! block, and now and then: their answers must agree, a failure must be
//! followed by `Unknown` only, and kept values must respect their caps.
#![no_main]

use connreuse::http2::hpack::{Decoder, Error, FIELD_CAP, SHORT_FIELD_CAP};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((size, mut rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let allowed = u32::from(u16::from_be_bytes(*size)) * 16;
    let mut kept = Decoder::default();
    let mut rebuilt = Decoder::default().rebuilding_at(0);
    let mut sometimes = Decoder::default().rebuilding_at(4096);
    for d in [&mut kept, &mut rebuilt, &mut sometimes] {
        d.allow_table_size(allowed);
    }
    let mut failed = false;
    while let Some((len, after)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_be_bytes(*len)).min(after.len());
        let (block, after) = after.split_at(len);
        rest = after;
        let want = kept.decode(block);
        assert_eq!(rebuilt.decode(block), want);
        assert_eq!(sometimes.decode(block), want);
        if failed {
            assert_eq!(want, Err(Error::Unknown));
        }
        failed |= want.is_err();
        if let Ok(f) = want {
            // Lossy UTF-8 may turn each byte cut or invalid into U+FFFD.
            let short = [&f.method, &f.scheme, &f.authority, &f.host];
            assert!(
                short
                    .iter()
                    .all(|v| v.as_ref().map_or(0, |v| v.len()) <= 3 * SHORT_FIELD_CAP)
            );
            assert!(f.path.as_ref().map_or(0, |v| v.len()) <= 3 * FIELD_CAP);
        }
    }
});
