//! [`DateFormat`]: the part of Java's `SimpleDateFormat` that Connect's transforms use, always in UTC (as
//! TimestampConverter and TimestampRouter set it), so `format` and `timestamp.format` patterns written for Kafka
//! give the same text here. Letters: `G y M L d D E u a H k K h m s S z Z X` and quoted literals; parsing is
//! lenient like Java's (out-of-range fields roll over, trailing text is ignored, `S` counts milliseconds).
//! Dates use the proleptic Gregorian calendar (Java switches to Julian before 1582).

const DAY_MS: i64 = 86_400_000;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(String),
    Field(char, usize),
}

/// A compiled `SimpleDateFormat` pattern, formatting and parsing in UTC.
#[derive(Debug, Clone)]
pub(crate) struct DateFormat {
    pattern: String,
    tokens: Vec<Token>,
}

impl DateFormat {
    /// Compiles a pattern, or says which character Java would also reject.
    pub(crate) fn compile(pattern: &str) -> Result<DateFormat, String> {
        let mut tokens = Vec::new();
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        let mut literal = String::new();
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                if chars.get(i + 1) == Some(&'\'') {
                    literal.push('\'');
                    i += 2;
                    continue;
                }
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("Unterminated quote in pattern {pattern:?}")),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            literal.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(other) => {
                            literal.push(*other);
                            i += 1;
                        }
                    }
                }
            } else if c.is_ascii_alphabetic() {
                match c {
                    'G' | 'y' | 'M' | 'L' | 'd' | 'D' | 'E' | 'u' | 'a' | 'H' | 'k' | 'K' | 'h' | 'm' | 's' | 'S'
                    | 'z' | 'Z' | 'X' => {}
                    'Y' | 'w' | 'W' | 'F' => {
                        return Err(format!("pattern letter '{c}' (week-based fields) is not supported; use y, M, d"))
                    }
                    _ => return Err(format!("Illegal pattern character '{c}'")),
                }
                let start = i;
                while i < chars.len() && chars[i] == c {
                    i += 1;
                }
                if !literal.is_empty() {
                    tokens.push(Token::Literal(std::mem::take(&mut literal)));
                }
                tokens.push(Token::Field(c, i - start));
            } else {
                literal.push(c);
                i += 1;
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(DateFormat { pattern: pattern.to_string(), tokens })
    }

    pub(crate) fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Formats milliseconds since the epoch.
    pub(crate) fn format(&self, millis: i64) -> String {
        let days = millis.div_euclid(DAY_MS);
        let ms_of_day = millis.rem_euclid(DAY_MS);
        let (year, month, day) = civil_from_days(days);
        let hour = ms_of_day / 3_600_000;
        let minute = ms_of_day / 60_000 % 60;
        let second = ms_of_day / 1000 % 60;
        let milli = ms_of_day % 1000;
        let weekday = (days + 4).rem_euclid(7) as usize;
        let mut out = String::new();
        for token in &self.tokens {
            let (c, n) = match token {
                Token::Literal(s) => {
                    out.push_str(s);
                    continue;
                }
                Token::Field(c, n) => (*c, *n),
            };
            let number = |out: &mut String, v: i64| out.push_str(&format!("{v:0n$}"));
            match c {
                'G' => out.push_str(if year > 0 { "AD" } else { "BC" }),
                'y' => {
                    let y = if year > 0 { year } else { 1 - year };
                    if n == 2 {
                        number(&mut out, y % 100)
                    } else {
                        number(&mut out, y)
                    }
                }
                'M' | 'L' => match n {
                    1 | 2 => number(&mut out, i64::from(month)),
                    3 => out.push_str(&MONTHS[month as usize - 1][..3]),
                    _ => out.push_str(MONTHS[month as usize - 1]),
                },
                'd' => number(&mut out, i64::from(day)),
                'D' => number(&mut out, days - days_from_civil(year, 1, 1) + 1),
                'E' => out.push_str(if n <= 3 { &WEEKDAYS[weekday][..3] } else { WEEKDAYS[weekday] }),
                'u' => number(&mut out, if weekday == 0 { 7 } else { weekday as i64 }),
                'a' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
                'H' => number(&mut out, hour),
                'k' => number(&mut out, if hour == 0 { 24 } else { hour }),
                'K' => number(&mut out, hour % 12),
                'h' => number(&mut out, if hour % 12 == 0 { 12 } else { hour % 12 }),
                'm' => number(&mut out, minute),
                's' => number(&mut out, second),
                'S' => number(&mut out, milli),
                'z' => out.push_str(if n >= 4 { "Coordinated Universal Time" } else { "UTC" }),
                'Z' => out.push_str("+0000"),
                'X' => out.push('Z'),
                _ => {}
            }
        }
        out
    }

    /// Parses text from its start as Java's `DateFormat.parse` does (trailing text is ignored).
    pub(crate) fn parse(&self, text: &str) -> Result<i64, String> {
        self.parse_prefix(text).map(|(millis, _)| millis)
    }

    /// Parses text from its start; returns milliseconds since the epoch and how many bytes were used.
    pub(crate) fn parse_prefix(&self, text: &str) -> Result<(i64, usize), String> {
        let unparseable = || format!("Unparseable date: \"{text}\"");
        let bytes = text.as_bytes();
        let mut pos = 0usize;
        let mut f = Parsed::default();
        for (i, token) in self.tokens.iter().enumerate() {
            let (c, n) = match token {
                Token::Literal(s) => {
                    if !text[pos..].starts_with(s.as_str()) {
                        return Err(unparseable());
                    }
                    pos += s.len();
                    continue;
                }
                Token::Field(c, n) => (*c, *n),
            };
            let abutting = matches!(self.tokens.get(i + 1), Some(Token::Field(next, m)) if is_numeric(*next, *m));
            if is_numeric(c, n) {
                let negative_ok = c == 'y' && !abutting;
                let (value, used) = read_number(&bytes[pos..], if abutting { Some(n) } else { None }, negative_ok)
                    .ok_or_else(unparseable)?;
                match c {
                    'y' => {
                        f.year = Some(if n == 2 && used == 2 { two_digit_year(value) } else { value });
                    }
                    'M' | 'L' => f.month = Some(value),
                    'd' => f.day = Some(value),
                    'D' => f.day_of_year = Some(value),
                    'H' => f.hour = Some(value),
                    'k' => f.hour = Some(if value == 24 { 0 } else { value }),
                    'K' => f.hour12 = Some(value),
                    'h' => f.hour12 = Some(if value == 12 { 0 } else { value }),
                    'm' => f.minute = Some(value),
                    's' => f.second = Some(value),
                    'S' => f.millis = Some(value),
                    _ => {} // 'u': the weekday follows from the date
                }
                pos += used;
                continue;
            }
            let rest = &text[pos..];
            match c {
                'G' => {
                    let (bc, used) = match_word(rest, &["AD", "BC"]).ok_or_else(unparseable)?;
                    f.bc = bc == 1;
                    pos += used;
                }
                'M' | 'L' => {
                    let full: Vec<&str> = MONTHS.to_vec();
                    let short: Vec<&str> = MONTHS.iter().map(|m| &m[..3]).collect();
                    let (m, used) =
                        match_word(rest, &full).or_else(|| match_word(rest, &short)).ok_or_else(unparseable)?;
                    f.month = Some(m as i64 + 1);
                    pos += used;
                }
                'E' => {
                    let full: Vec<&str> = WEEKDAYS.to_vec();
                    let short: Vec<&str> = WEEKDAYS.iter().map(|d| &d[..3]).collect();
                    let (_, used) =
                        match_word(rest, &full).or_else(|| match_word(rest, &short)).ok_or_else(unparseable)?;
                    pos += used;
                }
                'a' => {
                    let (pm, used) = match_word(rest, &["AM", "PM"]).ok_or_else(unparseable)?;
                    f.pm = Some(pm == 1);
                    pos += used;
                }
                'z' | 'Z' | 'X' => {
                    let (offset, used) = read_zone(rest).ok_or_else(unparseable)?;
                    f.offset_minutes = offset;
                    pos += used;
                }
                _ => return Err(unparseable()),
            }
        }
        Ok((f.millis_since_epoch(), pos))
    }
}

fn is_numeric(c: char, n: usize) -> bool {
    match c {
        'M' | 'L' => n <= 2,
        'y' | 'd' | 'D' | 'u' | 'H' | 'k' | 'K' | 'h' | 'm' | 's' | 'S' => true,
        _ => false,
    }
}

/// Reads digits (exactly `width` when the next field abuts this one, else as many as there are).
fn read_number(bytes: &[u8], width: Option<usize>, negative_ok: bool) -> Option<(i64, usize)> {
    let negative = negative_ok && bytes.first() == Some(&b'-');
    let start = usize::from(negative);
    let mut end = start;
    while end < bytes.len() && bytes[end].is_ascii_digit() && width.is_none_or(|w| end - start < w) {
        end += 1;
    }
    if end == start || width.is_some_and(|w| end - start != w) {
        return None;
    }
    let digits = std::str::from_utf8(&bytes[start..end]).ok()?;
    let v: i64 = digits.parse().ok()?;
    Some((if negative { -v } else { v }, end))
}

/// Matches one of `words` at the start of `text`, ignoring case; returns its index and length.
fn match_word(text: &str, words: &[&str]) -> Option<(usize, usize)> {
    words.iter().enumerate().find_map(|(i, w)| {
        let head = text.get(..w.len())?;
        head.eq_ignore_ascii_case(w).then_some((i, w.len()))
    })
}

/// Reads a zone: `Z`, `UTC`/`GMT` (optionally followed by an offset), or `+hh`, `+hhmm`, `+hh:mm`.
fn read_zone(text: &str) -> Option<(i64, usize)> {
    if text.starts_with('Z') {
        return Some((0, 1));
    }
    let mut pos = 0;
    for name in ["UTC", "GMT"] {
        if text.starts_with(name) {
            pos = 3;
            break;
        }
    }
    let rest = &text.as_bytes()[pos..];
    let sign = match rest.first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return if pos > 0 { Some((0, pos)) } else { None },
    };
    let digit = |i: usize| rest.get(i).filter(|b| b.is_ascii_digit()).map(|b| i64::from(b - b'0'));
    let hours = digit(1)? * 10 + digit(2)?;
    let (minutes, used) = match (rest.get(3), digit(3), digit(4)) {
        (Some(b':'), _, _) => (digit(4)? * 10 + digit(5)?, 6),
        (_, Some(a), Some(b)) => (a * 10 + b, 5),
        _ => (0, 3),
    };
    Some((sign * (hours * 60 + minutes), pos + used))
}

/// Java's two-digit year rule: within 80 years before and 20 years after now.
fn two_digit_year(yy: i64) -> i64 {
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let (now_year, _, _) = civil_from_days(now_ms.div_euclid(DAY_MS));
    let mut year = now_year / 100 * 100 + yy;
    if year > now_year + 20 {
        year -= 100;
    } else if year <= now_year - 80 {
        year += 100;
    }
    year
}

#[derive(Default)]
struct Parsed {
    year: Option<i64>,
    bc: bool,
    month: Option<i64>,
    day: Option<i64>,
    day_of_year: Option<i64>,
    hour: Option<i64>,
    hour12: Option<i64>,
    pm: Option<bool>,
    minute: Option<i64>,
    second: Option<i64>,
    millis: Option<i64>,
    offset_minutes: i64,
}

impl Parsed {
    /// Combines the fields leniently (month 13 is January of the next year), defaulting to 1970-01-01 00:00.
    fn millis_since_epoch(&self) -> i64 {
        let mut year = self.year.unwrap_or(1970);
        if self.bc {
            year = 1 - year;
        }
        let days = if let (Some(doy), None, None) = (self.day_of_year, self.month, self.day) {
            days_from_civil(year, 1, 1) + doy - 1
        } else {
            let month0 = self.month.unwrap_or(1) - 1;
            let year = year + month0.div_euclid(12);
            let month = (month0.rem_euclid(12) + 1) as u32;
            days_from_civil(year, month, 1) + self.day.unwrap_or(1) - 1
        };
        let hour = match (self.hour, self.hour12) {
            (Some(h), _) => h,
            (None, Some(h)) => h + if self.pm == Some(true) { 12 } else { 0 },
            (None, None) => {
                if self.pm == Some(true) {
                    12
                } else {
                    0
                }
            }
        };
        days * DAY_MS
            + hour * 3_600_000
            + self.minute.unwrap_or(0) * 60_000
            + self.second.unwrap_or(0) * 1000
            + self.millis.unwrap_or(0)
            - self.offset_minutes * 60_000
    }
}

/// Year, month (1-12) and day (1-31) of a day count since 1970-01-01 (proleptic Gregorian).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a date (proleptic Gregorian).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
