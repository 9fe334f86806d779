//! The `[signals] jsonl` file: one JSON object per line in the live engine's `Signal` format
//! (`contracts/signal.py`, `tradeengine-oco.md` §1.1), so a user replays the signals their
//! strategies actually sent. Errors name the JSONL file, its physical line and the field.
//!
//! Read like the live model reads it (pydantic):
//! - required: `strategy_id`, `symbol`, `action` (`buy`, `sell`, `hold`, `close`), `confidence`
//!   (0…1), `price`, `quantity`, `current_price`, `source`, `strategy`; and `timestamp`, which the
//!   live model defaults to "now" but a replay needs;
//! - optional: `stop_loss`, `take_profit` (prices), `stop_loss_pct`, `take_profit_pct`,
//!   `position_size_pct` (0…1, the live validator's range), `order_type` (the live `OrderType`
//!   values), `time_in_force` (`GTC`, `IOC`, `FOK`, `GTX`), `meta` (an object);
//! - numbers may be JSON numbers or numeric strings (pydantic's lax mode), `null` is "absent" for
//!   optional fields; every other field (`id`, `signal_id`, `strength`, `indicators`, `metadata`,
//!   `decision_id`, …) is ignored, as pydantic ignores extras by default;
//! - `timestamp`: an ISO 8601 string (`2026-02-01T09:28:00`, `…Z`, `…+02:00`, fractions cut to
//!   ms; naive means UTC, as 2026-08's `parse_datetime_aware` says and the engine's UTC
//!   containers make v1.1.7x's naive times), or unix **seconds** (a number, fractions allowed) —
//!   a number of 10¹¹ or more is read as **milliseconds** (an ocosim extension);
//! - mapping: `current_price` is the signal's price (the TOML `price`: what the live chain sends as
//!   a LIMIT's price), `strategy_id` its strategy, `price` is checked as a number and not used (the
//!   live chain never reads it); `quantity` ≤ 0 means the minimum size (as the engine sizes it);
//!   `meta.delivered_at` (a time) or `meta.delay_ms` (an integer) set the delivery, and
//!   `meta.simulate = true` is refused (the live engine would never send such a signal's order).
//!
//! The file is read whole (a regular file of at most [`files::MAX_SIGNALS_BYTES`]); a UTF-8 BOM
//! and CRLF line ends are accepted, blank lines are skipped. `hold` and `close` signals are kept
//! and reach the engine, which treats them as it does (§1.3, §1.6).

use super::{ScenarioError, SignalSpec};
use crate::engine::Action;
use crate::types::parse_time_ms;
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::path::Path;
use std::str::FromStr;

/// One signal of the file.
#[derive(Debug, Clone)]
pub struct JsonlSignal {
    /// 1-based physical line.
    pub line: usize,
    /// Its `symbol`.
    pub symbol: String,
    /// Its time (ms since 1970, UTC).
    pub time_ms: i64,
    /// The signal in the scenario's terms (checked against the same bounds as inline signals).
    pub spec: SignalSpec,
}

/// Reads the signals JSONL `p`: each signal in file order.
pub fn read(p: &Path) -> Result<Vec<JsonlSignal>, ScenarioError> {
    let file = p.display().to_string();
    let err = |line: usize, field: &str, msg: String| ScenarioError {
        file: file.clone(),
        line,
        field: field.to_string(),
        msg,
    };
    let bytes = super::signals_csv::read_signals_file(p, "a signals JSONL file")?;
    let body = bytes.as_slice();
    let mut out = Vec::new();
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = std::str::from_utf8(raw).map_err(|_| {
            err(
                line,
                "",
                "is not UTF-8 text (save the file as UTF-8)".into(),
            )
        })?;
        if text.trim().is_empty() {
            continue;
        }
        out.push(parse_line(text, line).map_err(|(f, m)| err(line, &f, m))?);
    }
    Ok(out)
}

type LineErr = (String, String);

fn fe(field: &str, msg: impl Into<String>) -> LineErr {
    (field.to_string(), msg.into())
}

/// One line: a `Signal` object → its symbol, time and spec; `Err((field, message))`.
fn parse_line(text: &str, line: usize) -> Result<JsonlSignal, LineErr> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        fe(
            "",
            format!("is not a JSON object ({e}; one signal object per line)"),
        )
    })?;
    let Value::Object(o) = v else {
        return Err(fe("", "is not a JSON object (one signal object per line)"));
    };
    let text_field = |k: &str| -> Result<String, LineErr> {
        match o.get(k) {
            Some(Value::String(s)) => Ok(s.clone()),
            None | Some(Value::Null) => Err(fe(k, "is missing (the live Signal requires it)")),
            Some(_) => Err(fe(k, "is not a string")),
        }
    };
    let strategy_id = text_field("strategy_id")?;
    let symbol = text_field("symbol")?;
    text_field("source")?;
    text_field("strategy")?;
    let action = match text_field("action")?.as_str() {
        "buy" => Action::Buy,
        "sell" => Action::Sell,
        "hold" => Action::Hold,
        "close" => Action::Close,
        other => {
            return Err(fe(
                "action",
                format!(
                    "`{}` is not an action (buy, sell, hold or close)",
                    other.escape_debug()
                ),
            ))
        }
    };
    let num = |k: &str| -> Result<Option<Decimal>, LineErr> { number(&o, k) };
    let required = |k: &str| -> Result<Decimal, LineErr> {
        num(k)?.ok_or_else(|| fe(k, "is missing (the live Signal requires it)"))
    };
    let confidence = required("confidence")?;
    required("price")?; // required by the model, never read by the chain
    let quantity = required("quantity")?.max(Decimal::ZERO);
    let current_price = required("current_price")?;
    // the live validators: confidence and the percentages in [0, 1]
    let unit = |k: &str, v: Option<Decimal>| -> Result<Option<Decimal>, LineErr> {
        match v {
            Some(x) if x < Decimal::ZERO || x > Decimal::ONE => Err(fe(
                k,
                format!("{x} is out of range (accepted range 0 <= {k} <= 1, as the live Signal validates it)"),
            )),
            _ => Ok(v),
        }
    };
    let confidence = unit("confidence", Some(confidence))?;
    let stop_loss_pct = unit("stop_loss_pct", num("stop_loss_pct")?)?;
    let take_profit_pct = unit("take_profit_pct", num("take_profit_pct")?)?;
    let position_size_pct = unit("position_size_pct", num("position_size_pct")?)?;
    let opt_text = |k: &str| -> Result<Option<String>, LineErr> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(fe(k, "is not a string")),
        }
    };
    let order_type = opt_text("order_type")?;
    let time_in_force = opt_text("time_in_force")?;
    let time_ms = match o.get("timestamp") {
        None | Some(Value::Null) => {
            return Err(fe(
                "timestamp",
                "is missing (a replayed signal needs its time: an ISO string or unix seconds)",
            ))
        }
        Some(t) => timestamp(t).map_err(|m| fe("timestamp", m))?,
    };
    let (mut delivered_at, mut delay_ms) = (None, None);
    match o.get("meta") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            if m.get("simulate").is_some_and(|s| s == &Value::Bool(true)) {
                return Err(fe(
                    "meta.simulate",
                    "is true: the live engine simulates such an order instead of sending it (remove it to replay the signal)",
                ));
            }
            match m.get("delivered_at") {
                None | Some(Value::Null) => {}
                Some(t) => {
                    delivered_at = Some(
                        timestamp(t)
                            .map_err(|e| fe("meta.delivered_at", e))?
                            .to_string(),
                    )
                }
            }
            match m.get("delay_ms") {
                None | Some(Value::Null) => {}
                Some(Value::Number(n)) if n.as_i64().is_some() => delay_ms = n.as_i64(),
                Some(_) => return Err(fe("meta.delay_ms", "is not an integer (ms)")),
            }
        }
        Some(_) => return Err(fe("meta", "is not an object")),
    }
    let spec = SignalSpec {
        at: time_ms.to_string(),
        action,
        quantity: Some(quantity),
        stop_loss: num("stop_loss")?,
        take_profit: num("take_profit")?,
        sl_pct: None,
        tp_pct: None,
        stop_loss_pct,
        take_profit_pct,
        confidence,
        strategy: Some(strategy_id),
        order_type,
        delivered_at,
        delay_ms,
        price: Some(current_price),
        offset_pct: None,
        offset_ticks: None,
        time_in_force,
        position_size_pct,
    };
    Ok(JsonlSignal {
        line,
        symbol,
        time_ms,
        spec,
    })
}

/// A number field: a JSON number or a numeric string (pydantic's lax mode); None when absent
/// or null.
fn number(o: &Map<String, Value>, k: &str) -> Result<Option<Decimal>, LineErr> {
    let text = match o.get(k) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(_) => return Err(fe(k, "is not a number")),
    };
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .map(Some)
        .map_err(|_| fe(k, format!("`{}` is not a number", text.escape_debug())))
}

/// The name a field of the scenario's signal has in the live `Signal` (for errors).
pub fn field_name(k: &str) -> &str {
    match k {
        "price" => "current_price",
        "strategy" => "strategy_id",
        "at" => "timestamp",
        "delivered_at" => "meta.delivered_at",
        "delay_ms" => "meta.delay_ms",
        _ => k,
    }
}

/// Unix seconds below this are seconds; from it on, milliseconds.
const MS_FROM: i64 = 100_000_000_000;

/// A `timestamp` in ms since 1970 (UTC), see the module doc.
fn timestamp(v: &Value) -> Result<i64, String> {
    const HINT: &str =
        "is not a time (an ISO 8601 string like 2026-02-01T09:28:00Z, or unix seconds)";
    let from_number = |text: &str| -> Result<i64, String> {
        let d = Decimal::from_str(text)
            .or_else(|_| Decimal::from_scientific(text))
            .map_err(|_| HINT.to_string())?;
        let ms = if d.abs() >= Decimal::from(MS_FROM) {
            d
        } else {
            d * Decimal::from(1000)
        };
        i64::try_from(ms.floor()).map_err(|_| HINT.to_string())
    };
    match v {
        Value::Number(n) => from_number(&n.to_string()),
        Value::String(s) => {
            let s = s.trim();
            if let Some(ms) = iso_ms(s) {
                return Ok(ms);
            }
            // the live validators fall back to a unix number in a string
            from_number(s).map_err(|_| format!("`{}` {HINT}", s.escape_debug()))
        }
        _ => Err(HINT.into()),
    }
}

/// An ISO 8601 date-time: `YYYY-MM-DD[(T| )HH:MM[:SS[.fff…]]][Z|±HH:MM]`, naive = UTC.
fn iso_ms(s: &str) -> Option<i64> {
    let (date, time) = match s.find(['T', ' ']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    // the offset: Z, or ±HH:MM / ±HHMM at the end of the time
    let (time, offset_ms) = if let Some(t) = time.strip_suffix('Z') {
        (t, 0)
    } else if let Some(i) = time.rfind(['+', '-']) {
        let (t, off) = time.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let digits: String = off[1..].chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let h: i64 = digits[..2].parse().ok()?;
        let m: i64 = digits[2..].parse().ok()?;
        if h > 23 || m > 59 {
            return None;
        }
        (t, sign * (h * 60 + m) * 60_000)
    } else {
        (time, 0)
    };
    // fractions beyond ms are cut (µs from Python's isoformat)
    let time = match time.split_once('.') {
        Some((hms, frac)) if frac.len() > 3 && frac.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{hms}.{}", &frac[..3])
        }
        _ => time.to_string(),
    };
    let local = if time.is_empty() {
        parse_time_ms(date)?
    } else {
        parse_time_ms(&format!("{date}T{time}"))?
    };
    Some(local - offset_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_as_the_live_model_reads_them() {
        let t = 1_769_938_080_000; // 2026-02-01T09:28:00Z
        for s in [
            "\"2026-02-01T09:28:00\"",
            "\"2026-02-01T09:28:00Z\"",
            "\"2026-02-01T11:28:00+02:00\"",
            "\"2026-02-01T04:28:00-0500\"",
            "\"2026-02-01 09:28:00.000000\"",
            "1769938080",
            "1769938080.0",
            "\"1769938080\"",
            "1769938080000",
        ] {
            let v: Value = serde_json::from_str(s).unwrap();
            assert_eq!(timestamp(&v), Ok(t), "{s}");
        }
        let v: Value = serde_json::from_str("\"2026-02-01T09:28:00.123456\"").unwrap();
        assert_eq!(timestamp(&v), Ok(t + 123));
        for bad in [
            "\"2026-02-30T00:00\"",
            "\"tomorrow\"",
            "true",
            "\"2026-02-01T09:28+25:00\"",
        ] {
            let v: Value = serde_json::from_str(bad).unwrap();
            assert!(timestamp(&v).is_err(), "{bad}");
        }
    }

    fn line(extra: &str) -> String {
        format!(
            r#"{{"strategy_id":"s1","symbol":"AVAXUSDT","action":"buy","confidence":0.8,"price":10.0,"quantity":20,"current_price":10.05,"source":"x","strategy":"y","timestamp":"2026-02-01T09:28:00"{extra}}}"#
        )
    }

    #[test]
    fn a_line_maps_to_the_inline_signal_fields() {
        let s = parse_line(&line(r#","stop_loss":9.9,"order_type":"limit","time_in_force":"GTC","position_size_pct":"0.05","meta":{"delay_ms":500},"indicators":{"rsi":30}"#), 3).unwrap();
        assert_eq!(s.line, 3);
        assert_eq!(s.symbol, "AVAXUSDT");
        assert_eq!(s.spec.price, Some(Decimal::new(1005, 2)));
        assert_eq!(s.spec.stop_loss, Some(Decimal::new(99, 1)));
        assert_eq!(s.spec.order_type.as_deref(), Some("limit"));
        assert_eq!(s.spec.position_size_pct, Some(Decimal::new(5, 2)));
        assert_eq!(s.spec.delay_ms, Some(500));
        assert_eq!(s.spec.strategy.as_deref(), Some("s1"));
        // a negative quantity is the minimum size, as the engine sizes it
        let s = parse_line(&line("").replace("\"quantity\":20", "\"quantity\":-3"), 1).unwrap();
        assert_eq!(s.spec.quantity, Some(Decimal::ZERO));
    }

    #[test]
    fn bad_fields_are_named() {
        let field = |extra: &str| parse_line(&line(extra), 1).unwrap_err().0;
        assert_eq!(field(r#","stop_loss":"abc""#), "stop_loss");
        assert_eq!(field(r#","position_size_pct":1.5"#), "position_size_pct");
        assert_eq!(field(r#","stop_loss_pct":-0.1"#), "stop_loss_pct");
        assert_eq!(field(r#","meta":{"simulate":true}"#), "meta.simulate");
        assert_eq!(field(r#","meta":{"delay_ms":"x"}"#), "meta.delay_ms");
        assert_eq!(field(r#","meta":3"#), "meta");
        let missing = parse_line(&line("").replace(",\"source\":\"x\"", ""), 1).unwrap_err();
        assert_eq!(missing.0, "source");
        let bad = parse_line(&line("").replace("\"buy\"", "\"long\""), 1).unwrap_err();
        assert_eq!(bad.0, "action");
        assert_eq!(parse_line("[1,2]", 1).unwrap_err().0, "");
        assert_eq!(parse_line("{\"a\":", 1).unwrap_err().0, "");
    }
}
