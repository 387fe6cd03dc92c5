//! The date validator: numeric, ISO 8601 and month-name dates.

use super::parse_digits;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn month_from_name(word: &str) -> Option<u32> {
    let lower = word.trim_end_matches('.').to_ascii_lowercase();
    if lower.len() < 3 {
        return None;
    }
    let index = MONTHS.iter().position(|month| lower.starts_with(month))?;
    // Accept the abbreviation, "Sept", or the full name; reject "Marshall".
    let full = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ][index];
    let valid = lower.len() == 3 || lower == "sept" || full == lower;
    valid.then_some(index as u32 + 1)
}

/// Expands a two-digit year: 00-29 is 2000-2029, 30-99 is 1930-1999.
///
/// NOTE: a birth date written as 03/04/25 in 2026 is ambiguous; the pivot
/// favors recent years for visit dates, which are far more common in records.
fn expand_year(year: u32, written_digits: usize) -> u32 {
    if written_digits == 2 {
        if year < 30 { 2000 + year } else { 1900 + year }
    } else {
        year
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

fn plausible_date(year: u32, month: u32, day: Option<u32>) -> Option<String> {
    if !(1875..=2100).contains(&year) || !(1..=12).contains(&month) {
        return None;
    }
    if day.is_some_and(|day| day == 0 || day > days_in_month(year, month)) {
        return None;
    }
    // Digits pushed one by one: `format!` was a visible part of validating
    // the dates of a log with a date on every line.
    let mut date = String::with_capacity(10);
    push_digits(&mut date, year, 4);
    date.push('-');
    push_digits(&mut date, month, 2);
    if let Some(day) = day {
        date.push('-');
        push_digits(&mut date, day, 2);
    }
    Some(date)
}

/// Appends the last `width` decimal digits of `number`, zero-padded.
fn push_digits(out: &mut String, number: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = number / 10u32.pow(place) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

pub(super) fn date(value: &str) -> Option<String> {
    let parts: Vec<&str> = value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(strip_ordinal)
        .collect();
    let number = |part: &str| -> Option<u32> {
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| parse_digits(part))
    };

    match parts.as_slice() {
        // 2024-03-05, 2024/03/05
        [y, m, d] if y.len() == 4 && number(y).is_some() => {
            plausible_date(number(y)?, number(m)?, Some(number(d)?))
        }
        // 03/05/2024, 3-5-24; US order, month first.
        [m, d, y] if number(m).is_some() && number(d).is_some() && number(y).is_some() => {
            if y.len() != 2 && y.len() != 4 {
                return None;
            }
            let year = expand_year(number(y)?, y.len());
            plausible_date(year, number(m)?, Some(number(d)?))
                // 13/05/2024 can only be day first.
                .or_else(|| plausible_date(year, number(d)?, Some(number(m)?)))
        }
        // March 5, 2024 / Mar 5 2024
        [m, d, y] if number(m).is_none() => {
            let year = expand_year(number(y)?, y.len());
            plausible_date(year, month_from_name(m)?, Some(number(d)?))
        }
        // 5 March 2024
        [d, m, y] if number(m).is_none() => {
            let year = expand_year(number(y)?, y.len());
            plausible_date(year, month_from_name(m)?, Some(number(d)?))
        }
        // March 2024
        [m, y] if number(m).is_none() && y.len() == 4 => {
            plausible_date(number(y)?, month_from_name(m)?, None)
        }
        // March 14 (no year), written with a month name.
        [m, d] if number(m).is_none() && d.len() <= 2 => month_day(month_from_name(m)?, number(d)?),
        // 3/14 (no year); rules use this form only next to a date keyword.
        [m, d] if m.len() <= 2 && d.len() <= 2 => month_day(number(m)?, number(d)?),
        // 20240305 (compact ISO, as HL7 and X12 write dates)
        [compact] if compact.len() == 8 && number(compact).is_some() => plausible_date(
            parse_digits(&compact[0..4]),
            parse_digits(&compact[4..6]),
            Some(parse_digits(&compact[6..8])),
        ),
        _ => None,
    }
}

/// Checks a month and day without a year against a leap year and formats
/// them `--MM-DD`, as ISO 8601 writes dates without a year.
fn month_day(month: u32, day: u32) -> Option<String> {
    plausible_date(2000, month, Some(day)).map(|date| format!("--{}", &date[5..]))
}

fn strip_ordinal(part: &str) -> &str {
    for suffix in ["st", "nd", "rd", "th"] {
        if let Some(stripped) = part.strip_suffix(suffix)
            && !stripped.is_empty()
            && stripped.bytes().all(|b| b.is_ascii_digit())
        {
            return stripped;
        }
    }
    part
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_common_forms() {
        assert_eq!(date("03/14/1984").as_deref(), Some("1984-03-14"));
        assert_eq!(date("3-14-84").as_deref(), Some("1984-03-14"));
        assert_eq!(date("1984-03-14").as_deref(), Some("1984-03-14"));
        assert_eq!(date("March 14, 1984").as_deref(), Some("1984-03-14"));
        assert_eq!(date("14 Mar 1984").as_deref(), Some("1984-03-14"));
        assert_eq!(date("Sept. 3rd, 2021").as_deref(), Some("2021-09-03"));
        assert_eq!(date("March 1984").as_deref(), Some("1984-03"));
        assert_eq!(date("19840314").as_deref(), Some("1984-03-14"));
        assert_eq!(date("14/03/1984").as_deref(), Some("1984-03-14"));
        assert_eq!(date("March 14").as_deref(), Some("--03-14"));
        assert_eq!(date("3/14").as_deref(), Some("--03-14"));
        assert_eq!(date("2/30"), None);
    }

    #[test]
    fn dates_reject_impossible_values() {
        for invalid in [
            "02/30/2020",
            "13/13/2020",
            "1800-01-01",
            "Marshall 5, 2020",
            "00/10/2020",
        ] {
            assert_eq!(date(invalid), None, "{invalid}");
        }
        assert_eq!(date("02/29/2024").as_deref(), Some("2024-02-29"));
        assert_eq!(date("02/29/2023"), None);
    }
}
