//! TLS 1.0-1.2 key derivation: the PRF (RFC 5246 section 5; RFC 2246
//! section 5 for TLS 1.0 and 1.1) and the key block cut into per-direction
//! MAC keys, encryption keys and IVs (RFC 5246 section 6.3).

use std::fmt;

use ::hmac::Mac as _;
use ring::hmac;

use super::{Cipher, DecryptError, Hash, Suite, TLS10, TLS11, TLS12};

/// The longest HMAC output used here (SHA-384).
const MAX_MAC: usize = 48;

/// One keyed HMAC, the building block of P_hash.
enum Hmac {
    Ring(hmac::Key),
    Md5(::hmac::Hmac<md5::Md5>),
}

impl Hmac {
    fn new_ring(algorithm: hmac::Algorithm, key: &[u8]) -> Hmac {
        Hmac::Ring(hmac::Key::new(algorithm, key))
    }

    fn new_md5(key: &[u8]) -> Result<Hmac, DecryptError> {
        // HMAC takes keys of any length (RFC 2104 section 3), so the crate
        // never refuses one; its error is mapped all the same.
        <::hmac::Hmac<md5::Md5> as ::hmac::KeyInit>::new_from_slice(key)
            .map(Hmac::Md5)
            .map_err(|_| DecryptError::SecretLength {
                expected: 64,
                found: key.len(),
            })
    }

    /// HMAC of the concatenation of `parts` into `out`; returns its length.
    fn sign(&self, parts: &[&[u8]], out: &mut [u8; MAX_MAC]) -> usize {
        match self {
            Hmac::Ring(key) => {
                let mut ctx = hmac::Context::with_key(key);
                for part in parts {
                    ctx.update(part);
                }
                copy_prefix(ctx.sign().as_ref(), out)
            }
            Hmac::Md5(key) => {
                let mut mac = key.clone();
                for part in parts {
                    mac.update(part);
                }
                copy_prefix(&mac.finalize().into_bytes(), out)
            }
        }
    }
}

/// Copies `tag` to the front of `out`; returns how many bytes were copied.
fn copy_prefix(tag: &[u8], out: &mut [u8; MAX_MAC]) -> usize {
    let mut n = 0;
    for (o, t) in out.iter_mut().zip(tag) {
        *o = *t;
        n += 1;
    }
    n
}

/// P_hash(secret, label + seed) XORed into `out` (RFC 5246 section 5):
/// A(0) = label + seed, A(i) = HMAC(secret, A(i-1)), and the output is
/// HMAC(secret, A(1) + label + seed) + HMAC(secret, A(2) + label + seed) + ...
fn p_hash_xor(mac: &Hmac, label: &[u8], seed: &[&[u8]], out: &mut [u8]) {
    let mut a = [0u8; MAX_MAC];
    let mut a_len = {
        let mut parts: [&[u8]; 4] = [label, b"", b"", b""];
        for (slot, s) in parts.iter_mut().skip(1).zip(seed) {
            *slot = s;
        }
        mac.sign(&parts, &mut a)
    };
    let mut block = [0u8; MAX_MAC];
    for chunk in out.chunks_mut(a_len.max(1)) {
        let a_now = a.get(..a_len).unwrap_or_default();
        let mut parts: [&[u8]; 5] = [a_now, label, b"", b"", b""];
        for (slot, s) in parts.iter_mut().skip(2).zip(seed) {
            *slot = s;
        }
        mac.sign(&parts, &mut block);
        for (o, b) in chunk.iter_mut().zip(block.iter()) {
            *o ^= *b;
        }
        let prev = a;
        a_len = mac.sign(&[prev.get(..a_len).unwrap_or_default()], &mut a);
    }
}

/// The TLS PRF of `version` into `out`: P_SHA256 or P_SHA384 (the suite's
/// hash) in TLS 1.2 (RFC 5246 section 5), P_MD5(S1) XOR P_SHA-1(S2) over the
/// two halves of the secret in TLS 1.0 and 1.1 (RFC 2246 section 5).
/// `seed` is the seed in up to three pieces (they are concatenated).
pub fn prf(
    version: u16,
    hash: Hash,
    secret: &[u8],
    label: &[u8],
    seed: &[&[u8]],
    out: &mut [u8],
) -> Result<(), DecryptError> {
    if seed.len() > 3 {
        return Err(DecryptError::LabelTooLong);
    }
    out.fill(0);
    match version {
        TLS12 => {
            let algorithm = match hash {
                Hash::Sha256 => hmac::HMAC_SHA256,
                Hash::Sha384 => hmac::HMAC_SHA384,
            };
            p_hash_xor(&Hmac::new_ring(algorithm, secret), label, seed, out);
        }
        TLS10 | TLS11 => {
            // S1 is the first ceil(n/2) bytes, S2 the last ceil(n/2): they
            // share the middle byte when n is odd (RFC 2246 section 5).
            let half = secret.len().div_ceil(2);
            let s1 = secret.get(..half).unwrap_or_default();
            let s2 = secret.get(secret.len() - half..).unwrap_or_default();
            p_hash_xor(&Hmac::new_md5(s1)?, label, seed, out);
            p_hash_xor(
                &Hmac::new_ring(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, s2),
                label,
                seed,
                out,
            );
        }
        other => return Err(DecryptError::UnsupportedVersion(other)),
    }
    Ok(())
}

/// The longest key block: two SHA-384 MAC keys, two AES-256 keys, two
/// ChaCha20 IVs or TLS 1.0 CBC IVs.
const MAX_KEY_BLOCK: usize = 2 * 48 + 2 * 32 + 2 * 16;

/// The key block of one TLS 1.0-1.2 session, cut into its six parts.
/// `Debug` shows lengths only.
#[derive(Clone)]
pub struct KeyBlock {
    bytes: [u8; MAX_KEY_BLOCK],
    mac_len: usize,
    key_len: usize,
    iv_len: usize,
}

impl KeyBlock {
    /// key_block = PRF(master_secret, "key expansion", server_random +
    /// client_random) (RFC 5246 section 6.3), long enough for the suite's
    /// MAC keys, keys and implicit IVs: 4 bytes of GCM salt (RFC 5288
    /// section 3), 12 bytes of ChaCha20 IV (RFC 7905 section 2), 16 bytes of
    /// CBC IV in TLS 1.0 only (RFC 2246 section 6.3; TLS 1.1 and 1.2 send it
    /// in each record).
    pub fn derive(
        suite: &Suite,
        version: u16,
        master_secret: &[u8; 48],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
    ) -> Result<KeyBlock, DecryptError> {
        if !matches!(version, TLS10 | TLS11 | TLS12) {
            return Err(DecryptError::UnsupportedVersion(version));
        }
        if !suite.allowed_at(version) {
            return Err(DecryptError::SuiteVersionMismatch {
                suite: suite.id,
                version,
            });
        }
        let iv_len = match suite.cipher {
            Cipher::Aes128Gcm | Cipher::Aes256Gcm => 4,
            Cipher::ChaCha20Poly1305 => 12,
            Cipher::Aes128Cbc | Cipher::Aes256Cbc if version == TLS10 => 16,
            Cipher::Aes128Cbc | Cipher::Aes256Cbc => 0,
        };
        let mut block = KeyBlock {
            bytes: [0; MAX_KEY_BLOCK],
            mac_len: suite.mac.len(),
            key_len: suite.cipher.key_len(),
            iv_len,
        };
        let total = 2 * (block.mac_len + block.key_len + block.iv_len);
        let out = block
            .bytes
            .get_mut(..total)
            .ok_or(DecryptError::LabelTooLong)?;
        prf(
            version,
            suite.hash,
            master_secret,
            b"key expansion",
            &[server_random, client_random],
            out,
        )?;
        Ok(block)
    }

    /// The n-th of the six parts, in key block order.
    fn part(&self, n: usize) -> &[u8] {
        let lens = [
            self.mac_len,
            self.mac_len,
            self.key_len,
            self.key_len,
            self.iv_len,
            self.iv_len,
        ];
        let start: usize = lens.iter().take(n).sum();
        let len = lens.get(n).copied().unwrap_or(0);
        self.bytes.get(start..start + len).unwrap_or_default()
    }

    pub fn client_mac_key(&self) -> &[u8] {
        self.part(0)
    }

    pub fn server_mac_key(&self) -> &[u8] {
        self.part(1)
    }

    pub fn client_key(&self) -> &[u8] {
        self.part(2)
    }

    pub fn server_key(&self) -> &[u8] {
        self.part(3)
    }

    pub fn client_iv(&self) -> &[u8] {
        self.part(4)
    }

    pub fn server_iv(&self) -> &[u8] {
        self.part(5)
    }
}

impl fmt::Debug for KeyBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KeyBlock(mac keys {} bytes, keys {} bytes, ivs {} bytes)",
            self.mac_len, self.key_len, self.iv_len
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::keys::fixtures::hex;
    use crate::keys::suite;

    /// The TLS 1.2 PRF test vectors posted to the IETF TLS working group list
    /// (2009, "TLS 1.2 PRF test vectors") and copied into many TLS
    /// libraries' tests; Python's hmac/hashlib reproduce them.
    #[test]
    fn tls12_prf_sha256_vector() {
        let mut out = [0u8; 100];
        prf(
            TLS12,
            Hash::Sha256,
            &hex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35"),
            b"test label",
            &[&hex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c")],
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out.as_slice(),
            hex(
                "e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53 c2 aa b2 1d 07 c3 d4 95
                 32 9b 52 d4 e6 1e db 5a 6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af
                 0f a0 22 f7 07 7d ef 17 ab fd 37 97 c0 56 4b ab 4f bc 91 66 6e 9d ef 9b
                 97 fc e3 4f 79 67 89 ba a4 80 82 d1 22 ee 42 c5 a7 2e 5a 51 10 ff f7 01
                 87 34 7b 66"
            )
            .as_slice()
        );
    }

    #[test]
    fn tls12_prf_sha384_vector() {
        let mut out = [0u8; 148];
        prf(
            TLS12,
            Hash::Sha384,
            &hex("b8 0b 73 3d 6c ee fc dc 71 56 6e a4 8e 55 67 df"),
            b"test label",
            &[&hex("cd 66 5c f6 a8 44 7d d6 ff 8b 27 55 5e db 74 65")],
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out.as_slice(),
            hex(
                "7b 0c 18 e9 ce d4 10 ed 18 04 f2 cf a3 4a 33 6a 1c 14 df fb 49 00 bb 5f
                 d7 94 21 07 e8 1c 83 cd e9 ca 0f aa 60 be 9f e3 4f 82 b1 23 3c 91 46 a0
                 e5 34 cb 40 0f ed 27 00 88 4f 9d c2 36 f8 0e dd 8b fa 96 11 44 c9 e8 d7
                 92 ec a7 22 a7 b3 2f c3 d4 16 d4 73 eb c2 c5 fd 4a bf da d0 5d 91 84 25
                 9b 5b f8 cd 4d 90 fa 0d 31 e2 de c4 79 e4 f1 a2 60 66 f2 ee a9 a6 92 36
                 a3 e5 26 55 c9 e9 ae e6 91 c8 f3 a2 68 54 30 8d 5e aa 3b e8 5e 09 90 70
                 3d 73 e5 6f"
            )
            .as_slice()
        );
    }

    /// Go's crypto/tls prf_test.go, testKeysFromTests (vectors generated with
    /// GnuTLS): TLS 1.0, TLS_RSA_WITH_RC4_128_SHA. The master secret checks
    /// the MD5/SHA-1 PRF (including the split of a 48-byte secret); the key
    /// block checks the cut. RC4_128_SHA has the key block layout of
    /// TLS_RSA_WITH_AES_128_CBC_SHA up to the IVs (20-byte MAC keys, 16-byte
    /// keys), which is what is compared.
    #[test]
    fn tls10_master_secret_and_key_block_from_gnutls() {
        struct Case {
            pms: &'static str,
            client_random: &'static str,
            server_random: &'static str,
            master: &'static str,
            client_mac: &'static str,
            server_mac: &'static str,
            client_key: &'static str,
            server_key: &'static str,
        }
        let cases = [
            Case {
                pms: "0302cac83ad4b1db3b9ab49ad05957de2a504a634a386fc600889321e1a971f57479466830ac3e6f468e87f5385fa0c5",
                client_random: "4ae66303755184a3917fcb44880605fcc53baa01912b22ed94473fc69cebd558",
                server_random: "4ae663020ec16e6bb5130be918cfcafd4d765979a3136a5d50c593446e4e44db",
                master: "3d851bab6e5556e959a16bc36d66cfae32f672bfa9ecdef6096cbb1b23472df1da63dbbd9827606413221d149ed08ceb",
                client_mac: "805aaa19b3d2c0a0759a4b6c9959890e08480119",
                server_mac: "2d22f9fe519c075c16448305ceee209fc24ad109",
                client_key: "d50b5771244f850cd8117a9ccafe2cf1",
                server_key: "e076e33206b30507a85c32855acd0919",
            },
            Case {
                pms: "03023f7527316bc12cbcd69e4b9e8275d62c028f27e65c745cfcddc7ce01bd3570a111378b63848127f1c36e5f9e4890",
                client_random: "4ae66364b5ea56b20ce4e25555aed2d7e67f42788dd03f3fee4adae0459ab106",
                server_random: "4ae66363ab815cbf6a248b87d6b556184e945e9b97fbdf247858b0bdafacfa1c",
                master: "7d64be7c80c59b740200b4b9c26d0baaa1c5ae56705acbcf2307fe62beb4728c19392c83f20483801cce022c77645460",
                client_mac: "97742ed60a0554ca13f04f97ee193177b971e3b0",
                server_mac: "37068751700400e03a8477a5c7eec0813ab9e0dc",
                client_key: "207cddbc600d2a200abac6502053ee5c",
                server_key: "df3f94f6e1eacc753b815fe16055cd43",
            },
            // A 128-byte premaster secret (RSA-1024 sized): the halves of
            // the PRF secret differ from those of a 48-byte one.
            Case {
                pms: "832d515f1d61eebb2be56ba0ef79879efb9b527504abb386fb4310ed5d0e3b1f220d3bb6b455033a2773e6d8bdf951d278a187482b400d45deb88a5d5a6bb7d6a7a1decc04eb9ef0642876cd4a82d374d3b6ff35f0351dc5d411104de431375355addc39bfb1f6329fb163b0bc298d658338930d07d313cd980a7e3d9196cac1",
                client_random: "4ae663b2ee389c0de147c509d8f18f5052afc4aaf9699efe8cb05ece883d3a5e",
                server_random: "4ae664d503fd4cff50cfc1fb8fc606580f87b0fcdac9554ba0e01d785bdf278e",
                master: "1aff2e7a2c4279d0126f57a65a77a8d9d0087cf2733366699bec27eb53d5740705a8574bb1acc2abbe90e44f0dd28d6c",
                client_mac: "3c7647c93c1379a31a609542aa44e7f117a70085",
                server_mac: "0d73102994be74a575a3ead8532590ca32a526d4",
                client_key: "ac7581b0b6c10d85bbd905ffbf36c65e",
                server_key: "ff07edde49682b45466bd2e39464b306",
            },
        ];
        let aes128_sha = suite(0x002f).unwrap();
        for case in cases {
            let cr: [u8; 32] = hex(case.client_random).try_into().unwrap();
            let sr: [u8; 32] = hex(case.server_random).try_into().unwrap();
            let mut master = [0u8; 48];
            // master_secret = PRF(pre_master_secret, "master secret",
            // ClientHello.random + ServerHello.random) (RFC 2246 section 8.1).
            prf(
                TLS10,
                Hash::Sha256,
                &hex(case.pms),
                b"master secret",
                &[&cr, &sr],
                &mut master,
            )
            .unwrap();
            assert_eq!(master.as_slice(), hex(case.master).as_slice());
            let block = KeyBlock::derive(aes128_sha, TLS10, &master, &cr, &sr).unwrap();
            assert_eq!(block.client_mac_key(), hex(case.client_mac).as_slice());
            assert_eq!(block.server_mac_key(), hex(case.server_mac).as_slice());
            assert_eq!(block.client_key(), hex(case.client_key).as_slice());
            assert_eq!(block.server_key(), hex(case.server_key).as_slice());
            assert_eq!(block.client_iv().len(), 16);
        }
    }

    #[test]
    fn key_block_lengths_per_suite_and_version() {
        let m = [1u8; 48];
        let r = [2u8; 32];
        let gcm = KeyBlock::derive(suite(0xc030).unwrap(), TLS12, &m, &r, &r).unwrap();
        assert_eq!(
            (
                gcm.client_mac_key().len(),
                gcm.client_key().len(),
                gcm.server_iv().len()
            ),
            (0, 32, 4)
        );
        let chacha = KeyBlock::derive(suite(0xcca8).unwrap(), TLS12, &m, &r, &r).unwrap();
        assert_eq!(
            (chacha.server_key().len(), chacha.client_iv().len()),
            (32, 12)
        );
        let cbc11 = KeyBlock::derive(suite(0xc014).unwrap(), TLS11, &m, &r, &r).unwrap();
        assert_eq!(
            (cbc11.server_mac_key().len(), cbc11.client_iv().len()),
            (20, 0)
        );
        let cbc384 = KeyBlock::derive(suite(0xc028).unwrap(), TLS12, &m, &r, &r).unwrap();
        assert_eq!(cbc384.client_mac_key().len(), 48);
        assert_eq!(
            KeyBlock::derive(suite(0xc02f).unwrap(), TLS11, &m, &r, &r).unwrap_err(),
            DecryptError::SuiteVersionMismatch {
                suite: 0xc02f,
                version: TLS11
            }
        );
        assert_eq!(
            KeyBlock::derive(suite(0x002f).unwrap(), 0x0300, &m, &r, &r).unwrap_err(),
            DecryptError::UnsupportedVersion(0x0300)
        );
        assert_eq!(
            format!("{cbc384:?}"),
            "KeyBlock(mac keys 48 bytes, keys 32 bytes, ivs 0 bytes)"
        );
    }
}
