//! JA3 and JA4 client fingerprints computed from the fields of one ClientHello, exactly as their published definitions state.

use super::is_grease;
use md5::Md5;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// The ClientHello fields both fingerprints read, in wire order, GREASE
/// values included (each fingerprint drops them itself).
#[derive(Clone, Copy, Debug, Default)]
pub struct HelloFields<'a> {
    /// ClientHello.legacy_version (the handshake field, not the record's).
    pub legacy_version: u16,
    pub ciphers: &'a [u16],
    /// Extension types in the order they appear.
    pub extensions: &'a [u16],
    /// supported_groups (formerly elliptic_curves), extension 10.
    pub groups: &'a [u16],
    /// ec_point_formats, extension 11.
    pub point_formats: &'a [u8],
    /// supported_versions, extension 43.
    pub supported_versions: &'a [u16],
    /// signature_algorithms, extension 13, in order.
    pub sig_algs: &'a [u16],
    /// First protocol name of the ALPN extension, if any.
    pub first_alpn: Option<&'a [u8]>,
}

fn join_decimal(out: &mut String, values: impl Iterator<Item = u16>) {
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push('-');
        }
        let _ = write!(out, "{v}");
    }
}

/// The JA3 string (Salesforce JA3 README, "How it works"):
/// `SSLVersion,Cipher,SSLExtension,EllipticCurve,EllipticCurvePointFormat`,
/// decimal values joined by "-", GREASE values ignored completely.
pub fn ja3_string(f: &HelloFields<'_>) -> String {
    let mut s = String::with_capacity(256);
    let _ = write!(s, "{},", f.legacy_version);
    join_decimal(&mut s, f.ciphers.iter().copied().filter(|v| !is_grease(*v)));
    s.push(',');
    join_decimal(
        &mut s,
        f.extensions.iter().copied().filter(|v| !is_grease(*v)),
    );
    s.push(',');
    join_decimal(&mut s, f.groups.iter().copied().filter(|v| !is_grease(*v)));
    s.push(',');
    join_decimal(&mut s, f.point_formats.iter().map(|v| u16::from(*v)));
    s
}

/// JA3: the MD5 of [`ja3_string`], lower-case hex.
pub fn ja3(f: &HelloFields<'_>) -> String {
    hex(&Md5::digest(ja3_string(f).as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// First 12 hex characters of the SHA-256 of `s`, or "000000000000" when
/// the list is empty (JA4 spec, "Cipher hash" and "Extension hash").
fn hash12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".to_owned();
    }
    let digest = Sha256::digest(s.as_bytes());
    hex(digest.get(..6).unwrap_or_default())
}

fn join_hex(values: impl Iterator<Item = u16>) -> String {
    let mut s = String::with_capacity(128);
    for (i, v) in values.enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{v:04x}");
    }
    s
}

/// JA4 "TLS and DTLS Version": the highest non-GREASE supported_versions
/// value, else the ClientHello version; the handshake record's version is
/// ignored.
fn ja4_version(f: &HelloFields<'_>) -> &'static str {
    let v = f
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max()
        .unwrap_or(f.legacy_version);
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// JA4 "ALPN Extension Value": first and last characters of the first ALPN
/// value; "00" when absent or empty; the first and last hex digits of the
/// value when its first or last byte is not ASCII alphanumeric.
fn ja4_alpn(first: Option<&[u8]>) -> [char; 2] {
    let Some(v) = first else { return ['0', '0'] };
    let (Some(&a), Some(&z)) = (v.first(), v.last()) else {
        return ['0', '0'];
    };
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        return [char::from(a), char::from(z)];
    }
    let digit = |n: u8| char::from_digit(u32::from(n), 16).unwrap_or('0');
    [digit(a >> 4), digit(z & 0x0f)]
}

/// JA4 for TLS over TCP (FoxIO JA4 specification, technical_details/JA4.md):
/// `t` + version + `d`/`i` (SNI present) + 2-digit cipher count + 2-digit
/// extension count (both GREASE-free, capped at 99) + ALPN first/last
/// character, `_`, the first 12 hex characters of the SHA-256 of the sorted
/// 4-hex-digit cipher list, `_`, the same of the sorted extension list
/// without SNI (0000) and ALPN (0010), followed by `_` and the signature
/// algorithms in wire order when there are any.
pub fn ja4(f: &HelloFields<'_>) -> String {
    let mut ciphers: Vec<u16> = f
        .ciphers
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let exts: Vec<u16> = f
        .extensions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let sni = if exts.contains(&0x0000) { 'd' } else { 'i' };
    let [a, z] = ja4_alpn(f.first_alpn);
    let mut out = String::with_capacity(36);
    let _ = write!(
        out,
        "t{}{sni}{:02}{:02}{a}{z}_",
        ja4_version(f),
        ciphers.len().min(99),
        exts.len().min(99)
    );
    ciphers.sort_unstable();
    out.push_str(&hash12(&join_hex(ciphers.into_iter())));
    out.push('_');
    let mut sorted: Vec<u16> = exts
        .into_iter()
        .filter(|v| *v != 0x0000 && *v != 0x0010)
        .collect();
    sorted.sort_unstable();
    let mut c = join_hex(sorted.into_iter());
    let sigs = join_hex(f.sig_algs.iter().copied().filter(|v| !is_grease(*v)));
    // "If there are no signature algorithms ... the string ends without an
    // underscore"; an empty extension list hashes to zeros.
    if !c.is_empty() && !sigs.is_empty() {
        c.push('_');
        c.push_str(&sigs);
    }
    out.push_str(&hash12(&c));
    out
}

#[cfg(test)]
#[allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;

    /// Salesforce JA3 README, "How it works": both published examples.
    #[test]
    fn ja3_matches_the_readme_examples() {
        let ciphers = [47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4];
        let f = HelloFields {
            legacy_version: 769,
            ciphers: &ciphers,
            extensions: &[0, 10, 11],
            groups: &[23, 24, 25],
            point_formats: &[0],
            ..HelloFields::default()
        };
        assert_eq!(
            ja3_string(&f),
            "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0"
        );
        assert_eq!(ja3(&f), "ada70206e40642a3e4461f35503241d5");

        let ciphers = [4, 5, 10, 9, 100, 98, 3, 6, 19, 18, 99];
        let f = HelloFields {
            legacy_version: 769,
            ciphers: &ciphers,
            ..HelloFields::default()
        };
        assert_eq!(ja3_string(&f), "769,4-5-10-9-100-98-3-6-19-18-99,,,");
        assert_eq!(ja3(&f), "de350869b8c85de67a350c8d186f11e6");
    }

    #[test]
    fn ja3_drops_grease_everywhere() {
        let f = HelloFields {
            legacy_version: 771,
            ciphers: &[0x0a0a, 4865],
            extensions: &[0x1a1a, 0, 0xfafa],
            groups: &[0x2a2a, 29],
            point_formats: &[0],
            ..HelloFields::default()
        };
        assert_eq!(ja3_string(&f), "771,4865,0,29,0");
    }

    /// The example of the JA4 specification (technical_details/JA4.md,
    /// "Example"), with GREASE values added to show they are ignored.
    #[test]
    fn ja4_matches_the_spec_example() {
        let ciphers = [
            0x2a2a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
            0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ];
        let exts = [
            0x0a0a, 0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023,
            0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015, 0xeaea,
        ];
        let sigs = [
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ];
        let f = HelloFields {
            legacy_version: 0x0303,
            ciphers: &ciphers,
            extensions: &exts,
            supported_versions: &[0x7a7a, 0x0304, 0x0303],
            sig_algs: &sigs,
            first_alpn: Some(b"h2"),
            ..HelloFields::default()
        };
        assert_eq!(ja4(&f), "t13d1516h2_8daaf6152771_e5627efa2ab1");

        // "If there are no signature algorithms": 6d807ffa2a79 in the spec.
        let f = HelloFields { sig_algs: &[], ..f };
        assert_eq!(ja4(&f), "t13d1516h2_8daaf6152771_6d807ffa2a79");
    }

    #[test]
    fn ja4_alpn_rules_of_the_spec() {
        // The five examples listed under "ALPN Extension Value".
        assert_eq!(ja4_alpn(Some(&[0xab])), ['a', 'b']);
        assert_eq!(ja4_alpn(Some(&[0xab, 0xcd])), ['a', 'd']);
        assert_eq!(ja4_alpn(Some(&[0x30, 0xab])), ['3', 'b']);
        assert_eq!(ja4_alpn(Some(&[0x30, 0x31, 0xab, 0xcd])), ['3', 'd']);
        assert_eq!(ja4_alpn(Some(&[0x30, 0xab, 0xcd, 0x31])), ['0', '1']);
        assert_eq!(ja4_alpn(Some(b"http/1.1")), ['h', '1']);
        assert_eq!(ja4_alpn(Some(b"x")), ['x', 'x']);
        assert_eq!(ja4_alpn(Some(b"")), ['0', '0']);
        assert_eq!(ja4_alpn(None), ['0', '0']);
    }

    #[test]
    fn ja4_empty_lists_hash_to_zeros() {
        let f = HelloFields {
            legacy_version: 0x0301,
            ..HelloFields::default()
        };
        assert_eq!(ja4(&f), "t10i000000_000000000000_000000000000");
    }
}
