//! `report.html`: the Markdown report's content as one self-contained page (inline CSS and SVG,
//! no JavaScript, nothing fetched): the price chart (bars, every leg while it rests, every fill,
//! every violation; see [`super::price`]), equity and drawdown charts on the same time axis
//! (starting at the first bar), and per violation a price chart zoomed on its trail.

use super::axis::{fixed, value_ticks};
use super::coord::{f1, text};
use super::price::{legend, price_svg, time_axis, Book, Mark, PriceBars, View};
use super::{
    dec_cmp, describe_event, detail_rows, drawdown_dp, grouped, money, source_name, verdict_line,
    History, Summary,
};
use crate::invariants::{Invariant, Violation};
use crate::types::{fmt_time_ms, TimeMs};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "\
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2328;background:#fff;\
max-width:1100px;margin:24px auto;padding:0 16px;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:1.6em}
h3{margin-top:1.4em}h4{margin:1.1em 0 .3em;font-size:1em}
table{border-collapse:collapse;margin:.4em 0 1em}
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}
table.trail{font-size:.85em}table.trail td.ev{font-family:ui-monospace,Menlo,Consolas,monospace}
tr.at td{background:#fff5f5}
.verdict{font-size:1.2em;font-weight:bold;padding:6px 10px;border-radius:4px;display:inline-block}
.pass{color:#116329;background:#dafbe1}.fail{color:#a40e26;background:#ffebe9}
.msg{margin:.2em 0 .4em}
pre{background:#f6f8fa;border:1px solid #d0d7de;padding:10px;overflow-x:auto;font-size:.85em}
svg{display:block;max-width:100%;height:auto;background:#fff}
.muted{color:#656d76}
.legend{font-size:.85em}.legend .lg{margin-right:14px;white-space:nowrap}
svg.price{margin:.3em 0}
";

/// Violations that get a zoomed price chart (the rest keep their trail table).
pub const ZOOM_LIMIT: usize = 40;

/// Bars and curve points from which the page's charts are drawn on two threads.
const PARALLEL_CHARTS: usize = 50_000;

pub(crate) fn report_html(
    s: &Summary,
    log: &History<'_>,
    violations: &[Violation],
    scenario_toml: &str,
    bars: Option<&PriceBars>,
) -> String {
    let mut o = String::new();
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(
        o,
        "<title>ocosim report: {}</title>",
        escape_html(&s.scenario)
    );
    let _ = writeln!(o, "<style>\n{CSS}</style>\n</head>\n<body>");
    let _ = writeln!(o, "<h1>ocosim report: {}</h1>", escape_html(&s.scenario));
    let class = if s.violations == 0 { "pass" } else { "fail" };
    let _ = writeln!(
        o,
        "<p class=\"verdict {class}\">Verdict: {}</p>",
        escape_html(&verdict_line(s))
    );

    o.push_str("<h2>Summary</h2>\n<table class=\"summary\">\n");
    for (k, v) in detail_rows(s) {
        let _ = writeln!(
            o,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape_html(k),
            escape_html(&v)
        );
    }
    o.push_str("</table>\n");
    if !s.data_warnings.is_empty() {
        o.push_str("<h2>Data warnings</h2>\n<ul>\n");
        for w in &s.data_warnings {
            let _ = writeln!(o, "<li>{}</li>", escape_html(w));
        }
        o.push_str("</ul>\n");
    }

    if !s.run.is_empty() {
        let r = &s.run;
        o.push_str("<h2>What ran</h2>\n<table class=\"summary\">\n");
        let over: Vec<String> = r
            .switches
            .iter()
            .filter(|w| w.overridden)
            .map(|w| format!("{}={}", w.name, w.value))
            .collect();
        let rows = [
            ("ocosim", r.version.clone()),
            ("Profile", r.profile.clone()),
            ("Seed", s.seed.to_string()),
            ("Replay", r.replay.clone()),
            (
                "Switches overridden",
                if over.is_empty() {
                    "none".to_string()
                } else {
                    over.join(", ")
                },
            ),
        ];
        for (k, v) in rows {
            let _ = writeln!(
                o,
                "<tr><th>{}</th><td><code>{}</code></td></tr>",
                escape_html(k),
                escape_html(&v)
            );
        }
        for f in &r.data {
            let _ = writeln!(
                o,
                "<tr><th>{}</th><td><code>sha256 {}</code></td></tr>",
                escape_html(&f.path),
                f.sha256
            );
        }
        o.push_str(
            "</table>\n<details><summary>Every switch</summary>\n<table class=\"summary\">\n",
        );
        for w in &r.switches {
            let _ = writeln!(
                o,
                "<tr><th>{}</th><td>{}{}</td></tr>",
                escape_html(&w.name),
                escape_html(&w.value),
                if w.overridden {
                    " <b>(overridden)</b>"
                } else {
                    ""
                }
            );
        }
        o.push_str("</table>\n</details>\n");
    }

    // violations numbered in the order of their sections (anchors `v1`, `v2`, …)
    let numbered: Vec<(usize, &Violation)> = grouped(violations)
        .into_iter()
        .flat_map(|(_, vs)| vs)
        .enumerate()
        .map(|(i, v)| (i + 1, v))
        .collect();
    let marks: Vec<Mark> = numbered
        .iter()
        .map(|(n, v)| Mark {
            n: *n,
            t: v.time_ms.0,
            tip: format!(
                "{} at {}: {}",
                v.invariant.name(),
                fmt_time_ms(v.time_ms.0),
                v.message
            ),
        })
        .collect();
    let (book, curve) = (log.book, log.curve);
    // the time axis of every overview chart starts at the first bar
    let span = bars.and_then(|b| b.span()).or_else(|| {
        let (a, z) = (curve.first()?.0 .0, curve.last()?.0 .0);
        Some((a, z.max(a + 1)))
    });

    // the price chart (every bar, leg and fill) and the equity and drawdown charts (every
    // point of the curve) are the costly parts of the page: on a long run the price chart is
    // drawn on a second thread meanwhile (the same strings, put in the same order)
    let price = |b: &PriceBars, (t0, t1): (i64, i64)| {
        price_svg(
            &View {
                title: format!("{} price", s.symbol),
                t0,
                t1,
                height: 380.0,
                focus: None,
                trail: &[],
                current: None,
            },
            b,
            book,
            &marks,
        )
    };
    let curves = || {
        let markers: Vec<(TimeMs, String)> = marks
            .iter()
            .map(|m| (TimeMs(m.t), format!("V{}: {}", m.n, m.tip)))
            .collect();
        let equity = svg_chart(&Chart {
            title: "Equity (wallet + unrealized)",
            points: curve,
            span,
            fmt_y: &|d| fixed(d, 2),
            min_step: Decimal::new(1, 2),
            color: "#0969da",
            area: false,
            reference: Some((s.initial_balance, "initial")),
            markers: &markers,
        });
        // 4 dp for the pixels, 2 dp on the labels
        let dd: Vec<(TimeMs, Decimal)> = drawdown_dp(curve, 4)
            .into_iter()
            .map(|(t, p)| (t, if p.is_zero() { p } else { -p }))
            .collect();
        let drawdown = svg_chart(&Chart {
            title: "Drawdown (% of running peak)",
            points: &dd,
            span,
            fmt_y: &|d| format!("{} %", fixed(d, 2)),
            min_step: Decimal::new(1, 2),
            color: "#bc4c00",
            area: true,
            reference: None,
            markers: &markers,
        });
        (equity, drawdown)
    };
    let (price_chart, (equity, drawdown)) = match (bars, span) {
        (Some(b), Some(sp)) if b.bars.len() + curve.len() >= PARALLEL_CHARTS => {
            std::thread::scope(|sc| {
                let p = sc.spawn(|| price(b, sp));
                let c = curves();
                let p = p.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                (Some((b, p)), c)
            })
        }
        (Some(b), Some(sp)) => (Some((b, price(b, sp))), curves()),
        _ => (None, curves()),
    };
    if let Some((b, chart)) = price_chart {
        let _ = writeln!(
            o,
            "<h2>Price</h2>\n<p class=\"muted\">{} bars of {} ms; {} legs, {} fills, {} violations. \
             Hover a segment, fill or violation for details.</p>",
            b.bars.len(),
            b.interval_ms,
            book.legs.len(),
            book.fills.len(),
            marks.len()
        );
        o.push_str(&chart);
        o.push_str(&legend());
    }
    o.push_str("<h2>Equity</h2>\n");
    o.push_str(&equity);
    let _ = writeln!(
        o,
        "<h2>Drawdown</h2>\n<p class=\"muted\">Below the running equity peak, in percent. \
         Max drawdown {} ({} %).</p>",
        escape_html(&money(s.max_drawdown)),
        escape_html(&s.max_drawdown_pct.to_string())
    );
    o.push_str(&drawdown);
    if !marks.is_empty() {
        o.push_str(
            "<p class=\"muted\">Red marks on the time axis: violations (hover for details).</p>\n",
        );
    }

    o.push_str("<h2>Invariants</h2>\n<table>\n<tr><th>Invariant</th><th>Guards against</th><th>Violations</th></tr>\n");
    for inv in Invariant::ALL {
        let n = s
            .violations_by_invariant
            .get(inv.name())
            .copied()
            .unwrap_or(0);
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{n}</td></tr>",
            inv.name(),
            escape_html(inv.describe())
        );
    }
    o.push_str("</table>\n");

    o.push_str("<h2>Violations</h2>\n");
    if violations.is_empty() {
        o.push_str("<p>No violations.</p>\n");
    }
    let mut n = 0usize;
    for (inv, vs) in grouped(violations) {
        let _ = writeln!(
            o,
            "<h3 id=\"{0}\">{0} ({1})</h3>\n<p class=\"muted\">{2}</p>",
            inv.name(),
            vs.len(),
            escape_html(inv.describe())
        );
        for (i, v) in vs.iter().enumerate() {
            let pair = v
                .pair
                .map(|p| format!("pair {p}"))
                .unwrap_or_else(|| "no pair".to_string());
            n += 1;
            let _ = writeln!(
                o,
                "<h4 id=\"v{n}\">V{n} · {} #{} · {} · {} · seq {}</h4>\n<p class=\"msg\">{}</p>",
                inv.name(),
                i + 1,
                escape_html(&fmt_time_ms(v.time_ms.0)),
                escape_html(&pair),
                v.seq,
                escape_html(&v.message)
            );
            let trail = log.trail(v);
            if let Some(b) = bars {
                if n <= ZOOM_LIMIT {
                    o.push_str(&zoom(b, book, &marks, n, v, &trail));
                } else if n == ZOOM_LIMIT + 1 {
                    let _ = writeln!(
                        o,
                        "<p class=\"muted\">Zoomed charts are drawn for the first {ZOOM_LIMIT} violations only.</p>"
                    );
                }
            }
            if trail.is_empty() {
                o.push_str("<p class=\"muted\">No trail.</p>\n");
                continue;
            }
            o.push_str("<table class=\"trail\">\n<tr><th>Time</th><th>Seq</th><th>Source</th><th>Event</th></tr>\n");
            for r in trail {
                let at = if r.seq == v.seq { " class=\"at\"" } else { "" };
                let _ = writeln!(
                    o,
                    "<tr{at}><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"ev\">{}</td></tr>",
                    escape_html(&fmt_time_ms(r.time_ms.0)),
                    r.seq,
                    source_name(r.source),
                    escape_html(&describe_event(&r.event))
                );
            }
            o.push_str("</table>\n");
        }
    }

    let _ = writeln!(
        o,
        "<h2>Scenario</h2>\n<pre><code>{}</code></pre>",
        escape_html(scenario_toml)
    );
    o.push_str("</body>\n</html>\n");
    o
}

/// The price chart of violation `n`, zoomed on the minutes around its trail: the window spans
/// the trail's first to last event (and the violation), widened by a fifth of that on each side
/// and to at least 30 bars, clipped to the data.
fn zoom(
    b: &PriceBars,
    book: &Book,
    marks: &[Mark],
    n: usize,
    v: &Violation,
    trail: &[&crate::events::EventRecord],
) -> String {
    let times = trail
        .iter()
        .map(|r| r.time_ms.0)
        .chain(std::iter::once(v.time_ms.0));
    let (lo, hi) = times.fold((i64::MAX, i64::MIN), |(a, z), t| (a.min(t), z.max(t)));
    let (first, end) = b.span().unwrap_or((lo, hi + 1));
    let pad = ((hi - lo) / 5).max(b.interval_ms * 15);
    let t0 = (lo - pad).max(first);
    let t1 = (hi + pad).min(end).max(t0 + b.interval_ms);
    let ticks: Vec<(i64, String)> = trail
        .iter()
        .map(|r| {
            (
                r.time_ms.0,
                format!(
                    "seq {} · {} · {}",
                    r.seq,
                    fmt_time_ms(r.time_ms.0),
                    describe_event(&r.event)
                ),
            )
        })
        .collect();
    let pair = v
        .pair
        .map(|p| format!(", pair {p} highlighted"))
        .unwrap_or_default();
    let mut o = format!(
        "<p class=\"muted\">V{n} zoomed: {} → {} UTC{pair}; purple ticks at the top are the events of its trail.</p>\n",
        escape_html(&fmt_time_ms(t0)),
        escape_html(&fmt_time_ms(t1))
    );
    o.push_str(&price_svg(
        &View {
            title: format!(
                "V{n} {} around {}",
                v.invariant.name(),
                fmt_time_ms(v.time_ms.0)
            ),
            t0,
            t1,
            height: 300.0,
            focus: v.pair,
            trail: &ticks,
            current: Some(n),
        },
        b,
        book,
        marks,
    ));
    o
}

/// One line chart (drawn as steps: a value holds until the next point).
struct Chart<'a> {
    title: &'a str,
    points: &'a [(TimeMs, Decimal)],
    /// The time axis `[t0, t1)` (the bars' span when known, else the points').
    span: Option<(i64, i64)>,
    fmt_y: &'a dyn Fn(Decimal) -> String,
    /// The finest step of the value axis.
    min_step: Decimal,
    color: &'a str,
    /// Fill between the line and zero.
    area: bool,
    /// A dashed horizontal reference line (value, label).
    reference: Option<(Decimal, &'a str)>,
    /// Red marks on the time axis (time, tooltip).
    markers: &'a [(TimeMs, String)],
}

const W: f64 = super::price::W;
const H: f64 = 260.0;
const ML: f64 = 84.0;
const MR: f64 = 16.0;
const MT: f64 = 14.0;
const MB: f64 = 54.0;

/// `v.to_f64().unwrap_or(0.0)`, bit for bit (see [`super::price::f`]).
fn f(v: Decimal) -> f64 {
    super::price::f(v)
}

/// The lowest and highest value of `points` (zeros when empty): `Iterator::min` and `max`'s
/// picks (the first of equal minima, the last of equal maxima: equal values may differ in
/// scale, and so in their text), by [`dec_cmp`]'s order (the same, without rust_decimal's
/// general comparison per point).
fn y_range(points: &[(TimeMs, Decimal)]) -> (Decimal, Decimal) {
    let mut it = points.iter().map(|p| p.1);
    let Some(first) = it.next() else {
        return (Decimal::default(), Decimal::default());
    };
    it.fold((first, first), |(lo, hi), v| {
        (
            if dec_cmp(&lo, &v).is_gt() { v } else { lo },
            if dec_cmp(&hi, &v).is_gt() { hi } else { v },
        )
    })
}

fn svg_chart(c: &Chart) -> String {
    let pw = W - ML - MR;
    let ph = H - MT - MB;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" \
         role=\"img\" font-family=\"Helvetica,Arial,sans-serif\" font-size=\"11\">\n<title>{}</title>",
        escape_html(c.title)
    );
    let _ = writeln!(
        o,
        "<rect x=\"{ML}\" y=\"{MT}\" width=\"{pw}\" height=\"{ph}\" fill=\"#fff\" stroke=\"#d0d7de\"/>"
    );
    let (Some(first), Some(last)) = (c.points.first(), c.points.last()) else {
        let _ = writeln!(
            o,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#656d76\">no data</text>\n</svg>",
            ML + pw / 2.0,
            MT + ph / 2.0
        );
        return o;
    };
    let (t0, t1) = c
        .span
        .unwrap_or((first.0 .0, last.0 .0.max(first.0 .0 + 1)));
    let t1 = t1.max(t0 + 1);
    let (ymin, ymax) = y_range(c.points);
    // a little room above and below, so the line never sits on the frame
    let (lo, hi) = {
        let (a, z) = (f(ymin), f(ymax));
        let pad = ((z - a) * 0.06).max(f(c.min_step) * 2.0);
        (a - pad, z + pad)
    };
    let x_of = |t: i64| ML + (t.clamp(t0, t1) - t0) as f64 / (t1 - t0) as f64 * pw;
    let y_of = |v: Decimal| MT + (hi - f(v)) / (hi - lo) * ph;
    let axis_y = MT + ph;

    // grid, value labels (fixed decimals) and the time axis
    let mut grid = String::new();
    let mut labels = String::new();
    for k in value_ticks(lo, hi, c.min_step, 5) {
        let y = y_of(k);
        let _ = write!(grid, "M{ML} {y:.1}H{:.1}", ML + pw);
        let _ = write!(
            labels,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            ML - 6.0,
            y + 4.0,
            escape_html(&(c.fmt_y)(k))
        );
    }
    time_axis(&mut grid, &mut labels, t0, t1, pw, axis_y, &x_of);
    let _ = writeln!(
        o,
        "<path d=\"{grid}\" stroke=\"#eaeef2\" fill=\"none\"/>\n<g fill=\"#1f2328\">{labels}</g>"
    );

    // reference line (only when inside the range)
    if let Some((v, label)) = c.reference {
        if v >= ymin && v <= ymax && ymax > ymin {
            let y = y_of(v);
            let _ = writeln!(
                o,
                "<line x1=\"{ML}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#8c959f\" stroke-dasharray=\"4 3\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#656d76\">{}</text>",
                ML + pw,
                ML + pw - 4.0,
                y - 3.0,
                escape_html(label)
            );
        }
    }

    // violation markers: a faint red line through the plot and a red triangle on the axis
    let mut marks: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for (t, tip) in c.markers {
        let tenths = (x_of(t.0) * 10.0).round() as i64;
        marks.entry(tenths).or_default().push(tip);
    }
    for (tenths, tips) in &marks {
        let xv = *tenths as f64 / 10.0;
        let x = format!("{xv:.1}");
        let mut tip = String::new();
        for (i, t) in tips.iter().enumerate() {
            if i == 8 {
                let _ = write!(tip, "\n… and {} more", tips.len() - 8);
                break;
            }
            if i > 0 {
                tip.push('\n');
            }
            tip.push_str(t);
        }
        let _ = writeln!(
            o,
            "<g><title>{}</title><line x1=\"{x}\" y1=\"{MT}\" x2=\"{x}\" y2=\"{axis_y}\" stroke=\"#cf222e\" \
             stroke-opacity=\"0.35\" stroke-dasharray=\"2 2\"/><polygon points=\"{x},{axis_y} {:.1},{:.1} {:.1},{:.1}\" \
             fill=\"#cf222e\"/></g>",
            escape_html(&tip),
            xv - 4.5,
            axis_y - 9.0,
            xv + 4.5,
            axis_y - 9.0
        );
    }

    // the line, at most four points per pixel column (first, min, max, last); it holds its
    // last value to the end of the axis
    let mut pts = thin(c.points, &x_of, &y_of);
    if let Some(&(lx, ly)) = pts.last() {
        let end = x_of(t1);
        if end > lx {
            pts.push((end, ly));
        }
    }
    let mut line = Vec::with_capacity(pts.len() * 28);
    let mut prev_y: Option<f64> = None;
    for &(x, y) in &pts {
        if let Some(py) = prev_y {
            if py != y {
                // " {x:.1},{py:.1}"
                line.push(b' ');
                f1(&mut line, x);
                line.push(b',');
                f1(&mut line, py);
            }
            line.push(b' ');
        }
        // "{x:.1},{y:.1}"
        f1(&mut line, x);
        line.push(b',');
        f1(&mut line, y);
        prev_y = Some(y);
    }
    let line = text(line);
    if c.area {
        let base = y_of(Decimal::ZERO.clamp(ymin, ymax));
        let (fx, _) = pts[0];
        let (lx, _) = pts[pts.len() - 1];
        let _ = writeln!(
            o,
            "<polygon points=\"{fx:.1},{base:.1} {line} {lx:.1},{base:.1}\" fill=\"{}\" fill-opacity=\"0.15\" stroke=\"none\"/>",
            c.color
        );
    }
    let _ = writeln!(
        o,
        "<polyline points=\"{line}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" stroke-linejoin=\"round\"/>",
        c.color
    );
    let _ = writeln!(
        o,
        "<path d=\"M{ML} {MT}V{axis_y}H{:.1}\" stroke=\"#57606a\" fill=\"none\"/>",
        ML + pw
    );
    o.push_str("</svg>\n");
    o
}

/// Pixel coordinates of `points`, keeping per pixel column only the first, lowest, highest and
/// last point (in time order), so a long run draws the same shape with a bounded size.
fn thin(
    points: &[(TimeMs, Decimal)],
    x_of: &dyn Fn(i64) -> f64,
    y_of: &dyn Fn(Decimal) -> f64,
) -> Vec<(f64, f64)> {
    let xy: Vec<(f64, f64)> = points.iter().map(|&(t, v)| (x_of(t.0), y_of(v))).collect();
    let mut out = Vec::new();
    let mut i = 0;
    // x >= ML (times are clamped into the axis), so truncating is flooring (no libm call)
    let col_of = |x: f64| x as i64;
    while i < xy.len() {
        let col = col_of(xy[i].0);
        let mut j = i;
        while j + 1 < xy.len() && col_of(xy[j + 1].0) == col {
            j += 1;
        }
        let (mut lo, mut hi) = (i, i);
        for k in i..=j {
            if xy[k].1 < xy[lo].1 {
                lo = k;
            }
            if xy[k].1 > xy[hi].1 {
                hi = k;
            }
        }
        let mut keep = [i, lo, hi, j];
        keep.sort_unstable();
        let mut prev = usize::MAX;
        for k in keep {
            if k != prev {
                out.push(xy[k]);
                prev = k;
            }
        }
        i = j + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `y_range` picks the very values `Iterator::min` and `max` pick (compared by their bytes:
    /// a tie between two scales of one value must go the same way), over random runs of
    /// decimals with many equal values in different scales, and the empty run.
    #[test]
    fn y_range_matches_iterator_min_max() {
        let v = super::super::tests::random_decimals(3_000);
        let mut next = crate::types::xorshift(0x0DDB_A11C_0FFE_E123);
        assert_eq!(y_range(&[]), (Decimal::default(), Decimal::default()));
        for _ in 0..3_000 {
            let len = 1 + (next() % 40) as usize;
            let at = (next() % (v.len() - len) as u64) as usize;
            let pts: Vec<(TimeMs, Decimal)> = v[at..at + len]
                .iter()
                .enumerate()
                .map(|(i, &d)| (TimeMs(i as i64), d))
                .collect();
            let want_lo = pts.iter().map(|p| p.1).min().unwrap();
            let want_hi = pts.iter().map(|p| p.1).max().unwrap();
            let (lo, hi) = y_range(&pts);
            assert_eq!(lo.serialize(), want_lo.serialize(), "{pts:?}");
            assert_eq!(hi.serialize(), want_hi.serialize(), "{pts:?}");
        }
    }
}
