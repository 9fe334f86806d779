//! Sweeps: a base scenario expanded over a grid of dotted-key overrides, run in parallel.
//!
//! Cases are numbered in grid order (the first axis varies slowest); the result of case `i`
//! depends only on the base scenario and its overrides, never on the thread count, and rows are
//! written in case order. `--partition K/N` keeps the cases with `i % N == K − 1`, a stable share
//! that `sim merge` joins back into the same `sweep.csv`.
//!
//! Input contract: [`load`] checks the whole sweep before anything runs: its name is a plain
//! name, the heat-map axes are grid axes, the base scenario passes its bounds, and every value
//! of every axis, applied alone to the base, gives a scenario that passes them too; each failure
//! cites the sweep file and the line of the axis (or the base scenario's own file and line). The
//! grid size is computed with checked arithmetic ([`Sweep::count`]); a run is limited to
//! [`MAX_CASES`] cases (`--partition` splits a larger grid), and a share is enumerated case by
//! case ([`Sweep::partition_cases`]) without materialising the grid.

use crate::report::Summary;
use crate::scenario::{self, spans::Seg, ScenarioError};
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

/// Most cases one `sim sweep` runs (a larger grid is split with `--partition K/N`).
pub const MAX_CASES: u64 = 1_000_000;
/// Most values one axis may list.
pub const MAX_AXIS_VALUES: usize = 100_000;

/// A loaded sweep.
pub struct Sweep {
    /// Name.
    pub name: String,
    /// The sweep file.
    pub path: PathBuf,
    /// Its text (for the lines of its axes in errors).
    pub text: String,
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

/// The line of `[grid] "key"` in the sweep text (0 when not found).
fn axis_line(text: &str, key: &str) -> usize {
    scenario::spans::line_of_segs(text, &[Seg::Key("grid".into()), Seg::Key(key.into())])
        .unwrap_or(0)
}

/// Whether an error on scenario field `field` comes from axis `key` (the same key, a key inside
/// it, or a table holding it).
fn field_of_axis(field: &str, key: &str) -> bool {
    field == key
        || field
            .strip_prefix(key)
            .is_some_and(|r| r.starts_with('.') || r.starts_with('['))
        || key.strip_prefix(field).is_some_and(|r| r.starts_with('.'))
}

/// Loads a sweep file and its base scenario text, and checks every axis value (see the module
/// contract).
pub fn load(path: &Path) -> Result<Sweep, ScenarioError> {
    let text = scenario::read_text(path)?;
    let f: SweepFile = toml::from_str(&text).map_err(|e| scenario::toml_error(path, &text, &e))?;
    let at = |field: &str, line: usize, msg: String| ScenarioError {
        file: path.display().to_string(),
        line,
        field: field.to_string(),
        msg,
    };
    let line = |field: &str| scenario::spans::line_of_path(&text, field).unwrap_or(0);
    let name = match &f.name {
        Some(n) => {
            if let Some(p) = scenario::bounds::plain_name_problem(n) {
                return Err(at("name", line("name"), p));
            }
            n.clone()
        }
        None => {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            if let Some(p) = scenario::bounds::plain_name_problem(&stem) {
                return Err(at(
                    "name",
                    0,
                    format!(
                        "absent, and the file stem {p}; add `name = \"…\"` at the top of the file"
                    ),
                ));
            }
            stem
        }
    };
    let base_path = path.parent().unwrap_or(Path::new(".")).join(&f.base);
    let base_text = scenario::read_text(&base_path).map_err(|e| {
        at(
            "base",
            line("base"),
            format!("cannot use the base scenario: {e}"),
        )
    })?;
    // the base on its own: its errors cite its own file and line
    let base_raw = scenario::parse(&base_path, &base_text)?;
    scenario::bounds::validate(&base_path, &base_text, &base_raw)?;
    let base_doc: toml::Table =
        toml::from_str(&base_text).map_err(|e| scenario::toml_error(&base_path, &base_text, &e))?;
    let axes: Vec<(String, Vec<toml::Value>)> = f.grid.into_iter().collect();
    if axes.is_empty() {
        return Err(at(
            "grid",
            line("grid"),
            "the grid has no axis (add e.g. `\"engine.poll_interval_ms\" = [500, 2000]` under [grid])".into(),
        ));
    }
    for (key, vals) in &axes {
        let l = axis_line(&text, key);
        let field = format!("grid.\"{key}\"");
        if vals.is_empty() {
            return Err(at(
                &field,
                l,
                "the axis has no value (list at least one)".into(),
            ));
        }
        if vals.len() > MAX_AXIS_VALUES {
            return Err(at(
                &field,
                l,
                format!(
                    "{} values (accepted: at most {MAX_AXIS_VALUES} per axis)",
                    vals.len()
                ),
            ));
        }
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(at(
                &field,
                l,
                "is not a dotted scenario key (e.g. `latency.request_ms`)".into(),
            ));
        }
        // every value applied alone to the base must give a valid scenario
        for v in vals {
            let mut doc = base_doc.clone();
            let shown = value_text(v);
            set_dotted(&mut doc, key, v.clone())
                .map_err(|m| at(&field, l, format!("value `{shown}`: {m}")))?;
            let fail = |m: String| at(&field, l, format!("value `{shown}`: {m}"));
            let raw: scenario::ScenarioFile = toml::Value::Table(doc)
                .try_into()
                .map_err(|e: toml::de::Error| fail(e.message().replace('\n', " ")))?;
            scenario::bounds::validate(&base_path, &base_text, &raw).map_err(|e| {
                if field_of_axis(&e.field, key) {
                    fail(e.msg)
                } else {
                    fail(format!(
                        "with the base scenario: field `{}`: {}",
                        e.field, e.msg
                    ))
                }
            })?;
        }
    }
    let heatmap = match f.heatmap {
        Some(h) => {
            for (k, v) in [("x", &h.x), ("y", &h.y)] {
                if !axes.iter().any(|a| &a.0 == v) {
                    return Err(at(
                        &format!("heatmap.{k}"),
                        line(&format!("heatmap.{k}")),
                        format!(
                            "`{v}` is not an axis of the grid (axes: {})",
                            axes.iter()
                                .map(|a| a.0.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            }
            (h.x, h.y)
        }
        None => (
            axes[0].0.clone(),
            axes.get(1)
                .map(|a| a.0.clone())
                .unwrap_or_else(|| axes[0].0.clone()),
        ),
    };
    let sw = Sweep {
        name,
        path: path.to_path_buf(),
        text,
        base_path,
        base_text,
        axes,
        heatmap,
        cache: scenario::DataCache::default(),
    };
    if sw.count().is_none() {
        return Err(at(
            "grid",
            sw.line_of("grid"),
            format!(
                "the grid has more than {} cases (the product of the axis lengths overflows): use fewer values",
                u64::MAX
            ),
        ));
    }
    Ok(sw)
}

impl Sweep {
    fn line_of(&self, field: &str) -> usize {
        scenario::spans::line_of_path(&self.text, field).unwrap_or(0)
    }

    /// Number of cases (the product of the axis lengths), `None` when it does not fit a `u64`.
    pub fn count(&self) -> Option<u64> {
        self.axes
            .iter()
            .try_fold(1u64, |n, a| n.checked_mul(a.1.len() as u64))
    }

    /// Case `index` in grid order (the first axis varies slowest).
    pub fn case(&self, index: u64) -> Case {
        let mut i = index;
        let mut params = vec![(String::new(), toml::Value::Boolean(false)); self.axes.len()];
        for (k, (name, vals)) in self.axes.iter().enumerate().rev() {
            let n = vals.len() as u64;
            params[k] = (name.clone(), vals[(i % n) as usize].clone());
            i /= n;
        }
        Case {
            index: index as usize,
            params,
        }
    }

    /// All cases in grid order (at most [`MAX_CASES`]; larger grids: [`Sweep::partition_cases`]).
    pub fn cases(&self) -> Vec<Case> {
        let total = self.count().unwrap_or(u64::MAX).min(MAX_CASES);
        (0..total).map(|i| self.case(i)).collect()
    }

    /// The cases of share `k` of `n` (1-based `k`: indices `i % n == k − 1`), enumerated one by
    /// one; the caller checks the share's size ([`share_len`]) first.
    pub fn partition_cases(&self, k: u64, n: u64) -> Vec<Case> {
        let total = self.count().unwrap_or(0);
        let mut out = Vec::new();
        let mut i = k - 1;
        while i < total {
            out.push(self.case(i));
            match i.checked_add(n) {
                Some(x) => i = x,
                None => break,
            }
        }
        out
    }

    /// Checks that share `k` of `n` (1-based) is a non-empty share of at most [`MAX_CASES`]
    /// cases; the message names the sweep file's grid and hints at `--partition`.
    pub fn check_share(&self, k: u64, n: u64) -> Result<u64, ScenarioError> {
        let total = self.count().unwrap_or(u64::MAX);
        let at = |msg: String| ScenarioError {
            file: self.path.display().to_string(),
            line: self.line_of("grid"),
            field: "grid".into(),
            msg,
        };
        if k > total {
            return Err(at(format!(
                "the grid has {total} cases, so share {k} of --partition {k}/{n} is empty (use N <= {total})"
            )));
        }
        let share = share_len(total, k, n);
        if share > MAX_CASES {
            let parts = total.div_ceil(MAX_CASES);
            return Err(at(format!(
                "{share} cases in one run, more than the limit of {MAX_CASES}: split the grid of {total} cases with --partition K/N (N >= {parts}) and join the parts with `sim merge`"
            )));
        }
        Ok(share)
    }

    /// The error of one case, citing the sweep file and the line of the axis that set the field,
    /// or else the base scenario's own file and line.
    fn case_error(&self, case: &Case, e: ScenarioError) -> String {
        let base = self.base_path.display().to_string();
        if e.file == base {
            if let Some((key, v)) = case.params.iter().find(|(k, _)| field_of_axis(&e.field, k)) {
                return ScenarioError {
                    file: self.path.display().to_string(),
                    line: axis_line(&self.text, key),
                    field: format!("grid.\"{key}\""),
                    msg: format!("case {}, value `{}`: {}", case.index, value_text(v), e.msg),
                }
                .to_string();
            }
        }
        format!("case {}: {e}", case.index)
    }

    /// Builds one case's scenario: base scenario + overrides, data through the sweep's cache.
    fn build_case(&self, case: &Case) -> Result<scenario::Scenario, String> {
        let mut doc: toml::Table = toml::from_str(&self.base_text)
            .map_err(|e| scenario::toml_error(&self.base_path, &self.base_text, &e).to_string())?;
        for (key, val) in &case.params {
            set_dotted(&mut doc, key, val.clone()).map_err(|m| {
                ScenarioError {
                    file: self.path.display().to_string(),
                    line: axis_line(&self.text, key),
                    field: format!("grid.\"{key}\""),
                    msg: m,
                }
                .to_string()
            })?;
        }
        let text = toml::to_string(&doc).map_err(|e| e.to_string())?;
        let raw: scenario::ScenarioFile =
            toml::Value::Table(doc)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    ScenarioError {
                        file: self.path.display().to_string(),
                        line: self.line_of("grid"),
                        field: "grid".into(),
                        msg: format!("case {}: {}", case.index, e.message().replace('\n', " ")),
                    }
                    .to_string()
                })?;
        // errors are looked up in the base file's text (its lines are the user's), then moved to
        // the sweep file when an axis set the field
        let mut sc = scenario::build_cached(&self.base_path, &self.base_text, raw, &self.cache)
            .map_err(|e| self.case_error(case, e))?;
        sc.text = text;
        sc.name = format!("{}-case-{}", self.name, case.index);
        Ok(sc)
    }

    /// Runs one case: base scenario + overrides → summary. Only the summary is kept, so the
    /// case runs on a streaming log ([`crate::report::run_summary`]): a sweep of long cases on
    /// every core no longer holds each case's whole event log.
    pub fn run_case(&self, case: &Case) -> Result<Summary, String> {
        let sc = self.build_case(case)?;
        Ok(crate::report::run_summary(&sc).0)
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

/// How many of `total` cases share `k` of `n` holds (1-based `k`, `1 <= k <= n`).
pub fn share_len(total: u64, k: u64, n: u64) -> u64 {
    if k > total {
        0
    } else {
        (total - k) / n + 1
    }
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

/// Merges partial `sweep.csv` files given as (file name, text): one header, rows sorted by case,
/// duplicates refused. Errors name the part's file and line.
pub fn merge(parts: &[(String, String)]) -> Result<String, String> {
    let mut header: Option<String> = None;
    let mut rows: BTreeMap<usize, (String, String)> = BTreeMap::new();
    for (name, p) in parts {
        let mut lines = p.lines();
        let h = lines.next().ok_or_else(|| {
            format!("{name}: empty (expected a sweep.csv written by `sim sweep`)")
        })?;
        match &header {
            None => {
                if !h.starts_with("case,") {
                    return Err(format!(
                        "{name}:1: not a sweep.csv header (expected `case,…` as written by `sim sweep`)"
                    ));
                }
                header = Some(h.to_string())
            }
            Some(x) if x != h => {
                return Err(format!(
                    "{name}:1: header differs from {}'s (parts of one sweep share their columns)",
                    parts[0].0
                ))
            }
            _ => {}
        }
        for (i, l) in lines.enumerate().filter(|(_, l)| !l.is_empty()) {
            let idx: usize = l
                .split(',')
                .next()
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| {
                    format!("{name}:{}: bad row (expected a case number first)", i + 2)
                })?;
            let at = format!("{name}:{}", i + 2);
            if let Some((prev, _)) = rows.insert(idx, (at.clone(), l.to_string())) {
                return Err(format!("{at}: case {idx} appears twice (also at {prev})"));
            }
        }
    }
    let mut out = header.unwrap_or_default();
    out.push('\n');
    for (_, r) in rows.values() {
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
