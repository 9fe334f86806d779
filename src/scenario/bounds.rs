//! Bounds on every number and name a user can give in a scenario, checked right after parsing
//! (before any data is read), each failure one [`ScenarioError`] naming the file, the line of the
//! field and its accepted range.
//!
//! Contract: a scenario that passes [`validate`] cannot overflow a `Decimal` or an `i64` time
//! anywhere later: prices and quantities stay below 10^9, balances below 10^12, times inside
//! [`TIME_MIN_MS`]..[`TIME_MAX_MS`], durations below a day (a month for the reaction window), so
//! every sum or product the run forms is far inside both types. The accepted ranges are listed in
//! the README's scenario reference; keep the two in step.

use super::{spans, EngineSection, ScenarioError, ScenarioFile, SignalSpec};
use crate::engine::{Action, Switches};
use crate::types::parse_time_ms;
use rust_decimal::Decimal;
use std::path::Path;

/// One day in ms: the largest latency, delay, poll interval or backoff accepted.
pub const DAY_MS: i64 = 86_400_000;
/// Largest reaction window accepted (30 days, ms).
pub const MAX_REACTION_MS: i64 = 30 * DAY_MS;
/// Earliest time accepted anywhere in a scenario: 2000-01-01 00:00 UTC.
pub const TIME_MIN_MS: i64 = 946_684_800_000;
/// Latest time accepted (exclusive): 2100-01-01 00:00 UTC.
pub const TIME_MAX_MS: i64 = 4_102_444_800_000;
/// Largest price (stop, target, filter price) accepted.
pub const MAX_PRICE: i64 = 1_000_000_000;
/// Largest quantity accepted (signal quantities, quantity filters).
pub const MAX_QTY: i64 = 1_000_000_000;
/// Largest signal price offset in ticks (either way).
pub const MAX_TICKS: i64 = 1_000_000_000;
/// Largest initial balance accepted (USDT).
pub const MAX_BALANCE: i64 = 1_000_000_000_000;
/// Largest signal rate of the random generator (one a second on average).
pub const MAX_RATE_PER_DAY: i64 = 86_400;
/// Parts per million: the largest fault probability.
pub const PPM: u32 = 1_000_000;
/// Longest report name accepted.
pub const MAX_NAME_LEN: usize = 100;

/// Where a checked value came from, for the error.
pub(crate) struct Site<'a> {
    pub file: &'a Path,
    pub text: &'a str,
}

impl Site<'_> {
    /// An error at the field `path` (its line when it is written in the text).
    /// (`path` is anything printable, so a checked field's path is only formatted for an error.)
    pub(crate) fn err<P: std::fmt::Display + ?Sized>(
        &self,
        path: &P,
        msg: impl Into<String>,
    ) -> ScenarioError {
        let path = path.to_string();
        ScenarioError {
            file: self.file.display().to_string(),
            line: spans::line_of_path(self.text, &path).unwrap_or(0),
            field: path,
            msg: msg.into(),
        }
    }
}

/// `lo <= v <= hi` for an integer with a unit suffix for the message.
pub(crate) fn int<P: std::fmt::Display + ?Sized>(
    s: &Site,
    path: &P,
    v: i64,
    lo: i64,
    hi: i64,
) -> Result<(), ScenarioError> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(s.err(
            path,
            format!("{v} is out of range (accepted range {lo}..={hi})"),
        ))
    }
}

/// How an end of a decimal range is bounded.
#[derive(Clone, Copy)]
pub(crate) enum End {
    /// Inclusive.
    Incl(i64, u32),
    /// Exclusive.
    Excl(i64, u32),
}

impl End {
    fn value(self) -> Decimal {
        match self {
            End::Incl(m, s) | End::Excl(m, s) => Decimal::new(m, s),
        }
    }
}

/// A decimal inside `lo`..`hi` (each end inclusive or not), with `why` appended to the message.
pub(crate) fn dec<P: std::fmt::Display + ?Sized>(
    s: &Site,
    path: &P,
    v: Decimal,
    lo: End,
    hi: End,
    why: &str,
) -> Result<(), ScenarioError> {
    let ok_lo = match lo {
        End::Incl(..) => v >= lo.value(),
        End::Excl(..) => v > lo.value(),
    };
    let ok_hi = match hi {
        End::Incl(..) => v <= hi.value(),
        End::Excl(..) => v < hi.value(),
    };
    if ok_lo && ok_hi {
        return Ok(());
    }
    let path = path.to_string();
    let name = path.rsplit('.').next().unwrap_or(&path);
    let lo_op = if matches!(lo, End::Incl(..)) {
        "<="
    } else {
        "<"
    };
    let hi_op = if matches!(hi, End::Incl(..)) {
        "<="
    } else {
        "<"
    };
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(": {why}")
    };
    Err(s.err(
        &path,
        format!(
            "{v} is out of range (accepted range {} {lo_op} {name} {hi_op} {}{why})",
            lo.value(),
            hi.value()
        ),
    ))
}

/// A time field (`YYYY-MM-DD[THH:MM[:SS[.mmm]]]` UTC or integer ms) inside the accepted epoch.
pub(crate) fn time<P: std::fmt::Display + ?Sized>(
    s: &Site,
    path: &P,
    v: &str,
) -> Result<i64, ScenarioError> {
    let t = parse_time_ms(v).ok_or_else(|| {
        s.err(
            path,
            format!("`{v}` is not a time (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS[.mmm]] UTC, or ms since 1970)"),
        )
    })?;
    time_ms(s, path, t)?;
    Ok(t)
}

/// A time in ms inside the accepted epoch.
pub(crate) fn time_ms<P: std::fmt::Display + ?Sized>(
    s: &Site,
    path: &P,
    t: i64,
) -> Result<(), ScenarioError> {
    if (TIME_MIN_MS..TIME_MAX_MS).contains(&t) {
        Ok(())
    } else {
        Err(s.err(
            path,
            format!(
                "{t} is out of range (accepted range 2000-01-01 <= time < 2100-01-01, i.e. {TIME_MIN_MS}..{TIME_MAX_MS} ms)"
            ),
        ))
    }
}

/// Checks that `name` is a plain file name: not empty, no `/` or `\`, not `.` or `..`, no control
/// characters, at most [`MAX_NAME_LEN`] characters. `None` when it is.
pub fn plain_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("is empty (it names the report folder: give a plain name such as \"my-run\")".into())
    } else if name == "." || name == ".." {
        Some(format!("`{name}` is not a name (it names the report folder: give a plain name such as \"my-run\")"))
    } else if name.contains(['/', '\\']) {
        Some(format!("`{name}` contains a path separator (it names the report folder under reports/: give a plain name such as \"my-run\"; use --out for another place)"))
    } else if name.chars().any(char::is_control) {
        Some("contains a control character (give a plain name such as \"my-run\")".into())
    } else if name.chars().count() > MAX_NAME_LEN {
        Some(format!(
            "is {} characters long (accepted: at most {MAX_NAME_LEN})",
            name.chars().count()
        ))
    } else {
        None
    }
}

/// Checks every bound of a parsed scenario (no data is read).
pub fn validate(file: &Path, text: &str, raw: &ScenarioFile) -> Result<(), ScenarioError> {
    let s = Site { file, text };
    use End::*;
    // name
    match &raw.name {
        Some(n) => {
            if let Some(p) = plain_name_problem(n) {
                return Err(s.err("name", p));
            }
        }
        None => {
            let stem = file
                .file_stem()
                .map(|x| x.to_string_lossy().to_string())
                .unwrap_or_default();
            if let Some(p) = plain_name_problem(&stem) {
                return Err(s.err(
                    "name",
                    format!(
                        "absent, and the file stem {p}; add `name = \"…\"` at the top of the file"
                    ),
                ));
            }
        }
    }
    // [data]
    let d = &raw.data;
    if d.klines.is_empty() {
        return Err(s.err(
            "data.klines",
            "no kline files given (list at least one file or folder)",
        ));
    }
    if let Some(sym) = &d.symbol {
        if sym.is_empty() || sym.len() > 32 || !sym.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(s.err(
                "data.symbol",
                format!(
                    "`{}` is not a symbol (1 to 32 letters and digits, e.g. AVAXUSDT)",
                    sym.escape_debug()
                ),
            ));
        }
    }
    let from = match &d.from {
        Some(v) => Some(time(&s, "data.from", v)?),
        None => None,
    };
    let to = match &d.to {
        Some(v) => Some(time(&s, "data.to", v)?),
        None => None,
    };
    if let (Some(f), Some(t)) = (from, to) {
        if f >= t {
            return Err(s.err(
                "data.to",
                format!(
                    "`{}` is not after `from` = `{}` (the window is from inclusive to exclusive)",
                    d.to.as_deref().unwrap_or(""),
                    d.from.as_deref().unwrap_or("")
                ),
            ));
        }
    }
    // [exchange]
    let ex = &raw.exchange;
    for (k, v) in [("maker_fee", ex.maker_fee), ("taker_fee", ex.taker_fee)] {
        if let Some(v) = v {
            dec(
                &s,
                &format!("exchange.{k}"),
                v,
                Incl(0, 0),
                Incl(1, 1),
                "a rate, 0.0005 is 0.05 %",
            )?;
        }
    }
    int(
        &s,
        "exchange.slippage_ticks",
        ex.slippage_ticks,
        0,
        1_000_000,
    )?;
    if let Some(l) = ex.leverage {
        int(&s, "exchange.leverage", i64::from(l), 1, 125)?;
    }
    if let Some(b) = ex.initial_balance {
        dec(
            &s,
            "exchange.initial_balance",
            b,
            Excl(0, 0),
            Incl(MAX_BALANCE, 0),
            "USDT",
        )?;
    }
    let f = &ex.filters;
    let tick = |path: &str, v: Option<Decimal>, hi: i64| -> Result<(), ScenarioError> {
        if let Some(v) = v {
            dec(&s, path, v, Incl(1, 8), Incl(hi, 0), "")?;
            if v.normalize().scale() > 8 {
                return Err(s.err(
                    path,
                    format!(
                        "{v} has more than 8 decimals (prices and quantities are stored to 1e-8)"
                    ),
                ));
            }
        }
        Ok(())
    };
    tick("exchange.filters.tick_size", f.tick_size, 10_000)?;
    tick("exchange.filters.step_size", f.step_size, 1_000_000)?;
    for (k, v, hi) in [
        ("min_price", f.min_price, MAX_PRICE),
        ("max_price", f.max_price, MAX_PRICE),
        ("min_qty", f.min_qty, MAX_QTY),
        ("max_qty", f.max_qty, MAX_QTY),
        ("market_max_qty", f.market_max_qty, MAX_QTY),
    ] {
        if let Some(v) = v {
            dec(
                &s,
                &format!("exchange.filters.{k}"),
                v,
                Excl(0, 0),
                Incl(hi, 0),
                "",
            )?;
        }
    }
    if let (Some(lo), Some(hi)) = (f.min_price, f.max_price) {
        if lo > hi {
            return Err(s.err(
                "exchange.filters.max_price",
                format!("{hi} is below min_price {lo}"),
            ));
        }
    }
    if let (Some(lo), Some(hi)) = (f.min_qty, f.max_qty) {
        if lo > hi {
            return Err(s.err(
                "exchange.filters.max_qty",
                format!("{hi} is below min_qty {lo}"),
            ));
        }
    }
    if let Some(v) = f.min_notional {
        dec(
            &s,
            "exchange.filters.min_notional",
            v,
            Incl(0, 0),
            Incl(MAX_PRICE, 0),
            "USDT",
        )?;
    }
    if let Some(v) = f.percent_up {
        dec(
            &s,
            "exchange.filters.percent_up",
            v,
            Excl(1, 0),
            Incl(10, 0),
            "multiplierUp, e.g. 1.05",
        )?;
    }
    if let Some(v) = f.percent_down {
        dec(
            &s,
            "exchange.filters.percent_down",
            v,
            Excl(0, 0),
            Excl(1, 0),
            "multiplierDown, e.g. 0.95",
        )?;
    }
    if let Some(v) = f.maint_margin_ratio {
        dec(
            &s,
            "exchange.filters.maint_margin_ratio",
            v,
            Excl(0, 0),
            Excl(1, 0),
            "",
        )?;
    }
    if let Some(v) = f.liquidation_fee {
        dec(
            &s,
            "exchange.filters.liquidation_fee",
            v,
            Incl(0, 0),
            Excl(1, 0),
            "",
        )?;
    }
    if ex.brackets.len() > 50 {
        return Err(s.err(
            "exchange.brackets",
            format!("{} brackets (accepted: at most 50)", ex.brackets.len()),
        ));
    }
    for (i, b) in ex.brackets.iter().enumerate() {
        let p = format!("exchange.brackets[{i}]");
        dec(
            &s,
            &format!("{p}.notional_cap"),
            b.notional_cap,
            Excl(0, 0),
            Incl(1_000_000_000_000_000, 0),
            "USDT",
        )?;
        dec(&s, &format!("{p}.mmr"), b.mmr, Excl(0, 0), Excl(1, 0), "")?;
        dec(
            &s,
            &format!("{p}.cum"),
            b.cum,
            Incl(0, 0),
            Incl(MAX_BALANCE, 0),
            "USDT",
        )?;
        if i > 0 && b.notional_cap <= ex.brackets[i - 1].notional_cap {
            return Err(s.err(
                &format!("{p}.notional_cap"),
                format!(
                    "{} does not ascend (the previous bracket's cap is {})",
                    b.notional_cap,
                    ex.brackets[i - 1].notional_cap
                ),
            ));
        }
    }
    // [latency]
    let l = &raw.latency;
    for (k, v, lo) in [
        ("request_ms", l.request_ms, 0),
        ("response_ms", l.response_ms, 0),
        ("jitter_ms", l.jitter_ms, 0),
        ("stream_ms", l.stream_ms, 0),
        ("timeout_ms", l.timeout_ms, 1),
    ] {
        int(&s, &format_args!("latency.{k}"), v, lo, DAY_MS)?;
    }
    // [engine]
    let e = &raw.engine;
    int(&s, "engine.poll_interval_ms", e.poll_interval_ms, 0, DAY_MS)?;
    int(&s, "engine.error_backoff_ms", e.error_backoff_ms, 0, DAY_MS)?;
    switches_of(&s, e)?;
    // [signals]
    for (i, sig) in raw.signals.inline.iter().enumerate() {
        signal(&s, &format_args!("signals.inline[{i}]"), sig)?;
    }
    if let Some(r) = &raw.signals.random {
        let p = "signals.random";
        dec(
            &s,
            &format!("{p}.rate_per_day"),
            r.rate_per_day,
            Incl(0, 0),
            Incl(MAX_RATE_PER_DAY, 0),
            "signals per day",
        )?;
        dec(
            &s,
            &format!("{p}.sl_pct"),
            r.sl_pct,
            Incl(0, 0),
            Excl(1, 0),
            "a fraction of the price; a stop must stay above 0",
        )?;
        dec(
            &s,
            &format!("{p}.tp_pct"),
            r.tp_pct,
            Incl(0, 0),
            Excl(1, 0),
            "a fraction of the price; a short's target must stay above 0",
        )?;
        if let Some(q) = r.quantity {
            dec(
                &s,
                &format!("{p}.quantity"),
                q,
                Incl(0, 0),
                Incl(MAX_QTY, 0),
                "0 is the minimum size",
            )?;
        }
        if let Some(sd) = &r.sides {
            if !matches!(sd.as_str(), "both" | "long" | "short") {
                return Err(s.err(
                    &format!("{p}.sides"),
                    format!("`{}`: use both, long or short", sd.escape_debug()),
                ));
            }
        }
    }
    if let Some(st) = &raw.strategy {
        strategy(&s, st)?;
    }
    for (i, m) in raw.manual_closes.iter().enumerate() {
        time(&s, &format_args!("manual_closes[{i}].at"), &m.at)?;
        part(
            &s,
            &format!("manual_closes[{i}]"),
            m.quantity,
            m.fraction,
            false,
        )?;
    }
    external(&s, raw)?;
    // [faults]
    let fl = &raw.faults;
    for (k, v) in [
        ("rate_limit_ppm", fl.rate_limit_ppm),
        ("timeout_ppm", fl.timeout_ppm),
        ("server_error_ppm", fl.server_error_ppm),
        ("cancel_unknown_ppm", fl.cancel_unknown_ppm),
        ("poll_error_ppm", fl.poll_error_ppm),
        ("stream_drop_ppm", fl.stream_drop_ppm),
        ("stream_duplicate_ppm", fl.stream_duplicate_ppm),
    ] {
        int(
            &s,
            &format_args!("faults.{k}"),
            i64::from(v),
            0,
            i64::from(PPM),
        )?;
    }
    int(&s, "faults.stream_delay_ms", fl.stream_delay_ms, 0, DAY_MS)?;
    for (i, w) in fl.scheduled.iter().enumerate() {
        let p = format!("faults.scheduled[{i}]");
        time_ms(&s, &format!("{p}.from_ms"), w.from_ms)?;
        time_ms(&s, &format!("{p}.to_ms"), w.to_ms)?;
        if w.from_ms >= w.to_ms {
            return Err(s.err(
                &format!("{p}.to_ms"),
                format!(
                    "{} is not after from_ms = {} (a window is from inclusive to exclusive)",
                    w.to_ms, w.from_ms
                ),
            ));
        }
    }
    for (i, t) in fl.restarts_ms.iter().enumerate() {
        time_ms(&s, &format_args!("faults.restarts_ms[{i}]"), *t)?;
    }
    for (i, t) in fl.targeted.iter().enumerate() {
        if let Err((k, msg)) = t.check() {
            let p = format!("faults.targeted[{i}]");
            // a missing key is cited at its target
            let path = if spans::line_of_path(s.text, &format!("{p}.{k}")).is_some() {
                format!("{p}.{k}")
            } else {
                p
            };
            return Err(s.err(&path, msg));
        }
    }
    // [invariants]
    if let Some(r) = raw.invariants.reaction_ms {
        int(&s, "invariants.reaction_ms", r, 0, MAX_REACTION_MS)?;
    }
    Ok(())
}

/// `quantity` / `fraction` of a partial act at `p` (a manual close, or an ADL when `required`):
/// at most one (exactly one when `required`), `0 < quantity <= 10^9`, `0 < fraction <= 1`.
fn part(
    s: &Site,
    p: &str,
    quantity: Option<Decimal>,
    fraction: Option<Decimal>,
    required: bool,
) -> Result<(), ScenarioError> {
    match (quantity, fraction) {
        (Some(_), Some(_)) => {
            return Err(s.err(
                &format!("{p}.fraction"),
                "give `quantity` or `fraction`, not both",
            ))
        }
        (None, None) if required => {
            return Err(s.err(
                p,
                "an ADL needs `quantity = \"…\"` or `fraction = 0.5` (how much of the position it takes)",
            ))
        }
        _ => {}
    }
    if let Some(q) = quantity {
        dec(
            s,
            &format!("{p}.quantity"),
            q,
            End::Excl(0, 0),
            End::Incl(MAX_QTY, 0),
            "",
        )?;
    }
    if let Some(f) = fraction {
        dec(
            s,
            &format!("{p}.fraction"),
            f,
            End::Excl(0, 0),
            End::Incl(1, 0),
            "a fraction of the position, 1 = all of it",
        )?;
    }
    Ok(())
}

/// `[[external]]`: each act's time, its target and only the keys its act takes.
fn external(s: &Site, raw: &ScenarioFile) -> Result<(), ScenarioError> {
    use crate::sim::external::ActKind;
    use crate::types::PositionSide;
    for (i, x) in raw.external.iter().enumerate() {
        let p = format!("external[{i}]");
        time(s, &format_args!("{p}.at"), &x.at)?;
        if let Some(sym) = &x.symbol {
            if sym.is_empty() || sym.len() > 32 || !sym.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(s.err(
                    &format!("{p}.symbol"),
                    format!(
                        "`{}` is not a symbol (1–32 letters and digits)",
                        sym.escape_debug()
                    ),
                ));
            }
        }
        let act = x.act.as_str();
        let not_for = |key: &str, goes: &str| {
            s.err(
                &format!("{p}.{key}"),
                format!("`{key}` does not go with act = \"{act}\" ({goes})"),
            )
        };
        match x.act {
            ActKind::CancelLeg | ActKind::ExpireLeg => {
                for (key, given) in [
                    ("quantity", x.quantity.is_some()),
                    ("fraction", x.fraction.is_some()),
                    ("position_side", x.position_side.is_some()),
                ] {
                    if given {
                        return Err(not_for(key, "a leg act takes `pair` and `leg`"));
                    }
                }
                match &x.pair {
                    None => {
                        return Err(s.err(
                            &p,
                            format!("act = \"{act}\" needs `pair = N` (the Nth position opened, from 1) or `pair = \"latest\"`"),
                        ))
                    }
                    Some(super::PairSpec::Nth(n)) => {
                        int(s, &format!("{p}.pair"), *n, 1, MAX_QTY)?;
                    }
                    Some(super::PairSpec::Name(n)) if n == "latest" => {}
                    Some(super::PairSpec::Name(n)) => {
                        return Err(s.err(
                            &format!("{p}.pair"),
                            format!("`{}`: give a pair number (1, 2, …) or \"latest\"", n.escape_debug()),
                        ))
                    }
                }
                if x.leg.is_none() {
                    return Err(s.err(
                        &p,
                        format!("act = \"{act}\" needs `leg = \"stop_loss\"`, `\"take_profit\"` or `\"both\"`"),
                    ));
                }
            }
            ActKind::Adl => {
                if x.pair.is_some() {
                    return Err(not_for(
                        "pair",
                        "an ADL takes `quantity` or `fraction`, and `position_side` in hedge mode",
                    ));
                }
                if x.leg.is_some() {
                    return Err(not_for(
                        "leg",
                        "an ADL takes `quantity` or `fraction`, and `position_side` in hedge mode",
                    ));
                }
                part(s, &p, x.quantity, x.fraction, true)?;
                let hedge = raw.exchange.position_mode == crate::types::PositionMode::Hedge;
                match (hedge, x.position_side) {
                    (true, Some(PositionSide::Long | PositionSide::Short)) => {}
                    (true, Some(PositionSide::Both)) => {
                        return Err(s.err(
                            &format!("{p}.position_side"),
                            "BOTH is the one-way position; in hedge mode give LONG or SHORT",
                        ))
                    }
                    (true, None) => {
                        return Err(s.err(
                            &p,
                            "in hedge mode an ADL needs `position_side = \"LONG\"` or `\"SHORT\"`",
                        ))
                    }
                    (false, Some(PositionSide::Long | PositionSide::Short)) => {
                        return Err(s.err(
                            &format!("{p}.position_side"),
                            "one-way mode has only the BOTH position (omit `position_side`)",
                        ))
                    }
                    (false, _) => {}
                }
            }
        }
    }
    Ok(())
}

/// The profile's switches with the scenario's overrides (each checked by [`Switches::set`],
/// numeric ones against [`crate::engine::switches::SWITCH_BOUNDS`]).
pub(crate) fn switches_of(s: &Site, eng: &EngineSection) -> Result<Switches, ScenarioError> {
    let mut switches = Switches::profile(&eng.profile).ok_or_else(|| {
        s.err(
            "engine.profile",
            format!(
                "unknown profile `{}`: `sim profiles` lists them",
                eng.profile.escape_debug()
            ),
        )
    })?;
    for (k, v) in &eng.switches {
        let path = format!("engine.switches.{k}");
        let text = match v {
            toml::Value::String(x) => x.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(x) => x.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => return Err(s.err(&path, "switch values are strings, numbers or booleans")),
        };
        switches.set(k, &text).map_err(|m| s.err(&path, m))?;
    }
    Ok(switches)
}

/// Bounds of one signal (inline, or a row of a signals CSV with `path` naming it).
pub(crate) fn signal<P: std::fmt::Display + ?Sized>(
    s: &Site,
    p: &P,
    sig: &SignalSpec,
) -> Result<(), ScenarioError> {
    use End::*;
    time(s, &format_args!("{p}.at"), &sig.at)?;
    if let Some(q) = sig.quantity {
        dec(
            s,
            &format_args!("{p}.quantity"),
            q,
            Incl(0, 0),
            Incl(MAX_QTY, 0),
            "0 is the minimum size",
        )?;
    }
    for (k, v) in [
        ("stop_loss", sig.stop_loss),
        ("take_profit", sig.take_profit),
    ] {
        if let Some(v) = v {
            dec(
                s,
                &format_args!("{p}.{k}"),
                v,
                Excl(0, 0),
                Incl(MAX_PRICE, 0),
                "a stop or target must be a price",
            )?;
        }
    }
    // a stop below the price of a long (above for a short) must stay a positive price: a
    // fraction below 1; a long's target may be any multiple up, a short's must stay above 0
    let short = sig.action == Action::Sell;
    for (k, v, is_stop) in [
        ("sl_pct", sig.sl_pct, true),
        ("tp_pct", sig.tp_pct, false),
        ("stop_loss_pct", sig.stop_loss_pct, true),
        ("take_profit_pct", sig.take_profit_pct, false),
    ] {
        let Some(v) = v else { continue };
        let path = format!("{p}.{k}");
        if is_stop != short {
            dec(
                s,
                &path,
                v,
                Incl(0, 0),
                Excl(1, 0),
                "a fraction of the price; the price it gives must stay above 0",
            )?;
        } else {
            dec(
                s,
                &path,
                v,
                Incl(0, 0),
                Incl(10, 0),
                "a fraction of the price",
            )?;
        }
    }
    if let Some(c) = sig.confidence {
        dec(
            s,
            &format_args!("{p}.confidence"),
            c,
            Incl(0, 0),
            Incl(1, 0),
            "",
        )?;
    }
    if let Some(o) = &sig.order_type {
        use crate::engine::entries::ORDER_TYPES;
        if !ORDER_TYPES.contains(&o.as_str()) {
            return Err(s.err(
                &format_args!("{p}.order_type"),
                format!(
                    "`{}` is not an order type (the live Signal's: {})",
                    o.escape_debug(),
                    ORDER_TYPES.join(", ")
                ),
            ));
        }
    }
    // the signal's own price: one of price / offset_pct / offset_ticks
    let given: Vec<&str> = [
        ("price", sig.price.is_some()),
        ("offset_pct", sig.offset_pct.is_some()),
        ("offset_ticks", sig.offset_ticks.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, g)| g.then_some(k))
    .collect();
    if given.len() > 1 {
        return Err(s.err(
            &format_args!("{p}.{}", given[1]),
            format!(
                "give one of `price`, `offset_pct`, `offset_ticks`, not `{}` and `{}`",
                given[0], given[1]
            ),
        ));
    }
    if let Some(v) = sig.price {
        dec(
            s,
            &format_args!("{p}.price"),
            v,
            Excl(0, 0),
            Incl(MAX_PRICE, 0),
            "a price",
        )?;
    }
    if let Some(v) = sig.offset_pct {
        dec(
            s,
            &format_args!("{p}.offset_pct"),
            v,
            Excl(-1, 0),
            Incl(10, 0),
            "a fraction of the last close, + above, − below; the price it gives must stay above 0",
        )?;
    }
    if let Some(v) = sig.offset_ticks {
        int(
            s,
            &format_args!("{p}.offset_ticks"),
            v,
            -MAX_TICKS,
            MAX_TICKS,
        )?;
    }
    if let Some(v) = sig.position_size_pct {
        dec(
            s,
            &format_args!("{p}.position_size_pct"),
            v,
            Incl(0, 0),
            Incl(1, 0),
            "a fraction of the account (the live Signal's range)",
        )?;
    }
    if let Some(t) = &sig.time_in_force {
        if !matches!(t.as_str(), "GTC" | "IOC" | "FOK" | "GTX") {
            return Err(s.err(
                &format_args!("{p}.time_in_force"),
                format!(
                    "`{}` is not a time in force (GTC, IOC, FOK or GTX)",
                    t.escape_debug()
                ),
            ));
        }
    }
    if let Some(st) = &sig.strategy {
        if st.is_empty() || st.chars().count() > 64 || st.chars().any(char::is_control) {
            return Err(s.err(
                &format_args!("{p}.strategy"),
                "a strategy id is 1 to 64 characters, no control characters",
            ));
        }
    }
    Ok(())
}

/// [`signal`] for a signal read from another file (`[signals] jsonl`): the error cites `file` at
/// `line`, with the field as `name` spells it there.
pub(crate) fn signal_at(
    file: &Path,
    line: usize,
    sig: &SignalSpec,
    name: fn(&str) -> &str,
) -> Result<(), ScenarioError> {
    let site = Site { file, text: "" };
    signal(&site, "s", sig).map_err(|mut e| {
        let k = e.field.strip_prefix("s.").unwrap_or(&e.field).to_string();
        let n = name(&k);
        if n != k {
            e.msg = e.msg.replace(&format!(" {k} "), &format!(" {n} "));
        }
        e.field = n.to_string();
        e.line = line;
        e
    })
}

/// Checks `[strategy]` and turns it into the simulator's strategy.
pub(crate) fn strategy(
    s: &Site,
    st: &super::StrategySection,
) -> Result<crate::sim::strategy::Bracket, ScenarioError> {
    use crate::sim::strategy::{Bracket, BracketSide, Distance};
    use End::*;
    if st.kind != "bracket" {
        return Err(s.err(
            "strategy.kind",
            format!(
                "`{}` is not a strategy (the built-in one is \"bracket\")",
                st.kind.escape_debug()
            ),
        ));
    }
    let dist = |leg: &str,
                pct: Option<Decimal>,
                ticks: Option<i64>|
     -> Result<Distance, ScenarioError> {
        match (pct, ticks) {
            (Some(p), None) => {
                dec(
                    s,
                    &format!("strategy.{leg}_pct"),
                    p,
                    Excl(0, 0),
                    Excl(1, 0),
                    "a fraction of the close, 0.004 is 0.4 %",
                )?;
                Ok(Distance::Pct(p))
            }
            (None, Some(t)) => {
                int(s, &format!("strategy.{leg}_ticks"), t, 1, MAX_PRICE)?;
                Ok(Distance::Ticks(t))
            }
            (Some(_), Some(_)) => Err(s.err(
                &format!("strategy.{leg}_ticks"),
                format!("give `{leg}_pct` or `{leg}_ticks`, not both"),
            )),
            (None, None) => Err(s.err(
                "strategy",
                format!("no {leg} distance: add `{leg}_pct = 0.004` or `{leg}_ticks = …` under [strategy]"),
            )),
        }
    };
    let sl = dist("sl", st.sl_pct, st.sl_ticks)?;
    let tp = dist("tp", st.tp_pct, st.tp_ticks)?;
    if let Some(q) = st.quantity {
        dec(
            s,
            "strategy.quantity",
            q,
            Incl(0, 0),
            Incl(MAX_QTY, 0),
            "0 is the minimum size",
        )?;
    }
    if let Some(c) = st.confidence {
        dec(s, "strategy.confidence", c, Incl(0, 0), Incl(1, 0), "")?;
    }
    if let Some(n) = st.reenter_after_bars {
        int(s, "strategy.reenter_after_bars", i64::from(n), 0, 1_000_000)?;
    }
    let id = st.strategy.clone().unwrap_or_else(|| "bracket".into());
    if id.is_empty() || id.len() > 64 || id.chars().any(char::is_control) {
        return Err(s.err(
            "strategy.strategy",
            "give 1 to 64 printable characters (the strategy_id of its signals)",
        ));
    }
    Ok(Bracket {
        side: st.side.unwrap_or(BracketSide::Long),
        quantity: st.quantity.unwrap_or_default(),
        sl,
        tp,
        reenter_after_bars: st.reenter_after_bars.unwrap_or(0),
        strategy_id: id.into(),
        confidence: st.confidence.unwrap_or(Decimal::new(8, 1)),
    })
}
