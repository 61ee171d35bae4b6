//! Numbers in messages, written as PHP writes them (`var_export`): a
//! message quotes what the application passed in the application's terms.

/// `1.0`, `0.25`, `1.0E+300`, `INF`, `NAN`.
pub fn php_float(value: f64) -> String {
    if value.is_nan() {
        return "NAN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "INF" } else { "-INF" }.to_owned();
    }
    // Rust's shortest round-trip digits; PHP switches to the exponent form
    // below 1e-4 and from 1e15 on.
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if value != 0.0 && !(-4..15).contains(&exponent) {
        let mantissa = with_fraction(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}E{sign}{}", exponent.abs());
    }
    with_fraction(&format!("{value}"))
}

fn with_fraction(digits: &str) -> String {
    if digits.contains('.') {
        digits.to_owned()
    } else {
        format!("{digits}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_read_as_php_writes_them() {
        let cases = [
            (1e300, "1.0E+300"),
            (1e19, "1.0E+19"),
            (1.5e15, "1.5E+15"),
            (123456789012345.0, "123456789012345.0"),
            (0.25, "0.25"),
            (-1.0, "-1.0"),
            (0.0001, "0.0001"),
            (0.00001, "1.0E-5"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (f64::INFINITY, "INF"),
            (f64::NEG_INFINITY, "-INF"),
            (f64::NAN, "NAN"),
        ];
        for (value, php) in cases {
            assert_eq!(php_float(value), php, "{value:e}");
        }
    }
}
