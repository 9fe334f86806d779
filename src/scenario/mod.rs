//! Scenario files: raw TOML (serde, `deny_unknown_fields`) → a validated, ready-to-run
//! [`Scenario`]. Every user error is one line naming file, line and field (see [`ScenarioError`]).
//!
//! Relative paths inside a scenario are resolved against the scenario file's folder.

pub mod bounds;
pub mod build;
pub mod signals_csv;
pub mod spans;

use crate::engine::Monitor;
use crate::exchange::{ApiMode, Bracket, IntrabarPolicy, LimitFill, MarginMode};
use crate::sim::{Faults, Latency};
use crate::types::PositionMode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use build::{build, build_cached, build_with, load, DataCache, RunResult, Scenario};

/// A user-input error: `file:line: field `x`: what (hint)`; the CLI exits 2 on it. Without a
/// line (the field is not written in the file) it prints `file: field `x`: …`, and without a
/// field (the file itself is wrong) `file: …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// The file.
    pub file: String,
    /// 1-based line (0 when the field is not written in the file).
    pub line: usize,
    /// The field (dotted path, `signals.inline[2].sl_pct`; empty for the file as a whole).
    pub field: String,
    /// What is wrong, with a hint.
    pub msg: String,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if !self.field.is_empty() && self.field != "-" {
            write!(f, ": field `{}`", self.field)?;
        }
        // one line, whatever the message holds
        write!(f, ": {}", self.msg.replace(['\n', '\r'], " "))
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Name used for the report folder (default: the file stem).
    #[serde(default)]
    pub name: Option<String>,
    /// One line on what it shows.
    #[serde(default)]
    pub description: Option<String>,
    /// Seed of every random draw in the run.
    #[serde(default)]
    pub seed: u64,
    /// Data.
    pub data: DataSection,
    /// Exchange.
    #[serde(default)]
    pub exchange: ExchangeSection,
    /// Latencies.
    #[serde(default)]
    pub latency: Latency,
    /// Engine.
    #[serde(default)]
    pub engine: EngineSection,
    /// Signals.
    #[serde(default)]
    pub signals: SignalsSection,
    /// A built-in strategy sending signals during the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<StrategySection>,
    /// Manual closes.
    #[serde(default)]
    pub manual_closes: Vec<ManualCloseSpec>,
    /// Things that happen behind the engine's back (`[[external]]`, see [`crate::sim::external`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external: Vec<ExternalSpec>,
    /// Faults.
    #[serde(default)]
    pub faults: Faults,
    /// Invariant settings.
    #[serde(default)]
    pub invariants: InvariantSection,
    /// Report settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportSection>,
    /// `sim serve` settings (ignored by `sim run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serve: Option<ServeSection>,
}

/// `[report]`: what the report files hold.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ReportSection {
    /// Records in `events.jsonl`: `all` (default), `trades` or `violations`.
    pub events: crate::report::EventsLevel,
}

/// `[serve]`: the API key and secret `sim serve` accepts (generated from the seed when absent).
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServeSection {
    /// API key.
    #[serde(default)]
    pub api_key: Option<String>,
    /// API secret.
    #[serde(default)]
    pub api_secret: Option<String>,
}

/// `[data]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// Kline files, folders or zips (Binance archive layout).
    pub klines: Vec<PathBuf>,
    /// Symbol (default: from the file name).
    #[serde(default)]
    pub symbol: Option<String>,
    /// Resample to this interval (e.g. "5m"); the loaded one is kept for `refine`.
    #[serde(default)]
    pub interval: Option<String>,
    /// Start (inclusive), `YYYY-MM-DD[THH:MM]` UTC.
    #[serde(default)]
    pub from: Option<String>,
    /// End (exclusive).
    #[serde(default)]
    pub to: Option<String>,
    /// Lower-timeframe files for the `refine` policy (default: the loaded klines when resampling).
    #[serde(default)]
    pub refine: Vec<PathBuf>,
    /// Funding-rate files (archive or API layout).
    #[serde(default)]
    pub funding: Vec<PathBuf>,
    /// Mark-price kline files (archive layout, or the 6-column `open_time,open,high,low,close,volume`
    /// files; any interval): the mark path for MARK_PRICE triggers, unrealized PnL, PERCENT_PRICE,
    /// funding and liquidation. Absent: the trade price stands in (a warning says so).
    #[serde(default)]
    pub mark: Vec<PathBuf>,
}

/// `[exchange]`
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ExchangeSection {
    /// "one-way" or "hedge".
    pub position_mode: PositionMode,
    /// "algo" or "legacy"; when absent, the profile's era (`api_for_profile`).
    pub api: Option<ApiMode>,
    /// Maker fee rate.
    pub maker_fee: Option<Decimal>,
    /// Taker fee rate.
    pub taker_fee: Option<Decimal>,
    /// Intrabar path policy.
    pub intrabar: IntrabarPolicy,
    /// Adverse slippage of market fills in ticks.
    pub slippage_ticks: i64,
    /// "touch" or "through".
    pub limit_fill: LimitFill,
    /// Leverage (default 10).
    pub leverage: Option<u32>,
    /// "cross" or "isolated".
    pub margin_mode: MarginMode,
    /// Initial USDT balance (default 10000).
    pub initial_balance: Option<Decimal>,
    /// Filter overrides.
    pub filters: FilterOverrides,
    /// Maintenance-margin brackets `[{ notional_cap = "…", mmr = "…", cum = "…" }, …]`, ascending
    /// caps (default: the symbol's table, see `exchange::margin`).
    pub brackets: Vec<Bracket>,
}

/// `[exchange.filters]`: any subset of the symbol's filters.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FilterOverrides {
    /// tickSize
    pub tick_size: Option<Decimal>,
    /// minPrice
    pub min_price: Option<Decimal>,
    /// maxPrice
    pub max_price: Option<Decimal>,
    /// stepSize
    pub step_size: Option<Decimal>,
    /// minQty
    pub min_qty: Option<Decimal>,
    /// maxQty
    pub max_qty: Option<Decimal>,
    /// MARKET_LOT_SIZE maxQty
    pub market_max_qty: Option<Decimal>,
    /// MIN_NOTIONAL
    pub min_notional: Option<Decimal>,
    /// PERCENT_PRICE multiplierUp
    pub percent_up: Option<Decimal>,
    /// PERCENT_PRICE multiplierDown
    pub percent_down: Option<Decimal>,
    /// maintenance margin ratio
    pub maint_margin_ratio: Option<Decimal>,
    /// liquidation fee
    pub liquidation_fee: Option<Decimal>,
}

/// `[engine]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSection {
    /// Profile name (`sim profiles` lists them).
    pub profile: String,
    /// "poll" or "stream".
    pub monitor: Monitor,
    /// Poll interval (ms).
    pub poll_interval_ms: i64,
    /// Sleep after a failed pass (ms).
    pub error_backoff_ms: i64,
    /// Switch overrides: name = value.
    pub switches: BTreeMap<String, toml::Value>,
    /// Skip provably idle polls (same log, faster).
    pub skip_idle_polls: bool,
}

impl Default for EngineSection {
    fn default() -> Self {
        EngineSection {
            profile: "reference".into(),
            monitor: Monitor::Poll,
            poll_interval_ms: 2000,
            error_backoff_ms: 5000,
            switches: BTreeMap::new(),
            skip_idle_polls: true,
        }
    }
}

/// `[signals]`
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SignalsSection {
    /// Inline list.
    pub inline: Vec<SignalSpec>,
    /// A CSV file with columns `time,action,quantity,stop_loss,take_profit,sl_pct,tp_pct,confidence,strategy`.
    pub csv: Option<PathBuf>,
    /// Built-in random generator.
    pub random: Option<RandomSignals>,
    /// Strategy id when a signal names none.
    pub strategy: Option<String>,
}

/// One inline signal.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SignalSpec {
    /// Time (`YYYY-MM-DDTHH:MM[:SS]` UTC or ms).
    pub at: String,
    /// buy / sell / hold / close.
    pub action: crate::engine::Action,
    /// Quantity (0 or absent: minimum size).
    #[serde(default)]
    pub quantity: Option<Decimal>,
    /// Absolute stop-loss.
    #[serde(default)]
    pub stop_loss: Option<Decimal>,
    /// Absolute take-profit.
    #[serde(default)]
    pub take_profit: Option<Decimal>,
    /// Stop-loss distance from the current price as a fraction (turned into an absolute price).
    #[serde(default)]
    pub sl_pct: Option<Decimal>,
    /// Take-profit distance as a fraction (turned into an absolute price).
    #[serde(default)]
    pub tp_pct: Option<Decimal>,
    /// Signal-level `stop_loss_pct` (only PHEAD reads it).
    #[serde(default)]
    pub stop_loss_pct: Option<Decimal>,
    /// Signal-level `take_profit_pct`.
    #[serde(default)]
    pub take_profit_pct: Option<Decimal>,
    /// Confidence (default 0.8).
    #[serde(default)]
    pub confidence: Option<Decimal>,
    /// Strategy id.
    #[serde(default)]
    pub strategy: Option<String>,
    /// "market" (default) or "limit".
    #[serde(default)]
    pub order_type: Option<String>,
    /// When the signal reaches the engine (default: `at`); its age is measured from `at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
    /// Delivery delay after `at` in ms (instead of `delivered_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<i64>,
}

/// `random = { … }`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RandomSignals {
    /// Seed of the generator (independent of the run seed).
    pub seed: u64,
    /// Signals per day on average.
    pub rate_per_day: Decimal,
    /// Stop-loss distance fraction.
    pub sl_pct: Decimal,
    /// Take-profit distance fraction.
    pub tp_pct: Decimal,
    /// Quantity (0: minimum).
    #[serde(default)]
    pub quantity: Option<Decimal>,
    /// "both", "long" or "short".
    #[serde(default)]
    pub sides: Option<String>,
}

/// `[strategy]`: a built-in reactive strategy (see [`crate::sim::strategy`]).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StrategySection {
    /// Which strategy: `bracket` (the only one).
    pub kind: String,
    /// `long` (default), `short` or `alternate`.
    #[serde(default)]
    pub side: Option<crate::sim::strategy::BracketSide>,
    /// Entry quantity (0 or absent: minimum size).
    #[serde(default)]
    pub quantity: Option<Decimal>,
    /// Stop-loss distance as a fraction of the entry bar's close (or give `sl_ticks`).
    #[serde(default)]
    pub sl_pct: Option<Decimal>,
    /// Take-profit distance as a fraction of the entry bar's close (or give `tp_ticks`).
    #[serde(default)]
    pub tp_pct: Option<Decimal>,
    /// Stop-loss distance in ticks.
    #[serde(default)]
    pub sl_ticks: Option<i64>,
    /// Take-profit distance in ticks.
    #[serde(default)]
    pub tp_ticks: Option<i64>,
    /// Bar closes to wait, flat, before entering again (default 0: at the close of the exit bar).
    #[serde(default)]
    pub reenter_after_bars: Option<u32>,
    /// strategy_id of its signals (default `bracket`).
    #[serde(default)]
    pub strategy: Option<String>,
    /// Confidence of its signals (default 0.8).
    #[serde(default)]
    pub confidence: Option<Decimal>,
}

/// One manual close.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ManualCloseSpec {
    /// When.
    pub at: String,
    /// LONG, SHORT or BOTH.
    pub position_side: crate::types::PositionSide,
    /// Close this quantity only (a partial close; not with `fraction`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Decimal>,
    /// Close this fraction (0 < f ≤ 1) of what the engine would close (not with `quantity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<Decimal>,
}

/// One `[[external]]` entry: an act behind the engine's back at a time.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalSpec {
    /// When (venue time).
    pub at: String,
    /// The symbol (optional: a scenario trades one symbol; when given it must be that one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// `cancel_leg`, `expire_leg` or `adl`.
    pub act: crate::sim::external::ActKind,
    /// Leg acts: `N` (the Nth pair, 1-based) or `"latest"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<PairSpec>,
    /// Leg acts: `stop_loss`, `take_profit` or `both`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leg: Option<crate::sim::external::LegSel>,
    /// ADL: the quantity taken (not with `fraction`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Decimal>,
    /// ADL: the fraction of the position taken, 0 < f ≤ 1 (not with `quantity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<Decimal>,
    /// ADL: `LONG` or `SHORT` (hedge mode, required); `BOTH` or absent in one-way mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position_side: Option<crate::types::PositionSide>,
}

/// `pair = 2` or `pair = "latest"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PairSpec {
    /// The Nth pair.
    Nth(i64),
    /// A name (`latest`).
    Name(String),
}

impl<'de> Deserialize<'de> for PairSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = PairSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a pair number (1, 2, …) or \"latest\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PairSpec, E> {
                Ok(PairSpec::Nth(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PairSpec, E> {
                Ok(PairSpec::Nth(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PairSpec, E> {
                Ok(PairSpec::Name(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `[invariants]`
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct InvariantSection {
    /// Reaction window (ms); default: poll interval + error backoff + 4 s of retries + 8 round trips.
    pub reaction_ms: Option<i64>,
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// Largest scenario or sweep file read (bytes): far above any real file, far below memory.
pub const MAX_FILE_BYTES: u64 = crate::data::files::MAX_TEXT_BYTES;

/// Reads a scenario or sweep file: a regular file (not a FIFO or device, which could block or
/// never end) of at most [`MAX_FILE_BYTES`], in UTF-8.
pub fn read_text(path: &Path) -> Result<String, ScenarioError> {
    let fail = |msg: String| ScenarioError {
        file: path.display().to_string(),
        line: 0,
        field: String::new(),
        msg,
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a folder"
        } else {
            "not a regular file (a FIFO, socket or device)"
        };
        return Err(fail(format!("is {kind}; give a regular .toml file")));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(fail(format!(
            "is {} bytes, more than the {MAX_FILE_BYTES}-byte limit for a scenario or sweep file",
            meta.len()
        )));
    }
    // opened without blocking and checked again on the handle (a FIFO swapped in after the
    // check above must not hang the open), read with the same cap
    use crate::data::files;
    let what = "a scenario or sweep file";
    let mut buf = Vec::new();
    files::open_regular(path, MAX_FILE_BYTES, what)
        .and_then(|(f, _)| {
            files::read_to_end_capped(
                f,
                &mut buf,
                &path.display().to_string(),
                MAX_FILE_BYTES,
                what,
            )
        })
        .map_err(|e| {
            let m = e.to_string();
            let prefix = format!("{}: ", path.display());
            fail(m.strip_prefix(&prefix).unwrap_or(&m).to_string())
        })?;
    String::from_utf8(buf).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(&e.as_bytes()[..at]).to_string();
        ScenarioError {
            file: path.display().to_string(),
            line: line_of(&text, at),
            field: String::new(),
            msg: "is not UTF-8 text (a TOML file must be UTF-8)".into(),
        }
    })
}

/// Turns a TOML/serde error on `text` into a one-line error naming the field by its path (found
/// from the error's span, so a bad value is never printed where the field name belongs).
pub fn toml_error(file: &Path, text: &str, e: &toml::de::Error) -> ScenarioError {
    let msg = e.message().replace(['\n', '\r'], " ").trim().to_string();
    let (line, at) = match e.span() {
        Some(s) => (line_of(text, s.start), spans::path_at(text, s.start)),
        None => (0, None),
    };
    // serde names the offending key in backticks for these kinds; elsewhere the backticks hold
    // a value (`unknown variant `buyy``), which must not pass for the field
    let named = |prefix: &str| {
        msg.strip_prefix(prefix)
            .and_then(|r| r.split('`').next())
            .map(str::to_string)
    };
    let mut extra = String::new();
    let mut line = line;
    let field = if let Some(k) = named("missing field `") {
        // the span of a missing field is its table's; the whole text is the top level
        let top = e
            .span()
            .is_none_or(|s| s.start == 0 && s.end >= text.trim_end().len());
        match at.filter(|_| !top) {
            Some(p) => {
                extra = format!(" (add `{k} = …` under [{p}])");
                format!("{p}.{k}")
            }
            None => {
                // absent from the file: no line to cite, say where it goes
                line = 0;
                extra = format!(" (add `{k}` to the file)");
                k
            }
        }
    } else if let Some(k) = named("unknown field `") {
        match at {
            Some(p) if p.ends_with(&k) => p,
            Some(p) => format!("{p}.{k}"),
            None => k,
        }
    } else if let Some(k) = named("duplicate key `") {
        at.unwrap_or(k)
    } else {
        at.unwrap_or_default()
    };
    ScenarioError {
        file: file.display().to_string(),
        line,
        field,
        msg: format!("{msg}{extra}"),
    }
}

/// Parses a scenario file's text.
pub fn parse(file: &Path, text: &str) -> Result<ScenarioFile, ScenarioError> {
    toml::from_str::<ScenarioFile>(text).map_err(|e| toml_error(file, text, &e))
}
