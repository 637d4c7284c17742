//! Input scaling: what the loaders do to the input values after reading
//! them, as a Keras user writes it (`x.astype("float32") / 255.0`).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// How input values are scaled after loading. Written (`Display`) and read
/// (`FromStr`) as text, so that a checkpoint can record it:
///
/// | text | scale |
/// | --- | --- |
/// | `none` | values as stored ([`Scale::None`]) |
/// | `1/N` | each value divided by `N` ([`Scale::Divide`]), e.g. `1/255`, `1/16`, `1/127.5` |
///
/// `N` is a decimal number (as Rust's `f32` parses it: `255`, `255.0`,
/// `2.55e2`) that must be finite and positive. Nothing else is accepted
/// (no plain factors such as `0.5`, no offsets). `Display` writes the
/// divisor in the shortest form that parses back to the same `f32`, so
/// `s.parse::<Scale>()?.to_string().parse::<Scale>()` gives the same scale
/// (and `1/255` stays `1/255`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// Values as stored.
    None,
    /// Each value divided by this number, in `f32`: a true division as in
    /// NumPy's `x / 255.0`, not a multiplication by a rounded reciprocal.
    /// [`FromStr`] only makes finite, positive divisors.
    Divide(f32),
}

impl Scale {
    /// `1/255`: bytes (0..255) to 0..1, the default of the image formats.
    pub const BYTE: Scale = Scale::Divide(255.0);

    /// One value, scaled.
    #[inline]
    pub fn apply(self, v: f32) -> f32 {
        match self {
            Scale::None => v,
            Scale::Divide(d) => v / d,
        }
    }

    /// Every value of `x`, scaled in place.
    pub fn apply_all(self, x: &mut ndarray::ArrayD<f32>) {
        if let Scale::Divide(d) = self {
            x.mapv_inplace(|v| v / d);
        }
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scale::None => f.write_str("none"),
            // f32's Display is the shortest text that parses back exactly.
            Scale::Divide(d) => write!(f, "1/{d}"),
        }
    }
}

impl FromStr for Scale {
    type Err = Error;

    /// `none` or `1/N` (see [`Scale`]); anything else is an
    /// [`Error::Config`] that says what is accepted.
    fn from_str(s: &str) -> Result<Scale> {
        let usage = "use `none` or `1/N` with N a positive number, e.g. `1/255`";
        if s == "none" {
            return Ok(Scale::None);
        }
        let Some(n) = s.strip_prefix("1/") else {
            let hint = match s.parse::<f32>() {
                Ok(v) if v > 1.0 => format!(" (to divide by {s}, write `1/{s}`)"),
                Ok(_) => " (plain factors are not accepted: write the divisor as `1/N`)".into(),
                Err(_) => String::new(),
            };
            return Err(Error::Config(format!("scale `{s}`: {usage}{hint}")));
        };
        match n.parse::<f32>() {
            // A subnormal divisor overflows any byte value (255 / 1e-40).
            Ok(d) if d.is_finite() && d >= f32::MIN_POSITIVE => Ok(Scale::Divide(d)),
            Ok(_) => Err(Error::Config(format!(
                "scale `{s}`: the divisor must be finite and at least {:e}; {usage}",
                f32::MIN_POSITIVE
            ))),
            Err(_) => Err(Error::Config(format!(
                "scale `{s}`: `{n}` is not a number; {usage}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips() {
        for (text, scale) in [
            ("none", Scale::None),
            ("1/255", Scale::Divide(255.0)),
            ("1/16", Scale::Divide(16.0)),
            ("1/127.5", Scale::Divide(127.5)),
            ("1/0.1", Scale::Divide(0.1)),
        ] {
            let parsed: Scale = text.parse().unwrap();
            assert_eq!(parsed, scale, "{text}");
            assert_eq!(parsed.to_string(), text);
        }
        // Other spellings of the same number parse, and print canonically.
        assert_eq!("1/255.0".parse::<Scale>().unwrap().to_string(), "1/255");
        assert_eq!("1/2.55e2".parse::<Scale>().unwrap(), Scale::BYTE);
    }

    #[test]
    fn display_then_parse_is_exact_for_any_divisor() {
        // Normal divisors only: a subnormal one is refused (it overflows bytes).
        for bits in [
            0x3f80_0001,
            0x4b7f_ffff,
            0x7f7f_ffff,
            0x0080_0000,
            0x0080_0001,
        ] {
            let scale = Scale::Divide(f32::from_bits(bits));
            assert_eq!(scale.to_string().parse::<Scale>().unwrap(), scale);
        }
    }

    #[test]
    fn bad_text_says_what_is_accepted() {
        for (text, fragment) in [
            ("", "use `none` or `1/N`"),
            ("None", "use `none` or `1/N`"),
            ("255", "write `1/255`"),
            ("0.5", "plain factors are not accepted"),
            ("1/0", "finite and at least"),
            ("1/-3", "finite and at least"),
            ("1/inf", "finite and at least"),
            ("1/NaN", "finite and at least"),
            ("1/1e-40", "finite and at least"),
            ("1/x", "`x` is not a number"),
            ("2/255", "use `none` or `1/N`"),
            (" 1/255", "use `none` or `1/N`"),
        ] {
            let e = text.parse::<Scale>().unwrap_err();
            assert!(matches!(e, Error::Config(_)), "{e:?}");
            assert!(e.to_string().contains(fragment), "{text}: {e}");
        }
    }

    #[test]
    fn divides_like_numpy() {
        // x / 255.0 in f32, not x * (1 / 255.0): the two differ for some bytes.
        let recip = 1.0f32 / 255.0;
        let differs = (0..=255u8).any(|p| p as f32 * recip != p as f32 / 255.0);
        assert!(differs, "the test needs a byte where they differ");
        for p in 0..=255u8 {
            assert_eq!(Scale::BYTE.apply(p as f32), p as f32 / 255.0);
        }
        assert_eq!(Scale::None.apply(7.5), 7.5);
    }
}
