//! Capture timestamps: nanoseconds since the Unix epoch, printed as RFC 3339.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A capture timestamp in nanoseconds since 1970-01-01T00:00:00Z (UTC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ts(pub i64);

impl Ts {
    pub fn from_secs_nanos(secs: i64, nanos: u32) -> Ts {
        Ts(secs
            .saturating_mul(1_000_000_000)
            .saturating_add(i64::from(nanos)))
    }

    /// Seconds from `earlier` to `self`, negative when `self` is earlier.
    pub fn secs_since(self, earlier: Ts) -> f64 {
        self.0.saturating_sub(earlier.0) as f64 / 1e9
    }
}

/// Days since 1970-01-01 to a civil date (proleptic Gregorian), after
/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Ts {
    /// RFC 3339 in UTC with nanoseconds, `2026-11-26T01:02:03.123456789Z`:
    /// always 30 ASCII bytes, as every year an `i64` of nanoseconds can
    /// hold (1677 to 2262) has four digits. Written digit by digit: the
    /// JSON report writes several per connection.
    pub fn rfc3339(self) -> [u8; 30] {
        let secs = self.0.div_euclid(1_000_000_000);
        let nanos = self.0.rem_euclid(1_000_000_000) as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        let (y, m, d) = civil_from_days(days);
        let mut out = *b"0000-00-00T00:00:00.000000000Z";
        let mut put = |at: usize, width: usize, mut v: u32| {
            for slot in out.iter_mut().skip(at).take(width).rev() {
                *slot = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, y.clamp(0, 9999) as u32);
        put(5, 2, m);
        put(8, 2, d);
        put(11, 2, sod / 3600);
        put(14, 2, (sod / 60) % 60);
        put(17, 2, sod % 60);
        put(20, 9, nanos);
        out
    }
}

impl fmt::Display for Ts {
    /// RFC 3339 in UTC with nanoseconds: `2026-11-26T01:02:03.123456789Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.rfc3339();
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

/// RFC 3339 in the report; nanoseconds in the spill of finished
/// connections, which is the only thing read back.
impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            let text = self.rfc3339();
            s.serialize_str(std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?)
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        i64::deserialize(d).map(Ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(Ts(0).to_string(), "1970-01-01T00:00:00.000000000Z");
        // date -u -d @1764118923 +%FT%T => 2025-11-26T01:02:03
        assert_eq!(
            Ts::from_secs_nanos(1_764_118_923, 5).to_string(),
            "2025-11-26T01:02:03.000000005Z"
        );
        // A leap day: date -u -d @951782400 => 2000-02-29T00:00:00
        assert_eq!(
            Ts::from_secs_nanos(951_782_400, 0).to_string(),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(Ts(-1).to_string(), "1969-12-31T23:59:59.999999999Z");
        // The ends of what an i64 of nanoseconds holds:
        // date -u -d @-9223372037 => 1677-09-21T00:12:43,
        // date -u -d @9223372036 => 2262-04-11T23:47:16.
        assert_eq!(Ts(i64::MIN).to_string(), "1677-09-21T00:12:43.145224192Z");
        assert_eq!(Ts(i64::MAX).to_string(), "2262-04-11T23:47:16.854775807Z");
    }

    proptest::proptest! {
        /// The digit-by-digit text equals formatting the same fields.
        #[test]
        fn written_digits_equal_formatted_fields(ns in proptest::num::i64::ANY) {
            let secs = ns.div_euclid(1_000_000_000);
            let nanos = ns.rem_euclid(1_000_000_000);
            let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
            let sod = secs.rem_euclid(86_400);
            let want = format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
                sod / 3600,
                (sod / 60) % 60,
                sod % 60
            );
            proptest::prop_assert_eq!(Ts(ns).to_string(), want);
        }
    }
}
