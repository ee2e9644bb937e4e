//! Record decryption throughput of `connreuse::keys::Decryptor` on full
//! 16 KiB records: TLS 1.3 AES-128-GCM and ChaCha20-Poly1305, TLS 1.2
//! AES-128-CBC with HMAC-SHA256 (encrypt-then-MAC). Each record is sealed
//! once here with the same keys (ring for AEAD, RustCrypto `cbc` and ring's
//! HMAC for CBC), then opened again and again at the same sequence number.
//!
//! The rate is given per second of CPU time of this thread (Linux
//! `/proc/thread-self/schedstat`), so that other processes sharing the
//! machine do not lower it; wall-clock rates are printed beside it.
//!
//!     cargo run --release --example decrypt_throughput [seconds per cipher]

use std::time::{Duration, Instant};

use aes::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::NoPadding};
use connreuse::Side;
use connreuse::keys::{Decryptor, KeyBlock, TLS12, TrafficKeys, suite};
use ring::{aead, hmac};

const RECORD: usize = 16 * 1024;

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let budget = Duration::from_secs_f64(seconds);
    for suite_id in [0x1301u16, 0x1303] {
        let (header, fragment) = tls13_record(suite_id);
        let mut d = Decryptor::tls13(suite_id, &[0x11; 32]).expect("keys");
        report(&mut d, &header, &fragment, budget);
        ring_alone(suite_id, &header, &fragment, budget);
    }
    let (header, fragment) = cbc_etm_record();
    let mut d = Decryptor::tls12(0xc027, TLS12, &MASTER, &RANDOM, &RANDOM, Side::Client, true)
        .expect("keys");
    report(&mut d, &header, &fragment, budget);
}

/// Nanoseconds this thread has run on a CPU, if Linux tells.
fn cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// GB/s of `bytes` per CPU second (or per wall second when the CPU time is
/// unknown), and per wall second.
fn rates(bytes: u64, cpu_start: Option<u64>, wall: Instant) -> (f64, f64) {
    let wall = wall.elapsed().as_secs_f64();
    let cpu = match (cpu_start, cpu_ns()) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
        _ => wall,
    };
    (bytes as f64 / cpu / 1e9, bytes as f64 / wall / 1e9)
}

fn report(d: &mut Decryptor, header: &[u8; 5], fragment: &[u8], budget: Duration) {
    let mut out = Vec::with_capacity(fragment.len());
    let mut records = 0u64;
    let mut plain = 0u64;
    let cpu = cpu_ns();
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..256 {
            d.set_sequence(0);
            let (_, p) = d.open(header, fragment, &mut out).expect("record opens");
            plain += p.len() as u64;
            records += 1;
        }
    }
    let (per_cpu, per_wall) = rates(plain, cpu, start);
    println!(
        "{:<45} {:>6.2} GB/s of plaintext per CPU second ({:.2} wall, {records} records)",
        d.suite().name,
        per_cpu,
        per_wall
    );
}

/// The same record opened by ring directly after one `extend_from_slice`
/// copy: the cost of the wrapper, and of a plain 16 KiB memcpy (see
/// `Decryptor::open` on why it copies in pieces).
fn ring_alone(suite_id: u16, header: &[u8; 5], fragment: &[u8], budget: Duration) {
    let (key, iv) = tls13_key(suite_id);
    let mut out = Vec::with_capacity(fragment.len());
    let mut plain = 0u64;
    let cpu = cpu_ns();
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..256 {
            out.clear();
            out.extend_from_slice(fragment);
            let nonce = aead::Nonce::assume_unique_for_key(iv);
            let p = key
                .open_in_place(nonce, aead::Aad::from(*header), &mut out)
                .expect("record opens");
            plain += p.len() as u64 - 1;
        }
    }
    let (per_cpu, per_wall) = rates(plain, cpu, start);
    println!(
        "{:<45} {:>6.2} GB/s of plaintext per CPU second ({:.2} wall)",
        "  (ring alone, one memcpy of the record)", per_cpu, per_wall
    );
}

fn tls13_key(suite_id: u16) -> (aead::LessSafeKey, [u8; 12]) {
    let s = suite(suite_id).expect("suite");
    let keys = TrafficKeys::derive(s, &[0x11; 32]).expect("keys");
    let algorithm = match suite_id {
        0x1301 => &aead::AES_128_GCM,
        _ => &aead::CHACHA20_POLY1305,
    };
    let key = aead::LessSafeKey::new(aead::UnboundKey::new(algorithm, keys.key()).expect("key"));
    (key, *keys.iv())
}

/// A TLS 1.3 record holding 16 KiB of application data (plus its content
/// type byte), sealed under the traffic secret 0x11 * 32, sequence 0.
fn tls13_record(suite_id: u16) -> ([u8; 5], Vec<u8>) {
    let (key, iv) = tls13_key(suite_id);
    let mut body = vec![0x61u8; RECORD];
    body.push(23);
    let len = (body.len() + 16) as u16;
    let header = [23, 3, 3, (len >> 8) as u8, len as u8];
    let nonce = aead::Nonce::assume_unique_for_key(iv);
    key.seal_in_place_append_tag(nonce, aead::Aad::from(header), &mut body)
        .expect("seal");
    (header, body)
}

const MASTER: [u8; 48] = [0x22; 48];
const RANDOM: [u8; 32] = [0x33; 32];

/// A TLS 1.2 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 record with
/// encrypt-then-MAC (RFC 7366): IV, 16 KiB of data padded to the block,
/// HMAC-SHA256 over the header fields, IV and ciphertext.
fn cbc_etm_record() -> ([u8; 5], Vec<u8>) {
    let s = suite(0xc027).expect("suite");
    let block = KeyBlock::derive(s, TLS12, &MASTER, &RANDOM, &RANDOM).expect("key block");
    let iv = [0x44u8; 16];
    let mut plain = vec![0x61u8; RECORD];
    plain.extend_from_slice(&[15; 16]);
    let mut body = iv.to_vec();
    let enc = cbc::Encryptor::<aes::Aes128>::new_from_slices(block.client_key(), &iv).expect("key");
    let n = plain.len();
    let ct = enc
        .encrypt_padded::<NoPadding>(&mut plain, n)
        .expect("aligned");
    body.extend_from_slice(ct);
    let len = (body.len() as u16).to_be_bytes();
    let key = hmac::Key::new(hmac::HMAC_SHA256, block.client_mac_key());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(&0u64.to_be_bytes());
    ctx.update(&[23, 3, 3, len[0], len[1]]);
    ctx.update(&body);
    body.extend_from_slice(ctx.sign().as_ref());
    let total = (body.len() as u16).to_be_bytes();
    ([23, 3, 3, total[0], total[1]], body)
}
