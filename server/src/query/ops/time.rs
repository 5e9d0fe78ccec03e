//! LogScale's `time:*` row functions (`time:hour`, `time:dayOfWeek`, `time:monthName`, ...):
//! one calendar part of a timestamp (`field=@timestamp`, epoch ms) in a time zone
//! (`timezone=`, else the query's zone), as `_<part>` by default; and `now()`.
//! <https://library.humio.com/data-analysis/functions-time-functions.html>

use chrono::{Datelike, Timelike};

use super::Zone;
use crate::query::number;
use crate::query::row::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePart {
    Year,
    Month,
    MonthName,
    DayOfMonth,
    DayOfYear,
    /// 1 (Monday) to 7 (Sunday), ISO 8601.
    DayOfWeek,
    DayOfWeekName,
    /// ISO 8601 week number.
    WeekOfYear,
    /// The year the ISO week belongs to.
    WeekYear,
    Hour,
    Minute,
    Second,
    Millisecond,
}

impl TimePart {
    /// The part of a `time:` function name (after the prefix, lower-cased) and its default
    /// output field.
    pub fn named(name: &str) -> Option<(TimePart, &'static str)> {
        Some(match name {
            "year" => (TimePart::Year, "_year"),
            "month" => (TimePart::Month, "_month"),
            "monthname" => (TimePart::MonthName, "_monthName"),
            "dayofmonth" => (TimePart::DayOfMonth, "_dayOfMonth"),
            "dayofyear" => (TimePart::DayOfYear, "_dayOfYear"),
            "dayofweek" => (TimePart::DayOfWeek, "_dayOfWeek"),
            "dayofweekname" => (TimePart::DayOfWeekName, "_dayOfWeekName"),
            "weekofyear" => (TimePart::WeekOfYear, "_weekOfYear"),
            "weekyear" => (TimePart::WeekYear, "_weekYear"),
            "hour" => (TimePart::Hour, "_hour"),
            "minute" => (TimePart::Minute, "_minute"),
            "second" => (TimePart::Second, "_second"),
            "millisecond" => (TimePart::Millisecond, "_millisecond"),
            _ => return None,
        })
    }
}

pub enum TimeFn {
    Part {
        field: String,
        as_: String,
        part: TimePart,
        zone: Zone,
    },
    /// `now()`: the time the query runs, epoch ms.
    Now { as_: String },
    /// `time:start()`/`time:end()`: the query's search range, a constant.
    Constant { as_: String, ms: i64 },
}

const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
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

/// One part of the instant `ms` in `zone`.
pub fn part(ms: i64, part: TimePart, zone: &Zone) -> Option<String> {
    let t = zone.local(ms)?;
    Some(match part {
        TimePart::Year => t.year().to_string(),
        TimePart::Month => t.month().to_string(),
        TimePart::MonthName => MONTHS[t.month0() as usize].to_string(),
        TimePart::DayOfMonth => t.day().to_string(),
        TimePart::DayOfYear => t.ordinal().to_string(),
        TimePart::DayOfWeek => t.weekday().number_from_monday().to_string(),
        TimePart::DayOfWeekName => DAYS[t.weekday().num_days_from_monday() as usize].to_string(),
        TimePart::WeekOfYear => t.iso_week().week().to_string(),
        TimePart::WeekYear => t.iso_week().year().to_string(),
        TimePart::Hour => t.hour().to_string(),
        TimePart::Minute => t.minute().to_string(),
        TimePart::Second => t.second().to_string(),
        TimePart::Millisecond => (t.timestamp_subsec_millis() % 1000).to_string(),
    })
}

impl TimeFn {
    pub fn apply(&self, row: &mut Row) -> bool {
        match self {
            TimeFn::Part {
                field,
                as_,
                part: p,
                zone,
            } => {
                if let Some(v) = row
                    .get_str(field)
                    .and_then(number)
                    .and_then(|ms| part(ms as i64, *p, zone))
                {
                    row.set(as_, v);
                }
            }
            TimeFn::Now { as_ } => row.set(as_, crate::text::now_ms().to_string()),
            TimeFn::Constant { as_, ms } => row.set(as_, ms.to_string()),
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_follow_the_zone() {
        // 2026-01-01T00:07:00Z is a Thursday; in New York it is still Wednesday 19:07.
        let ms = 1_767_226_020_000;
        let utc = Zone::UTC;
        let ny = Zone::parse("America/New_York").unwrap();
        assert_eq!(part(ms, TimePart::DayOfWeek, &utc).unwrap(), "4");
        assert_eq!(part(ms, TimePart::DayOfWeekName, &ny).unwrap(), "Wednesday");
        assert_eq!(part(ms, TimePart::Hour, &ny).unwrap(), "19");
        assert_eq!(part(ms, TimePart::Year, &ny).unwrap(), "2025");
        assert_eq!(part(ms, TimePart::MonthName, &utc).unwrap(), "January");
        assert_eq!(part(ms, TimePart::WeekOfYear, &utc).unwrap(), "1");
        assert_eq!(part(ms, TimePart::Minute, &utc).unwrap(), "7");
    }
}
