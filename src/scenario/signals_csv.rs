//! The `[signals] csv` file: one signal per row, checked field by field with errors that name
//! the CSV (not the scenario), its physical line and the column.
//!
//! Columns (header row required, any order, names as below; unknown or repeated columns are
//! refused): `time,action,quantity,stop_loss,take_profit,sl_pct,tp_pct,confidence,strategy`.
//! `time` and `action` are required in every row, the others may be empty. Accepted values:
//! - `time`: `YYYY-MM-DD[THH:MM[:SS]]` UTC or ms since the epoch, a real calendar date, from
//!   2000-01-01 to 2099-12-31 (a time in seconds or µs falls outside and is refused);
//! - `action`: `buy`, `sell`, `hold` or `close`;
//! - `quantity`: > 0 and at most [`MAX_QUANTITY`] (empty: the minimum size);
//! - `stop_loss`, `take_profit`: prices > 0 and at most [`MAX_PRICE`];
//! - `sl_pct`, `tp_pct`: fractions strictly between 0 and 1;
//! - `confidence`: from 0 to 1.
//!
//! The file is read whole (a regular file of at most [`files::MAX_SIGNALS_BYTES`]); a UTF-8 BOM
//! and CRLF line ends are accepted, blank lines are skipped.

use super::{ScenarioError, SignalSpec};
use crate::data::{civil_from_days, files, DataError};
use crate::engine::Action;
use crate::types::parse_time_ms;
use rust_decimal::Decimal;
use std::path::Path;
use std::str::FromStr;

/// The columns a signals CSV may have, in documentation order.
pub const COLUMNS: [&str; 9] = [
    "time",
    "action",
    "quantity",
    "stop_loss",
    "take_profit",
    "sl_pct",
    "tp_pct",
    "confidence",
    "strategy",
];

/// Largest quantity a CSV signal may ask for.
pub const MAX_QUANTITY: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// Largest absolute stop-loss or take-profit price a CSV signal may give.
pub const MAX_PRICE: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// 2000-01-01T00:00 UTC in ms: the earliest signal time accepted.
const MIN_TIME_MS: i64 = 946_684_800_000;
/// 2100-01-01T00:00 UTC in ms: signal times must be earlier.
const END_TIME_MS: i64 = 4_102_444_800_000;

/// Reads a signals file (`what`: "a signals CSV", …) within the signals size cap: its bytes
/// without a UTF-8 BOM, or one error naming the file.
pub(super) fn read_signals_file(p: &Path, what: &str) -> Result<Vec<u8>, ScenarioError> {
    let err = |msg: String| ScenarioError {
        file: p.display().to_string(),
        line: 0,
        field: "-".to_string(),
        msg,
    };
    let mut bytes = files::read_capped(p, files::MAX_SIGNALS_BYTES, what).map_err(|e| match e {
        DataError::File { msg, .. } => err(msg),
        DataError::Io { source, .. } => err(format!("cannot read: {source}")),
        other => err(other.to_string()),
    })?;
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    Ok(bytes)
}

/// Reads the signals CSV `p`: each signal with its time (ms) in file order.
pub fn read(p: &Path) -> Result<Vec<(i64, SignalSpec)>, ScenarioError> {
    let file = p.display().to_string();
    let err = |line: usize, field: &str, msg: String| ScenarioError {
        file: file.clone(),
        line,
        field: field.to_string(),
        msg,
    };
    let bytes = read_signals_file(p, "a signals CSV")?;
    let body = bytes.as_slice();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(body);
    let mut records = rdr.records();
    // Lines are counted here from byte offsets: the csv crate's own line numbers miss blank
    // lines and CRLF breaks.
    // lines are met in order: count on from the last offset (linear in the file)
    let seen = std::cell::Cell::new((0usize, 1usize)); // (byte offset, its line)
    let line_of = |pos: Option<&csv::Position>| {
        let mut at = pos
            .map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX))
            .min(body.len());
        // a record's position is where the previous one ended: skip the line breaks between
        while body.get(at).is_some_and(|c| matches!(c, b'\r' | b'\n')) {
            at += 1;
        }
        let (from, line) = match seen.get() {
            (b, l) if b <= at => (b, l),
            _ => (0, 1),
        };
        let line = line + body[from..at].iter().filter(|&&c| c == b'\n').count();
        seen.set((at, line));
        line
    };
    // `cols[k]`: the COLUMNS index of the record's field k (empty for the header row)
    let csv_err = |e: csv::Error, cols: &[usize]| {
        let line = line_of(e.position());
        match e.kind() {
            csv::ErrorKind::Utf8 { err: u, .. } => {
                let field = cols.get(u.field()).map_or("header", |&k| COLUMNS[k]);
                err(
                    line,
                    field,
                    "is not UTF-8 text (save the file as UTF-8)".into(),
                )
            }
            _ => err(line, "row", format!("cannot be read as CSV: {e}")),
        }
    };
    let Some(header) = records.next() else {
        return Err(err(
            1,
            "header",
            format!(
                "the file is empty (the first row names the columns: {})",
                COLUMNS.join(",")
            ),
        ));
    };
    let header = header.map_err(|e| csv_err(e, &[]))?;
    let hline = line_of(header.position());
    let mut cols: Vec<usize> = Vec::with_capacity(header.len());
    for name in header.iter() {
        let Some(k) = COLUMNS.iter().position(|c| *c == name) else {
            return Err(err(
                hline,
                "header",
                format!(
                    "unknown column `{name}` (the columns are {}; is this the header row?)",
                    COLUMNS.join(",")
                ),
            ));
        };
        if cols.contains(&k) {
            return Err(err(
                hline,
                "header",
                format!("column `{name}` appears twice"),
            ));
        }
        cols.push(k);
    }
    for required in ["time", "action"] {
        if !header.iter().any(|h| h == required) {
            return Err(err(
                hline,
                "header",
                format!("no `{required}` column (every signal needs time and action)"),
            ));
        }
    }
    let mut out = Vec::new();
    for rec in records {
        let rec = rec.map_err(|e| csv_err(e, &cols))?;
        let line = line_of(rec.position());
        if rec.len() == 1 && rec[0].is_empty() {
            continue; // a blank line
        }
        if rec.len() != cols.len() {
            return Err(err(
                line,
                "row",
                format!(
                    "has {} columns, the header has {} (one value per column, empty where unused)",
                    rec.len(),
                    cols.len()
                ),
            ));
        }
        let mut cell: [Option<&str>; 9] = [None; 9];
        for (k, v) in cols.iter().zip(rec.iter()) {
            cell[*k] = (!v.is_empty()).then_some(v);
        }
        let get = |name: &str| cell[COLUMNS.iter().position(|c| *c == name).unwrap_or(0)];
        let fe = |field: &str, msg: String| err(line, field, msg);
        let dec = |name: &str, check: fn(Decimal) -> Result<(), String>| match get(name) {
            None => Ok(None),
            Some(v) => {
                let d = Decimal::from_str(v).map_err(|_| {
                    fe(
                        name,
                        format!("`{v}` is not a decimal number (e.g. 0.015 or 10)"),
                    )
                })?;
                check(d).map_err(|m| fe(name, format!("`{v}` {m}")))?;
                Ok(Some(d))
            }
        };
        let at =
            get("time").ok_or_else(|| fe("time", "is empty (every signal needs a time)".into()))?;
        let t = signal_time(at).map_err(|m| fe("time", format!("`{at}` {m}")))?;
        let action = match get("action") {
            Some("buy") => Action::Buy,
            Some("sell") => Action::Sell,
            Some("hold") => Action::Hold,
            Some("close") => Action::Close,
            Some(other) => {
                return Err(fe(
                    "action",
                    format!("`{other}` is not an action (use buy, sell, hold or close)"),
                ))
            }
            None => {
                return Err(fe(
                    "action",
                    "is empty (use buy, sell, hold or close)".into(),
                ))
            }
        };
        let spec = SignalSpec {
            at: at.to_string(),
            action,
            quantity: dec("quantity", |d| {
                if d <= Decimal::ZERO {
                    Err(
                        "is not a positive quantity (leave the cell empty for the minimum size)"
                            .into(),
                    )
                } else if d > MAX_QUANTITY {
                    Err(format!("is more than {MAX_QUANTITY}"))
                } else {
                    Ok(())
                }
            })?,
            stop_loss: dec("stop_loss", positive_price)?,
            take_profit: dec("take_profit", positive_price)?,
            sl_pct: dec("sl_pct", fraction)?,
            tp_pct: dec("tp_pct", fraction)?,
            stop_loss_pct: None,
            take_profit_pct: None,
            confidence: dec("confidence", |d| {
                if d < Decimal::ZERO || d > Decimal::ONE {
                    Err("is not a confidence from 0 to 1".into())
                } else {
                    Ok(())
                }
            })?,
            strategy: get("strategy").map(str::to_string),
            order_type: None,
            delivered_at: None,
            delay_ms: None,
            price: None,
            offset_pct: None,
            offset_ticks: None,
            time_in_force: None,
            position_size_pct: None,
        };
        out.push((t, spec));
    }
    Ok(out)
}

fn positive_price(d: Decimal) -> Result<(), String> {
    if d <= Decimal::ZERO {
        Err("is not a positive price".into())
    } else if d > MAX_PRICE {
        Err(format!("is more than {MAX_PRICE}"))
    } else {
        Ok(())
    }
}

fn fraction(d: Decimal) -> Result<(), String> {
    if d <= Decimal::ZERO || d >= Decimal::ONE {
        Err("is not a fraction between 0 and 1 (0.015 is 1.5 %)".into())
    } else {
        Ok(())
    }
}

/// A signal time: [`parse_time_ms`], a real calendar day (no 30 February), within 2000..2100.
fn signal_time(s: &str) -> Result<i64, String> {
    const HINT: &str =
        "is not a time (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] UTC, or ms since the epoch)";
    let t = parse_time_ms(s).ok_or_else(|| HINT.to_string())?;
    if !s.bytes().all(|c| c.is_ascii_digit()) {
        // The date part must name the day it parsed to (parse_time_ms lets 02-30 roll over).
        let date = s.split(['T', ' ']).next().unwrap_or("");
        let mut parts = date.split('-').map(|p| p.parse::<i64>().ok());
        let (y, m, d) = (parts.next().flatten(), parts.next().flatten(), parts.next());
        let d = d.unwrap_or(Some(1));
        let (cy, cm, cd) = civil_from_days(t.div_euclid(86_400_000));
        if (y, m, d) != (Some(cy), Some(i64::from(cm)), Some(i64::from(cd))) {
            return Err("is not a calendar date (no such day in that month)".into());
        }
    }
    if !(MIN_TIME_MS..END_TIME_MS).contains(&t) {
        return Err(
            "is outside 2000-01-01 .. 2099-12-31 (a time in ms has 13 digits; seconds or µs?)"
                .into(),
        );
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_times() {
        assert_eq!(signal_time("2026-02-01T02:00"), Ok(1_769_911_200_000));
        assert_eq!(signal_time("1769911200000"), Ok(1_769_911_200_000));
        assert_eq!(signal_time("2024-02-29"), Ok(1_709_164_800_000));
        assert!(signal_time("2026-02-30").is_err());
        assert!(signal_time("2025-02-29T10:00").is_err());
        assert!(signal_time("1769911200").is_err(), "seconds");
        assert!(signal_time("1769911200000000").is_err(), "µs");
        assert!(signal_time("tomorrow").is_err());
        assert!(signal_time("2026-13-01").is_err());
    }
}
