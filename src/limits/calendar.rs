//! UTC calendar arithmetic for budget periods and RFC 3339 reset times, without a date
//! library: Howard Hinnant's `days_from_civil` / `civil_from_days`.

const SECS_PER_DAY: u64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1..=12, day 1..=31).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(year, month, day)` of a day number since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The UTC day of `now_us`: days since the epoch.
pub fn day_period(now_us: u64) -> u32 {
    (now_us / 1_000_000 / SECS_PER_DAY) as u32
}

/// The UTC calendar month of `now_us`: `year * 12 + month - 1`.
pub fn month_period(now_us: u64) -> u32 {
    let (y, m, _) = civil_from_days(i64::from(day_period(now_us)));
    (y * 12 + i64::from(m) - 1) as u32
}

/// Microseconds since the epoch at which the day period `day` ends.
pub fn day_end_us(day: u32) -> u64 {
    (u64::from(day) + 1) * SECS_PER_DAY * 1_000_000
}

/// Microseconds since the epoch at which the month period `month` ends.
pub fn month_end_us(month: u32) -> u64 {
    let next = i64::from(month) + 1;
    let days = days_from_civil(next / 12, (next % 12) as u32 + 1, 1);
    days.max(0) as u64 * SECS_PER_DAY * 1_000_000
}

/// `now_us` as an RFC 3339 UTC timestamp with whole seconds (rounded up), e.g.
/// `2024-05-01T12:34:56Z`.
pub fn rfc3339(us: u64) -> String {
    let secs = us.div_ceil(1_000_000);
    let (y, mo, d) = civil_from_days((secs / SECS_PER_DAY) as i64);
    let rem = secs % SECS_PER_DAY;
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        for d in (-800_000..800_000).step_by(997) {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn periods_and_their_ends() {
        // 2024-01-31T23:59:59Z
        let t = 1_706_745_599 * 1_000_000;
        assert_eq!(rfc3339(t), "2024-01-31T23:59:59Z");
        assert_eq!(month_period(t), 2024 * 12);
        assert_eq!(month_period(t + 1_000_000), 2024 * 12 + 1);
        assert_eq!(day_period(t) + 1, day_period(t + 1_000_000));
        assert_eq!(day_end_us(day_period(t)), t + 1_000_000);
        assert_eq!(month_end_us(month_period(t)), t + 1_000_000);
        // December rolls into the next year.
        let dec = days_from_civil(2023, 12, 15) as u64 * 86_400 * 1_000_000;
        assert_eq!(
            rfc3339(month_end_us(month_period(dec))),
            "2024-01-01T00:00:00Z"
        );
        assert_eq!(rfc3339(1), "1970-01-01T00:00:01Z");
    }
}
