//! Funding-rate history: Binance's archive layout and the REST/API layout, times kept exactly as given.
//!
//! A rate must lie within ±[`MAX_FUNDING_RATE`] and an interval within 1..=24 hours: beyond
//! them the file holds a percentage where a fraction belongs, or is damaged.

use std::path::PathBuf;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::error::DataError;
use super::input::{data_start, expand_paths, line_end, only_line_breaks, read_input, trim_cr};
use super::parse::{parse_ts_field, parse_uint_field, show};
use super::validate::check_increasing;

/// Largest funding rate per interval accepted, in absolute value: 0.1 (10 %), well above every
/// cap Binance has set (±2 % to ±4 % per interval).
pub const MAX_FUNDING_RATE: Decimal = Decimal::from_parts(1, 0, 0, false, 1);

/// Funding events in time order: `rate[i]` was charged at `time_ms[i]` (ms, not snapped to the hour).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FundingSeries {
    /// Symbol from the file name, or `""` if unknown.
    pub symbol: String,
    /// Funding (or calculation) time in ms since the Unix epoch, strictly increasing, jitter kept.
    pub time_ms: Vec<i64>,
    /// Funding rate per interval as an exact decimal (`0.0001` = 0.01 %).
    pub rate: Vec<Decimal>,
    /// Funding interval in hours where the file gives it (archive layout), else `None`.
    pub interval_hours: Vec<Option<u32>>,
}

impl FundingSeries {
    /// Number of funding events.
    pub fn len(&self) -> usize {
        self.time_ms.len()
    }

    /// True if there is no funding event.
    pub fn is_empty(&self) -> bool {
        self.time_ms.is_empty()
    }

    /// Index of the first event at or after `t_ms` (`len()` if none).
    pub fn index_at_or_after(&self, t_ms: i64) -> usize {
        self.time_ms.partition_point(|&t| t < t_ms)
    }
}

/// Column positions of one funding file.
struct Columns {
    count: usize,
    time: usize,
    rate: usize,
    hours: Option<usize>,
    time_name: &'static str,
    rate_name: &'static str,
}

const ARCHIVE: Columns = Columns {
    count: 3,
    time: 0,
    rate: 2,
    hours: Some(1),
    time_name: "calc_time",
    rate_name: "last_funding_rate",
};
const API: Columns = Columns {
    count: 2,
    time: 0,
    rate: 1,
    hours: None,
    time_name: "fundingTime",
    rate_name: "fundingRate",
};

/// Loads funding-rate CSVs (files, zips or directories) in the archive layout
/// `calc_time,funding_interval_hours,last_funding_rate` or the API layout `fundingTime,fundingRate`
/// (header columns are matched by name, so `symbol` or `markPrice` columns are ignored).
pub fn load_funding(paths: &[PathBuf]) -> Result<FundingSeries, DataError> {
    let files = expand_paths(paths)?;
    let mut out = FundingSeries::default();
    let mut prev: Option<(i64, String, usize)> = None;
    for path in &files {
        let input = read_input(path)?;
        let file = input.name.as_str();
        if let Some(s) = &input.symbol {
            if out.symbol.is_empty() {
                out.symbol = s.clone();
            } else if &out.symbol != s {
                return Err(DataError::parse(
                    file,
                    0, // a file-name property: no line
                    "symbol",
                    format!(
                        "file name says {s} but earlier files are {} (load one symbol at a time)",
                        out.symbol
                    ),
                ));
            }
        }
        let bytes = &input.bytes;
        let (mut pos, mut line, has_header) = data_start(bytes);
        if only_line_breaks(bytes, pos) {
            continue;
        }
        let cols = if has_header {
            let h0 = if bytes.starts_with(b"\xEF\xBB\xBF") {
                3
            } else {
                0
            };
            header_columns(trim_cr(&bytes[h0..line_end(bytes, h0)]), file)?
        } else {
            let first = trim_cr(&bytes[pos..line_end(bytes, pos)]);
            match first.split(|&c| c == b',').count() {
                3 => ARCHIVE,
                2 => API,
                n => {
                    return Err(DataError::parse(
                        file,
                        line,
                        "row",
                        format!("has {n} columns, expected 2 (fundingTime,fundingRate) or 3 (calc_time,funding_interval_hours,last_funding_rate)"),
                    ))
                }
            }
        };
        while pos < bytes.len() {
            if only_line_breaks(bytes, pos) {
                break;
            }
            let end = line_end(bytes, pos);
            let l = trim_cr(&bytes[pos..end]);
            if l.is_empty() {
                return Err(DataError::parse(
                    file,
                    line,
                    "row",
                    "empty line in the middle of the file (delete it)",
                ));
            }
            let f: Vec<&[u8]> = l.split(|&c| c == b',').collect();
            if f.len() != cols.count {
                return Err(DataError::parse(
                    file,
                    line,
                    "row",
                    format!(
                        "has {} columns, expected {} like the first row (one layout per file)",
                        f.len(),
                        cols.count
                    ),
                ));
            }
            let t = parse_ts_field(f[cols.time])
                .map_err(|m| DataError::parse(file, line, cols.time_name, m))?;
            let rate = parse_rate(f[cols.rate])
                .map_err(|m| DataError::parse(file, line, cols.rate_name, m))?;
            let hours = match cols.hours {
                Some(k) => Some(
                    parse_uint_field(f[k])
                        .ok()
                        .and_then(|h| u32::try_from(h).ok())
                        .filter(|h| (1..=24).contains(h))
                        .ok_or_else(|| {
                            DataError::parse(
                                file,
                                line,
                                "funding_interval_hours",
                                format!(
                                    "{} is not a whole number of hours from 1 to 24 (expected e.g. 8)",
                                    show(f[k])
                                ),
                            )
                        })?,
                ),
                None => None,
            };
            check_increasing(
                prev.as_ref().map(|(p, pf, pl)| (*p, pf.as_str(), *pl)),
                t,
                cols.time_name,
                file,
                line,
            )?;
            match &mut prev {
                Some((p, pf, pl)) => {
                    *p = t;
                    if pf != file {
                        *pf = file.to_string();
                    }
                    *pl = line;
                }
                None => prev = Some((t, file.to_string(), line)),
            }
            out.time_ms.push(t);
            out.rate.push(rate);
            out.interval_hours.push(hours);
            pos = end + 1;
            line += 1;
        }
    }
    Ok(out)
}

/// Maps header names to column positions (case-insensitive; `_` optional).
fn header_columns(header: &[u8], file: &str) -> Result<Columns, DataError> {
    let names: Vec<String> = header
        .split(|&c| c == b',')
        .map(|n| {
            String::from_utf8_lossy(n)
                .trim()
                .to_ascii_lowercase()
                .replace('_', "")
        })
        .collect();
    let find = |cands: &[&str]| names.iter().position(|n| cands.contains(&n.as_str()));
    let time = find(&["calctime", "fundingtime", "time"]);
    let rate = find(&["lastfundingrate", "fundingrate", "rate"]);
    let hours = find(&["fundingintervalhours", "intervalhours"]);
    match (time, rate) {
        (Some(time), Some(rate)) => {
            let archive = names[time] == "calctime";
            Ok(Columns {
                count: names.len(),
                time,
                rate,
                hours,
                time_name: if archive { "calc_time" } else { "fundingTime" },
                rate_name: if names[rate] == "lastfundingrate" {
                    "last_funding_rate"
                } else {
                    "fundingRate"
                },
            })
        }
        _ => Err(DataError::parse(
            file,
            1,
            "header",
            format!(
                "{} names no time and rate columns (expected calc_time,funding_interval_hours,last_funding_rate or fundingTime,fundingRate)",
                show(header)
            ),
        )),
    }
}

/// Parses a funding rate `-?digits(.digits)?` exactly.
fn parse_rate(s: &[u8]) -> Result<Decimal, String> {
    let body = s.strip_prefix(b"-").unwrap_or(s);
    let mut parts = body.splitn(2, |&c| c == b'.');
    let int = parts.next().unwrap_or(b"");
    let frac = parts.next();
    let ok = !int.is_empty()
        && int.iter().all(u8::is_ascii_digit)
        && frac.is_none_or(|f| !f.is_empty() && f.iter().all(u8::is_ascii_digit));
    if !ok {
        return Err(format!(
            "{} is not a decimal number (expected e.g. 0.00010000)",
            show(s)
        ));
    }
    let text = std::str::from_utf8(s).map_err(|_| format!("{} is not UTF-8", show(s)))?;
    let rate = Decimal::from_str(text).map_err(|e| {
        format!(
            "{} cannot be read as a decimal: {e} (at most 28 digits)",
            show(s)
        )
    })?;
    if rate.abs() > MAX_FUNDING_RATE {
        return Err(format!(
            "{} is beyond ±{MAX_FUNDING_RATE} per interval (rates are fractions: 0.0001 is 0.01 %)",
            show(s)
        ));
    }
    Ok(rate)
}
