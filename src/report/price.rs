//! The price charts of `report.html`: the bars with every resting order drawn as a horizontal
//! segment at its trigger (or limit) price for as long as it rests, every fill, every violation;
//! and, per violation, the same picture zoomed on the minutes around its trail.
//!
//! The legs and fills come from the event log only ([`Book::from_log`]); the bars come from the
//! scenario's data ([`PriceBars`]). Output size is bounded whatever the run's length: bars are
//! drawn as candles only while each gets at least [`CANDLE_MIN_PX`] pixels, otherwise as one
//! high–low line plus the close per pixel column; legs and fills are snapped to the pixel grid and
//! deduplicated, and lose their tooltips beyond [`TOOLTIP_LIMIT`] items.

use super::axis::{fixed, time_ticks, value_ticks};
use super::coord::{f1, half, text};
use super::html::escape_html;
use crate::events::{Event, EventLog, EventRecord, ExecType, LegId};
use crate::exchange::BarTicks;
use crate::types::{
    fmt_time_ms, AlgoStatus, Chunked, OrderId, OrderStatus, OrderType, PairId, Side,
};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};

/// The hasher of the report's id maps: FxHash's multiply-rotate step over the id's integers.
/// The ids are the exchange's and the engine's own counters (no untrusted keys), and a map is
/// only looked up, never iterated, so its order cannot reach an output.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl IdHasher {
    #[inline]
    fn add(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            self.add(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.add(x);
    }
    #[inline]
    fn write_usize(&mut self, x: usize) {
        self.add(x as u64);
    }
    #[inline]
    fn write_isize(&mut self, x: isize) {
        self.add(x as u64);
    }
}

/// A map from ids (looked up only, never iterated) with [`IdHasher`].
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// The bars a report draws, in ticks of the symbol's tick size.
#[derive(Debug, Clone, Copy)]
pub struct PriceBars<'a> {
    /// Bars in time order (open time, OHLC in ticks).
    pub bars: &'a [BarTicks],
    /// Bar length (ms).
    pub interval_ms: i64,
    /// The symbol's tick size: price = ticks × tick size, printed with its number of decimals.
    pub tick_size: Decimal,
}

impl<'a> PriceBars<'a> {
    /// The bars whose open time lies in `[first, last]` (the run's span).
    pub fn within(
        bars: &'a [BarTicks],
        interval_ms: i64,
        tick_size: Decimal,
        first: i64,
        last: i64,
    ) -> PriceBars<'a> {
        let a = bars.partition_point(|b| b.t < first);
        let b = bars.partition_point(|b| b.t <= last).max(a);
        PriceBars {
            bars: &bars[a..b],
            interval_ms: interval_ms.max(1),
            tick_size,
        }
    }

    fn precision(&self) -> u32 {
        self.tick_size.normalize().scale()
    }

    /// `[first open, last close)`.
    pub(crate) fn span(&self) -> Option<(i64, i64)> {
        Some((self.bars.first()?.t, self.bars.last()?.t + self.interval_ms))
    }
}

/// Pixels per bar below which bars are bucketed per pixel column.
pub const CANDLE_MIN_PX: f64 = 3.0;
/// Legs or fills in one chart beyond which they are drawn without tooltips.
pub const TOOLTIP_LIMIT: usize = 400;

/// What a resting order or fill was for, which sets its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Role {
    /// Stop-loss leg (STOP/STOP_MARKET/trailing, or named SL by the engine).
    Sl,
    /// Take-profit leg.
    Tp,
    /// An entry (a resting LIMIT/STOP entry, or a fill that opens or adds).
    Entry,
    /// Any other reducing fill (manual or market close).
    Exit,
    /// A liquidation.
    Liquidation,
}

impl Role {
    fn color(self) -> &'static str {
        match self {
            Role::Sl => "#d1242f",
            Role::Tp => "#1a7f37",
            Role::Entry => "#0969da",
            Role::Exit => "#6e7781",
            Role::Liquidation => "#24292f",
        }
    }
    fn name(self) -> &'static str {
        match self {
            Role::Sl => "SL",
            Role::Tp => "TP",
            Role::Entry => "entry",
            Role::Exit => "exit",
            Role::Liquidation => "liquidation",
        }
    }
}

/// A leg snapped to half pixels: x1, x2, y (×2) and whether it ended without a fill.
type Seg = (i64, i64, i64, bool);

/// One resting order: a horizontal segment at `price` from `start` to `end`.
#[derive(Debug, Clone)]
pub(crate) struct Leg {
    pub id: LegId,
    pub pair: Option<PairId>,
    pub role: Role,
    pub otype: OrderType,
    pub side: Side,
    pub qty: Decimal,
    /// Trigger price (conditional) or limit price.
    pub price: Decimal,
    pub start: i64,
    /// When it stopped resting (filled, triggered, cancelled, expired); `None` while open.
    pub end: Option<i64>,
    /// Last status seen (Binance's spelling).
    pub status: &'static str,
}

/// One execution.
#[derive(Debug, Clone)]
pub(crate) struct FillMark {
    pub t: i64,
    pub price: Decimal,
    pub qty: Decimal,
    pub side: Side,
    pub role: Role,
    pub order: OrderId,
    pub pair: Option<PairId>,
}

/// Legs and fills of a run, read from its event log.
#[derive(Debug, Default)]
pub(crate) struct Book {
    pub legs: Chunked<Leg>,
    pub fills: Chunked<FillMark>,
}

impl Book {
    /// Every resting order (conditional orders, algo orders, resting LIMIT orders) with its
    /// lifetime, and every TRADE/CALCULATED execution with its role. A leg's role is the one the
    /// engine gave it (`PairPlaced`), else its type's (stop → SL, take-profit → TP), and an order
    /// that neither reduces nor closes is an entry.
    pub fn from_log(log: &EventLog) -> Book {
        let mut b = BookBuilder::default();
        for r in log.records() {
            b.observe(r);
        }
        b.finish()
    }
}

/// Builds a [`Book`] record by record. A leg's or fill's role from `PairPlaced` (which may come
/// after the leg appeared) is applied at [`BookBuilder::finish`], the last `PairPlaced` naming
/// a leg winning, as when the whole log is read first.
#[derive(Debug, Default)]
pub(crate) struct BookBuilder {
    /// What is known of each order or algo order, in one map (an algo update looks up its leg
    /// and its role with one probe, and one table grows instead of three).
    ids: IdMap<LegId, IdInfo>,
    legs: Chunked<Leg>,
    fills: Chunked<FillMark>,
    /// The leg whose `PairPlaced` role a fill takes, if any.
    fill_leg: Chunked<Option<LegId>>,
}

/// A [`BookBuilder`]'s facts about one id.
#[derive(Debug, Default)]
struct IdInfo {
    /// Its leg (an index into the legs), once it rested.
    leg: Option<usize>,
    /// An algo order's role by type, from its first update.
    algo_role: Option<Role>,
    /// Its pair and role from the last `PairPlaced` naming it.
    pair: Option<(PairId, Role)>,
}

fn type_role(ot: OrderType, reducing: bool) -> Role {
    if !reducing {
        Role::Entry
    } else if ot.is_take_profit() {
        Role::Tp
    } else if ot.is_stop() {
        Role::Sl
    } else {
        Role::Exit
    }
}

impl BookBuilder {
    /// Feeds one record (inlined into the recorder's step, which calls it for every order and
    /// algo update: a call less each).
    #[inline(always)]
    pub(crate) fn observe(&mut self, r: &EventRecord) {
        let t = r.time_ms.0;
        match &r.event {
            Event::Engine(crate::events::EngineEvent::PairPlaced { pair, sl, tp, .. }) => {
                self.ids.entry(*sl).or_default().pair = Some((*pair, Role::Sl));
                self.ids.entry(*tp).or_default().pair = Some((*pair, Role::Tp));
            }
            Event::AlgoUpdate(a) => {
                let id = LegId::Algo(a.algo_id);
                let role = type_role(a.order_type, a.reduce_only || a.close_position);
                let status = a.status.as_str();
                let resting = matches!(a.status, AlgoStatus::New);
                // one probe for the role, the leg's lookup and a new leg's insertion
                let info = self.ids.entry(id).or_default();
                info.algo_role.get_or_insert(role);
                match info.leg {
                    Some(i) => {
                        let l = &mut self.legs[i];
                        l.status = status;
                        if !resting && l.end.is_none() {
                            l.end = Some(t);
                        }
                    }
                    None if resting && !a.trigger_price.is_zero() => {
                        info.leg = Some(self.legs.len());
                        self.legs.push(Leg {
                            id,
                            pair: None,
                            role,
                            otype: a.order_type,
                            side: a.side,
                            qty: a.quantity,
                            price: a.trigger_price,
                            start: t,
                            end: None,
                            status,
                        });
                    }
                    None => {}
                }
            }
            Event::OrderTradeUpdate(o) => {
                let id = LegId::Order(o.order_id);
                let reducing = o.reduce_only || o.close_position;
                let liquidation = o.order_type == OrderType::Liquidation
                    || o.client_order_id.starts_with("autoclose-");
                if matches!(o.exec_type, ExecType::Trade | ExecType::Calculated) {
                    let (leg, role) = if liquidation || o.exec_type == ExecType::Calculated {
                        (None, Role::Liquidation)
                    } else if let Some(a) = o.from_algo {
                        match self
                            .ids
                            .get(&LegId::Algo(a))
                            .and_then(|i| i.algo_role.as_ref())
                        {
                            Some(&role) => (Some(LegId::Algo(a)), role),
                            None => (None, Role::Exit),
                        }
                    } else {
                        (Some(id), type_role(o.orig_type, reducing))
                    };
                    self.fills.push(FillMark {
                        t,
                        price: o.last_price,
                        qty: o.last_qty,
                        side: o.side,
                        role,
                        order: o.order_id,
                        pair: None,
                    });
                    self.fill_leg.push(leg);
                }
                let status = o.status.as_str();
                let resting = matches!(o.status, OrderStatus::New | OrderStatus::PartiallyFilled);
                // one probe for both the lookup and a new leg's insertion
                let e = self.ids.entry(id);
                if let Entry::Occupied(occ) = &e {
                    if let Some(i) = occ.get().leg {
                        let l = &mut self.legs[i];
                        l.status = status;
                        if !resting && l.end.is_none() {
                            l.end = Some(t);
                        }
                        return;
                    }
                }
                match e {
                    e if resting && o.from_algo.is_none() && !liquidation => {
                        let level = if o.orig_type.is_conditional() {
                            o.stop_price
                        } else if o.orig_type == OrderType::Limit {
                            o.price
                        } else {
                            Decimal::ZERO
                        };
                        if level.is_zero() {
                            return;
                        }
                        e.or_default().leg = Some(self.legs.len());
                        self.legs.push(Leg {
                            id,
                            pair: None,
                            role: type_role(o.orig_type, reducing),
                            otype: o.orig_type,
                            side: o.side,
                            qty: o.orig_qty,
                            price: level,
                            start: t,
                            end: None,
                            status,
                        });
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// The book, with the engine's pair roles applied.
    pub(crate) fn finish(self) -> Book {
        let BookBuilder {
            ids,
            mut legs,
            mut fills,
            fill_leg,
            ..
        } = self;
        for l in legs.iter_mut() {
            if let Some((p, r)) = ids.get(&l.id).and_then(|i| i.pair) {
                l.pair = Some(p);
                l.role = r;
            }
        }
        for (f, leg) in fills.iter_mut().zip(fill_leg) {
            if let Some((p, r)) = leg.and_then(|l| ids.get(&l)).and_then(|i| i.pair) {
                f.pair = Some(p);
                f.role = r;
            }
        }
        Book { legs, fills }
    }
}

/// A violation mark: its number in the report (its anchor is `v{n}`), time and tooltip.
#[derive(Debug, Clone)]
pub(crate) struct Mark {
    pub n: usize,
    pub t: i64,
    pub tip: String,
}

/// What one price chart shows.
pub(crate) struct View<'a> {
    pub title: String,
    /// Time window `[t0, t1)`.
    pub t0: i64,
    pub t1: i64,
    pub height: f64,
    /// The pair the chart is about (its legs drawn thicker, other legs fainter).
    pub focus: Option<PairId>,
    /// Trail events drawn as grey ticks under the top edge: time, tooltip.
    pub trail: &'a [(i64, String)],
    /// The violation being zoomed on (its line is solid).
    pub current: Option<usize>,
}

pub(crate) const W: f64 = 1000.0;
const ML: f64 = 84.0;
const MR: f64 = 16.0;
const MT: f64 = 22.0;
const MB: f64 = 54.0;

/// `d.to_f64()`, bit for bit: rust_decimal's `as_f64` steps (integer and fraction apart, the
/// fraction over 10^scale, then rounded back to `scale` decimals) in u64 arithmetic when the
/// mantissa and 10^scale fit (every price of a report), its own code otherwise.
pub(crate) fn f(d: Decimal) -> f64 {
    let scale = d.scale();
    match (u64::try_from(d.mantissa().unsigned_abs()), scale) {
        (Ok(m), 1..=19) => {
            let p = 10u64.pow(scale);
            let (int, frac) = ((m / p) as f64, (m % p) as f64 / p as f64);
            let neg = d.is_sign_negative();
            if frac == 0.0 {
                return if neg { -int } else { int };
            }
            let round_to = 10f64.powi(scale as i32);
            // the product is positive and below 2^53: `round` is `round_i` (no libm call)
            let v = round_i((int + frac) * round_to) as f64 / round_to;
            if neg {
                -v
            } else {
                v
            }
        }
        _ => d.to_f64().unwrap_or(0.0),
    }
}

/// One price chart as an inline `<svg>`.
pub(crate) fn price_svg(v: &View, bars: &PriceBars, book: &Book, marks: &[Mark]) -> String {
    let pw = W - ML - MR;
    let ph = v.height - MT - MB;
    let (t0, t1) = (v.t0, v.t1.max(v.t0 + 1));
    let h = v.height;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"price{}\" width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\" \
         role=\"img\" font-family=\"Helvetica,Arial,sans-serif\" font-size=\"11\">\n<title>{}</title>",
        if v.current.is_some() { " zoom" } else { "" },
        escape_html(&v.title)
    );
    let _ = writeln!(
        o,
        "<rect x=\"{ML}\" y=\"{MT}\" width=\"{pw}\" height=\"{ph}\" fill=\"#fff\" stroke=\"#d0d7de\"/>"
    );
    let a = bars.bars.partition_point(|b| b.t + bars.interval_ms <= t0);
    let b = bars.bars.partition_point(|b| b.t < t1).max(a);
    let shown = &bars.bars[a..b];
    let legs: Vec<&Leg> = book
        .legs
        .iter()
        .filter(|l| l.start < t1 && l.end.unwrap_or(i64::MAX) >= t0)
        .collect();
    let fills: Vec<&FillMark> = book
        .fills
        .iter()
        .filter(|x| x.t >= t0 && x.t < t1)
        .collect();
    // the price range: bars, legs and fills in view
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    let tick = f(bars.tick_size);
    for bar in shown {
        lo = lo.min(bar.l as f64 * tick);
        hi = hi.max(bar.h as f64 * tick);
    }
    // each price as f64 once (the range here, the y coordinate below)
    let leg_px: Vec<f64> = legs.iter().map(|l| f(l.price)).collect();
    let fill_px: Vec<f64> = fills.iter().map(|x| f(x.price)).collect();
    for &p in leg_px.iter().chain(&fill_px) {
        lo = lo.min(p);
        hi = hi.max(p);
    }
    if !lo.is_finite() {
        let _ = writeln!(
            o,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#656d76\">no bars</text>\n</svg>",
            ML + pw / 2.0,
            MT + ph / 2.0
        );
        return o;
    }
    let pad = ((hi - lo) * 0.04).max(tick * 2.0);
    let (lo, hi) = (lo - pad, hi + pad);
    let x_of = |t: i64| ML + (t.clamp(t0, t1) - t0) as f64 / (t1 - t0) as f64 * pw;
    let y_of = |p: f64| MT + (hi - p) / (hi - lo) * ph;
    let axis_y = MT + ph;
    let prec = bars.precision();

    // grid and value axis
    let mut grid = String::new();
    let mut labels = String::new();
    for k in value_ticks(lo, hi, bars.tick_size, ((ph / 38.0) as usize).max(2)) {
        let y = y_of(f(k));
        let _ = write!(grid, "M{ML} {y:.1}H{:.1}", ML + pw);
        let _ = write!(
            labels,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            ML - 6.0,
            y + 4.0,
            fixed(k, prec)
        );
    }
    time_axis(&mut grid, &mut labels, t0, t1, pw, axis_y, &x_of);
    let _ = writeln!(
        o,
        "<path d=\"{grid}\" stroke=\"#eaeef2\" fill=\"none\"/>\n<g fill=\"#1f2328\">{labels}</g>"
    );

    // bars
    let bar_px = bars.interval_ms as f64 / (t1 - t0) as f64 * pw;
    if bar_px >= CANDLE_MIN_PX {
        let bw = (bar_px * 0.7).clamp(1.0, 14.0);
        let (mut wick, mut up, mut down) = (Vec::new(), Vec::new(), Vec::new());
        for bar in shown {
            let xc = x_of(bar.t) + bar_px / 2.0;
            let p = |v: i64| y_of(v as f64 * tick);
            // "M{xc:.1} {:.1}V{:.1}" (high, low)
            wick.push(b'M');
            f1(&mut wick, xc);
            wick.push(b' ');
            f1(&mut wick, p(bar.h));
            wick.push(b'V');
            f1(&mut wick, p(bar.l));
            let (top, bot) = (p(bar.o.max(bar.c)), p(bar.o.min(bar.c)));
            let body = if bar.c >= bar.o { &mut up } else { &mut down };
            // "M{:.1} {top:.1}h{bw:.1}v{:.1}h-{bw:.1}z"
            body.push(b'M');
            f1(body, xc - bw / 2.0);
            body.push(b' ');
            f1(body, top);
            body.push(b'h');
            f1(body, bw);
            body.push(b'v');
            f1(body, (bot - top).max(0.8));
            body.extend_from_slice(b"h-");
            f1(body, bw);
            body.push(b'z');
        }
        let (wick, up, down) = (text(wick), text(up), text(down));
        let _ = writeln!(
            o,
            "<path d=\"{wick}\" stroke=\"#57606a\" fill=\"none\"/>\n\
             <path d=\"{up}\" fill=\"#ffffff\" stroke=\"#57606a\" stroke-width=\"0.8\"/>\n\
             <path d=\"{down}\" fill=\"#57606a\" stroke=\"#57606a\" stroke-width=\"0.8\"/>"
        );
    } else {
        // one column per pixel: high–low line and the last close
        // (column, low, high, last close) in column order; bars come in time order, so a bar
        // almost always extends the last column or opens the next one
        let mut cols: Vec<(i64, (i64, i64, i64))> = Vec::new();
        for bar in shown {
            // x_of(t) >= ML (t is clamped into the window), so the difference is never
            // negative and truncating is flooring (without a libm call per bar)
            let col = (x_of(bar.t) - ML) as i64;
            let at = match cols.last() {
                Some(&(c, _)) if c == col => cols.len() - 1,
                Some(&(c, _)) if c > col => match cols.binary_search_by_key(&col, |e| e.0) {
                    Ok(i) => i,
                    Err(i) => {
                        cols.insert(i, (col, (bar.l, bar.h, bar.c)));
                        i
                    }
                },
                _ => {
                    cols.push((col, (bar.l, bar.h, bar.c)));
                    cols.len() - 1
                }
            };
            let e = &mut cols[at].1;
            e.0 = e.0.min(bar.l);
            e.1 = e.1.max(bar.h);
            e.2 = bar.c;
        }
        let (mut hl, mut close) = (Vec::new(), Vec::new());
        for (col, (l, hgh, c)) in &cols {
            let x = ML + *col as f64 + 0.5;
            let (yl, yh) = (y_of(*l as f64 * tick), y_of(*hgh as f64 * tick));
            // "M{x:.1} {:.1}V{:.1}" (low + 0.5, high - 0.5)
            hl.push(b'M');
            f1(&mut hl, x);
            hl.push(b' ');
            f1(&mut hl, yl + 0.5);
            hl.push(b'V');
            f1(&mut hl, yh - 0.5);
            // "{M|L}{x:.1} {:.1}" (close)
            close.push(if close.is_empty() { b'M' } else { b'L' });
            f1(&mut close, x);
            close.push(b' ');
            f1(&mut close, y_of(*c as f64 * tick));
        }
        let (hl, close) = (text(hl), text(close));
        let _ = writeln!(
            o,
            "<path d=\"{hl}\" stroke=\"#8c959f\" fill=\"none\"/>\n\
             <path d=\"{close}\" stroke=\"#24292f\" stroke-width=\"0.8\" fill=\"none\"/>"
        );
    }

    // legs
    let tips = legs.len() <= TOOLTIP_LIMIT;
    // sorted and deduplicated once all are in (as a set would hold them)
    let mut merged: BTreeMap<(Role, bool), Vec<Seg>> = BTreeMap::new();
    for (l, &price) in legs.iter().zip(&leg_px) {
        let end = l.end.unwrap_or(t1);
        let (x1, x2) = (x_of(l.start), x_of(end).max(x_of(l.start) + 1.0));
        let y = y_of(price);
        let focus = v.focus.is_some() && v.focus == l.pair;
        let gone = l.end.is_some_and(|e| e < t1)
            && !matches!(l.status, "FILLED" | "TRIGGERED" | "FINISHED" | "TRIGGERING");
        if tips {
            let pair = l.pair.map(|p| format!("pair {p} ")).unwrap_or_default();
            let tip = format!(
                "{pair}{} · {} {} {} {} @ {} · {} → {} · {}",
                l.role.name(),
                l.id,
                l.otype.as_str(),
                l.side.as_str(),
                l.qty.normalize(),
                fixed(l.price, prec),
                fmt_time_ms(l.start),
                l.end
                    .map(fmt_time_ms)
                    .unwrap_or_else(|| "end of data".into()),
                l.status
            );
            let w = if focus { 3.0 } else { 2.0 };
            let op = if v.focus.is_some() && !focus {
                "0.45"
            } else {
                "1"
            };
            let _ = write!(
                o,
                "<g class=\"leg {}\" stroke=\"{}\" stroke-opacity=\"{op}\"><title>{}</title>\
                 <path d=\"M{x1:.1} {y:.1}H{x2:.1}M{x1:.1} {:.1}V{:.1}",
                l.role.name(),
                l.role.color(),
                escape_html(&tip),
                y - 4.0,
                y + 4.0,
            );
            if gone {
                let _ = write!(o, "M{:.1} {:.1}l6 6m0 -6l-6 6", x2 - 3.0, y - 3.0);
            }
            let _ = writeln!(o, "\" stroke-width=\"{w}\" fill=\"none\"/></g>");
        } else {
            merged.entry((l.role, focus)).or_default().push((
                round_i(x1 * 2.0),
                round_i(x2 * 2.0),
                round_i(y * 2.0),
                gone,
            ));
        }
    }
    for ((role, focus), segs) in &mut merged {
        segs.sort_unstable();
        segs.dedup();
        let mut d = Vec::new();
        // coordinates in half pixels: `{:.1}` of k / 2 written digit by digit (`half`)
        for &(x1, x2, y, gone) in segs.iter() {
            d.push(b'M');
            half(&mut d, x1);
            d.push(b' ');
            half(&mut d, y);
            d.push(b'H');
            half(&mut d, x2);
            if gone {
                d.push(b'M');
                half(&mut d, x2 - 6);
                d.push(b' ');
                half(&mut d, y - 6);
                d.extend_from_slice(b"l6 6m0 -6l-6 6");
            }
        }
        let d = text(d);
        let _ = writeln!(
            o,
            "<path class=\"leg {}\" d=\"{d}\" stroke=\"{}\" stroke-width=\"{}\" fill=\"none\"/>",
            role.name(),
            role.color(),
            if *focus { 3 } else { 2 }
        );
    }

    // fills
    let tips = fills.len() <= TOOLTIP_LIMIT;
    let mut merged: BTreeMap<(Role, bool), Vec<(i64, i64)>> = BTreeMap::new();
    for (x, &price) in fills.iter().zip(&fill_px) {
        let (px, py) = (x_of(x.t), y_of(price));
        let buy = x.side == Side::Buy;
        if tips {
            let pair = x.pair.map(|p| format!(" · pair {p}")).unwrap_or_default();
            let tip = format!(
                "fill · order {} {} {} @ {} · {} · {}{pair}",
                x.order,
                x.side.as_str(),
                x.qty.normalize(),
                fixed(x.price, prec),
                fmt_time_ms(x.t),
                x.role.name()
            );
            let _ = writeln!(
                o,
                "<g class=\"fill {}\"><title>{}</title><path d=\"{}\" fill=\"{}\" stroke=\"#fff\" stroke-width=\"0.8\"/></g>",
                x.role.name(),
                escape_html(&tip),
                glyph(x.role, buy, px, py),
                x.role.color()
            );
        } else {
            merged
                .entry((x.role, buy))
                .or_default()
                .push((round_i(px * 2.0), round_i(py * 2.0)));
        }
    }
    for ((role, buy), pts) in &mut merged {
        pts.sort_unstable();
        pts.dedup();
        let mut d = Vec::new();
        for &(x, y) in pts.iter() {
            glyph_half(&mut d, *role, *buy, x, y);
        }
        let d = text(d);
        let _ = writeln!(
            o,
            "<path class=\"fill {}\" d=\"{d}\" fill=\"{}\" stroke=\"#fff\" stroke-width=\"0.8\"/>",
            role.name(),
            role.color()
        );
    }

    // trail events: grey ticks under the top edge
    for (t, tip) in v.trail {
        let x = x_of(*t);
        let _ = writeln!(
            o,
            "<g class=\"trail\"><title>{}</title><path d=\"M{x:.1} {MT}v7\" stroke=\"#8250df\" stroke-width=\"1.5\"/></g>",
            escape_html(tip)
        );
    }
    // violations: a dashed red line and its number over the plot, linked to its section
    let mut by_x: BTreeMap<i64, Vec<&Mark>> = BTreeMap::new();
    for m in marks.iter().filter(|m| m.t >= t0 && m.t <= t1) {
        by_x.entry((x_of(m.t) * 2.0).round() as i64)
            .or_default()
            .push(m);
    }
    let mut last_label = f64::NEG_INFINITY;
    for (x2, ms) in &by_x {
        let x = *x2 as f64 / 2.0;
        let cur = ms.iter().any(|m| Some(m.n) == v.current);
        let mut tip = String::new();
        for (i, m) in ms.iter().enumerate() {
            if i == 8 {
                let _ = write!(tip, "\n… and {} more", ms.len() - 8);
                break;
            }
            if i > 0 {
                tip.push('\n');
            }
            let _ = write!(tip, "V{}: {}", m.n, m.tip);
        }
        let label = if ms.len() == 1 {
            format!("V{}", ms[0].n)
        } else {
            format!("V{}+{}", ms[0].n, ms.len() - 1)
        };
        // a label that would overlap the previous one is left out (the line and tooltip stay)
        let label = if x - last_label >= 9.0 * label.len() as f64 || cur {
            last_label = x;
            label
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "<a href=\"#v{}\"><g class=\"violation\"><title>{}</title><path d=\"M{x:.1} {MT}V{axis_y:.1}\" stroke=\"#cf222e\" \
             stroke-width=\"{}\"{}/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#cf222e\" font-weight=\"bold\">{label}</text></g></a>",
            ms[0].n,
            escape_html(&tip),
            if cur { "1.5" } else { "1" },
            if cur { "" } else { " stroke-dasharray=\"3 2\" stroke-opacity=\"0.7\"" },
            MT - 6.0,
        );
    }
    let _ = writeln!(
        o,
        "<path d=\"M{ML} {MT}V{axis_y}H{:.1}\" stroke=\"#57606a\" fill=\"none\"/>",
        ML + pw
    );
    o.push_str("</svg>\n");
    o
}

/// `x.round() as i64` (half away from zero, saturating) without the libm call: the fraction
/// `x - trunc(x)` is exact, so comparing it with ±0.5 decides as `round` does.
fn round_i(x: f64) -> i64 {
    let t = x as i64;
    let r = x - t as f64;
    if r >= 0.5 {
        t.saturating_add(1)
    } else if r <= -0.5 {
        t.saturating_sub(1)
    } else {
        t
    }
}

/// A fill's glyph as path data: entries a triangle pointing along the side (up for BUY), SL/TP
/// a circle, other exits a diamond, liquidations a square.
fn glyph(role: Role, buy: bool, x: f64, y: f64) -> String {
    match role {
        Role::Entry if buy => format!("M{x:.1} {:.1}l5 8h-10z", y - 4.0),
        Role::Entry => format!("M{x:.1} {:.1}l5 -8h-10z", y + 4.0),
        Role::Sl | Role::Tp => format!("M{:.1} {y:.1}a4 4 0 1 0 8 0a4 4 0 1 0 -8 0", x - 4.0),
        Role::Exit => format!("M{x:.1} {:.1}l5 5l-5 5l-5 -5z", y - 5.0),
        Role::Liquidation => format!("M{:.1} {:.1}h9v9h-9z", x - 4.5, y - 4.5),
    }
}

/// As [`glyph`] at `(x / 2, y / 2)` (half pixels), appended to `d` without the float formatter.
fn glyph_half(d: &mut Vec<u8>, role: Role, buy: bool, x: i64, y: i64) {
    let (x, y, tail) = match role {
        Role::Entry if buy => (x, y - 8, "l5 8h-10z"),
        Role::Entry => (x, y + 8, "l5 -8h-10z"),
        Role::Sl | Role::Tp => (x - 8, y, "a4 4 0 1 0 8 0a4 4 0 1 0 -8 0"),
        Role::Exit => (x, y - 10, "l5 5l-5 5l-5 -5z"),
        Role::Liquidation => (x - 9, y - 9, "h9v9h-9z"),
    };
    d.push(b'M');
    half(d, x);
    d.push(b' ');
    half(d, y);
    d.extend_from_slice(tail.as_bytes());
}

/// The time axis under a plot: grid lines (into `grid`), tick labels and a caption (into
/// `labels`) with the exact start and end in UTC.
pub(crate) fn time_axis(
    grid: &mut String,
    labels: &mut String,
    t0: i64,
    t1: i64,
    pw: f64,
    axis_y: f64,
    x_of: &dyn Fn(i64) -> f64,
) {
    let top = axis_y;
    let ticks = time_ticks(t0, t1, ((pw / 90.0) as usize).max(2));
    let right = x_of(t1);
    for k in &ticks {
        let x = x_of(k.t);
        let _ = write!(grid, "M{x:.1} {top:.1}v4");
        if right - x < 24.0 {
            continue; // its label would stick out of the chart
        }
        let _ = write!(
            labels,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            axis_y + 15.0,
            k.label
        );
        if !k.sub.is_empty() {
            let _ = write!(
                labels,
                "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#656d76\">{}</text>",
                axis_y + 28.0,
                k.sub
            );
        }
    }
    let _ = write!(
        labels,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#656d76\">time (UTC) · {} → {}</text>",
        x_of(t0) + pw / 2.0,
        axis_y + 45.0,
        escape_html(super::short_time(&fmt_time_ms(t0))),
        escape_html(super::short_time(&fmt_time_ms(t1)))
    );
}

/// The legend under the overview chart (HTML).
pub(crate) fn legend() -> String {
    let item = |color: &str, d: &str, text: &str, stroke: bool| {
        let paint = if stroke {
            format!("stroke=\"{color}\" stroke-width=\"2\" fill=\"none\"")
        } else {
            format!("fill=\"{color}\"")
        };
        format!(
            "<span class=\"lg\"><svg width=\"22\" height=\"12\" viewBox=\"0 0 22 12\" style=\"display:inline;vertical-align:middle\"><path d=\"{d}\" {paint}/></svg> {text}</span>"
        )
    };
    let mut o = String::from("<p class=\"legend muted\">");
    o.push_str(&item(
        Role::Sl.color(),
        "M1 6H21",
        "stop-loss leg (trigger price, while it rests)",
        true,
    ));
    o.push_str(&item(Role::Tp.color(), "M1 6H21", "take-profit leg", true));
    o.push_str(&item(Role::Entry.color(), "M1 6H21", "resting entry", true));
    o.push_str(&item(
        Role::Entry.color(),
        "M11 2l5 8h-10z",
        "entry fill (▲ buy, ▼ sell)",
        false,
    ));
    o.push_str(&item(
        Role::Sl.color(),
        "M7 6a4 4 0 1 0 8 0a4 4 0 1 0 -8 0",
        "SL fill",
        false,
    ));
    o.push_str(&item(
        Role::Tp.color(),
        "M7 6a4 4 0 1 0 8 0a4 4 0 1 0 -8 0",
        "TP fill",
        false,
    ));
    o.push_str(&item(
        Role::Exit.color(),
        "M11 1l5 5l-5 5l-5 -5z",
        "other exit",
        false,
    ));
    o.push_str(&item(
        Role::Liquidation.color(),
        "M7 2h9v9h-9z",
        "liquidation",
        false,
    ));
    o.push_str(&item(
        "#d1242f",
        "M8 3l6 6m0 -6l-6 6",
        "cancelled / expired",
        true,
    ));
    o.push_str(&item(
        "#cf222e",
        "M11 0V12",
        "violation (click: details)",
        true,
    ));
    o.push_str("</p>\n");
    o
}

#[cfg(test)]
mod half_tests {
    use super::*;

    /// `round_i` is `round() as i64`: halves both ways, values beside them, signs, huge values,
    /// infinities, NaN and random bit patterns.
    #[test]
    fn round_i_is_round() {
        let mut next = crate::types::xorshift(0x2545_F491_4F6C_DD1D);
        let mut xs = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            0.49999999999999994,
            -0.49999999999999994,
            2.5,
            -2.5,
            4503599627370495.5,
            4503599627370497.0,
            1e19,
            -1e19,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        for k in -5_000i64..5_000 {
            let h = k as f64 / 2.0;
            xs.extend([
                h,
                f64::from_bits(h.to_bits() + 1),
                f64::from_bits(h.to_bits().wrapping_sub(1)),
            ]);
        }
        for _ in 0..200_000 {
            xs.push(f64::from_bits(next()));
            xs.push((next() % 8_000_000) as f64 / 997.0 - 2_000.0);
        }
        for x in xs {
            assert_eq!(round_i(x), x.round() as i64, "{x:?}");
        }
    }

    /// `glyph_half` writes what `glyph` (the float formatter) writes for the same coordinates.
    #[test]
    fn glyph_half_matches_the_float_formatter() {
        for role in [
            Role::Entry,
            Role::Sl,
            Role::Tp,
            Role::Exit,
            Role::Liquidation,
        ] {
            for buy in [true, false] {
                for &(x, y) in &[(0, 0), (7, -3), (-9, 8), (2401, 977), (-1, 1)] {
                    let mut d = Vec::new();
                    glyph_half(&mut d, role, buy, x, y);
                    assert_eq!(text(d), glyph(role, buy, x as f64 / 2.0, y as f64 / 2.0));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`f`] is `Decimal::to_f64` bit for bit: prices of every scale, signs, zeros, fractions
    /// that round, mantissas beyond u64 and scales beyond 19 (the fallback).
    #[test]
    fn f_is_to_f64_bit_for_bit() {
        let mut next = crate::types::xorshift(0x2545_F491_4F6C_DD1D);
        let mut ds = vec![
            Decimal::ZERO,
            Decimal::new(-0, 3),
            Decimal::new(5719, 3),
            Decimal::new(-5719, 3),
            Decimal::new(600_000, 1),
            Decimal::new(1, 28),
            Decimal::MAX,
            Decimal::MIN,
            Decimal::from_i128_with_scale(u64::MAX as i128 + 1, 5),
        ];
        for _ in 0..200_000 {
            let m = (next() >> (next() % 64)) as i64;
            let m = if next() % 2 == 0 { m } else { -m };
            ds.push(Decimal::new(m, (next() % 29) as u32));
        }
        for d in ds {
            assert_eq!(f(d).to_bits(), d.to_f64().unwrap().to_bits(), "{d}");
        }
    }
}
