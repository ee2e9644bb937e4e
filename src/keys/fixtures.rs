//! Test vectors: RFC 8448 section 3 and records of real captures whose
//! plaintext tshark printed (`tshark -o tls.keylog_file:KEYS -x`, "Decrypted
//! TLS" blocks) and an independent Python decryption (the `cryptography`
//! package) agreed on. How each was obtained: docs/DECRYPTION.md.
#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

use crate::Side;

/// Bytes from hex, ignoring whitespace.
pub fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd hex: {text}");
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// One protected record and what it holds.
pub struct Record {
    pub what: &'static str,
    /// The TLS 1.3 traffic secret protecting it (empty for TLS 1.0-1.2).
    pub secret: &'static str,
    pub sender: Side,
    /// Its sequence number under its keys.
    pub seq: u64,
    /// Header and fragment as captured.
    pub record: &'static str,
    /// The (inner, in TLS 1.3) content type.
    pub content_type: u8,
    pub plaintext: &'static str,
}

pub struct Case13 {
    pub suite: u16,
    pub records: &'static [Record],
}

pub struct Case12 {
    pub suite: u16,
    pub version: u16,
    pub master_secret: &'static str,
    pub client_random: &'static str,
    pub server_random: &'static str,
    pub encrypt_then_mac: bool,
    pub records: &'static [Record],
}

/// RFC 8448 section 3, "Simple 1-RTT Handshake". Secrets, keys, IVs and
/// handshake messages as the RFC prints them (quoted verbatim in Erlang/OTP's
/// lib/ssl/test/tls_1_3_record_SUITE.erl). The protected records are the
/// RFC's "complete record" lines; their AEAD tags verify under the RFC's
/// keys, so no byte of them can be wrong.
/// RFC 8448 section 4, "Resumed 0-RTT Handshake" (TLS_AES_128_GCM_SHA256):
/// the secrets as the trace prints them, and the protected records. Every
/// record's GCM tag verifies under the keys derived from these secrets (also
/// checked with Python's `cryptography`), which is what pins the hex.
pub mod rfc8448_0rtt {
    /// The ClientHello's random (its key log index).
    pub const CLIENT_RANDOM: &str = "1b c3 ce b6 bb e3 9c ff 93 83 55 b5 a5 0a db 6d
        b2 1b 7a 6a f6 49 d7 b4 bc 41 9d 78 76 48 7d 95";
    /// {client} derive secret "tls13 c e traffic".
    pub const CLIENT_EARLY_SECRET: &str = "3f bb e6 a6 0d eb 66 c3 0a 32 79 5a ba 0e ff 7e
        aa 10 10 55 86 e7 be 5c 09 67 8d 63 b6 ca ab 62";
    /// {client} derive write traffic keys for early application data.
    pub const CLIENT_EARLY_KEY: &str = "92 02 05 a5 b7 bf 21 15 e6 fc 5c 29 42 83 4f 54";
    pub const CLIENT_EARLY_IV: &str = "6d 47 5f 09 93 c8 e5 64 61 0d b2 b9";
    pub const CLIENT_HS_SECRET: &str = "2f aa c0 8f 85 1d 35 fe a3 60 4f cb 4d e8 2d c6
        2c 9b 16 4a 70 97 4d 04 62 e2 7f 1a b2 78 70 0f";
    pub const SERVER_HS_SECRET: &str = "fe 92 7a e2 71 31 2e 8b f0 27 5b 58 1c 54 ee f0
        20 45 0d c4 ec ff aa 05 a1 a3 5d 27 51 8e 78 03";
    pub const CLIENT_AP_SECRET: &str = "2a bb f2 b8 e3 81 d2 3d be be 1d d2 a7 d1 6a 8b
        f4 84 cb 49 50 d2 3f b7 fb 7f a8 54 70 62 d9 a1";
    pub const SERVER_AP_SECRET: &str = "cc 21 f1 bf 8f eb 7d d5 fa 50 5b d9 c4 b4 68 a9
        98 4d 55 4a 99 3d c4 9e 6d 28 55 98 fb 67 26 91";
    /// {client} send application_data record: the 0-RTT data, "ABCDEF"
    /// (41 42 43 44 45 46), early record 0.
    pub const EARLY_DATA_RECORD: &str = "17 03 03 00 17 ab 1d f4 20 e7 5c 45 7a 7c c5 d2
        84 4f 76 d5 ae e4 b4 ed bf 04 9b e0";
    /// EncryptedExtensions (with early_data: the server accepts) and
    /// Finished, server handshake record 0.
    pub const SERVER_FLIGHT_RECORD: &str = "17 03 03 00 61 dc 48 23 7b 4b 87 9f 50 d0 d4
        d2 62 ea 8b 47 16 eb 40 dd c1 eb 95 7e 11 12 6e 8a 71 49 c2 d0 12 d3 7a
        71 15 95 7e 64 ce 30 00 8b 9e 03 23 f2 c0 5a 9c 1c 77 b4 f3 78 49 a6 95
        ab 25 50 60 a3 3f ee 77 0c a9 5c b8 48 6b fd 08 43 b8 70 24 86 5c a3 5c
        c4 1c 4e 51 5c 64 dc b1 36 9f 98 63 5b c7 a5";
    pub const ENCRYPTED_EXTENSIONS: &str = "08 00 00 28 00 26 00 0a 00 14 00 12 00 1d 00
        17 00 18 00 19 01 00 01 01 01 02 01 03 01 04 00 1c 00 02 40 01 00 00 00
        00 00 2a 00 00";
    pub const SERVER_FINISHED: &str = "14 00 00 20 48 d3 e0 e1 b3 d9 07 c6 ac ff 14 5e
        16 09 03 88 c7 7b 05 c0 50 b6 34 ab 1a 88 bb d0 dd 1a 34 b2";
    /// EndOfEarlyData (05 00 00 00), early record 1.
    pub const END_OF_EARLY_DATA_RECORD: &str = "17 03 03 00 15 ac a6 fc 94 48 41 29 8d
        f9 95 93 72 5f 9b f9 75 44 29 b1 2f 09";
    /// Client Finished, client handshake record 0.
    pub const CLIENT_FINISHED_RECORD: &str = "17 03 03 00 35 00 f8 b4 67 d1 4c f2 2a 4b
        3f 0b 6a e0 d8 e6 cc 8d 08 e0 db 35 15 ef 5c 2b df 19 22 ea fb b7 00 09
        96 47 16 d8 34 fb 70 c3 d2 a5 6c 5b 1f 5f 6b db a6 c3 33 cf";
    /// 50 bytes 00..31 each way, application record 0 of each side.
    pub const CLIENT_AP_RECORD: &str = "17 03 03 00 43 b1 ce bc e2 42 aa 20 1b e9 ae 5e
        1c b2 a9 aa 4b 33 d4 e8 66 af 1e db 06 89 19 23 77 41 aa 03 1d 7a 74 d4
        91 c9 9b 9d 4e 23 2b 74 20 6b c6 fb aa 04 fe 78 be 44 a9 b4 f5 43 20 a1
        7e b7 69 92 af ac 31 03";
    pub const SERVER_AP_RECORD: &str = "17 03 03 00 43 27 5e 9f 20 ac ff 57 bc 00 06 57
        d3 86 7d f0 39 cc cf 79 04 78 84 cf 75 77 17 46 f7 40 b5 a8 3f 46 2a 09
        54 c3 58 13 93 a2 03 a2 5a 7d d1 41 41 ef 1a 37 90 0c db 62 ff 62 de e1
        ba 39 ab 25 90 cb f1 94";
    /// close_notify alerts, application record 1 of each side.
    pub const CLIENT_ALERT_RECORD: &str = "17 03 03 00 13 0f ac ce 32 46 bd fc 63 69 83
        8d 6a 82 ae 6d e5 d4 22 dc";
    pub const SERVER_ALERT_RECORD: &str = "17 03 03 00 13 5b 18 af 44 4e 8e 1e ec 71 58
        fb 62 d8 f2 57 7d 37 ba 5d";

    /// The key log an NSS-format writer would have written for it.
    pub fn key_log(with_early_secret: bool) -> String {
        let random: String = CLIENT_RANDOM.split_whitespace().collect();
        let line = |label: &str, secret: &str| {
            format!(
                "{label} {random} {}\n",
                secret.split_whitespace().collect::<String>()
            )
        };
        let mut log = String::new();
        if with_early_secret {
            log += &line("CLIENT_EARLY_TRAFFIC_SECRET", CLIENT_EARLY_SECRET);
        }
        log += &line("CLIENT_HANDSHAKE_TRAFFIC_SECRET", CLIENT_HS_SECRET);
        log += &line("SERVER_HANDSHAKE_TRAFFIC_SECRET", SERVER_HS_SECRET);
        log += &line("CLIENT_TRAFFIC_SECRET_0", CLIENT_AP_SECRET);
        log += &line("SERVER_TRAFFIC_SECRET_0", SERVER_AP_SECRET);
        log
    }
}

pub mod rfc8448 {
    pub const HANDSHAKE_SECRET: &str = "1d c8 26 e9 36 06 aa 6f dc 0a ad c1 2f 74 1b 01
        04 6a a6 b9 9f 69 1e d2 21 a9 f0 ca 04 3f be ac";
    /// Transcript hash of ClientHello and ServerHello.
    pub const CH_SH_HASH: &str = "86 0c 06 ed c0 78 58 ee 8e 78 f0 e7 42 8c 58 ed
        d6 b4 3f 2c a3 e6 e9 5f 02 ed 06 3c f0 e1 ca d8";
    pub const CLIENT_HS_SECRET: &str = "b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f
        3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21";
    pub const SERVER_HS_SECRET: &str = "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4
        e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38";
    pub const CLIENT_AP_SECRET: &str = "9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52
        87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5";
    pub const SERVER_AP_SECRET: &str = "a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32
        82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43";
    pub const SERVER_HS_KEY: &str = "3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc";
    pub const SERVER_HS_IV: &str = "5d 31 3e b2 67 12 76 ee 13 00 0b 30";
    pub const CLIENT_HS_KEY: &str = "db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01";
    pub const CLIENT_HS_IV: &str = "5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f";
    pub const SERVER_AP_KEY: &str = "9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56";
    pub const SERVER_AP_IV: &str = "cf 78 2b 88 dd 83 54 9a ad f1 e9 84";
    pub const CLIENT_AP_KEY: &str = "17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51";
    pub const CLIENT_AP_IV: &str = "5b 78 92 3d ee 08 57 90 33 e5 23 d9";
    pub const SERVER_FLIGHT_RECORD: &str =
        "17 03 03 02 a2 d1 ff 33 4a 56 f5 bf f6 59 4a 07 cc 87 b5 80 23 3f 50 0f
        45 e4 89 e7 f3 3a f3 5e df 78 69 fc f4 0a a4 0a a2 b8 ea 73 f8 48 a7 ca
        07 61 2e f9 f9 45 cb 96 0b 40 68 90 51 23 ea 78 b1 11 b4 29 ba 91 91 cd
        05 d2 a3 89 28 0f 52 61 34 aa dc 7f c7 8c 4b 72 9d f8 28 b5 ec f7 b1 3b
        d9 ae fb 0e 57 f2 71 58 5b 8e a9 bb 35 5c 7c 79 02 07 16 cf b9 b1 18 3e
        f3 ab 20 e3 7d 57 a6 b9 d7 47 76 09 ae e6 e1 22 a4 cf 51 42 73 25 25 0c
        7d 0e 50 92 89 44 4c 9b 3a 64 8f 1d 71 03 5d 2e d6 5b 0e 3c dd 0c ba e8
        bf 2d 0b 22 78 12 cb b3 60 98 72 55 cc 74 41 10 c4 53 ba a4 fc d6 10 92
        8d 80 98 10 e4 b7 ed 1a 8f d9 91 f0 6a a6 24 82 04 79 7e 36 a6 a7 3b 70
        a2 55 9c 09 ea d6 86 94 5b a2 46 ab 66 e5 ed d8 04 4b 4c 6d e3 fc f2 a8
        94 41 ac 66 27 2f d8 fb 33 0e f8 19 05 79 b3 68 45 96 c9 60 bd 59 6e ea
        52 0a 56 a8 d6 50 f5 63 aa d2 74 09 96 0d ca 63 d3 e6 88 61 1e a5 e2 2f
        44 15 cf 95 38 d5 1a 20 0c 27 03 42 72 96 8a 26 4e d6 54 0c 84 83 8d 89
        f7 2c 24 46 1a ad 6d 26 f5 9e ca ba 9a cb bb 31 7b 66 d9 02 f4 f2 92 a3
        6a c1 b6 39 c6 37 ce 34 31 17 b6 59 62 22 45 31 7b 49 ee da 0c 62 58 f1
        00 d7 d9 61 ff b1 38 64 7e 92 ea 33 0f ae ea 6d fa 31 c7 a8 4d c3 bd 7e
        1b 7a 6c 71 78 af 36 87 90 18 e3 f2 52 10 7f 24 3d 24 3d c7 33 9d 56 84
        c8 b0 37 8b f3 02 44 da 8c 87 c8 43 f5 e5 6e b4 c5 e8 28 0a 2b 48 05 2c
        f9 3b 16 49 9a 66 db 7c ca 71 e4 59 94 26 f7 d4 61 e6 6f 99 88 2b d8 9f
        c5 08 00 be cc a6 2d 6c 74 11 6d bd 29 72 fd a1 fa 80 f8 5d f8 81 ed be
        5a 37 66 89 36 b3 35 58 3b 59 91 86 dc 5c 69 18 a3 96 fa 48 a1 81 d6 b6
        fa 4f 9d 62 d5 13 af bb 99 2f 2b 99 2f 67 f8 af e6 7f 76 91 3f a3 88 cb
        56 30 c8 ca 01 e0 c6 5d 11 c6 6a 1e 2a c4 c8 59 77 b7 c7 a6 99 9b bf 10
        dc 35 ae 69 f5 51 56 14 63 6c 0b 9b 68 c1 9e d2 e3 1c 0b 3b 66 76 30 38
        eb ba 42 f3 b3 8e dc 03 99 f3 a9 f2 3f aa 63 97 8c 31 7f c9 fa 66 a7 3f
        60 f0 50 4d e9 3b 5b 84 5e 27 55 92 c1 23 35 ee 34 0b bc 4f dd d5 02 78
        40 16 e4 b3 be 7e f0 4d da 49 f4 b4 40 a3 0c b5 d2 af 93 98 28 fd 4a e3
        79 4e 44 f9 4d f5 a6 31 ed e4 2c 17 19 bf da bf 02 53 fe 51 75 be 89 8e
        75 0e dc 53 37 0d 2b";
    pub const ENCRYPTED_EXTENSIONS: &str =
        "08 00 00 24 00 22 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01
        01 02 01 03 01 04 00 1c 00 02 40 01 00 00 00 00";
    pub const CERTIFICATE: &str =
        "0b 00 01 b9 00 00 01 b5 00 01 b0 30 82 01 ac 30 82 01 15 a0 03 02 01 02
        02 01 02 30 0d 06 09 2a 86 48 86 f7 0d 01 01 0b 05 00 30 0e 31 0c 30 0a
        06 03 55 04 03 13 03 72 73 61 30 1e 17 0d 31 36 30 37 33 30 30 31 32 33
        35 39 5a 17 0d 32 36 30 37 33 30 30 31 32 33 35 39 5a 30 0e 31 0c 30 0a
        06 03 55 04 03 13 03 72 73 61 30 81 9f 30 0d 06 09 2a 86 48 86 f7 0d 01
        01 01 05 00 03 81 8d 00 30 81 89 02 81 81 00 b4 bb 49 8f 82 79 30 3d 98
        08 36 39 9b 36 c6 98 8c 0c 68 de 55 e1 bd b8 26 d3 90 1a 24 61 ea fd 2d
        e4 9a 91 d0 15 ab bc 9a 95 13 7a ce 6c 1a f1 9e aa 6a f9 8c 7c ed 43 12
        09 98 e1 87 a8 0e e0 cc b0 52 4b 1b 01 8c 3e 0b 63 26 4d 44 9a 6d 38 e2
        2a 5f da 43 08 46 74 80 30 53 0e f0 46 1c 8c a9 d9 ef bf ae 8e a6 d1 d0
        3e 2b d1 93 ef f0 ab 9a 80 02 c4 74 28 a6 d3 5a 8d 88 d7 9f 7f 1e 3f 02
        03 01 00 01 a3 1a 30 18 30 09 06 03 55 1d 13 04 02 30 00 30 0b 06 03 55
        1d 0f 04 04 03 02 05 a0 30 0d 06 09 2a 86 48 86 f7 0d 01 01 0b 05 00 03
        81 81 00 85 aa d2 a0 e5 b9 27 6b 90 8c 65 f7 3a 72 67 17 06 18 a5 4c 5f
        8a 7b 33 7d 2d f7 a5 94 36 54 17 f2 ea e8 f8 a5 8c 8f 81 72 f9 31 9c f3
        6b 7f d6 c5 5b 80 f2 1a 03 01 51 56 72 60 96 fd 33 5e 5e 67 f2 db f1 02
        70 2e 60 8c ca e6 be c1 fc 63 a4 2a 99 be 5c 3e b7 10 7c 3c 54 e9 b9 eb
        2b d5 20 3b 1c 3b 84 e0 a8 b2 f7 59 40 9b a3 ea c9 d9 1d 40 2d cc 0c c8
        f8 96 12 29 ac 91 87 b4 2b 4d e1 00 00";
    pub const CERTIFICATE_VERIFY: &str =
        "0f 00 00 84 08 04 00 80 5a 74 7c 5d 88 fa 9b d2 e5 5a b0 85 a6 10 15 b7
        21 1f 82 4c d4 84 14 5a b3 ff 52 f1 fd a8 47 7b 0b 7a bc 90 db 78 e2 d3
        3a 5c 14 1a 07 86 53 fa 6b ef 78 0c 5e a2 48 ee aa a7 85 c4 f3 94 ca b6
        d3 0b be 8d 48 59 ee 51 1f 60 29 57 b1 54 11 ac 02 76 71 45 9e 46 44 5c
        9e a5 8c 18 1e 81 8e 95 b8 c3 fb 0b f3 27 84 09 d3 be 15 2a 3d a5 04 3e
        06 3d da 65 cd f5 ae a2 0d 53 df ac d4 2f 74 f3";
    pub const SERVER_FINISHED: &str =
        "14 00 00 20 9b 9b 14 1d 90 63 37 fb d2 cb dc e7 1d f4 de da 4a b4 2c 30
        95 72 cb 7f ff ee 54 54 b7 8f 07 18";
    pub const CLIENT_FINISHED: &str =
        "14 00 00 20 a8 ec 43 6d 67 76 34 ae 52 5a c1 fc eb e1 1a 03 9e c1 76 94
        fa c6 e9 85 27 b6 42 f2 ed d5 ce 61";
    pub const CLIENT_FINISHED_RECORD: &str =
        "17 03 03 00 35 75 ec 4d c2 38 cc e6 0b 29 80 44 a7 1e 21 9c 56 cc 77 b0
        51 7f e9 b9 3c 7a 4b fc 44 d8 7f 38 f8 03 38 ac 98 fc 46 de b3 84 bd 1c
        ae ac ab 68 67 d7 26 c4 05 46";
    pub const CLIENT_AP_RECORD: &str =
        "17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe 82 28 ba 55 cb ef ac ea
        42 f9 14 aa 66 bc ab 3f 2b 98 19 a8 a5 b4 6b 39 5b d5 4a 9a 20 44 1e 2b
        62 97 4e 1f 5a 62 92 a2 97 70 14 bd 1e 3d ea e6 3a ee bb 21 69 49 15 e4";
    pub const SERVER_AP_RECORD: &str =
        "17 03 03 00 43 2e 93 7e 11 ef 4a c7 40 e5 38 ad 36 00 5f c4 a4 69 32 fc
        32 25 d0 5f 82 aa 1b 36 e3 0e fa f9 7d 90 e6 df fc 60 2d cb 50 1a 59 a8
        fc c4 9c 4b f2 e5 f0 a2 1c 00 47 c2 ab f3 32 54 0d d0 32 e1 67 c2 95 5d";
}

/// A TLS 1.3 connection with one client KeyUpdate, captured on loopback
/// between `openssl s_client` and `openssl s_server` (OpenSSL 3.0.22, see
/// docs/DECRYPTION.md): the client's records after its Finished. tshark
/// decrypted all four (it follows KeyUpdate itself).
pub mod keyupdate {
    /// The key log OpenSSL wrote, as written.
    pub const KEY_LOG: &str = "# SSL/TLS secrets log file, generated by OpenSSL\n\
SERVER_HANDSHAKE_TRAFFIC_SECRET 9cc327725b73f9fc12ec1933a2732f0fa7534746442cdf4493b6415dc7ff1b54 fdc58278bc2913aa0a95151cc2fde51e3f87c581fcd8c4f50e4ddd46afd921f7\n\
EXPORTER_SECRET 9cc327725b73f9fc12ec1933a2732f0fa7534746442cdf4493b6415dc7ff1b54 5a0767da00586005e128677bf6e6725e88b4f223b3c2ab7ab2c0ad87dae4b0ff\n\
SERVER_TRAFFIC_SECRET_0 9cc327725b73f9fc12ec1933a2732f0fa7534746442cdf4493b6415dc7ff1b54 dce22bd2613ef39fbcd06acb05506f05e984ca6c179a3b7cdb7a6583659b2056\n\
CLIENT_HANDSHAKE_TRAFFIC_SECRET 9cc327725b73f9fc12ec1933a2732f0fa7534746442cdf4493b6415dc7ff1b54 88dc246bccc57b37d3f3618e192a67bf30622c81f40276cb82e5049740864c58\n\
CLIENT_TRAFFIC_SECRET_0 9cc327725b73f9fc12ec1933a2732f0fa7534746442cdf4493b6415dc7ff1b54 75288c70a78279a92abc5fa1080d49f8bf6c7ae77f2059215a7769593fc07188\n\
CLIENT_TRAFFIC_SECRET_N 9cc327725b73f9fc12ec1933a2732f0fa7534746442cdf4493b6415dc7ff1b54 e2f079c09d5001ab62cf7828a9d51a92720fd0b3aec2b1cfa4fce8e3ccd9713a\n\
";
    pub const CLIENT_TRAFFIC_SECRET_0: &str =
        "75288c70a78279a92abc5fa1080d49f8bf6c7ae77f2059215a7769593fc07188";
    /// What OpenSSL logged as the client's secret after its KeyUpdate.
    pub const CLIENT_TRAFFIC_SECRET_N: &str =
        "e2f079c09d5001ab62cf7828a9d51a92720fd0b3aec2b1cfa4fce8e3ccd9713a";
    /// "hello\n", record 0 of CLIENT_TRAFFIC_SECRET_0.
    pub const HELLO: &str = "17030300177f28d0d9b1700de9d2f9eadd6bc8a6a197c8441573ff52";
    /// KeyUpdate(update_not_requested), record 1.
    pub const KEY_UPDATE: &str = "1703030016f4c550dd45305f981fb1e33f9444d643a03a8e3e1e56";
    /// "world\n", record 0 of the next secret.
    pub const WORLD: &str = "170303001709f5a6847b60c19770e860aea49b72633e437b59eef950";
    /// close_notify, record 1 of the next secret.
    pub const CLOSE_NOTIFY: &str = "1703030013d2e4ebd97b2ec9a0b061150dd76f4cee5c444c";
}

/// TLS 1.3, one case per suite.
pub const TLS13: &[Case13] = &[
    // testdata/captures/go-h2-sequential.pcap, TLS_AES_128_GCM_SHA256
    Case13 {
        suite: 0x1301,
        records: &[
            Record {
                what: "go-h2-sequential: client Finished",
                secret: "b991d2358cae410bfd8a92a9a7a9282bea8cf822f083678be83e5af80a07bd07",
                sender: Side::Client,
                seq: 0,
                record: "170303003567d5201e339847b6953a68bb88389aef2ef0998135c1891da26a9c40dcb5caf5c7d0f5f45a794780175d52
                        cae64b01424dd4db7b5b",
                content_type: 22,
                plaintext: "140000201ef7eb33d483ab17b1c2212a8f47e932249756554160252fa4decb05f834b6a3",
            },
            Record {
                what: "go-h2-sequential: client preface and SETTINGS",
                secret: "56c28890e6db9d8f165607182c5d0fd2d1715d2a71c340cf414b5f075c3cb305",
                sender: Side::Client,
                seq: 0,
                record: "1703030051ffdf30354730ab92f574fab481b8ed3f3a4f6632b03a0d7bc51f502a2a1facf1d231f38454581f100bd086
                        d001dfd4ebcc7ea20ced3563dae74fa5ce343d0533bf397179d2f720b5689f7c5d19e0888e75",
                content_type: 23,
                plaintext: "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a000012040000000000000200000000000400400000000600
                        a0000000000408000000000040000000",
            },
            Record {
                what: "go-h2-sequential: client HEADERS",
                secret: "56c28890e6db9d8f165607182c5d0fd2d1715d2a71c340cf414b5f075c3cb305",
                sender: Side::Client,
                seq: 1,
                record: "170303004ed523a5944c6756ac5ae45a6b283e4604a1cb224f5200b9b0306c97a4bfad15b0ed98576374be89f656691a
                        4b3c657eec127082676015c1ff7602c568d4bd46ca4e87334e28a1aefab4384c70ca57",
                content_type: 23,
                plaintext: "000034010500000001418e21eaaac2da82ae92a13702f34d3382458c60d5485f2bce9a68ff0d007f8750839bd9ab7a8d
                        c475a74a6b589418b525812e0f",
            },
        ],
    },
    // testdata/captures/curl-tls13-aes256.pcap, TLS_AES_256_GCM_SHA384
    Case13 {
        suite: 0x1302,
        records: &[
            Record {
                what: "curl-tls13-aes256: server EncryptedExtensions",
                secret: "3a39592ac27ee759254690b7116b405b7375953e06c529e875622acf2e4c4efbf050294a9da77f95e63bbf68185352bd",
                sender: Side::Server,
                seq: 0,
                record: "1703030024439a7501c68c7f23f522abf3be85f32d5463556897bf637d0bd39c8982173f29f371469e",
                content_type: 22,
                plaintext: "0800000f000d00000000001000050003026832",
            },
            Record {
                what: "curl-tls13-aes256: client preface and SETTINGS",
                secret: "632e4717c7456c37635e7da8c9a09c26c8d62787f3b07a7f6377192e3c07f1014de3213f289e5b0755fc362dfae4e0c5",
                sender: Side::Client,
                seq: 0,
                record: "1703030051a242d8f888661f6d7b271af5a147a802d094d2949370e40efb1685e665e3ae9d3b23ce86d61b560216be4c
                        e00eb9d07497daef3c4acd2c28e5428fa893327ee7a2742316a0e08b18a1c03f0b7715883e23",
                content_type: 23,
                plaintext: "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a000012040000000000000300000064000402000000000200
                        00000000000408000000000001ff0001",
            },
            Record {
                what: "curl-tls13-aes256: server SETTINGS after two NewSessionTickets",
                secret: "8b93361913943ffa479e3ed25c778edf12bfe09c5a16a9cf3f86f3b474067d94e65c2cee3698799bfd4f2fa2b70055d5",
                sender: Side::Server,
                seq: 2,
                record: "17030300392ccba95498a5274c391a161c317da1bbfc5b0a3b84f1bbfd2ba981c45b44637e9bfa97138ad16d0f8116d6
                        ae685ecb137c0a6e5f38c6448c60",
                content_type: 23,
                plaintext: "000012040000000000000300000080000400010000000500ffffff0000040800000000007fff0000",
            },
        ],
    },
    // testdata/captures/curl-tls13-chacha20.pcapng (secrets from its Decryption Secrets Block), TLS_CHACHA20_POLY1305_SHA256
    Case13 {
        suite: 0x1303,
        records: &[
            Record {
                what: "curl-tls13-chacha20: server EncryptedExtensions",
                secret: "cb4efee9e1bf0046370fe32da6600aa21733aa921b7ab873d9922c6275ff219a",
                sender: Side::Server,
                seq: 0,
                record: "17030300247d47e5e161eaa2913da2a26bad3aa4b45cd9d1a5a0cdd2516e6a7e5c7566ffe5ac62e413",
                content_type: 22,
                plaintext: "0800000f000d00000000001000050003026832",
            },
            Record {
                what: "curl-tls13-chacha20: server Finished",
                secret: "cb4efee9e1bf0046370fe32da6600aa21733aa921b7ab873d9922c6275ff219a",
                sender: Side::Server,
                seq: 3,
                record: "1703030035786e07942a6f7152ffacecc522b6033b34dab0fd8cf69c1ea12419998db22a3c8e2d3b554253201a2dfb03
                        476dc7a928b919fc02cf",
                content_type: 22,
                plaintext: "140000200afb49f3f3740982e9d1d6c31292c7cd8829b7f79195c3b43074068d7a4f7779",
            },
            Record {
                what: "curl-tls13-chacha20: client preface and SETTINGS",
                secret: "80eb036c7b79d25a95afedb6cea087adddd2c76a0a1047d0906243c4080c3f68",
                sender: Side::Client,
                seq: 0,
                record: "17030300515212b1d23d9ed030d0f5c8ec7d359ccf042e98f2340083df11cad3bb5c6c151957f01c26c805b39e6a7cbf
                        9082813e189aae60ffd6f3f3cbcb4b3e1d40dcbcd5dfb32cab3787bdacc2731bcd84be0e0020",
                content_type: 23,
                plaintext: "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a000012040000000000000300000064000402000000000200
                        00000000000408000000000001ff0001",
            },
        ],
    },
];

/// TLS 1.0-1.2, each a different suite, version or MAC order. The first has
/// at least two records.
pub const TLS12: &[Case12] = &[
    // testdata/captures/go-h2-concurrent-tls12.pcap (tcp.stream 0), TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    Case12 {
        suite: 0xc02f,
        version: 0x0303,
        master_secret: "d4bbafab88c2a8b5d6ad000016a66506f281c0379ec53b4c3ff3f46080ec477462a9eadb4b74f4184f6473c48e958994",
        client_random: "89672a454bde5421b65943265d12d46d71acaf3be331272f6ae3c562ecd41df8",
        server_random: "489153feb6451803dbc91e006cf11f2fe2f44d0131c3e6a551c3fcf623beee64",
        encrypt_then_mac: false,
        records: &[
            Record {
                what: "go-h2-concurrent-tls12: client Finished",
                secret: "",
                sender: Side::Client,
                seq: 0,
                record: "1603030028000000000000000074ca810befa5c402ea8d7d6631b4e16e2434695d1f45f883dfd2570156f94d94",
                content_type: 22,
                plaintext: "1400000ca41115f46b2b3d398de00e42",
            },
            Record {
                what: "go-h2-concurrent-tls12: client preface and SETTINGS",
                secret: "",
                sender: Side::Client,
                seq: 1,
                record: "17030300580000000000000001843a27251301257f87168f15dd9134ebf3fbd86a91d9a6af24701ee41e6919387f1603
                        1b8e37ccd09cd84c2c8689bebe93f76899768430eaaa9a584316bdffc9337b297683dc2d9f72bcbdf1940ec05e",
                content_type: 23,
                plaintext: "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a000012040000000000000200000000000400400000000600
                        a0000000000408000000000040000000",
            },
            Record {
                what: "go-h2-concurrent-tls12: server Finished",
                secret: "",
                sender: Side::Server,
                seq: 0,
                record: "1603030028259ae0fba7d7473ed5c0cc01f6d15a16910106ebecef7e325ae23d9a733a706d9abfb7e31da80168",
                content_type: 22,
                plaintext: "1400000c4eca53dc5b79429930a45aa4",
            },
        ],
    },
    // testdata/captures/curl-h1-keepalive.pcap, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (SHA-384 PRF)
    Case12 {
        suite: 0xc030,
        version: 0x0303,
        master_secret: "718327ad330e8420b34f444f0d9773a1d257d8d5a60aba649958fedc5753964af400fd2efb06ecdd667ccbc08ca54e34",
        client_random: "899aa5e558a75913fbe605e05c47aafbb09f0f79444347e8c6fa1df8cfe36aec",
        server_random: "a609b41946a6afb89cf4e7eb5a3cd46077655b598d235b5b218d761fa2362a0e",
        encrypt_then_mac: false,
        records: &[
            Record {
                what: "curl-h1-keepalive: client GET /a.html",
                secret: "",
                sender: Side::Client,
                seq: 1,
                record: "1703030072f9a0494364c4137778e34497f78830767e7354682edb8273a5f491208523c261dabad722a6312785c6c0d6
                        e9f8a95bb1a4ce00498d6d6013c38bc42eca7b9ee2c51cdf82ccf5dd6b5444105cc0fee67fdfff58cec9b895e0e1bc6c
                        99bc6f80ec547d64fcf4234fab2ac9b7fe3736c881e84f",
                content_type: 23,
                plaintext: "474554202f612e68746d6c20485454502f312e310d0a486f73743a20636f6e6e72657573652e746573743a3138343432
                        0d0a557365722d4167656e743a206375726c2f372e38382e310d0a4163636570743a202a2f2a0d0a0d0a",
            },
            Record {
                what: "curl-h1-keepalive: server Finished",
                secret: "",
                sender: Side::Server,
                seq: 0,
                record: "16030300282e9ad959f46445377b6ab263bb8015a6d40eabb2719367740570ea0185f6b64b467333d261469fc9",
                content_type: 22,
                plaintext: "1400000cb369c5c7672ff4097e871b31",
            },
        ],
    },
    // testdata/captures/curl-tls12-chacha20.pcap, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    Case12 {
        suite: 0xcca8,
        version: 0x0303,
        master_secret: "c83531e7375108c5f579587f1e8ae9ee593004bb29867a8cd74585b5157cbbdf6b9f92e636d9c74d6ed46d2123659704",
        client_random: "dfd5c7c3793abecc28d4f95eb4811a623de3068b628310e5cd366ff27b4b766b",
        server_random: "bdb93eb171a0ddc088fc1c6104d126426544ebbdbb7c4007aea46db87369bf81",
        encrypt_then_mac: false,
        records: &[
            Record {
                what: "curl-tls12-chacha20: client Finished",
                secret: "",
                sender: Side::Client,
                seq: 0,
                record: "1603030020a31be2cff537e7f0896ccf99499e6a68e85fcacfe11088c81f7d79426b8cadad",
                content_type: 22,
                plaintext: "1400000ca84f290120b08659cb2e6d63",
            },
            Record {
                what: "curl-tls12-chacha20: client preface and SETTINGS",
                secret: "",
                sender: Side::Client,
                seq: 1,
                record: "170303005022bbf12846ee14875384150d923e96d8d28837a576591d709c58fa6f099368b7051c528f7d4076967bd799
                        72d84a9133c6b4378c1d2a33cd7f0f00882af1bc199fc9cb1683bc80fc84f4dbf7be0b3e08",
                content_type: 23,
                plaintext: "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a000012040000000000000300000064000402000000000200
                        00000000000408000000000001ff0001",
            },
            Record {
                what: "curl-tls12-chacha20: server SETTINGS",
                secret: "",
                sender: Side::Server,
                seq: 1,
                record: "1703030038799c5df5b692944c0ad8bd439d1433124ad71301d87962534d3ebefa0becc76eaac53a76e1d824f2f09e2f
                        afed3df6aae2eaa3b0e7e8dd6e",
                content_type: 23,
                plaintext: "000012040000000000000300000080000400010000000500ffffff0000040800000000007fff0000",
            },
        ],
    },
    // testdata/captures/curl-tls12-cbc.pcap, TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, encrypt_then_mac
    Case12 {
        suite: 0xc027,
        version: 0x0303,
        master_secret: "2ab3cbc81eefbb93f9fc010689c9826105c879d7b75bf45c810fd6d57317271acdaacdcbe3d93e9eba44a548dd7a44d9",
        client_random: "1e02e88aacf6acf879cadba28c400f3466c05160448b8fd504c5b94ae5831fd5",
        server_random: "ace7531f964d77be511acae5c352d3edcf4c3fe4c09875593f52f11010362fb5",
        encrypt_then_mac: true,
        records: &[
            Record {
                what: "curl-tls12-cbc: client Finished",
                secret: "",
                sender: Side::Client,
                seq: 0,
                record: "16030300503194c9b876ebbe031fd10a5d393d25f0c0c65cbe1f981b42c0cd23377b0537fcd9f7e32640c6c8380731bf
                        60f8372b485728f497fb1e2d2decdb11b8a7825b7d7be47f734452ae1c033008766ac531e5",
                content_type: 22,
                plaintext: "1400000c197d8a006e8db603f302d82c",
            },
            Record {
                what: "curl-tls12-cbc: client GET /a.html",
                secret: "",
                sender: Side::Client,
                seq: 1,
                record: "17030300900ae55b1944046be24cad1cd6e8cee1fb485ed4ef65d17e672b1165f13bf668cf3b771f6224d6c685acc780
                        42bc4e48df79dd023590c9f19632d4ec0b3847ec81b241b0c0c45b7d9ff4081add53ef2334f51e9079de30c8231fdea6
                        7fb0bbf47e0b32a19701afa9613c1ca42a8a78ce535b821efa7bbc40f9113b344b72c56a2c4361df58682e206906b145
                        c165f9c0d8",
                content_type: 23,
                plaintext: "474554202f612e68746d6c20485454502f312e310d0a486f73743a20636f6e6e72657573652e746573743a3138343432
                        0d0a557365722d4167656e743a206375726c2f372e38382e310d0a4163636570743a202a2f2a0d0a0d0a",
            },
            Record {
                what: "curl-tls12-cbc: server Finished",
                secret: "",
                sender: Side::Server,
                seq: 0,
                record: "160303005096c22a268b094de19f87387ccdee66e555a083171a0e812840f81ab2607569141b72fd842dafb22f124368
                        56def3c1b17a5780883bbe497af0015f239359af2d02811cf6f00efe601eb7f06a5cfb846d",
                content_type: 22,
                plaintext: "1400000ce9762c747fba96e775396d5e",
            },
        ],
    },
    // openssl s_client/s_server (docs/DECRYPTION.md), TLS 1.2 TLS_RSA_WITH_AES_128_CBC_SHA, encrypt_then_mac
    Case12 {
        suite: 0x002f,
        version: 0x0303,
        master_secret: "b1f6dc6f8fd451def3d86378e0197f3730080d11b6d599688b0edfe2df884d279ff3d095ae6ddb8b891e1c4b405a3aee",
        client_random: "023ce21b68937080dc7eeba5ffc0a2ca87852208ff99e7aa2643843890be9cd0",
        server_random: "062fe5eb6c24f9d28ea05c47b23a3e6d5e4693c24398bcb591b52caf6fb2ad62",
        encrypt_then_mac: true,
        records: &[
            Record {
                what: "openssl-tls12-cbc-sha-etm: client Finished",
                secret: "",
                sender: Side::Client,
                seq: 0,
                record: "160303004476014d76fb1065dcd973c0bd2ca99cbb56b2df700cb6769719051657b42bd690ab2f70eecdee1a62661c40
                        58341352b228a97b1e257ca2b96329aeeb989a3a20b7785962",
                content_type: 22,
                plaintext: "1400000c049956e134c8f002ab5842ad",
            },
            Record {
                what: "openssl-tls12-cbc-sha-etm: client GET /",
                secret: "",
                sender: Side::Client,
                seq: 1,
                record: "1703030044f608961a82f50ccc897fc80083f5ef1ba2614414a53c53f3fd6b2a8408bba4b0f3147e3451c6d7618769b6
                        6acda4593c9ced5e989450dc7e189b870a2da615f277531518",
                content_type: 23,
                plaintext: "474554202f20485454502f312e300d0a0d0a",
            },
        ],
    },
    // openssl (docs/DECRYPTION.md), TLS 1.2 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384, MAC-then-encrypt
    Case12 {
        suite: 0xc028,
        version: 0x0303,
        master_secret: "48443970273ef0b2738352fdc53426a6eade9c2bb732955a089b063049d68595c83e310aa08dc79f0f2df58857b1d210",
        client_random: "31a2fa193cb7e698df19158463bc22892fa70031ae50046a46a0591c5bd1f652",
        server_random: "30473e6f5ec7f2d6b002987c8b20aa0f18110ea022ddf31dee99d4708571d08d",
        encrypt_then_mac: false,
        records: &[
            Record {
                what: "openssl-tls12-cbc384: client Finished",
                secret: "",
                sender: Side::Client,
                seq: 0,
                record: "1603030060c544e9afd5dc7abbcc1fada5306ba8a02f3e21055a15c9ac054e3ea5b57c35aef9be4211bb1145a11c73e4
                        122e35e9ca7aa0558b39176dc452d9478907adf44a3c7eae47af14c8a44b4f8f92589ef05896ff1eec76103b7ed277c4
                        1247a19172",
                content_type: 22,
                plaintext: "1400000cf96979827ff9480a9e1b7395",
            },
            Record {
                what: "openssl-tls12-cbc384: client GET /",
                secret: "",
                sender: Side::Client,
                seq: 1,
                record: "17030300605eb89a2faa48a098f0f002218a4b978ebc1c1e8590219b4f0eeff36550585c763c3dc7368f3ef591d6aeda
                        19c88e5d3491dc17c261498dfda5c873ae06d797625959dd3bf97e25654c6cbf93e2041806d889f9bb5ae637eb42edb7
                        afb00bb359",
                content_type: 23,
                plaintext: "474554202f20485454502f312e300d0a0d0a",
            },
            Record {
                what: "openssl-tls12-cbc384: server Finished",
                secret: "",
                sender: Side::Server,
                seq: 0,
                record: "16030300608b8ca127f210d656f3e239984afdc792e894c839c1f092531f11ad6ac1317d0432a05f24a3ebb2e612fe1f
                        b4124800bd7fd6862bdea5ca36e917ecc23e180260f9e0fa0523b8b7be0688a7e4bc08f6f300ef614bcad03b24e28d4f
                        1a52815e23",
                content_type: 22,
                plaintext: "1400000c0a39c277c7fe1fc1e94b96b6",
            },
        ],
    },
    // openssl (docs/DECRYPTION.md), TLS 1.1 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, MAC-then-encrypt
    Case12 {
        suite: 0xc014,
        version: 0x0302,
        master_secret: "604aacad87de57bbb18d3472a0bbc4d15cad928d408e97f8805e7d5739d35986dce20a2051a1ddaa1b1a990a4053d06d",
        client_random: "10fd450e4d3a73010085e60c4668a3ee14fc3c778444c7708548ee49b1ba405f",
        server_random: "024818a0eaf2628040f94136f0bfc52953baf37f66e50a91444f574e47524400",
        encrypt_then_mac: false,
        records: &[
            Record {
                what: "openssl-tls11-cbc: client Finished",
                secret: "",
                sender: Side::Client,
                seq: 0,
                record: "1603020040caa659f59c6f9435ed8dc66453cb4e2826658ca3130fd492a81572e16eb54a235551677f1f55e701145b41
                        277f6b18e9f20dce63b8b681ad6f409ea91d14430f",
                content_type: 22,
                plaintext: "1400000c86c15b1759b28fcbc4bf9005",
            },
            Record {
                what: "openssl-tls11-cbc: client GET /",
                secret: "",
                sender: Side::Client,
                seq: 1,
                record: "170302004083b29a0a62e1e30efbe6971d3829c7c05f9f58262006d4a0931309db149601fb8661ced6618b5e18712b73
                        16c35c4fe6dc4b6ae8d65dd7fc5cd21b6fc45546b3",
                content_type: 23,
                plaintext: "474554202f20485454502f312e300d0a0d0a",
            },
            Record {
                what: "openssl-tls11-cbc: server Finished",
                secret: "",
                sender: Side::Server,
                seq: 0,
                record: "1603020040cf771e78450c974b128fe883b6280a39fb1df8e004ddda0cbbb56010575c36e1fc50512da32756b0bef752
                        371ca7610d98a51718ad29093d59f157680a858576",
                content_type: 22,
                plaintext: "1400000c0ae3387b4725da7ea4901aba",
            },
        ],
    },
    // openssl (docs/DECRYPTION.md), TLS 1.0 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, MAC-then-encrypt
    Case12 {
        suite: 0xc013,
        version: 0x0301,
        master_secret: "de2fad732330c59bd162c71b250691ceacb632cc5f3988cf9a9732e02a9e71c2eb98b66023cfa00200ff8082187aafd5",
        client_random: "5774e830411d3396975f80ed7fce1f9e3d2c8a66c63b1caf0d8b98011e0d11cb",
        server_random: "8e64f978d59db61079a33512a8706c93d91c0533580312de444f574e47524400",
        encrypt_then_mac: false,
        records: &[
            Record {
                what: "openssl-tls10-cbc: server Finished",
                secret: "",
                sender: Side::Server,
                seq: 0,
                record: "16030100309c442b087f229f3bdc99bdf5bdf52eb91d8aea1cd5c1c127f32de291f6b5eefdaa7064133c6b9570835a2e
                        7147a9484f",
                content_type: 22,
                plaintext: "1400000c96d4d390dc4069df3fe44caa",
            },
        ],
    },
];

/// TLS 1.0 CBC, consecutive client records.
pub const TLS10_CHAIN: Case12 = Case12 {
        suite: 0xc013,
        version: 0x0301,
        master_secret: "de2fad732330c59bd162c71b250691ceacb632cc5f3988cf9a9732e02a9e71c2eb98b66023cfa00200ff8082187aafd5",
        client_random: "5774e830411d3396975f80ed7fce1f9e3d2c8a66c63b1caf0d8b98011e0d11cb",
        server_random: "8e64f978d59db61079a33512a8706c93d91c0533580312de444f574e47524400",
        encrypt_then_mac: false,
        records: &[
            Record {
                what: "openssl-tls10-cbc: client Finished",
                secret: "",
                sender: Side::Client,
                seq: 0,
                record: "1603010030f37b9f13af685e962143e78b1508821439598b0415d754076e5dd0b6188c3d6a2ccf4aa9050458487841b4
                        9591080bbc",
                content_type: 22,
                plaintext: "1400000c410d4abb8021022bc74e64d4",
            },
            Record {
                what: "openssl-tls10-cbc: client empty record (1/n-1 split, no bytes in tshark)",
                secret: "",
                sender: Side::Client,
                seq: 1,
                record: "1703010020d37853f9640400195aac5d02b652f8d8d018af81d7eb539629589781c8a9d7d4",
                content_type: 23,
                plaintext: "",
            },
            Record {
                what: "openssl-tls10-cbc: client GET /",
                secret: "",
                sender: Side::Client,
                seq: 2,
                record: "17030100305a252b4cc40cb7e50ad768840f0abd86a9ebd80ccd95504438a134698edb59a8987983748fe02e9cd93d8c
                        06d5af9e34",
                content_type: 23,
                plaintext: "474554202f20485454502f312e300d0a0d0a",
            },
        ],
    };
