//! NSS key log files (as written by SSLKEYLOGFILE, Go's
//! `tls.Config.KeyLogWriter` and pcapng Decryption Secrets Blocks): parsed
//! line by line into secrets indexed by client random; malformed lines
//! become warnings with their line number, and no message ever holds a
//! secret.
//!
//! Format: `LABEL <64 hex: client random> <hex: secret>`, one per line;
//! `#` starts a comment line; blank lines are skipped.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;

use super::Secret;
use crate::Side;

/// Lines longer than this are malformed without being parsed: the longest
/// valid line (a 31-character label, 64 + 96 hex digits, separators) is
/// under 200 bytes.
pub const MAX_LINE: usize = 1024;

/// The shortest valid line: `EXPORTER_SECRET`, a client random and a
/// 32-byte secret.
const MIN_LINE: usize = 15 + 1 + 64 + 1 + 64;

/// Warnings kept per parse; further ones are only counted.
pub const MAX_WARNINGS: usize = 1000;

/// The labels this module uses, one per secret of a handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Label {
    /// `CLIENT_RANDOM`: the 48-byte master secret of TLS 1.0-1.2.
    ClientRandom,
    /// `CLIENT_EARLY_TRAFFIC_SECRET` (0-RTT data, RFC 8446 section 7.1).
    ClientEarlyTrafficSecret,
    /// `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    ClientHandshakeTrafficSecret,
    /// `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    ServerHandshakeTrafficSecret,
    /// `CLIENT_TRAFFIC_SECRET_0`: the first client application traffic secret.
    ClientTrafficSecret0,
    /// `SERVER_TRAFFIC_SECRET_0`.
    ServerTrafficSecret0,
    /// `EXPORTER_SECRET`.
    ExporterSecret,
}

impl Label {
    pub const ALL: [Label; 7] = [
        Label::ClientRandom,
        Label::ClientEarlyTrafficSecret,
        Label::ClientHandshakeTrafficSecret,
        Label::ServerHandshakeTrafficSecret,
        Label::ClientTrafficSecret0,
        Label::ServerTrafficSecret0,
        Label::ExporterSecret,
    ];

    /// The label as written in key logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::ClientRandom => "CLIENT_RANDOM",
            Label::ClientEarlyTrafficSecret => "CLIENT_EARLY_TRAFFIC_SECRET",
            Label::ClientHandshakeTrafficSecret => "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            Label::ServerHandshakeTrafficSecret => "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            Label::ClientTrafficSecret0 => "CLIENT_TRAFFIC_SECRET_0",
            Label::ServerTrafficSecret0 => "SERVER_TRAFFIC_SECRET_0",
            Label::ExporterSecret => "EXPORTER_SECRET",
        }
    }

    fn from_bytes(bytes: &[u8]) -> Option<Label> {
        Label::ALL
            .into_iter()
            .find(|l| l.as_str().as_bytes() == bytes)
    }

    /// Whether `len` bytes can be this secret: 48 for a master secret
    /// (RFC 5246 section 8.1), a SHA-256 or SHA-384 output for TLS 1.3
    /// secrets (RFC 8446 section 7.1).
    fn fits(self, len: usize) -> bool {
        match self {
            Label::ClientRandom => len == 48,
            _ => len == 32 || len == 48,
        }
    }
}

/// Labels that appear in real key logs and carry nothing decryption needs:
/// they are skipped silently and counted in [`KeyLog::ignored_lines`].
/// `CLIENT_TRAFFIC_SECRET_N`/`SERVER_TRAFFIC_SECRET_N` are the secrets
/// after a KeyUpdate (OpenSSL 3 logs them); the decryptor derives those
/// itself (RFC 8446 section 7.2).
const IGNORED_LABELS: [&str; 5] = [
    "EARLY_EXPORTER_SECRET",
    "CLIENT_TRAFFIC_SECRET_N",
    "SERVER_TRAFFIC_SECRET_N",
    "ECH_SECRET",
    "ECH_CONFIG",
];

/// Every secret logged for one handshake (one client random).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    items: Vec<(Label, Secret)>,
}

impl Secrets {
    pub fn get(&self, label: Label) -> Option<&Secret> {
        self.items.iter().find(|(l, _)| *l == label).map(|(_, s)| s)
    }

    /// The TLS 1.0-1.2 master secret (`CLIENT_RANDOM` line).
    pub fn master_secret(&self) -> Option<&[u8; 48]> {
        self.get(Label::ClientRandom)?.as_master_secret()
    }

    /// The TLS 1.3 handshake traffic secret of `sender`'s records.
    pub fn handshake_secret(&self, sender: Side) -> Option<&Secret> {
        self.get(match sender {
            Side::Client => Label::ClientHandshakeTrafficSecret,
            Side::Server => Label::ServerHandshakeTrafficSecret,
        })
    }

    /// The first TLS 1.3 application traffic secret of `sender`'s records.
    pub fn application_secret(&self, sender: Side) -> Option<&Secret> {
        self.get(match sender {
            Side::Client => Label::ClientTrafficSecret0,
            Side::Server => Label::ServerTrafficSecret0,
        })
    }

    /// The labels present, in the order they were first logged.
    pub fn labels(&self) -> impl Iterator<Item = Label> + '_ {
        self.items.iter().map(|(l, _)| *l)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Adds a secret; keeps the one already there if the label is taken.
    /// Returns whether a different secret was refused.
    fn insert(&mut self, label: Label, secret: Secret) -> bool {
        match self.get(label) {
            Some(old) => *old != secret,
            None => {
                // Exactly one more: most handshakes log one secret (TLS 1.2)
                // or five, and a million of them must stay small.
                self.items.reserve_exact(1);
                self.items.push((label, secret));
                false
            }
        }
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.items.iter().map(|(l, s)| (l.as_str(), s)))
            .finish()
    }
}

/// What is wrong with a key log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WarningKind {
    /// More than [`MAX_LINE`] bytes.
    LineTooLong,
    /// Not three fields separated by spaces or tabs.
    FieldCount(usize),
    /// A label this module does not know. The label is shown only when it
    /// looks like one (capitals, digits and `_`, not hex), so that a line
    /// starting with a secret never echoes it.
    UnknownLabel(Option<String>),
    /// The client random is not 64 hex digits.
    BadClientRandom,
    /// The secret is not hex, or not a length its label allows.
    BadSecret { label: Label },
    /// Another secret was already logged for this label and client random;
    /// the first one is kept.
    Conflict { label: Label },
    /// An `RSA <encrypted premaster prefix> <premaster>` line. It needs the
    /// ClientKeyExchange of its connection to become a master secret and is
    /// not used: log the `CLIENT_RANDOM` line instead (every NSS-format
    /// writer since 2012 does).
    RsaIgnored,
    /// Further warnings were dropped after [`MAX_WARNINGS`]; `count` of them.
    Suppressed { count: u64 },
}

/// A malformed or unused key log line. `line` is 1-based.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyLogWarning {
    pub line: u64,
    pub kind: WarningKind,
}

impl fmt::Display for KeyLogWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key log line {}: ", self.line)?;
        match &self.kind {
            WarningKind::LineTooLong => {
                write!(f, "longer than {MAX_LINE} bytes, skipped")
            }
            WarningKind::FieldCount(n) => write!(
                f,
                "{n} fields where `LABEL CLIENT_RANDOM SECRET` has 3, skipped"
            ),
            WarningKind::UnknownLabel(Some(label)) => write!(f, "unknown label {label}, skipped"),
            WarningKind::UnknownLabel(None) => f.write_str("unknown label, skipped"),
            WarningKind::BadClientRandom => {
                f.write_str("client random is not 64 hex digits, skipped")
            }
            WarningKind::BadSecret { label } => write!(
                f,
                "{} secret is not hex of a valid length ({}), skipped",
                label.as_str(),
                if *label == Label::ClientRandom {
                    "48 bytes"
                } else {
                    "32 or 48 bytes"
                }
            ),
            WarningKind::Conflict { label } => write!(
                f,
                "a different {} was already logged for this client random; the first one is kept",
                label.as_str()
            ),
            WarningKind::RsaIgnored => f.write_str(
                "RSA premaster secret lines are not used; log CLIENT_RANDOM lines instead",
            ),
            WarningKind::Suppressed { count } => {
                write!(f, "{count} more warnings from this line on were not kept")
            }
        }
    }
}

/// Secrets from one or more key logs, by client random.
#[derive(Clone, Default)]
pub struct KeyLog {
    by_random: HashMap<[u8; 32], Secrets>,
    secrets: usize,
    ignored: u64,
}

impl fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KeyLog({} client randoms, {} secrets)",
            self.by_random.len(),
            self.secrets
        )
    }
}

/// Collects warnings up to [`MAX_WARNINGS`], then counts the rest.
struct Warnings {
    kept: Vec<KeyLogWarning>,
    suppressed: u64,
    first_suppressed: u64,
}

impl Warnings {
    fn push(&mut self, line: u64, kind: WarningKind) {
        if self.kept.len() < MAX_WARNINGS {
            self.kept.push(KeyLogWarning { line, kind });
        } else {
            if self.suppressed == 0 {
                self.first_suppressed = line;
            }
            self.suppressed += 1;
        }
    }

    fn finish(mut self) -> Vec<KeyLogWarning> {
        if self.suppressed > 0 {
            self.kept.push(KeyLogWarning {
                line: self.first_suppressed,
                kind: WarningKind::Suppressed {
                    count: self.suppressed,
                },
            });
        }
        self.kept
    }
}

impl KeyLog {
    pub fn new() -> KeyLog {
        KeyLog::default()
    }

    /// Parses key log text. Lines may end in LF or CRLF; bytes that are not
    /// UTF-8 only make their line malformed.
    pub fn parse(text: &[u8]) -> (KeyLog, Vec<KeyLogWarning>) {
        let mut log = KeyLog::new();
        let mut warnings = Warnings {
            kept: Vec::new(),
            suppressed: 0,
            first_suppressed: 0,
        };
        // One slot per line at most, and no more than valid lines could fill
        // (each is at least MIN_LINE bytes): growing the table step by step
        // doubles the time on large logs. TLS 1.3 logs five lines per
        // handshake, so the excess is given back after.
        let lines = memchr::memchr_iter(b'\n', text).count() + 1;
        log.by_random.reserve(lines.min(text.len() / MIN_LINE + 1));
        for (index, line) in text.split(|&b| b == b'\n').enumerate() {
            let number = index as u64 + 1;
            if let Err(kind) = log.parse_line(line) {
                warnings.push(number, kind);
            }
        }
        if log.by_random.len() < log.by_random.capacity() / 2 {
            log.by_random.shrink_to_fit();
        }
        (log, warnings.finish())
    }

    /// One line, without its `\n`.
    fn parse_line(&mut self, line: &[u8]) -> Result<(), WarningKind> {
        if line.len() > MAX_LINE {
            return Err(WarningKind::LineTooLong);
        }
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            return Ok(());
        }
        let mut fields = line
            .split(|b| *b == b' ' || *b == b'\t')
            .filter(|f| !f.is_empty());
        let (Some(label), Some(random), Some(secret), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            let count = line
                .split(|b| *b == b' ' || *b == b'\t')
                .filter(|f| !f.is_empty())
                .count();
            return Err(WarningKind::FieldCount(count));
        };
        let Some(label) = Label::from_bytes(label) else {
            if label == b"RSA" {
                return Err(WarningKind::RsaIgnored);
            }
            if IGNORED_LABELS.iter().any(|l| l.as_bytes() == label) {
                self.ignored += 1;
                return Ok(());
            }
            return Err(WarningKind::UnknownLabel(printable_label(label)));
        };
        let mut client_random = [0u8; 32];
        if random.len() != 64 || !unhex(random, &mut client_random) {
            return Err(WarningKind::BadClientRandom);
        }
        let mut bytes = [0u8; Secret::MAX_LEN];
        let len = secret.len() / 2;
        let secret = match bytes.get_mut(..len) {
            Some(out) if secret.len() % 2 == 0 && label.fits(len) => {
                if unhex(secret, out) {
                    Secret::new(out)
                } else {
                    None
                }
            }
            _ => None,
        }
        .ok_or(WarningKind::BadSecret { label })?;
        if self.insert(client_random, label, secret) {
            return Err(WarningKind::Conflict { label });
        }
        Ok(())
    }

    /// Adds one secret; returns whether a different one was already there
    /// (the first is kept).
    fn insert(&mut self, client_random: [u8; 32], label: Label, secret: Secret) -> bool {
        let secrets = self.by_random.entry(client_random).or_default();
        let before = secrets.len();
        let conflict = secrets.insert(label, secret);
        self.secrets += secrets.len() - before;
        conflict
    }

    /// Adds every secret of `other`; where both logged a different secret
    /// for the same label and client random, the one already here is kept.
    /// Returns how many such conflicts there were.
    pub fn merge(&mut self, other: KeyLog) -> usize {
        let mut conflicts = 0;
        self.ignored += other.ignored;
        for (random, theirs) in other.by_random {
            match self.by_random.entry(random) {
                Entry::Vacant(slot) => {
                    self.secrets += theirs.len();
                    slot.insert(theirs);
                }
                Entry::Occupied(mut slot) => {
                    let ours = slot.get_mut();
                    for (label, secret) in theirs.items {
                        let before = ours.len();
                        conflicts += usize::from(ours.insert(label, secret));
                        self.secrets += ours.len() - before;
                    }
                }
            }
        }
        conflicts
    }

    /// How many client randoms have at least one secret.
    pub fn len(&self) -> usize {
        self.by_random.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_random.is_empty()
    }

    /// How many secrets in all.
    pub fn secret_count(&self) -> usize {
        self.secrets
    }

    /// Lines with a known label that decryption does not need.
    pub fn ignored_lines(&self) -> u64 {
        self.ignored
    }

    pub fn secrets_for(&self, client_random: &[u8; 32]) -> Option<&Secrets> {
        self.by_random.get(client_random)
    }
}

/// The label for a warning, if it cannot be a secret: 1 to 48 capitals,
/// digits and underscores with at least one character that is not a hex
/// digit.
fn printable_label(label: &[u8]) -> Option<String> {
    let label_like = !label.is_empty()
        && label.len() <= 48
        && label
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
        && label.iter().any(|b| !b.is_ascii_hexdigit());
    label_like
        .then(|| std::str::from_utf8(label).ok().map(str::to_owned))
        .flatten()
}

/// Decodes hex digits (either case) into `out`, which must be exactly half
/// as long; false on any other byte.
fn unhex(hex: &[u8], out: &mut [u8]) -> bool {
    fn nibble(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    if hex.len() != out.len() * 2 {
        return false;
    }
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (Some(&hi), Some(&lo)) = (pair.first(), pair.get(1)) else {
            return false;
        };
        match (nibble(hi), nibble(lo)) {
            (Some(hi), Some(lo)) => *o = hi << 4 | lo,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::keys::fixtures::hex;

    const CR1: &str = "bc770eb84c91d77aeffdfdaebaccd1ee8cb4bfb8360d06e277587cdd225b570c";
    const CR2: &str = "1e02e88aacf6acf879cadba28c400f3466c05160448b8fd504c5b94ae5831fd5";
    /// 48 bytes, 32 bytes.
    const S48: &str = "2ab3cbc81eefbb93f9fc010689c9826105c879d7b75bf45c810fd6d57317271acdaacdcbe3d93e9eba44a548dd7a44d9";
    const S32: &str = "80eb036c7b79d25a95afedb6cea087adddd2c76a0a1047d0906243c4080c3f68";

    fn random(h: &str) -> [u8; 32] {
        hex(h).try_into().unwrap()
    }

    #[test]
    fn every_label_is_read() {
        let text = format!(
            "CLIENT_RANDOM {CR2} {S48}\n\
             CLIENT_EARLY_TRAFFIC_SECRET {CR1} {S32}\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {CR1} {S48}\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {CR1} {S48}\n\
             CLIENT_TRAFFIC_SECRET_0 {CR1} {S48}\n\
             SERVER_TRAFFIC_SECRET_0 {CR1} {S48}\n\
             EXPORTER_SECRET {CR1} {S48}\n"
        );
        let (log, warnings) = KeyLog::parse(text.as_bytes());
        assert_eq!(warnings, vec![]);
        assert_eq!((log.len(), log.secret_count()), (2, 7));
        let tls12 = log.secrets_for(&random(CR2)).unwrap();
        assert_eq!(
            tls12.master_secret().unwrap().as_slice(),
            hex(S48).as_slice()
        );
        let tls13 = log.secrets_for(&random(CR1)).unwrap();
        assert_eq!(tls13.labels().collect::<Vec<_>>(), Label::ALL[1..].to_vec());
        assert_eq!(
            tls13
                .get(Label::ClientEarlyTrafficSecret)
                .unwrap()
                .as_bytes(),
            hex(S32).as_slice()
        );
        assert_eq!(
            tls13.get(Label::ServerTrafficSecret0).unwrap().as_bytes(),
            hex(S48).as_slice()
        );
        assert!(tls13.master_secret().is_none());
        assert_eq!(
            tls13.handshake_secret(Side::Server),
            tls13.get(Label::ServerHandshakeTrafficSecret)
        );
        assert_eq!(
            tls13.application_secret(Side::Client),
            tls13.get(Label::ClientTrafficSecret0)
        );
        assert!(tls12.application_secret(Side::Client).is_none());
        assert!(log.secrets_for(&[0; 32]).is_none());
    }

    /// The key log OpenSSL 3.0 wrote for a TLS 1.3 connection with one
    /// client KeyUpdate (`openssl s_client -keylogfile`, see
    /// docs/DECRYPTION.md): comment header, the five usual secrets and a
    /// CLIENT_TRAFFIC_SECRET_N line.
    #[test]
    fn openssl_key_log_with_comment_and_updated_secret() {
        let (log, warnings) = KeyLog::parse(crate::keys::fixtures::keyupdate::KEY_LOG.as_bytes());
        assert_eq!(warnings, vec![]);
        assert_eq!(
            (log.len(), log.secret_count(), log.ignored_lines()),
            (1, 5, 1)
        );
    }

    #[test]
    fn malformed_lines_are_reported_with_their_number_and_skipped() {
        let long = "A".repeat(MAX_LINE + 1);
        let text = format!(
            "# comment\r\n\
             \n\
             CLIENT_RANDOM {CR2}\n\
             CLIENT_RANDOM {CR2} {S48} extra\n\
             FOO_SECRET {CR1} {S32}\n\
             {S32} {CR1} {S32}\n\
             CLIENT_RANDOM {} {S48}\n\
             CLIENT_RANDOM {CR2} {S32}\n\
             SERVER_TRAFFIC_SECRET_0 {CR1} {}zz\n\
             RSA 0102030405060708 {S48}\n\
             {long}\n\
             CLIENT_RANDOM\t{CR2}\t{S48}\r\n\
             \u{feff}junk\n",
            &CR2[..62],
            &S32[..62],
        );
        let (log, warnings) = KeyLog::parse(text.as_bytes());
        let got: Vec<(u64, WarningKind)> = warnings.into_iter().map(|w| (w.line, w.kind)).collect();
        assert_eq!(
            got,
            vec![
                (3, WarningKind::FieldCount(2)),
                (4, WarningKind::FieldCount(4)),
                (5, WarningKind::UnknownLabel(Some("FOO_SECRET".into()))),
                (6, WarningKind::UnknownLabel(None)),
                (7, WarningKind::BadClientRandom),
                (
                    8,
                    WarningKind::BadSecret {
                        label: Label::ClientRandom
                    }
                ),
                (
                    9,
                    WarningKind::BadSecret {
                        label: Label::ServerTrafficSecret0
                    }
                ),
                (10, WarningKind::RsaIgnored),
                (11, WarningKind::LineTooLong),
                (13, WarningKind::FieldCount(1)),
            ]
        );
        // Line 12 (tabs, CRLF) is the only good one.
        assert_eq!((log.len(), log.secret_count()), (1, 1));
    }

    #[test]
    fn no_warning_or_debug_output_contains_a_secret() {
        let secret_hex = S48;
        let text = format!(
            "{secret_hex} {CR1} {secret_hex}\n\
             CLIENT_RANDOM {CR1} {secret_hex}\n\
             CLIENT_RANDOM {CR1} {}\n\
             CLIENT_RANDOM {CR1} {secret_hex}00\n",
            S48.replace('2', "3")
        );
        let (log, warnings) = KeyLog::parse(text.as_bytes());
        assert_eq!(warnings.len(), 3);
        let mut shown = format!("{log:?} {warnings:?} {:?}", log.secrets_for(&random(CR1)));
        for w in &warnings {
            shown.push_str(&w.to_string());
        }
        for needle in [&secret_hex[..16], &secret_hex[16..32], &secret_hex[80..]] {
            assert!(!shown.contains(needle), "{shown}");
        }
        assert!(shown.contains("Secret(48 bytes)"), "{shown}");
        assert!(shown.contains("CLIENT_RANDOM"), "{shown}");
    }

    #[test]
    fn duplicates_are_silent_and_conflicts_keep_the_first() {
        let other = S48.replace('2', "3");
        let text = format!(
            "CLIENT_RANDOM {CR2} {S48}\nCLIENT_RANDOM {CR2} {S48}\nCLIENT_RANDOM {CR2} {other}\n"
        );
        let (log, warnings) = KeyLog::parse(text.as_bytes());
        assert_eq!(
            warnings,
            vec![KeyLogWarning {
                line: 3,
                kind: WarningKind::Conflict {
                    label: Label::ClientRandom
                }
            }]
        );
        let secrets = log.secrets_for(&random(CR2)).unwrap();
        assert_eq!(
            secrets.master_secret().unwrap().as_slice(),
            hex(S48).as_slice()
        );
    }

    #[test]
    fn merge_adds_new_randoms_and_labels_and_counts_conflicts() {
        let (mut a, _) = KeyLog::parse(
            format!("CLIENT_RANDOM {CR2} {S48}\nCLIENT_TRAFFIC_SECRET_0 {CR1} {S32}\n").as_bytes(),
        );
        let other = S32.replace('8', "9");
        let (b, _) = KeyLog::parse(
            format!(
                "SERVER_TRAFFIC_SECRET_0 {CR1} {S32}\nCLIENT_TRAFFIC_SECRET_0 {CR1} {other}\n\
                 CLIENT_RANDOM {CR1} {S48}\n"
            )
            .as_bytes(),
        );
        assert_eq!(a.merge(b), 1);
        assert_eq!((a.len(), a.secret_count()), (2, 4));
        let s = a.secrets_for(&random(CR1)).unwrap();
        assert_eq!(
            s.get(Label::ClientTrafficSecret0).unwrap().as_bytes(),
            hex(S32).as_slice()
        );
        assert!(s.get(Label::ServerTrafficSecret0).is_some());
        assert!(s.master_secret().is_some());
    }

    #[test]
    fn warnings_are_capped() {
        let text = "x\n".repeat(MAX_WARNINGS + 5);
        let (_, warnings) = KeyLog::parse(text.as_bytes());
        assert_eq!(warnings.len(), MAX_WARNINGS + 1);
        assert_eq!(
            warnings.last().unwrap(),
            &KeyLogWarning {
                line: MAX_WARNINGS as u64 + 1,
                kind: WarningKind::Suppressed { count: 5 }
            }
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut text = Vec::new();
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let b = [b'C', b'L', b'_', b' ', b'\n', b'0', b'f', b'#', b'\t', 0xff]
                [(state % 10) as usize];
            text.push(b);
        }
        let (log, warnings) = KeyLog::parse(&text);
        assert!(log.is_empty());
        assert!(!warnings.is_empty());
    }

    /// Resident memory in bytes (Linux), to see what a parse costs.
    fn resident() -> Option<u64> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        Some(pages * 4096)
    }

    /// Parses a million lines of key log, `labels.len()` per client random,
    /// and prints the time and the memory the key log holds.
    fn load_a_million_lines(name: &str, labels: &[&str]) {
        use std::fmt::Write as _;
        let mut state = 0x243f_6a88_85a3_08d3u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let randoms = 1_000_000 / labels.len();
        let mut text = String::with_capacity(200 * 1_000_000);
        for _ in 0..randoms {
            let (a, b, c, d) = (next(), next(), next(), next());
            for label in labels {
                writeln!(text, "{label} {a:016x}{b:016x}{c:016x}{d:016x} {S48}").unwrap();
            }
        }
        let before = resident();
        let start = std::time::Instant::now();
        let (log, warnings) = KeyLog::parse(text.as_bytes());
        let elapsed = start.elapsed();
        let after = resident();
        assert!(warnings.is_empty());
        assert_eq!((log.len(), log.secret_count()), (randoms, 1_000_000));
        let held = match (before, after) {
            (Some(b), Some(a)) => format!("{} MB", a.saturating_sub(b) / 1_000_000),
            _ => "unknown".into(),
        };
        println!(
            "{name}: 1M lines ({} MB) parsed in {elapsed:?}, key log holds {held}",
            text.len() / 1_000_000
        );
    }

    /// Run each with `cargo test --release --lib million_line_tls1X --
    /// --ignored --nocapture` (one per process, so that the memory figure
    /// is not freed memory reused); figures in docs/DECRYPTION.md.
    #[test]
    #[ignore]
    fn million_line_tls12_key_log_loads() {
        load_a_million_lines("TLS 1.2 (CLIENT_RANDOM)", &["CLIENT_RANDOM"]);
    }

    #[test]
    #[ignore]
    fn million_line_tls13_key_log_loads() {
        load_a_million_lines(
            "TLS 1.3 (5 secrets per handshake)",
            &[
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                "CLIENT_TRAFFIC_SECRET_0",
                "SERVER_TRAFFIC_SECRET_0",
                "EXPORTER_SECRET",
            ],
        );
    }
}
