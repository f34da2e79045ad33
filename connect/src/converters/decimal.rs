//! Connect decimals (a big-endian two's-complement unscaled integer plus a `scale` parameter) to and from
//! decimal text, for the JSON converter's NUMERIC format. Arbitrary length, as Java's BigDecimal is; no bignum
//! crate needed for two conversions.

use crate::data::{Schema, DECIMAL};
use crate::error::ConnectError;

/// The `scale` parameter of a Decimal schema. Kafka refuses a Decimal schema without one, and so do we.
pub(crate) fn scale(schema: &Schema) -> Result<i32, ConnectError> {
    let text = schema
        .parameters
        .get("scale")
        .ok_or_else(|| ConnectError::Conversion(format!("invalid {DECIMAL} schema: it has no `scale` parameter")))?;
    text.parse().map_err(|_| {
        ConnectError::Conversion(format!("invalid {DECIMAL} schema: `scale` parameter {text:?} is not an integer"))
    })
}

/// `unscaled` (two's complement, big-endian; empty is zero) with `scale` as decimal text, e.g. `-12.30`.
pub(crate) fn to_text(unscaled: &[u8], scale: i32) -> String {
    let negative = unscaled.first().is_some_and(|b| b & 0x80 != 0);
    let mut magnitude: Vec<u8> = if negative { negate(unscaled) } else { unscaled.to_vec() };
    let mut digits = Vec::new();
    while magnitude.iter().any(|&b| b != 0) {
        let mut remainder = 0u32;
        for byte in magnitude.iter_mut() {
            let acc = (remainder << 8) | u32::from(*byte);
            *byte = (acc / 10) as u8;
            remainder = acc % 10;
        }
        digits.push(b'0' + remainder as u8);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    digits.reverse();
    let mut text = String::from_utf8(digits).expect("ASCII digits");
    if scale > 0 {
        let scale = scale as usize;
        if text.len() <= scale {
            text = format!("{}{text}", "0".repeat(scale + 1 - text.len()));
        }
        text.insert(text.len() - scale, '.');
    } else if scale < 0 && text != "0" {
        text.push_str(&"0".repeat(scale.unsigned_abs() as usize));
    }
    if negative {
        text.insert(0, '-');
    }
    text
}

/// Decimal text (`-12.3`, `1e3`, `7`) as the minimal two's-complement bytes of its unscaled value at `scale`.
/// Digits that the scale would drop must be zeros: rounding silently would change the data.
pub(crate) fn from_text(text: &str, scale: i32) -> Result<Vec<u8>, String> {
    let bad = || format!("{text:?} is not a decimal number");
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    // digits × 10^(exponent − fraction length) = unscaled × 10^(−scale)
    let mut digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).map(|b| b - b'0').collect();
    let shift = i64::from(exponent) - frac_part.len() as i64 + i64::from(scale);
    if shift >= 0 {
        if shift > 10_000 {
            return Err(format!("{text:?} is too large for a decimal of scale {scale}"));
        }
        digits.extend(std::iter::repeat_n(0, shift as usize));
    } else {
        let drop = shift.unsigned_abs() as usize;
        let keep = digits.len().saturating_sub(drop);
        if digits[keep..].iter().any(|&d| d != 0) {
            return Err(format!("{text:?} has more fractional digits than the decimal's scale {scale}"));
        }
        digits.truncate(keep);
    }
    let mut magnitude: Vec<u8> = vec![0];
    for digit in digits {
        let mut carry = u32::from(digit);
        for byte in magnitude.iter_mut().rev() {
            let acc = u32::from(*byte) * 10 + carry;
            *byte = (acc & 0xff) as u8;
            carry = acc >> 8;
        }
        while carry > 0 {
            magnitude.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    // A leading zero byte keeps the sign bit clear; then strip redundant ones, as Java's toByteArray does.
    magnitude.insert(0, 0);
    let mut bytes = if negative { negate(&magnitude) } else { magnitude };
    while bytes.len() > 1 && ((bytes[0] == 0 && bytes[1] & 0x80 == 0) || (bytes[0] == 0xff && bytes[1] & 0x80 != 0)) {
        bytes.remove(0);
    }
    Ok(bytes)
}

/// Two's-complement negation of a big-endian integer (same length).
fn negate(bytes: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = bytes.iter().map(|b| !b).collect();
    for byte in out.iter_mut().rev() {
        let (sum, overflow) = byte.overflowing_add(1);
        *byte = sum;
        if !overflow {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips() {
        let cases: &[(&[u8], i32, &str)] = &[
            (&[0], 2, "0.00"),
            (&[0x04, 0xd2], 2, "12.34"),
            (&[0xfb, 0x2e], 2, "-12.34"),
            (&[0x01], 3, "0.001"),
            (&[0xff], 1, "-0.1"),
            (&[0x00, 0x80], 0, "128"),
            (&[0x80], 0, "-128"),
            (&[0x7f], -2, "12700"),
            (&[0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], 0, "18446744073709551616"),
        ];
        for &(bytes, scale, text) in cases {
            assert_eq!(to_text(bytes, scale), text, "{bytes:?} scale {scale}");
            assert_eq!(from_text(text, scale).unwrap(), bytes, "{text} scale {scale}");
        }
    }

    #[test]
    fn from_text_rescales_and_refuses_lost_digits() {
        assert_eq!(from_text("12.3", 2).unwrap(), vec![0x04, 0xce]);
        assert_eq!(from_text("1.23e1", 2).unwrap(), vec![0x04, 0xce]);
        assert_eq!(from_text("12.300", 2).unwrap(), vec![0x04, 0xce]);
        assert!(from_text("12.345", 2).unwrap_err().contains("scale 2"));
        assert!(from_text("abc", 2).is_err());
        assert!(from_text(".", 2).is_err());
        assert!(from_text("", 2).is_err());
    }

    #[test]
    fn scale_comes_from_parameters() {
        let schema = Schema::primitive(crate::data::SchemaType::Bytes).with_name(DECIMAL);
        assert!(scale(&schema).unwrap_err().to_string().contains("scale"));
        assert_eq!(scale(&schema.with_parameter("scale", "4")).unwrap(), 4);
    }
}
