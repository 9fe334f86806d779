//! Raw scenario → validated, runnable [`Scenario`].

use super::*;
use crate::data::{self, LoadOptions};
use crate::engine::{Action, Engine, EngineConfig, Signal, Switches};
use crate::events::{EventLog, EventRecord, Observer};
use crate::exchange::{BarTicks, ExchangeConfig, MockExchange, SymbolSpec};
use crate::invariants::{CheckConfig, Checker, Violation};
use crate::sim::{self, rng::Stream, rng::StreamRng, ManualClose, RunOutput, SimConfig};
use crate::types::*;
use std::sync::Arc;

/// A scenario ready to run any number of times (a run is a pure function of it).
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name (report folder).
    pub name: String,
    /// Description.
    pub description: String,
    /// The file's text (copied into the report).
    pub text: String,
    /// Seed.
    pub seed: u64,
    /// Symbol rules.
    pub spec: SymbolSpec,
    /// Bars in ticks (shared by every run of the scenario).
    pub bars: Arc<[BarTicks]>,
    /// Bar length.
    pub interval_ms: i64,
    /// Lower-timeframe bars for `refine`.
    pub sub_bars: Arc<[BarTicks]>,
    /// Their length.
    pub sub_interval_ms: i64,
    /// Funding (ms, rate).
    pub funding: Vec<(i64, Decimal)>,
    /// Mark-price candles in ticks (empty: mark = trade price).
    pub mark_bars: Arc<[BarTicks]>,
    /// Their length.
    pub mark_interval_ms: i64,
    /// Exchange settings.
    pub exchange: ExchangeConfig,
    /// Profile name.
    pub profile: String,
    /// Switches after overrides.
    pub switches: Switches,
    /// Engine settings.
    pub engine: EngineConfig,
    /// Signals in time order.
    pub signals: Vec<Signal>,
    /// Manual closes in time order.
    pub manual: Vec<ManualClose>,
    /// Simulator settings.
    pub sim: SimConfig,
    /// Invariant settings.
    pub check: CheckConfig,
    /// Interval name.
    pub interval: String,
    /// Data warnings (missing bars in the chosen range, see [`data::gap_warnings`]): printed by
    /// `sim check` and `sim run`, listed in the report; empty for gap-free data.
    pub data_warnings: Vec<String>,
    /// Records in `events.jsonl` (`[report] events`).
    pub events: crate::report::EventsLevel,
    /// `[serve]` API key and secret, when the scenario gives both.
    pub serve_keys: Option<(String, String)>,
    /// The file it was built from, as given (`sim serve --record` names it in its header).
    pub source: PathBuf,
    /// True when the scenario file names `exchange.api` (otherwise it follows the profile).
    pub api_set: bool,
}

/// A finished run.
pub struct RunResult {
    /// Log and counters.
    pub output: RunOutput,
    /// Violations found.
    pub violations: Vec<Violation>,
    /// The records the violations' trails name (see [`crate::invariants::Trails`]).
    pub trails: crate::invariants::Trails,
}

impl Scenario {
    /// Runs it.
    pub fn run(&self) -> RunResult {
        self.run_with_progress(&mut |_| {})
    }

    /// Runs it and returns every call the engine made, reads included ([`sim::run_traced`]).
    pub fn run_traced(&self) -> (RunResult, Vec<sim::TracedCall>) {
        let (output, trace) = sim::run_traced(
            self.exchange_at_start(),
            Engine::new(self.switches.clone(), self.engine.clone()),
            &self.signals,
            &self.manual,
            &self.sim,
        );
        let violations = Checker::check_log(self.check.clone(), &output.log, output.span.1);
        let trails = crate::invariants::Trails::new();
        (
            RunResult {
                output,
                violations,
                trails,
            },
            trace,
        )
    }

    /// The mock exchange at the data's start, set up as the scenario says.
    pub fn exchange_at_start(&self) -> MockExchange {
        MockExchange::new(
            self.exchange.clone(),
            self.spec.clone(),
            self.bars.clone(),
            self.interval_ms,
        )
        .with_sub_bars(self.sub_bars.clone(), self.sub_interval_ms)
        .with_funding(self.funding.clone())
        .with_mark(self.mark_bars.clone(), self.mark_interval_ms)
    }

    /// Runs it, telling `progress` how far the simulation has got (thousandths, see
    /// [`sim::run_with_progress`]); the invariants are checked online, as each event is
    /// appended, and the whole log is kept.
    pub fn run_with_progress(&self, progress: &mut dyn FnMut(u32)) -> RunResult {
        self.run_observed(progress, EventLog::new(), None).0
    }

    /// Runs it appending to `log` (a full log, or [`EventLog::streaming`]): the invariant checker
    /// sees every record as it is appended, then `extra` (e.g. the report accumulators), which
    /// is handed back after the run.
    pub fn run_observed(
        &self,
        progress: &mut dyn FnMut(u32),
        mut log: EventLog,
        extra: Option<Box<dyn Observer>>,
    ) -> (RunResult, Option<Box<dyn Observer>>) {
        let ex = self.exchange_at_start();
        let engine = Engine::new(self.switches.clone(), self.engine.clone());
        // the observer is only ever fed by this log (it is taken back after the run), whose
        // kind cannot change: the checker is told it once instead of at every record
        let mut checker = Checker::new(self.check.clone());
        checker.pin_for(&log);
        log.set_observer(Box::new(RunObserver { checker, extra }));
        let mut output = sim::run_into(
            ex,
            engine,
            &self.signals,
            &self.manual,
            &self.sim,
            progress,
            log,
        );
        let obs = output
            .log
            .take_observer()
            .and_then(|o| o.into_any().downcast::<RunObserver>().ok())
            .expect("the run's observer");
        let RunObserver { checker, extra } = *obs;
        let (violations, trails) = checker.finish_in(output.span.1, &output.log);
        (
            RunResult {
                output,
                violations,
                trails,
            },
            extra,
        )
    }
}

/// The checker, then the caller's observer, fed each record of a run.
struct RunObserver {
    checker: Checker,
    extra: Option<Box<dyn Observer>>,
}

impl Observer for RunObserver {
    fn observe(&mut self, r: &EventRecord, log: &EventLog) {
        self.checker.observe_from(r, log);
        if let Some(x) = self.extra.as_mut() {
            x.observe(r, log);
        }
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

fn err(file: &Path, text: &str, field: &str, msg: impl Into<String>) -> ScenarioError {
    bounds::Site { file, text }.err(field, msg)
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn data_err(file: &Path, text: &str, field: &str, e: data::DataError) -> ScenarioError {
    // the data error already names its own file and line: keep it whole
    err(file, text, field, e.to_string())
}

fn to_bars(s: &data::KlineSeries, spec: &SymbolSpec) -> Arc<[BarTicks]> {
    spec.bars_from_e8(
        &s.open_time_ms,
        &s.open_e8,
        &s.high_e8,
        &s.low_e8,
        &s.close_e8,
    )
}

/// Reads and builds a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = read_text(path)?;
    let raw = parse(path, &text)?;
    build(path, &text, raw)
}

/// Validates a parsed scenario and loads its data.
pub fn build(file: &Path, text: &str, raw: ScenarioFile) -> Result<Scenario, ScenarioError> {
    build_inner(file, text, raw, None, None)
}

/// Kline files loaded once and shared by every scenario built with the cache: the cases of a
/// sweep differ in parameters, rarely in data, and parsing a month costs more than running a day.
/// Keyed by the resolved file list and the kind (trade or mark klines); errors are not kept.
#[derive(Debug, Default)]
pub struct DataCache {
    klines: std::sync::Mutex<std::collections::BTreeMap<CacheKey, Arc<data::KlineSeries>>>,
}

/// (mark-price klines?, resolved files).
type CacheKey = (bool, Vec<PathBuf>);

impl DataCache {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<CacheKey, Arc<data::KlineSeries>>>
    {
        self.klines.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The klines of `paths` (mark-price klines when `mark`), loaded on first use.
    fn get(
        &self,
        paths: &[PathBuf],
        mark: bool,
    ) -> Result<Arc<data::KlineSeries>, data::DataError> {
        let key = (mark, paths.to_vec());
        if let Some(s) = self.lock().get(&key) {
            return Ok(Arc::clone(s));
        }
        // Loaded without the lock: the loader runs rayon tasks, and a rayon thread waiting for
        // them may pick up another case that asks this cache, so holding the lock (or any
        // blocking once-cell) here could deadlock that thread on itself. Two cases that miss the
        // same files at the same moment both parse them; the first to finish is kept (the two
        // are identical).
        let s = Arc::new(load_kind(paths, mark)?);
        Ok(Arc::clone(self.lock().entry(key).or_insert(s)))
    }
}

fn load_kind(paths: &[PathBuf], mark: bool) -> Result<data::KlineSeries, data::DataError> {
    if mark {
        data::load_mark_klines(paths, &LoadOptions::default())
    } else {
        data::load_klines(paths, &LoadOptions::default())
    }
}

/// As [`build`], reading kline files through `cache` (the cases of a sweep).
pub fn build_cached(
    file: &Path,
    text: &str,
    raw: ScenarioFile,
    cache: &DataCache,
) -> Result<Scenario, ScenarioError> {
    build_inner(file, text, raw, None, Some(cache))
}

/// As [`build`], with the klines already in memory (`sim explore` cases); `data.klines` is then
/// only a name.
pub fn build_with(
    file: &Path,
    text: &str,
    raw: ScenarioFile,
    preloaded: Option<data::KlineSeries>,
) -> Result<Scenario, ScenarioError> {
    build_inner(file, text, raw, preloaded, None)
}

fn build_inner(
    file: &Path,
    text: &str,
    raw: ScenarioFile,
    preloaded: Option<data::KlineSeries>,
    cache: Option<&DataCache>,
) -> Result<Scenario, ScenarioError> {
    let load = |paths: &[PathBuf], mark: bool| -> Result<Arc<data::KlineSeries>, data::DataError> {
        match cache {
            Some(c) => c.get(paths, mark),
            None => load_kind(paths, mark).map(Arc::new),
        }
    };
    let base = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    let e = |field: &str, msg: String| err(file, text, field, msg);
    bounds::validate(file, text, &raw)?;
    let paths: Vec<PathBuf> = raw.data.klines.iter().map(|p| resolve(&base, p)).collect();
    let series = match preloaded {
        Some(s) => Arc::new(s),
        None => load(&paths, false).map_err(|x| data_err(file, text, "data.klines", x))?,
    };
    let site = bounds::Site { file, text };
    let from = match &raw.data.from {
        Some(s) => Some(bounds::time(&site, "data.from", s)?),
        None => None,
    };
    let to = match &raw.data.to {
        Some(s) => Some(bounds::time(&site, "data.to", s)?),
        None => None,
    };
    // what the error below names of the whole data, before the cut may take it over
    let (data_empty, data_first, data_last) = (
        series.is_empty(),
        series.open_time_ms.first().copied().unwrap_or(0),
        series.open_time_ms.last().copied().unwrap_or(0),
    );
    let base_series = data::KlineSeries::cut(series, from, to);
    if data_empty {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(e(
            "klines",
            format!(
                "{}: holds no klines (a header without rows?)",
                names.join(", ")
            ),
        ));
    }
    if base_series.is_empty() {
        let field = if raw.data.from.is_some() {
            "data.from"
        } else {
            "data.klines"
        };
        return Err(e(
            field,
            format!(
                "no bars in the chosen time range (the data covers {} to {})",
                crate::types::fmt_time_ms(data_first),
                crate::types::fmt_time_ms(data_last)
            ),
        ));
    }
    let mut data_warnings = data::gap_warnings("klines", &base_series, from, to);
    let symbol = raw
        .data
        .symbol
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| (!base_series.symbol.is_empty()).then(|| base_series.symbol.clone()))
        .ok_or_else(|| {
            e(
                "data.symbol",
                "cannot tell the symbol from the file name: add `symbol = \"…\"` under [data]"
                    .into(),
            )
        })?;
    let f = &raw.exchange.filters;
    let mut spec = match SymbolSpec::builtin(&symbol) {
        Some(s) => s,
        None => {
            let (Some(tick), Some(step)) = (f.tick_size, f.step_size) else {
                return Err(e(
                    "data.symbol",
                    format!("unknown symbol `{symbol}`: known are BTCUSDT, ETHUSDT, AVAXUSDT, FILUSDT, LINKUSDT, NEARUSDT; for others give [exchange.filters] tick_size and step_size"),
                ));
            };
            SymbolSpec {
                symbol: symbol.as_str().into(),
                tick_size: tick,
                min_price: tick,
                max_price: Decimal::from(10_000_000),
                step_size: step,
                min_qty: step,
                max_qty: Decimal::from(1_000_000_000),
                market_max_qty: Decimal::from(1_000_000_000),
                min_notional: Decimal::from(5),
                percent_up: Decimal::new(105, 2),
                percent_down: Decimal::new(95, 2),
                liquidation_fee: Decimal::new(15, 3),
                maint_margin_ratio: Decimal::new(1, 2),
            }
        }
    };
    macro_rules! ov {
        ($($f:ident),*) => { $( if let Some(v) = f.$f { spec.$f = v; } )* };
    }
    ov!(
        tick_size,
        min_price,
        max_price,
        step_size,
        min_qty,
        max_qty,
        market_max_qty,
        min_notional,
        percent_up,
        percent_down,
        maint_margin_ratio,
        liquidation_fee
    );
    if spec.tick_size <= Decimal::ZERO || spec.step_size <= Decimal::ZERO {
        return Err(e(
            "exchange.filters.tick_size",
            "tick_size and step_size must be > 0".into(),
        ));
    }
    let (series, sub_series) = match &raw.data.interval {
        Some(iv) => {
            let ms = data::parse_interval(iv).ok_or_else(|| {
                e(
                    "data.interval",
                    format!("`{iv}` is not an interval (1m, 5m, 15m, 1h, 4h, 1d, …)"),
                )
            })?;
            if ms == base_series.interval_ms {
                (base_series, None)
            } else {
                if ms < base_series.interval_ms || ms % base_series.interval_ms != 0 {
                    return Err(e("data.interval", format!("cannot resample {} bars to `{iv}` (only to a multiple of the loaded interval)", data::interval_name(base_series.interval_ms))));
                }
                let hi = base_series
                    .resample(ms)
                    .map_err(|x| data_err(file, text, "data.interval", x))?;
                (hi, Some(base_series))
            }
        }
        None => (base_series, None),
    };
    let sub_series = if !raw.data.refine.is_empty() {
        let p: Vec<PathBuf> = raw.data.refine.iter().map(|p| resolve(&base, p)).collect();
        let sub = load(&p, false)
            .map_err(|x| data_err(file, text, "refine", x))?
            .slice_time(from, to);
        data_warnings.extend(data::gap_warnings("refine klines", &sub, None, None));
        Some(sub)
    } else {
        sub_series
    };
    let funding = if raw.data.funding.is_empty() {
        Vec::new()
    } else {
        let p: Vec<PathBuf> = raw.data.funding.iter().map(|p| resolve(&base, p)).collect();
        let fs = data::load_funding(&p).map_err(|x| data_err(file, text, "data.funding", x))?;
        fs.time_ms
            .iter()
            .copied()
            .zip(fs.rate.iter().copied())
            .collect()
    };
    let (mark_bars, mark_interval_ms) = if raw.data.mark.is_empty() {
        (Arc::from([]), 0)
    } else {
        let p: Vec<PathBuf> = raw.data.mark.iter().map(|p| resolve(&base, p)).collect();
        let ms = load(&p, true).map_err(|x| data_err(file, text, "data.mark", x))?;
        if !ms.symbol.is_empty() && ms.symbol != symbol {
            return Err(e(
                "data.mark",
                format!(
                    "mark klines are for `{}`, the run trades `{symbol}`",
                    ms.symbol
                ),
            ));
        }
        // keep the candle covering `from` too
        let ms = ms.slice_time(from.map(|f| f - ms.interval_ms + 1), to);
        if ms.is_empty() {
            return Err(e(
                "data.mark",
                "no mark-price candles in the chosen time range".into(),
            ));
        }
        data_warnings.extend(data::gap_warnings("mark klines", &ms, None, None));
        (to_bars(&ms, &spec), ms.interval_ms)
    };
    let bars = to_bars(&series, &spec);
    let (sub_bars, sub_interval_ms) = match &sub_series {
        Some(s) => (to_bars(s, &spec), s.interval_ms),
        None => (Arc::from([]), 0),
    };
    let ex = &raw.exchange;
    let exchange = ExchangeConfig {
        position_mode: ex.position_mode,
        api: ex
            .api
            .unwrap_or_else(|| api_for_profile(&raw.engine.profile)),
        maker_fee: ex.maker_fee.unwrap_or(Decimal::new(2, 4)),
        taker_fee: ex.taker_fee.unwrap_or(Decimal::new(5, 4)),
        intrabar: ex.intrabar,
        slippage_ticks: ex.slippage_ticks,
        limit_fill: ex.limit_fill,
        leverage: ex.leverage.unwrap_or(10),
        margin_mode: ex.margin_mode,
        initial_balance: ex.initial_balance.unwrap_or(Decimal::from(10_000)),
        equity_sample_ms: 0,
        brackets: ex.brackets.clone(),
    };
    // brackets and leverage: checked by bounds::validate
    let eng = &raw.engine;
    let switches = bounds::switches_of(&site, eng)?;
    let engine = EngineConfig {
        spec: spec.clone(),
        monitor: eng.monitor,
        poll_interval_ms: eng.poll_interval_ms,
        error_backoff_ms: eng.error_backoff_ms,
        entries: crate::engine::EntryRules::of_profile(&eng.profile),
        portfolio_value: exchange.initial_balance,
    };
    // signals
    let price_at = |t: i64| -> Decimal {
        // the strategy sees the close of the last finished bar (or the first open)
        let i = bars.partition_point(|b| b.t + series.interval_ms <= t);
        let ticks = if i == 0 { bars[0].o } else { bars[i - 1].c };
        spec.price(ticks)
    };
    let strategy = raw
        .signals
        .strategy
        .clone()
        .unwrap_or_else(|| "strategy".into());
    let mut signals = Vec::new();
    // (delivery time, signal): a signal reaches the engine at `at` unless it says otherwise
    let mut delivered: Vec<(TimeMs, Signal)> = Vec::new();
    for (i, s) in raw.signals.inline.iter().enumerate() {
        let path = format!("signals.inline[{i}]");
        let t = bounds::time(&site, &format!("{path}.at"), &s.at)?;
        let sig = make_signal(&spec, s, t, price_at(t), &strategy)
            .map_err(|(k, m)| e(&format!("{path}.{k}"), m))?;
        let at = match (&s.delivered_at, s.delay_ms) {
            (Some(_), Some(_)) => {
                return Err(site.err(
                    &format!("{path}.delay_ms"),
                    "give `delivered_at` or `delay_ms`, not both",
                ))
            }
            (Some(d), None) => bounds::time(&site, &format!("{path}.delivered_at"), d)?,
            (None, Some(ms)) => {
                bounds::int(&site, &format!("{path}.delay_ms"), ms, 0, bounds::DAY_MS)?;
                t + ms
            }
            (None, None) => t,
        };
        delivered.push((TimeMs(at), sig));
    }
    if let Some(csvp) = &raw.signals.csv {
        // the CSV reader checks its own rows (values, times) and names its own lines
        let p = resolve(&base, csvp);
        for (t, s) in signals_csv::read(&p)? {
            let sig = make_signal(&spec, &s, t, price_at(t), &strategy).map_err(|(k, m)| {
                ScenarioError {
                    file: p.display().to_string(),
                    line: 0,
                    field: k.into(),
                    msg: format!("the signal at {}: {m}", s.at),
                }
            })?;
            signals.push(sig);
        }
    }
    if let Some(jp) = &raw.signals.jsonl {
        // the reader checks each line's fields and names its own lines
        let p = resolve(&base, jp);
        let pe = |line: usize, field: &str, msg: String| ScenarioError {
            file: p.display().to_string(),
            line,
            field: field.into(),
            msg,
        };
        for js in signals_jsonl::read(&p)? {
            if js.symbol != spec.symbol {
                return Err(pe(
                    js.line,
                    "symbol",
                    format!(
                        "`{}` is not the scenario's symbol {} (one symbol per run)",
                        js.symbol.escape_debug(),
                        spec.symbol
                    ),
                ));
            }
            bounds::signal_at(&p, js.line, &js.spec, signals_jsonl::field_name)?;
            let t = js.time_ms;
            let sig = make_signal(&spec, &js.spec, t, price_at(t), &strategy)
                .map_err(|(k, m)| pe(js.line, signals_jsonl::field_name(k), m))?;
            let at = match (&js.spec.delivered_at, js.spec.delay_ms) {
                (Some(_), Some(_)) => {
                    return Err(pe(
                        js.line,
                        "meta.delay_ms",
                        "give `delivered_at` or `delay_ms`, not both".into(),
                    ))
                }
                (Some(d), None) => d.parse::<i64>().unwrap_or(t),
                (None, Some(ms)) => t + ms,
                (None, None) => t,
            };
            delivered.push((TimeMs(at), sig));
        }
    }
    if let Some(r) = &raw.signals.random {
        let mut rng = StreamRng::new(r.seed, Stream::Signals);
        // rate_per_day <= 86 400 (bounds) and a bar is at most a month: no overflow; more
        // than one signal a bar is capped at one a bar
        let per_bar_ppm = (r.rate_per_day * Decimal::from(series.interval_ms)
            / Decimal::from(86_400_000i64)
            * Decimal::from(1_000_000))
        .trunc()
        .min(Decimal::from(1_000_000))
        .try_into()
        .unwrap_or(1_000_000u32);
        let sides = r.sides.as_deref().unwrap_or("both");
        for b in bars.iter() {
            if rng.chance(per_bar_ppm) {
                let buy = match sides {
                    "long" => true,
                    "short" => false,
                    _ => rng.below(2) == 0,
                };
                let off = rng.below(series.interval_ms.max(1) as u64) as i64;
                let t = b.t + off;
                let s = SignalSpec {
                    at: t.to_string(),
                    action: if buy { Action::Buy } else { Action::Sell },
                    quantity: r.quantity,
                    stop_loss: None,
                    take_profit: None,
                    sl_pct: Some(r.sl_pct),
                    tp_pct: Some(r.tp_pct),
                    stop_loss_pct: None,
                    take_profit_pct: None,
                    confidence: None,
                    strategy: None,
                    order_type: None,
                    delivered_at: None,
                    delay_ms: None,
                    price: None,
                    offset_pct: None,
                    offset_ticks: None,
                    time_in_force: None,
                    position_size_pct: None,
                };
                let sig = make_signal(&spec, &s, t, price_at(t), &strategy)
                    .map_err(|(k, m)| e(&format!("signals.random.{k}"), m))?;
                signals.push(sig);
            }
        }
    }
    // every other source delivers at the timestamp; the run takes signals in delivery order
    delivered.extend(signals.drain(..).map(|s| (s.timestamp, s)));
    delivered.sort_by_key(|(d, s)| (*d, s.timestamp));
    let deliveries: Vec<TimeMs> = delivered.iter().map(|(d, _)| *d).collect();
    let deliveries = if deliveries
        .iter()
        .zip(&delivered)
        .all(|(d, (_, s))| *d == s.timestamp)
    {
        Vec::new()
    } else {
        deliveries
    };
    signals.extend(delivered.into_iter().map(|(_, s)| s));
    let mut manual = Vec::new();
    for (i, m) in raw.manual_closes.iter().enumerate() {
        let t = bounds::time(&site, &format!("manual_closes[{i}].at"), &m.at)?;
        manual.push(ManualClose {
            at: TimeMs(t),
            symbol: symbol.as_str().into(),
            position_side: m.position_side,
            amount: match (m.quantity, m.fraction) {
                (Some(q), _) => crate::engine::CloseAmount::Quantity(q),
                (None, Some(f)) => crate::engine::CloseAmount::Fraction(f),
                (None, None) => crate::engine::CloseAmount::Whole,
            },
        });
    }
    manual.sort_by_key(|m| m.at);
    let external = external_acts(&site, &raw, &symbol)?;
    let lat = &raw.latency;
    let reaction = raw.invariants.reaction_ms.unwrap_or_else(|| {
        default_reaction_ms(eng.poll_interval_ms, eng.error_backoff_ms, lat, &raw.faults)
    });
    let check = CheckConfig {
        position_mode: exchange.position_mode,
        reaction_ms: reaction,
        initial_balance: exchange.initial_balance,
        trail_len: 12,
    };
    let strategy = match &raw.strategy {
        Some(st) => Some(bounds::strategy(&site, st)?),
        None => None,
    };
    let sim = SimConfig {
        seed: raw.seed,
        latency: raw.latency.clone(),
        faults: raw.faults.clone(),
        skip_idle_polls: eng.skip_idle_polls,
        monitor: eng.monitor,
        strategy,
        deliveries,
        external,
    };
    // a plain name (bounds::validate)
    let name = raw.name.clone().unwrap_or_else(|| {
        file.file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "scenario".into())
    });
    Ok(Scenario {
        source: file.to_path_buf(),
        name,
        description: raw.description.clone().unwrap_or_default(),
        text: text.to_string(),
        seed: raw.seed,
        spec,
        bars,
        interval_ms: series.interval_ms,
        sub_bars,
        sub_interval_ms,
        funding,
        mark_bars,
        mark_interval_ms,
        exchange,
        profile: eng.profile.clone(),
        switches,
        engine,
        signals,
        manual,
        sim,
        check,
        interval: data::interval_name(series.interval_ms),
        data_warnings,
        api_set: raw.exchange.api.is_some(),
        events: raw.report.as_ref().map(|r| r.events).unwrap_or_default(),
        serve_keys: match &raw.serve {
            Some(ServeSection {
                api_key: Some(k),
                api_secret: Some(s),
            }) => Some((k.clone(), s.clone())),
            Some(ServeSection {
                api_key: None,
                api_secret: None,
            })
            | None => None,
            Some(_) => {
                return Err(e(
                    "serve",
                    "give both `api_key` and `api_secret`, or neither (generated from the seed)"
                        .into(),
                ))
            }
        },
    })
}

/// The `[[external]]` acts (shapes checked by `bounds::validate`), sorted by time then file order.
fn external_acts(
    site: &bounds::Site,
    raw: &ScenarioFile,
    symbol: &str,
) -> Result<Vec<sim::external::ExternalAct>, ScenarioError> {
    use sim::external::{AdlAmount, ExternalAct, LegSel, PairSel};
    let mut out = Vec::new();
    for (i, x) in raw.external.iter().enumerate() {
        let p = format!("external[{i}]");
        let t = bounds::time(site, &format!("{p}.at"), &x.at)?;
        if let Some(s) = x.symbol.as_deref().filter(|s| *s != symbol) {
            return Err(site.err(
                &format!("{p}.symbol"),
                format!("`{s}` is not the symbol this scenario trades (`{symbol}`)"),
            ));
        }
        out.push(ExternalAct {
            index: i,
            at: TimeMs(t),
            kind: x.act,
            pair: match &x.pair {
                Some(PairSpec::Nth(n)) => PairSel::Nth(u32::try_from(*n).unwrap_or(u32::MAX)),
                _ => PairSel::Latest,
            },
            leg: x.leg.unwrap_or(LegSel::Both),
            amount: match (x.quantity, x.fraction) {
                (Some(q), _) => AdlAmount::Quantity(q),
                (None, f) => AdlAmount::Fraction(f.unwrap_or(Decimal::ONE)),
            },
            position_side: x.position_side.unwrap_or(PositionSide::Both),
        });
    }
    out.sort_by_key(|a| (a.at, a.index));
    Ok(out)
}

/// The default reaction window: one monitoring cycle (poll interval + error backoff), 4 s of
/// placement retries (1 s + 2 s + slack), eight round trips and the stream delay; where faults
/// can strike (random, scheduled or targeted transport faults), one call timeout more. (The checker also stretches every deadline by one window
/// per fault the engine met in the meantime.)
pub fn default_reaction_ms(
    poll_ms: i64,
    backoff_ms: i64,
    lat: &crate::sim::Latency,
    f: &crate::sim::Faults,
) -> i64 {
    let base = poll_ms
        + backoff_ms
        + 4_000
        + 8 * (lat.request_ms + lat.response_ms + lat.jitter_ms * 2)
        + lat.stream_ms;
    let faulty = f.rate_limit_ppm
        + f.timeout_ppm
        + f.server_error_ppm
        + f.cancel_unknown_ppm
        + f.poll_error_ppm
        + f.stream_drop_ppm
        > 0
        || !f.scheduled.is_empty()
        || f.stream_delay_ms > 0
        // a targeted timeout, 5xx or 429 costs the engine a call timeout like a random one
        || f
            .targeted
            .iter()
            .any(|t| !matches!(t.answer, crate::sim::target::Answer::Code(_)));
    if faulty {
        base + lat.timeout_ms + f.stream_delay_ms
    } else {
        base
    }
}

/// The signal a spec gives when the last close at its time is `price`: its own price (`price`,
/// `offset_pct`, `offset_ticks`) becomes the Signal's `current_price`, and `sl_pct`/`tp_pct` are
/// taken from it; `Err((field, message))` when a value gives a price that is not one (0 or below
/// after rounding to the tick).
fn make_signal(
    spec: &SymbolSpec,
    s: &SignalSpec,
    t: i64,
    price: Decimal,
    strategy: &str,
) -> Result<Signal, (&'static str, String)> {
    let long = s.action != Action::Sell;
    let sign = if long { Decimal::ONE } else { -Decimal::ONE };
    let bar = price;
    // the signal's own price (its current_price): absolute, or away from the last close
    let to_tick = |x: Decimal| {
        x.checked_div(spec.tick_size)
            .map(|t| (t.round() * spec.tick_size).normalize())
    };
    let price = match (s.price, s.offset_pct, s.offset_ticks) {
        (Some(p), _, _) => p,
        (None, Some(f), _) => {
            let v = Decimal::ONE
                .checked_add(f)
                .and_then(|k| bar.checked_mul(k))
                .and_then(to_tick)
                .ok_or_else(|| {
                    (
                        "offset_pct",
                        format!("{f} of the price {bar} does not fit a price"),
                    )
                })?;
            if v <= Decimal::ZERO {
                return Err((
                    "offset_pct",
                    format!("{f} away from the price {bar} gives {v}, not a price (it must stay above 0)"),
                ));
            }
            v
        }
        (None, None, Some(n)) => {
            let v = Decimal::from(n)
                .checked_mul(spec.tick_size)
                .and_then(|d| bar.checked_add(d))
                .map(|x| x.normalize())
                .ok_or_else(|| {
                    (
                        "offset_ticks",
                        format!("{n} ticks from {bar} do not fit a price"),
                    )
                })?;
            if v <= Decimal::ZERO {
                return Err((
                    "offset_ticks",
                    format!("{n} ticks away from the price {bar} gives {v}, not a price (it must stay above 0)"),
                ));
            }
            v
        }
        (None, None, None) => bar,
    };
    // bounds::signal keeps the fractions below 10 and prices below 2^63 e-8, so the products
    // fit; checked anyway, as an error rather than a panic
    let from_pct = |k: &'static str,
                    p: Decimal,
                    dir: Decimal|
     -> Result<Decimal, (&'static str, String)> {
        let v = Decimal::ONE
            .checked_add(dir * p)
            .and_then(|f| price.checked_mul(f))
            .and_then(|x| x.checked_div(spec.tick_size))
            .map(|x| (x.round() * spec.tick_size).normalize())
            .ok_or_else(|| (k, format!("{p} of the price {price} does not fit a price")))?;
        if v <= Decimal::ZERO {
            return Err((
                k,
                format!("{p} of the price {price} gives {v}, not a price (a stop or target must stay above 0)"),
            ));
        }
        Ok(v)
    };
    let sl = match (s.stop_loss, s.sl_pct) {
        (Some(v), _) => Some(v),
        (None, Some(p)) => Some(from_pct("sl_pct", p, -sign)?),
        (None, None) => None,
    };
    let tp = match (s.take_profit, s.tp_pct) {
        (Some(v), _) => Some(v),
        (None, Some(p)) => Some(from_pct("tp_pct", p, sign)?),
        (None, None) => None,
    };
    Ok(Signal {
        strategy_id: s.strategy.as_deref().unwrap_or(strategy).into(),
        symbol: spec.symbol.clone(),
        action: s.action,
        confidence: s.confidence.unwrap_or(Decimal::new(8, 1)),
        quantity: s.quantity.unwrap_or_default(),
        current_price: price,
        stop_loss: sl,
        take_profit: tp,
        stop_loss_pct: s.stop_loss_pct,
        take_profit_pct: s.take_profit_pct,
        order_type: s.order_type.as_deref().unwrap_or("market").into(),
        time_in_force: match s.time_in_force.as_deref() {
            None => None,
            Some("GTC") => Some(TimeInForce::Gtc),
            Some("IOC") => Some(TimeInForce::Ioc),
            Some("FOK") => Some(TimeInForce::Fok),
            Some("GTX") => Some(TimeInForce::Gtx),
            Some(other) => {
                return Err((
                    "time_in_force",
                    format!(
                        "`{}` is not a time in force (GTC, IOC, FOK or GTX)",
                        other.escape_debug()
                    ),
                ))
            }
        },
        position_size_pct: s.position_size_pct,
        timestamp: TimeMs(t),
    })
}

/// The API era a profile ran against, the default of `exchange.api`: a profile whose legs go to
/// `/fapi/v1/order` (tradeengine-v1.1.7x/v1.1.80) ran before 2025-12-09 (`legacy`); the others on
/// the Algo Order API (`algo`). An unknown profile gets `algo`.
pub fn api_for_profile(profile: &str) -> ApiMode {
    match crate::engine::Switches::profile(profile).map(|s| s.legs_api) {
        Some(crate::engine::switches::LegsApi::LegacyOrder) => ApiMode::Legacy,
        _ => ApiMode::Algo,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_cache_loads_each_file_list_once_and_keeps_no_errors() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let month = vec![root.join("data/binance-um/klines/AVAXUSDT/1m/AVAXUSDT-1m-2026-02.csv")];
        let cache = DataCache::default();
        let a = cache.get(&month, false).unwrap();
        let b = cache.get(&month, false).unwrap();
        assert!(
            Arc::ptr_eq(&a, &b),
            "the second request is served from the cache"
        );
        assert_eq!(a.len(), 40_320);
        // the same files read as mark klines are another entry
        let m = cache.get(&month, true).unwrap();
        assert!(!Arc::ptr_eq(&a, &m));
        assert_eq!(*m, *a, "a 12-column file reads the same either way");
        let missing = vec![root.join("data/no-such-file.csv")];
        assert!(cache.get(&missing, false).is_err());
        assert!(cache.get(&missing, false).is_err());
        assert_eq!(cache.klines.lock().unwrap().len(), 2);
    }
}
