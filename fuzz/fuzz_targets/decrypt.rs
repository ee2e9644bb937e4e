//! Record decryption under fixed keys: every supported suite and version,
//! records as they come (almost never authentic) and records sealed here
//! under the same keys, so that the code behind the tag runs too, with gaps
//! (`open_after_gap`), KeyUpdate and arbitrary sequence numbers.
//!
//! Input: a suite selector, a flags byte (bits 0-1 version before TLS 1.3:
//! 1.0, 1.1, 1.2, 1.2; bit 2 the sender is the server; bit 3
//! encrypt_then_mac), then operations, each an op byte and its arguments.
#![no_main]

use connreuse::Side;
use connreuse::keys::{
    self, Cipher, DecryptError, Decryptor, Hash, KeyBlock, Mac, next_traffic_secret,
};
use libfuzzer_sys::fuzz_target;
use ring::{aead, hmac};

/// Every suite `keys::suite` knows, and one it does not (CCM).
const SUITES: [u16; 41] = [
    0x1301, 0x1302, 0x1303, 0x002f, 0x0035, 0x003c, 0x003d, 0x009c, 0x009d, 0x0032, 0x0038, 0x0040,
    0x006a, 0x00a2, 0x00a3, 0x0033, 0x0039, 0x0067, 0x006b, 0x009e, 0x009f, 0xccaa, 0xc009, 0xc00a,
    0xc023, 0xc024, 0xc02b, 0xc02c, 0xcca9, 0xc013, 0xc014, 0xc027, 0xc028, 0xc02f, 0xc030, 0xcca8,
    0x1304, 0x1301, 0x1302, 0x1303, 0xc02f,
];

const MASTER: [u8; 48] = [0x4d; 48];
const CLIENT_RANDOM: [u8; 32] = [0x43; 32];
const SERVER_RANDOM: [u8; 32] = [0x53; 32];

fn take<'a>(rest: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, tail) = rest.split_at(n.min(rest.len()));
    *rest = tail;
    head
}

fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, b| acc << 8 | u64::from(*b))
}

fn algorithm(cipher: Cipher) -> Option<&'static aead::Algorithm> {
    match cipher {
        Cipher::Aes128Gcm => Some(&aead::AES_128_GCM),
        Cipher::Aes256Gcm => Some(&aead::AES_256_GCM),
        Cipher::ChaCha20Poly1305 => Some(&aead::CHACHA20_POLY1305),
        Cipher::Aes128Cbc | Cipher::Aes256Cbc => None,
    }
}

/// What the sealing side needs: the same keys as the decryptor's.
struct Sealer {
    suite: &'static keys::Suite,
    version: u16,
    secret: Vec<u8>,
    block: Option<KeyBlock>,
    sender: Side,
    etm: bool,
}

impl Sealer {
    fn aead_key(&self) -> Option<(aead::LessSafeKey, [u8; 12])> {
        let alg = algorithm(self.suite.cipher)?;
        let mut iv = [0u8; 12];
        let key = if self.suite.is_tls13() {
            let keys = keys::TrafficKeys::derive(self.suite, &self.secret).ok()?;
            iv = *keys.iv();
            aead::UnboundKey::new(alg, keys.key()).ok()?
        } else {
            let block = self.block.as_ref()?;
            let (key, fixed) = match self.sender {
                Side::Client => (block.client_key(), block.client_iv()),
                Side::Server => (block.server_key(), block.server_iv()),
            };
            iv.iter_mut().zip(fixed).for_each(|(a, b)| *a = *b);
            aead::UnboundKey::new(alg, key).ok()?
        };
        Some((aead::LessSafeKey::new(key), iv))
    }

    /// A record carrying `plain` (content type `ct`) as the sender would
    /// have protected it with sequence number `seq`; for CBC only the MAC
    /// of encrypt-then-MAC is genuine (the ciphertext is the input's).
    fn seal(&self, seq: u64, ct: u8, plain: &[u8], pad: usize) -> Option<([u8; 5], Vec<u8>)> {
        let xor = |iv: [u8; 12]| {
            let mut n = iv;
            n.iter_mut()
                .skip(4)
                .zip(seq.to_be_bytes())
                .for_each(|(a, b)| *a ^= b);
            n
        };
        let v = self.version.to_be_bytes();
        let aad12 = |len: usize| {
            let mut aad = [0u8; 13];
            aad[..8].copy_from_slice(&seq.to_be_bytes());
            aad[8] = ct;
            aad[9..11].copy_from_slice(&v);
            aad[11..].copy_from_slice(&(len as u16).to_be_bytes());
            aad
        };
        if self.suite.is_tls13() {
            let (key, iv) = self.aead_key()?;
            let mut body = plain.to_vec();
            body.push(ct);
            body.resize(body.len() + pad, 0);
            let len = u16::try_from(body.len() + 16).ok()?.to_be_bytes();
            let header = [23, 3, 3, len[0], len[1]];
            let nonce = aead::Nonce::assume_unique_for_key(xor(iv));
            key.seal_in_place_append_tag(nonce, aead::Aad::from(header), &mut body)
                .ok()?;
            return Some((header, body));
        }
        let fragment = match self.suite.cipher {
            Cipher::Aes128Gcm | Cipher::Aes256Gcm => {
                let (key, iv) = self.aead_key()?;
                let explicit = seq.wrapping_mul(0x9e37_79b9).to_be_bytes();
                let mut nonce = [0u8; 12];
                nonce[..4].copy_from_slice(&iv[..4]);
                nonce[4..].copy_from_slice(&explicit);
                let mut body = plain.to_vec();
                key.seal_in_place_append_tag(
                    aead::Nonce::assume_unique_for_key(nonce),
                    aead::Aad::from(aad12(plain.len())),
                    &mut body,
                )
                .ok()?;
                let mut out = explicit.to_vec();
                out.extend_from_slice(&body);
                out
            }
            Cipher::ChaCha20Poly1305 => {
                let (key, iv) = self.aead_key()?;
                let mut body = plain.to_vec();
                key.seal_in_place_append_tag(
                    aead::Nonce::assume_unique_for_key(xor(iv)),
                    aead::Aad::from(aad12(plain.len())),
                    &mut body,
                )
                .ok()?;
                body
            }
            Cipher::Aes128Cbc | Cipher::Aes256Cbc => {
                let block = self.block.as_ref()?;
                let mac_key = match self.sender {
                    Side::Client => block.client_mac_key(),
                    Side::Server => block.server_mac_key(),
                };
                let algorithm = match self.suite.mac {
                    Mac::HmacSha256 => hmac::HMAC_SHA256,
                    Mac::HmacSha384 => hmac::HMAC_SHA384,
                    Mac::HmacSha1 | Mac::Aead => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
                };
                let mut body = plain.to_vec();
                if self.etm {
                    let key = hmac::Key::new(algorithm, mac_key);
                    let mut ctx = hmac::Context::with_key(&key);
                    ctx.update(&aad12(body.len()));
                    ctx.update(&body);
                    let tag = ctx.sign();
                    body.extend_from_slice(&tag.as_ref()[..self.suite.mac.len()]);
                }
                body
            }
        };
        let len = u16::try_from(fragment.len()).ok()?.to_be_bytes();
        Some(([ct, v[0], v[1], len[0], len[1]], fragment))
    }
}

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let [selector, flags] = *take(&mut rest, 2) else {
        return;
    };
    let suite_id = SUITES[usize::from(selector) % SUITES.len()];
    let Some(suite) = keys::suite(suite_id) else {
        assert!(matches!(
            Decryptor::tls13(suite_id, &[0; 32]),
            Err(DecryptError::UnsupportedSuite(_))
        ));
        return;
    };
    let sender = if flags & 4 == 0 {
        Side::Client
    } else {
        Side::Server
    };
    let etm = flags & 8 != 0;
    let hash_len = match suite.hash {
        Hash::Sha256 => 32,
        Hash::Sha384 => 48,
    };
    let mut sealer = Sealer {
        suite,
        version: keys::TLS13,
        secret: MASTER[..hash_len].to_vec(),
        block: None,
        sender,
        etm,
    };
    let made = if suite.is_tls13() {
        Decryptor::tls13(suite_id, &sealer.secret)
    } else {
        let version = [keys::TLS10, keys::TLS11, keys::TLS12, keys::TLS12][usize::from(flags & 3)];
        sealer.version = version;
        sealer.block =
            KeyBlock::derive(suite, version, &MASTER, &CLIENT_RANDOM, &SERVER_RANDOM).ok();
        Decryptor::tls12(
            suite_id,
            version,
            &MASTER,
            &CLIENT_RANDOM,
            &SERVER_RANDOM,
            sender,
            etm,
        )
    };
    let Ok(mut dec) = made else {
        return;
    };
    let mut out = Vec::new();
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        match op % 6 {
            // A record as the input has it; bit 7: the header's length is
            // the input's, not the fragment's.
            0 | 1 => {
                let ct = take(&mut rest, 1).first().copied().unwrap_or(23);
                let declared = be(take(&mut rest, 2)) as usize;
                let fragment = take(&mut rest, declared);
                let len = if op & 0x80 != 0 {
                    declared as u16
                } else {
                    fragment.len() as u16
                }
                .to_be_bytes();
                let v = dec.version().min(keys::TLS12).to_be_bytes();
                let header = [ct, v[0], v[1], len[0], len[1]];
                if op % 6 == 0 {
                    let _ = dec.open(&header, fragment, &mut out);
                } else {
                    let mut copy = fragment.to_vec();
                    let _ = dec.open_in_place(&header, &mut copy);
                }
            }
            2 => {
                let max_lost = u64::from(take(&mut rest, 1).first().copied().unwrap_or(0) % 32);
                let declared = be(take(&mut rest, 2)) as usize;
                let fragment = take(&mut rest, declared);
                let len = (fragment.len() as u16).to_be_bytes();
                let header = [23, 3, 3, len[0], len[1]];
                let _ = dec.open_after_gap(&header, fragment, &mut out, max_lost);
            }
            // A record sealed here with the decryptor's next sequence
            // number: it must open to what was sealed.
            3 => {
                let ct = take(&mut rest, 1).first().copied().unwrap_or(23);
                let pad = usize::from(take(&mut rest, 1).first().copied().unwrap_or(0));
                let len = be(take(&mut rest, 2)) as usize;
                let plain = take(&mut rest, len);
                let seq = dec.sequence();
                let Some((header, fragment)) = sealer.seal(seq, ct, plain, pad) else {
                    continue;
                };
                let aead = algorithm(suite.cipher).is_some();
                let fits = fragment.len() <= if suite.is_tls13() { 16640 } else { 18432 };
                let opened = dec.open(&header, &fragment, &mut out);
                if aead && fits && ct != 0 && seq != u64::MAX {
                    let (got_ct, got) = opened.expect("a record sealed under the same keys opens");
                    assert_eq!((got_ct, got), (ct, plain));
                }
            }
            4 => {
                let before = dec.sequence();
                match dec.key_update() {
                    Ok(()) => {
                        assert_eq!(dec.sequence(), 0);
                        let next = next_traffic_secret(suite, &sealer.secret)
                            .expect("the same derivation succeeds");
                        sealer.secret = next.as_bytes().to_vec();
                    }
                    Err(_) => assert!(!suite.is_tls13() && dec.sequence() == before),
                }
            }
            _ => dec.set_sequence(be(take(&mut rest, 8))),
        }
    }
});
