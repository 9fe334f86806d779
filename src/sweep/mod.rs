//! Sweeps: a base scenario expanded over a grid of dotted-key overrides, run in parallel.
//!
//! Cases are numbered in grid order (the first axis varies slowest); the result of case `i`
//! depends only on the base scenario and its overrides, never on the thread count, and rows are
//! written in case order. `--partition K/N` keeps the cases with `i % N == K − 1`, a stable share
//! that `sim merge` joins back into the same `sweep.csv`.

use crate::report::Summary;
use crate::scenario::{self, ScenarioError};
use rayon::prelude::*;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A sweep file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    /// Name (report folder).
    #[serde(default)]
    pub name: Option<String>,
    /// Base scenario, relative to the sweep file.
    pub base: PathBuf,
    /// Axis → values; an axis is a dotted scenario key (`engine.poll_interval_ms`,
    /// `latency.request_ms`, `exchange.intrabar`, `engine.profile`, `engine.switches.X`,
    /// `seed`, `data.klines`, `signals.random.sl_pct`, …).
    pub grid: BTreeMap<String, Vec<toml::Value>>,
    /// Which axes the heat map shows.
    #[serde(default)]
    pub heatmap: Option<HeatmapAxes>,
}

/// The two axes of the heat map.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeatmapAxes {
    /// Columns.
    pub x: String,
    /// Rows.
    pub y: String,
}

/// One case of the grid.
#[derive(Debug, Clone)]
pub struct Case {
    /// Index in grid order.
    pub index: usize,
    /// Axis → value (as written in the sweep file).
    pub params: Vec<(String, toml::Value)>,
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row {
    /// The case.
    pub case: Case,
    /// Its summary, or the error that stopped it.
    pub result: Result<Summary, String>,
}

/// A loaded sweep.
pub struct Sweep {
    /// Name.
    pub name: String,
    /// Base scenario path.
    pub base_path: PathBuf,
    /// Base scenario text.
    pub base_text: String,
    /// Axes in file order (BTreeMap order: sorted by key).
    pub axes: Vec<(String, Vec<toml::Value>)>,
    /// Heat map axes.
    pub heatmap: (String, String),
    /// Kline files loaded once for all cases.
    pub cache: scenario::DataCache,
}

fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join("|"),
        other => format!("{other:?}"),
    }
}

/// Loads a sweep file and its base scenario text.
pub fn load(path: &Path) -> Result<Sweep, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: path.display().to_string(),
        line: 0,
        field: "-".into(),
        msg: format!("cannot read: {e}"),
    })?;
    let f: SweepFile = toml::from_str(&text).map_err(|e| ScenarioError {
        file: path.display().to_string(),
        line: e
            .span()
            .map(|s| scenario::line_of(&text, s.start))
            .unwrap_or(0),
        field: e.message().split('`').nth(1).unwrap_or("-").to_string(),
        msg: e.message().replace('\n', " "),
    })?;
    let base_path = path.parent().unwrap_or(Path::new(".")).join(&f.base);
    let base_text = std::fs::read_to_string(&base_path).map_err(|e| ScenarioError {
        file: path.display().to_string(),
        line: scenario::line_of_key(&text, "base"),
        field: "base".into(),
        msg: format!("cannot read {}: {e}", base_path.display()),
    })?;
    let axes: Vec<(String, Vec<toml::Value>)> = f.grid.into_iter().collect();
    if axes.is_empty() || axes.iter().any(|a| a.1.is_empty()) {
        return Err(ScenarioError {
            file: path.display().to_string(),
            line: scenario::line_of_key(&text, "grid"),
            field: "grid".into(),
            msg: "the grid needs at least one axis, each with at least one value".into(),
        });
    }
    let heatmap = match f.heatmap {
        Some(h) => (h.x, h.y),
        None => (
            axes[0].0.clone(),
            axes.get(1)
                .map(|a| a.0.clone())
                .unwrap_or_else(|| axes[0].0.clone()),
        ),
    };
    // checked before any case runs: an unknown axis would give an empty heat map
    for (key, axis) in [("x", &heatmap.0), ("y", &heatmap.1)] {
        if !axes.iter().any(|a| &a.0 == axis) {
            return Err(ScenarioError {
                file: path.display().to_string(),
                line: scenario::line_of_key(&text, key),
                field: key.into(),
                msg: format!(
                    "unknown heat-map axis `{axis}` (grid axes: {})",
                    axes.iter()
                        .map(|a| a.0.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    let name = f.name.unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "sweep".into())
    });
    Ok(Sweep {
        name,
        base_path,
        base_text,
        axes,
        heatmap,
        cache: scenario::DataCache::default(),
    })
}

impl Sweep {
    /// All cases in grid order.
    pub fn cases(&self) -> Vec<Case> {
        let total: usize = self.axes.iter().map(|a| a.1.len()).product();
        (0..total)
            .map(|mut i| {
                let index = i;
                let mut params =
                    vec![(String::new(), toml::Value::Boolean(false)); self.axes.len()];
                for (k, (name, vals)) in self.axes.iter().enumerate().rev() {
                    params[k] = (name.clone(), vals[i % vals.len()].clone());
                    i /= vals.len();
                }
                Case { index, params }
            })
            .collect()
    }

    /// Builds one case's scenario: base scenario + overrides, data through the sweep's cache.
    fn build_case(&self, case: &Case) -> Result<scenario::Scenario, String> {
        let mut doc: toml::Table = toml::from_str(&self.base_text).map_err(|e| e.to_string())?;
        for (key, val) in &case.params {
            set_dotted(&mut doc, key, val.clone())?;
        }
        let text = toml::to_string(&doc).map_err(|e| e.to_string())?;
        let raw = scenario::parse(&self.base_path, &text).map_err(|e| e.to_string())?;
        let mut sc = scenario::build_cached(&self.base_path, &text, raw, &self.cache)
            .map_err(|e| e.to_string())?;
        sc.name = format!("{}-case-{}", self.name, case.index);
        Ok(sc)
    }

    /// Runs one case: base scenario + overrides → summary.
    pub fn run_case(&self, case: &Case) -> Result<Summary, String> {
        let sc = self.build_case(case)?;
        let r = sc.run();
        Ok(crate::cli::summarize(&sc, &r))
    }

    /// Runs `cases` in parallel (rayon); rows come back in case order.
    pub fn run(&self, cases: &[Case], progress: &(dyn Fn() + Sync)) -> Vec<Row> {
        // Load the first case's data up front, while every core can help parse it, rather than
        // have the first cases all miss the cache and parse it at once (the case reports its own
        // errors when it runs).
        if let Some(first) = cases.first() {
            let _ = self.build_case(first);
        }
        // one task per case: cases differ in cost (poll interval, latency, data), and with rayon's
        // default split a core that finished its half early found nothing left to steal
        cases
            .par_iter()
            .with_max_len(1)
            .map(|c| {
                let result = self.run_case(c);
                progress();
                Row {
                    case: c.clone(),
                    result,
                }
            })
            .collect()
    }
}

/// Sets `a.b.c = v` in a TOML table, creating tables on the way.
pub fn set_dotted(doc: &mut toml::Table, key: &str, v: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut t = doc;
    for p in &parts[..parts.len() - 1] {
        let e = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = e
            .as_table_mut()
            .ok_or_else(|| format!("`{key}`: `{p}` is not a table"))?;
    }
    t.insert(parts[parts.len() - 1].to_string(), v);
    Ok(())
}

/// Keeps the cases of partition `k` of `n` (1-based `k`).
pub fn partition(cases: Vec<Case>, k: usize, n: usize) -> Vec<Case> {
    cases.into_iter().filter(|c| c.index % n == k - 1).collect()
}

const COLUMNS: [&str; 11] = [
    "violations",
    "ambiguous_bars",
    "bars",
    "orders",
    "fills",
    "pairs",
    "pnl",
    "max_drawdown",
    "max_drawdown_pct",
    "fees",
    "error",
];

/// `sweep.csv`: one row per case, in case order.
pub fn to_csv(axes: &[String], rows: &[Row]) -> String {
    let inv: Vec<&str> = crate::invariants::Invariant::ALL
        .iter()
        .map(|i| i.name())
        .collect();
    let mut out = String::new();
    let mut head = vec!["case".to_string()];
    head.extend(axes.iter().cloned());
    head.extend(COLUMNS.iter().map(|s| s.to_string()));
    head.extend(inv.iter().map(|s| format!("v:{s}")));
    out.push_str(&head.join(","));
    out.push('\n');
    for r in rows {
        let mut cells = vec![r.case.index.to_string()];
        cells.extend(r.case.params.iter().map(|(_, v)| csv_cell(&value_text(v))));
        match &r.result {
            Ok(s) => {
                cells.extend([
                    s.violations.to_string(),
                    s.ambiguous_bars.to_string(),
                    s.bars.to_string(),
                    s.orders.to_string(),
                    s.fills.to_string(),
                    s.pairs.to_string(),
                    s.pnl.round_dp(8).normalize().to_string(),
                    s.max_drawdown.round_dp(8).normalize().to_string(),
                    s.max_drawdown_pct.to_string(),
                    s.fees.round_dp(8).normalize().to_string(),
                    String::new(),
                ]);
                for i in &inv {
                    cells.push(
                        s.violations_by_invariant
                            .get(*i)
                            .copied()
                            .unwrap_or(0)
                            .to_string(),
                    );
                }
            }
            Err(e) => {
                cells.extend(std::iter::repeat_n(String::new(), COLUMNS.len() - 1));
                cells.push(csv_cell(e));
                cells.extend(std::iter::repeat_n(String::new(), inv.len()));
            }
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Merges partial `sweep.csv` files: one header, rows sorted by case, duplicates refused.
pub fn merge(parts: &[String]) -> Result<String, String> {
    let mut header: Option<String> = None;
    let mut rows: BTreeMap<usize, String> = BTreeMap::new();
    for (n, p) in parts.iter().enumerate() {
        let mut lines = p.lines();
        let h = lines
            .next()
            .ok_or_else(|| format!("part {}: empty", n + 1))?;
        match &header {
            None => header = Some(h.to_string()),
            Some(x) if x != h => return Err(format!("part {}: header differs from part 1", n + 1)),
            _ => {}
        }
        for l in lines.filter(|l| !l.is_empty()) {
            let idx: usize = l
                .split(',')
                .next()
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| format!("part {}: bad row `{l}`", n + 1))?;
            if rows.insert(idx, l.to_string()).is_some() {
                return Err(format!("case {idx} appears twice"));
            }
        }
    }
    let mut out = header.unwrap_or_default();
    out.push('\n');
    for r in rows.values() {
        out.push_str(r);
        out.push('\n');
    }
    Ok(out)
}

/// The heat map of violations over two axes, from a `sweep.csv` text: Markdown and HTML.
pub fn heatmap(csv_text: &str, x: &str, y: &str, title: &str) -> (String, String) {
    let mut lines = csv_text.lines();
    let head: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| head.iter().position(|h| *h == name);
    let (Some(xi), Some(yi), Some(vi)) = (col(x), col(y), col("violations")) else {
        return (
            format!("# {title}\n\n(no heat map: axes not found)\n"),
            String::new(),
        );
    };
    let mut cells: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    let mut xs: Vec<String> = Vec::new();
    let mut ys: Vec<String> = Vec::new();
    let mut total = 0usize;
    for l in lines {
        let c: Vec<&str> = l.split(',').collect();
        let (Some(xv), Some(yv)) = (c.get(xi), c.get(yi)) else {
            continue;
        };
        let v: u64 = c.get(vi).and_then(|s| s.parse().ok()).unwrap_or(0);
        total += 1;
        if !xs.iter().any(|s| s == xv) {
            xs.push(xv.to_string());
        }
        if !ys.iter().any(|s| s == yv) {
            ys.push(yv.to_string());
        }
        let e = cells.entry((xv.to_string(), yv.to_string())).or_default();
        e.0 += v;
        e.1 += 1;
    }
    let max = cells.values().map(|c| c.0).max().unwrap_or(0).max(1);
    let mut md = format!("# Sweep {title}\n\n{total} cases. Violations summed per cell; rows `{y}`, columns `{x}`.\n\n| {y} \\ {x} |");
    for xv in &xs {
        let _ = write!(md, " {xv} |");
    }
    md.push_str("\n|---|");
    md.push_str(&"---:|".repeat(xs.len()));
    md.push('\n');
    let mut html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sweep {t}</title><style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.4em .8em;text-align:right;border:1px solid #ccc}}table{{border-collapse:collapse}}</style></head><body><h1>Sweep {t}</h1><p>{total} cases. Violations summed per cell; rows <code>{y}</code>, columns <code>{x}</code>.</p><table><tr><th>{y} \\ {x}</th>",
        t = esc(title)
    );
    for xv in &xs {
        let _ = write!(html, "<th>{}</th>", esc(xv));
    }
    html.push_str("</tr>");
    for yv in &ys {
        let _ = write!(md, "| {yv} |");
        let _ = write!(html, "<tr><th>{}</th>", esc(yv));
        for xv in &xs {
            let (v, n) = cells
                .get(&(xv.clone(), yv.clone()))
                .copied()
                .unwrap_or((0, 0));
            let _ = write!(md, " {v} |");
            let shade = 255 - (v * 200 / max) as u8;
            let _ = write!(
                html,
                "<td style=\"background:rgb(255,{shade},{shade})\" title=\"{n} cases\">{v}</td>"
            );
        }
        md.push('\n');
        html.push_str("</tr>");
    }
    html.push_str("</table><p>Per-case numbers: <code>sweep.csv</code>.</p></body></html>\n");
    (md, html)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
