//! Kubernetes resource quantities ("100m", "1.5", "2Gi", "512Mi", "1e3", "1k") as exact integers.
//!
//! A quantity is held in thousandths ("milli-units"), the finest unit the scheduler looks at:
//! CPU is compared in millicores, memory and storage in bytes. Parsing is exact integer arithmetic
//! (no floats), and rounds *up* as the API server does when a value is finer than a milli-unit.

use std::fmt;

/// A parsed resource quantity, in milli-units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity {
    millis: i64,
}

/// Why a quantity string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid quantity {input:?}: {problem}")]
pub struct QuantityError {
    input: String,
    problem: &'static str,
}

impl Quantity {
    /// The quantity `millis / 1000`.
    pub const fn from_millis(millis: i64) -> Self {
        Self { millis }
    }

    /// The quantity `value` (whole units).
    pub const fn from_value(value: i64) -> Self {
        Self {
            millis: value.saturating_mul(1000),
        }
    }

    /// Thousandths of a unit: millicores for CPU.
    pub const fn millis(self) -> i64 {
        self.millis
    }

    /// Whole units, rounded up: bytes for memory, a count for pods and GPUs.
    pub const fn value(self) -> i64 {
        self.millis.div_euclid(1000) + (self.millis.rem_euclid(1000) != 0) as i64
    }

    /// Parses the Kubernetes quantity syntax: `[+-]digits[.digits][suffix]` where the suffix is a
    /// binary SI one (Ki Mi Gi Ti Pi Ei), a decimal SI one (n u m "" k M G T P E) or a decimal
    /// exponent (`e3`, `E-2`).
    pub fn parse(input: &str) -> Result<Self, QuantityError> {
        let fail = |problem| QuantityError {
            input: input.to_owned(),
            problem,
        };
        let s = input.trim();
        let (negative, s) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let number_len = s
            .bytes()
            .position(|b| !(b.is_ascii_digit() || b == b'.'))
            .unwrap_or(s.len());
        let (number, suffix) = s.split_at(number_len);
        if number.is_empty() || number == "." {
            return Err(fail("expected a number"));
        }
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if fraction.contains('.') {
            return Err(fail("more than one decimal point"));
        }
        // Leading zeros carry no value; more than 30 significant digits cannot fit in i64 millis.
        let digits = format!("{whole}{fraction}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 30 {
            return Err(fail("too many digits"));
        }
        let mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| fail("expected a number"))?
        };
        let scale = fraction.len() as i32;

        // value = mantissa * 10^-scale * multiplier; millis = value * 1000, rounded up.
        let (numerator, denominator) = match suffix {
            "Ki" => (1i128 << 10, 1i128),
            "Mi" => (1 << 20, 1),
            "Gi" => (1 << 30, 1),
            "Ti" => (1 << 40, 1),
            "Pi" => (1 << 50, 1),
            "Ei" => (1 << 60, 1),
            _ => {
                let exponent = match suffix {
                    "n" => -9,
                    "u" => -6,
                    "m" => -3,
                    "" => 0,
                    "k" => 3,
                    "M" => 6,
                    "G" => 9,
                    "T" => 12,
                    "P" => 15,
                    "E" => 18,
                    _ => match suffix.strip_prefix(['e', 'E']) {
                        Some(exp) if !exp.is_empty() => exp
                            .parse::<i32>()
                            .ok()
                            .filter(|e| e.abs() <= 40)
                            .ok_or_else(|| fail("bad exponent"))?,
                        _ => return Err(fail("unknown suffix")),
                    },
                };
                let exponent = exponent + 3 - scale;
                let ten = |e: i32| {
                    10i128
                        .checked_pow(e as u32)
                        .ok_or_else(|| fail("too large"))
                };
                let millis = if exponent >= 0 {
                    mantissa
                        .checked_mul(ten(exponent)?)
                        .ok_or_else(|| fail("too large"))?
                } else {
                    div_ceil(mantissa, ten(-exponent)?)
                };
                return finish(millis, negative).ok_or_else(|| fail("too large"));
            }
        };
        let ten_scale = 10i128
            .checked_pow(scale as u32)
            .ok_or_else(|| fail("too many digits"))?;
        let millis = mantissa
            .checked_mul(1000)
            .and_then(|m| m.checked_mul(numerator))
            .ok_or_else(|| fail("too large"))?;
        let millis = div_ceil(millis, ten_scale * denominator);
        finish(millis, negative).ok_or_else(|| fail("too large"))
    }
}

fn div_ceil(a: i128, b: i128) -> i128 {
    a / b + i128::from(a % b != 0)
}

fn finish(millis: i128, negative: bool) -> Option<Quantity> {
    let millis = i64::try_from(millis).ok()?;
    Some(Quantity {
        millis: if negative { -millis } else { millis },
    })
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.millis % 1000 == 0 {
            write!(f, "{}", self.millis / 1000)
        } else {
            write!(f, "{}m", self.millis)
        }
    }
}

impl serde::Serialize for Quantity {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

// The API server prints quantities as strings, but hand-written snapshots often use bare numbers.
impl<'de> serde::Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a resource quantity such as \"100m\", \"2Gi\" or 4")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quantity, E> {
                Quantity::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity::from_value(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity::from_value(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Quantity, E> {
                Quantity::parse(&v.to_string()).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    #[test]
    fn millicores_and_fractions_parse_to_the_same_millis() {
        assert_eq!(q("100m").millis(), 100);
        assert_eq!(q("0.1").millis(), 100);
        assert_eq!(q("1.5").millis(), 1500);
        assert_eq!(q("2").millis(), 2000);
        assert_eq!(q(".5").millis(), 500);
    }

    #[test]
    fn binary_suffixes_are_powers_of_1024() {
        assert_eq!(q("2Gi").value(), 2 * 1024 * 1024 * 1024);
        assert_eq!(q("512Mi").value(), 512 * 1024 * 1024);
        assert_eq!(q("1Ki").value(), 1024);
        assert_eq!(q("1.5Gi").value(), 1536 * 1024 * 1024);
    }

    #[test]
    fn decimal_suffixes_and_exponents_are_powers_of_ten() {
        assert_eq!(q("1k").value(), 1000);
        assert_eq!(q("1e3").value(), 1000);
        assert_eq!(q("1E3").value(), 1000);
        assert_eq!(q("2M").value(), 2_000_000);
        assert_eq!(q("1G").value(), 1_000_000_000);
        assert_eq!(q("5e-1").millis(), 500);
        assert_eq!(q("1P").value(), 1_000_000_000_000_000);
        assert!(
            Quantity::parse("1E").is_err(),
            "an exa-unit overflows i64 millis"
        );
    }

    #[test]
    fn values_finer_than_a_milliunit_round_up() {
        assert_eq!(q("1n").millis(), 1);
        assert_eq!(q("1500u").millis(), 2);
        assert_eq!(q("0.0001").millis(), 1);
        assert_eq!(q("1m").value(), 1, "a millibyte still costs a byte");
    }

    #[test]
    fn garbage_is_rejected_with_the_input_quoted() {
        for bad in [
            "",
            "abc",
            "1.2.3",
            "1Zi",
            "1e",
            "--1",
            "1e99",
            "99999999999999999999999Ei",
        ] {
            let error = Quantity::parse(bad).unwrap_err();
            assert!(error.to_string().contains(&format!("{bad:?}")), "{error}");
        }
    }

    #[test]
    fn numbers_in_json_are_accepted_as_quantities() {
        let parsed: Vec<Quantity> = serde_json::from_str(r#"[4, "250m", 0.5]"#).unwrap();
        assert_eq!(parsed, vec![q("4"), q("250m"), q("500m")]);
    }

    proptest! {
        #[test]
        fn integer_millis_round_trip_through_display(millis in 0i64..1_000_000_000_000) {
            let quantity = Quantity::from_millis(millis);
            prop_assert_eq!(q(&quantity.to_string()), quantity);
        }

        #[test]
        fn mebibytes_equal_their_byte_count(n in 0i64..1_000_000) {
            prop_assert_eq!(q(&format!("{n}Mi")).value(), n * 1024 * 1024);
            prop_assert_eq!(q(&format!("{n}Mi")), q(&(n * 1024 * 1024).to_string()));
        }
    }
}
