//! The SimpleDateFormat subset: formatting and parsing rows, and the calendar arithmetic at its edges.

use crate::transforms::date_format::{civil_from_days, days_from_civil, DateFormat};

#[test]
fn format_rows() -> Result<(), String> {
    let ts = 1_700_000_000_123; // Tuesday 2023-11-14T22:13:20.123Z
    let rows: &[(&str, i64, &str)] = &[
        ("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", ts, "2023-11-14T22:13:20.123Z"),
        ("yyyyMMdd", ts, "20231114"),
        ("yy/M/d h:mm a", ts, "23/11/14 10:13 PM"),
        ("EEEE, MMMM d, yyyy G", ts, "Tuesday, November 14, 2023 AD"),
        ("D 'day' u k K", ts, "318 day 2 22 10"),
        ("HH:mm:ss Z X z", ts, "22:13:20 +0000 Z UTC"),
        ("'o''clock' ''", 0, "o'clock '"),
        ("yyyy-MM-dd HH:mm:ss.SSS", -1, "1969-12-31 23:59:59.999"),
        ("yyyy-MM-dd", 951_782_400_000, "2000-02-29"),
    ];
    for (pattern, millis, want) in rows {
        let got = DateFormat::compile(pattern)?.format(*millis);
        assert_eq!(&got, want, "format {pattern} of {millis}");
    }
    Ok(())
}

#[test]
fn parse_rows() -> Result<(), String> {
    let rows: &[(&str, &str, i64)] = &[
        ("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", "2023-11-14T22:13:20.123Z", 1_700_000_000_123),
        ("yyyyMMdd", "20231114", 1_699_920_000_000),
        ("yyyy-MM-dd HH:mm:ssXXX", "2023-11-15 00:13:20+02:00", 1_700_000_000_000),
        ("yyyy-MM-dd HH:mm:ss Z", "2023-11-14 17:13:20 -0500", 1_700_000_000_000),
        ("dd MMM yyyy hh:mm a", "14 Nov 2023 10:13 pm", 1_700_000_000_000 - 20_000),
        ("yyyy-MM-dd", "2023-11-14 and more", 1_699_920_000_000),
        ("yyyy-MM-dd", "2023-13-01", 1_704_067_200_000), // lenient: month 13 is January next year
    ];
    for (pattern, text, want) in rows {
        let got = DateFormat::compile(pattern)?.parse(text)?;
        assert_eq!(got, *want, "parse {text:?} with {pattern}");
    }
    let strict = DateFormat::compile("yyyy-MM-dd")?;
    assert!(strict.parse("14/11/2023").is_err());
    Ok(())
}

#[test]
fn bad_patterns_are_rejected() {
    for pattern in ["yyyy-qq", "'unterminated", "YYYY-ww"] {
        assert!(DateFormat::compile(pattern).is_err(), "{pattern}");
    }
}

#[test]
fn civil_days_round_trip() {
    for days in [-719_468, -1, 0, 1, 59, 60, 11_016, 19_675, 2_932_896] {
        let (y, m, d) = civil_from_days(days);
        assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
    }
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(-1), (1969, 12, 31));
    assert_eq!(days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28), 2);
}

proptest::proptest! {
    /// Formatting then parsing an ISO-8601 timestamp gives back the same instant, for years 0001 to 9999.
    #[test]
    fn iso_timestamps_round_trip(millis in -62_135_596_800_000i64..253_402_300_799_999) {
        let format = DateFormat::compile("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").map_err(proptest::test_runner::TestCaseError::fail)?;
        let text = format.format(millis);
        proptest::prop_assert_eq!(format.parse(&text), Ok(millis), "{}", text);
    }
}
