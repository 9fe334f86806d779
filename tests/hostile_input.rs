//! Hostile input, table-driven: every number, name and time a user can write in a scenario or a
//! sweep, and every command-line argument, pushed out of its accepted range (negative, zero,
//! the largest `Decimal` or `i64`, dates that do not exist, unknown names, paths for names). Each
//! case runs the real binary in a sandbox holding a sentinel tree of the user's files and must
//! give exit 2, one line naming the file and line (or the argument), no panic text, and the
//! sandbox unchanged (`tests/common/hostile.rs`).

mod common;

use common::hostile::{collect, finish, Sandbox};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/binance-um/klines/AVAXUSDT/1m/AVAXUSDT-1m-2026-02.csv"
);

const DEC_MAX: &str = "79228162514264337593543950335";
const I64_MAX: &str = "9223372036854775807";

/// A valid scenario with every section written out, one key a line.
fn base() -> String {
    format!(
        r#"name = "hostile"
seed = 1

[data]
klines = ["{DATA}"]
from = "2026-02-01"
to = "2026-02-02"

[exchange]
position_mode = "hedge"
intrabar = "ohlc"
leverage = 10
initial_balance = "10000"
maker_fee = "0.0002"
taker_fee = "0.0005"
slippage_ticks = 0

[latency]
request_ms = 25
response_ms = 25
jitter_ms = 0
stream_ms = 50
timeout_ms = 10000

[engine]
profile = "reference"
monitor = "poll"
poll_interval_ms = 2000
error_backoff_ms = 5000

[signals]
inline = [
  {{ at = "2026-02-01T02:00", action = "buy", quantity = "10", sl_pct = "0.015", tp_pct = "0.03" }},
]

[faults]
rate_limit_ppm = 0
timeout_ppm = 0
stream_delay_ms = 0

[invariants]
reaction_ms = 15000
"#
    )
}

/// `base()` with `key = value` set in `[section]` (replacing the key's line or adding one after
/// the header; `section` "" is the top of the file); returns the text and the key's line.
fn with(section: &str, key: &str, value: &str) -> (String, usize) {
    let text = base();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let start = if section.is_empty() {
        0
    } else {
        match lines.iter().position(|l| l == &format!("[{section}]")) {
            Some(i) => i + 1,
            None => {
                lines.push(String::new());
                lines.push(format!("[{section}]"));
                lines.len()
            }
        }
    };
    let end = lines[start..]
        .iter()
        .position(|l| l.starts_with('['))
        .map(|i| start + i)
        .unwrap_or(lines.len());
    let new = format!("{key} = {value}");
    let at = match lines[start..end]
        .iter()
        .position(|l| l.starts_with(&format!("{key} = ")))
    {
        Some(i) => {
            lines[start + i] = new;
            start + i
        }
        None => {
            lines.insert(start, new);
            start
        }
    };
    (lines.join("\n") + "\n", at + 1)
}

/// `base()` with the inline signal replaced by `sig` (the inside of `{ … }`); its line.
fn with_signal(sig: &str) -> (String, usize) {
    let text = base();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let i = lines.iter().position(|l| l.starts_with("  { at")).unwrap();
    lines[i] = format!("  {{ {sig} }},");
    (lines.join("\n") + "\n", i + 1)
}

const SIG: &str = r#"at = "2026-02-01T02:00", action = "buy", quantity = "10""#;

/// (case name, section, key, value, expected field).
const KEY_CASES: &[(&str, &str, &str, &str, &str)] = &[
    ("negative request latency", "latency", "request_ms", "-1", "latency.request_ms"),
    ("request latency above a day", "latency", "request_ms", "86400001", "latency.request_ms"),
    ("request latency i64 max", "latency", "request_ms", I64_MAX, "latency.request_ms"),
    ("negative response latency", "latency", "response_ms", "-5", "latency.response_ms"),
    ("negative jitter", "latency", "jitter_ms", "-1", "latency.jitter_ms"),
    ("huge jitter", "latency", "jitter_ms", I64_MAX, "latency.jitter_ms"),
    ("stream latency i64 max", "latency", "stream_ms", I64_MAX, "latency.stream_ms"),
    ("negative stream latency", "latency", "stream_ms", "-50", "latency.stream_ms"),
    ("zero timeout", "latency", "timeout_ms", "0", "latency.timeout_ms"),
    ("negative timeout", "latency", "timeout_ms", "-10000", "latency.timeout_ms"),
    ("latency as text", "latency", "request_ms", "\"fast\"", "latency.request_ms"),
    ("latency as float", "latency", "request_ms", "2.5", "latency.request_ms"),
    ("negative poll", "engine", "poll_interval_ms", "-1", "engine.poll_interval_ms"),
    ("poll i64 max", "engine", "poll_interval_ms", I64_MAX, "engine.poll_interval_ms"),
    ("negative backoff", "engine", "error_backoff_ms", "-1", "engine.error_backoff_ms"),
    ("backoff above a day", "engine", "error_backoff_ms", "86400001", "engine.error_backoff_ms"),
    ("unknown profile", "engine", "profile", "\"../x\"", "engine.profile"),
    ("unknown monitor", "engine", "monitor", "\"psychic\"", "engine.monitor"),
    ("leverage zero", "exchange", "leverage", "0", "exchange.leverage"),
    ("leverage 126", "exchange", "leverage", "126", "exchange.leverage"),
    ("leverage negative", "exchange", "leverage", "-3", "exchange.leverage"),
    ("negative balance", "exchange", "initial_balance", "\"-1\"", "exchange.initial_balance"),
    ("zero balance", "exchange", "initial_balance", "\"0\"", "exchange.initial_balance"),
    ("largest decimal balance", "exchange", "initial_balance", "\"79228162514264337593543950335\"", "exchange.initial_balance"),
    ("balance not a number", "exchange", "initial_balance", "\"abc\"", "exchange.initial_balance"),
    ("negative maker fee", "exchange", "maker_fee", "\"-0.0002\"", "exchange.maker_fee"),
    ("taker fee 200 %", "exchange", "taker_fee", "\"2\"", "exchange.taker_fee"),
    ("largest decimal fee", "exchange", "taker_fee", "\"79228162514264337593543950335\"", "exchange.taker_fee"),
    ("negative slippage", "exchange", "slippage_ticks", "-1", "exchange.slippage_ticks"),
    ("slippage i64 max", "exchange", "slippage_ticks", I64_MAX, "exchange.slippage_ticks"),
    ("unknown position mode", "exchange", "position_mode", "\"sideways\"", "exchange.position_mode"),
    ("unknown intrabar", "exchange", "intrabar", "\"random\"", "exchange.intrabar"),
    ("unknown api", "exchange", "api", "\"v3\"", "exchange.api"),
    ("unknown margin mode", "exchange", "margin_mode", "\"portfolio\"", "exchange.margin_mode"),
    ("unknown exchange key", "exchange", "leverag", "10", "exchange.leverag"),
    ("zero tick", "exchange.filters", "tick_size", "\"0\"", "exchange.filters.tick_size"),
    ("negative tick", "exchange.filters", "tick_size", "\"-0.001\"", "exchange.filters.tick_size"),
    ("tick with 9 decimals", "exchange.filters", "tick_size", "\"0.000000001\"", "exchange.filters.tick_size"),
    ("largest decimal step", "exchange.filters", "step_size", "\"79228162514264337593543950335\"", "exchange.filters.step_size"),
    ("largest decimal max price", "exchange.filters", "max_price", "\"79228162514264337593543950335\"", "exchange.filters.max_price"),
    ("percent up below 1", "exchange.filters", "percent_up", "\"0.5\"", "exchange.filters.percent_up"),
    ("percent down above 1", "exchange.filters", "percent_down", "\"1.5\"", "exchange.filters.percent_down"),
    ("negative min notional", "exchange.filters", "min_notional", "\"-5\"", "exchange.filters.min_notional"),
    ("maintenance ratio 1", "exchange.filters", "maint_margin_ratio", "\"1\"", "exchange.filters.maint_margin_ratio"),
    ("negative liquidation fee", "exchange.filters", "liquidation_fee", "\"-0.01\"", "exchange.filters.liquidation_fee"),
    ("largest decimal max qty", "exchange.filters", "max_qty", "\"79228162514264337593543950335\"", "exchange.filters.max_qty"),
    ("negative bracket cap", "exchange", "brackets", "[{ notional_cap = \"-1\", mmr = \"0.01\", cum = \"0\" }]", "exchange.brackets[0].notional_cap"),
    ("bracket mmr 1", "exchange", "brackets", "[{ notional_cap = \"5000\", mmr = \"1\", cum = \"0\" }]", "exchange.brackets[0].mmr"),
    ("brackets descending", "exchange", "brackets", "[{ notional_cap = \"5000\", mmr = \"0.01\", cum = \"0\" }, { notional_cap = \"4000\", mmr = \"0.02\", cum = \"0\" }]", "exchange.brackets[1].notional_cap"),
    ("negative seed", "", "seed", "-1", "seed"),
    ("empty name", "", "name", "\"\"", "name"),
    ("name escaping reports", "", "name", "\"../escape\"", "name"),
    ("absolute name", "", "name", "\"/tmp/abs\"", "name"),
    ("name dot", "", "name", "\".\"", "name"),
    ("name dot dot", "", "name", "\"..\"", "name"),
    ("name with backslash", "", "name", "\"a\\\\b\"", "name"),
    ("name with newline", "", "name", "\"a\\nb\"", "name"),
    ("name too long", "", "name", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", "name"),
    ("unknown top-level key", "", "colour", "\"red\"", "colour"),
    ("february 30th", "data", "from", "\"2026-02-30\"", "data.from"),
    ("month 13", "data", "to", "\"2026-13-01\"", "data.to"),
    ("before 2000", "data", "from", "\"1969-12-31\"", "data.from"),
    ("to before from", "data", "to", "\"2026-01-15\"", "data.to"),
    ("five-digit year", "data", "to", "\"99999-01-01\"", "data.to"),
    ("hour 25", "data", "from", "\"2026-02-01T25:00\"", "data.from"),
    ("april 31st", "data", "from", "\"2026-04-31\"", "data.from"),
    ("from as ms beyond 2100", "data", "to", "\"9223372036854775807\"", "data.to"),
    ("no kline files", "data", "klines", "[]", "data.klines"),
    ("symbol as a path", "data", "symbol", "\"../../etc\"", "data.symbol"),
    ("empty symbol", "data", "symbol", "\"\"", "data.symbol"),
    ("unknown symbol", "data", "symbol", "\"DOGEUSDT\"", "data.symbol"),
    ("bad interval", "data", "interval", "\"7x\"", "data.interval"),
    ("interval below the data's", "data", "interval", "\"1s\"", "data.interval"),
    ("missing kline file", "data", "klines", "[\"no-such-file.csv\"]", "data.klines"),
    ("ppm above a million", "faults", "rate_limit_ppm", "1000001", "faults.rate_limit_ppm"),
    ("negative ppm", "faults", "timeout_ppm", "-1", "faults.timeout_ppm"),
    ("ppm beyond u32", "faults", "stream_drop_ppm", "4294967296", "faults.stream_drop_ppm"),
    ("server errors above a million", "faults", "server_error_ppm", "4000000000", "faults.server_error_ppm"),
    ("negative stream delay", "faults", "stream_delay_ms", "-1", "faults.stream_delay_ms"),
    ("stream delay i64 max", "faults", "stream_delay_ms", I64_MAX, "faults.stream_delay_ms"),
    ("fault window at epoch 0", "faults", "scheduled", "[{ from_ms = 0, to_ms = 5, kind = \"timeout\" }]", "faults.scheduled[0].from_ms"),
    ("fault window reversed", "faults", "scheduled", "[{ from_ms = 1769910000000, to_ms = 1769900000000, kind = \"timeout\" }]", "faults.scheduled[0].to_ms"),
    ("fault window empty", "faults", "scheduled", "[{ from_ms = 1769910000000, to_ms = 1769910000000, kind = \"timeout\" }]", "faults.scheduled[0].to_ms"),
    ("fault window near i64 max", "faults", "scheduled", "[{ from_ms = 1769910000000, to_ms = 9223372036854775807, kind = \"timeout\" }]", "faults.scheduled[0].to_ms"),
    ("unknown fault kind", "faults", "scheduled", "[{ from_ms = 1769910000000, to_ms = 1769920000000, kind = \"meteor\" }]", "faults.scheduled[0].kind"),
    ("restart at i64 max", "faults", "restarts_ms", "[9223372036854775807]", "faults.restarts_ms[0]"),
    ("restart negative", "faults", "restarts_ms", "[1769910000000, -1]", "faults.restarts_ms[1]"),
    ("negative reaction window", "invariants", "reaction_ms", "-1", "invariants.reaction_ms"),
    ("reaction window i64 max", "invariants", "reaction_ms", I64_MAX, "invariants.reaction_ms"),
    ("huge switch decimal", "engine.switches", "confidence_floor", "\"79228162514264337593543950335\"", "engine.switches.confidence_floor"),
    ("retries beyond bound", "engine.switches", "placement_retries", "4294967295", "engine.switches.placement_retries"),
    ("negative retry delay", "engine.switches", "retry_base_delay_ms", "-1", "engine.switches.retry_base_delay_ms"),
    ("unknown switch", "engine.switches", "nope", "true", "engine.switches.nope"),
    ("switch not a boolean", "engine.switches", "leg_reduce_only", "\"maybe\"", "engine.switches.leg_reduce_only"),
    ("switch as a table", "engine.switches", "leg_reduce_only", "{ a = 1 }", "engine.switches.leg_reduce_only"),
    ("negative stop floor", "engine.switches", "sl_market_floor_pct", "\"-6\"", "engine.switches.sl_market_floor_pct"),
    ("random rate negative", "signals.random", "rate_per_day", "\"-1\"", "signals.random"),
    ("manual close on feb 30", "", "manual_closes", "[{ at = \"2026-02-30T05:00\", position_side = \"LONG\" }]", "manual_closes[0].at"),
    ("manual close unknown side", "", "manual_closes", "[{ at = \"2026-02-01T05:00\", position_side = \"UP\" }]", "manual_closes[0].position_side"),
];

/// (case name, inside of the inline signal, expected field).
const SIGNAL_CASES: &[(&str, &str, &str)] = &[
    (
        "signal on feb 30",
        r#"at = "2026-02-30T01:00", action = "buy""#,
        "signals.inline[0].at",
    ),
    (
        "signal ms overflow",
        r#"at = "99999999999999999999", action = "buy""#,
        "signals.inline[0].at",
    ),
    (
        "signal at 2100",
        r#"at = "4102444800000", action = "buy""#,
        "signals.inline[0].at",
    ),
    (
        "signal at epoch 0",
        r#"at = "0", action = "buy""#,
        "signals.inline[0].at",
    ),
    (
        "signal time garbage",
        r#"at = "soon", action = "buy""#,
        "signals.inline[0].at",
    ),
    (
        "negative quantity",
        r#"at = "2026-02-01T02:00", action = "buy", quantity = "-1""#,
        "signals.inline[0].quantity",
    ),
    (
        "largest decimal quantity",
        r#"at = "2026-02-01T02:00", action = "buy", quantity = "79228162514264337593543950335""#,
        "signals.inline[0].quantity",
    ),
    (
        "stop loss zero",
        r#"at = "2026-02-01T02:00", action = "buy", stop_loss = "0""#,
        "signals.inline[0].stop_loss",
    ),
    (
        "stop loss negative",
        r#"at = "2026-02-01T02:00", action = "buy", stop_loss = "-5""#,
        "signals.inline[0].stop_loss",
    ),
    (
        "take profit zero",
        r#"at = "2026-02-01T02:00", action = "sell", take_profit = "0""#,
        "signals.inline[0].take_profit",
    ),
    (
        "largest decimal take profit",
        r#"at = "2026-02-01T02:00", action = "buy", take_profit = "79228162514264337593543950335""#,
        "signals.inline[0].take_profit",
    ),
    (
        "sl_pct one",
        r#"at = "2026-02-01T02:00", action = "buy", sl_pct = "1""#,
        "signals.inline[0].sl_pct",
    ),
    (
        "sl_pct above one",
        r#"at = "2026-02-01T02:00", action = "buy", sl_pct = "1.5""#,
        "signals.inline[0].sl_pct",
    ),
    (
        "negative sl_pct",
        r#"at = "2026-02-01T02:00", action = "buy", sl_pct = "-0.01""#,
        "signals.inline[0].sl_pct",
    ),
    (
        "largest decimal sl_pct",
        r#"at = "2026-02-01T02:00", action = "sell", sl_pct = "79228162514264337593543950335""#,
        "signals.inline[0].sl_pct",
    ),
    (
        "largest decimal tp_pct",
        r#"at = "2026-02-01T02:00", action = "buy", tp_pct = "79228162514264337593543950335""#,
        "signals.inline[0].tp_pct",
    ),
    (
        "short target at zero",
        r#"at = "2026-02-01T02:00", action = "sell", tp_pct = "1""#,
        "signals.inline[0].tp_pct",
    ),
    (
        "sl_pct rounding to zero",
        r#"at = "2026-02-01T02:00", action = "buy", sl_pct = "0.99999999999""#,
        "signals.inline[0].sl_pct",
    ),
    (
        "stop_loss_pct one",
        r#"at = "2026-02-01T02:00", action = "buy", stop_loss_pct = "1""#,
        "signals.inline[0].stop_loss_pct",
    ),
    (
        "negative take_profit_pct",
        r#"at = "2026-02-01T02:00", action = "buy", take_profit_pct = "-1""#,
        "signals.inline[0].take_profit_pct",
    ),
    (
        "confidence two",
        r#"at = "2026-02-01T02:00", action = "buy", confidence = "2""#,
        "signals.inline[0].confidence",
    ),
    (
        "unknown order type",
        r#"at = "2026-02-01T02:00", action = "buy", order_type = "trailing_stop""#,
        "signals.inline[0].order_type",
    ),
    (
        "unknown action",
        r#"at = "2026-02-01T02:00", action = "buyy""#,
        "signals.inline[0].action",
    ),
    (
        "unknown signal key",
        r#"at = "2026-02-01T02:00", action = "buy", colour = "red""#,
        "signals.inline[0].colour",
    ),
    (
        "empty strategy",
        r#"at = "2026-02-01T02:00", action = "buy", strategy = """#,
        "signals.inline[0].strategy",
    ),
    (
        "quantity not a number",
        r#"at = "2026-02-01T02:00", action = "buy", quantity = "ten""#,
        "signals.inline[0].quantity",
    ),
];

/// (case name, random generator inside, expected field).
const RANDOM_CASES: &[(&str, &str, &str)] = &[
    (
        "random rate largest decimal",
        r#"seed = 1, rate_per_day = "79228162514264337593543950335", sl_pct = "0.01", tp_pct = "0.02""#,
        "signals.random.rate_per_day",
    ),
    (
        "random rate above one a second",
        r#"seed = 1, rate_per_day = "86401", sl_pct = "0.01", tp_pct = "0.02""#,
        "signals.random.rate_per_day",
    ),
    (
        "random sl_pct one",
        r#"seed = 1, rate_per_day = "6", sl_pct = "1", tp_pct = "0.02""#,
        "signals.random.sl_pct",
    ),
    (
        "random tp_pct largest decimal",
        r#"seed = 1, rate_per_day = "6", sl_pct = "0.01", tp_pct = "79228162514264337593543950335""#,
        "signals.random.tp_pct",
    ),
    (
        "random quantity largest decimal",
        r#"seed = 1, rate_per_day = "6", sl_pct = "0.01", tp_pct = "0.02", quantity = "79228162514264337593543950335""#,
        "signals.random.quantity",
    ),
    (
        "random unknown sides",
        r#"seed = 1, rate_per_day = "6", sl_pct = "0.01", tp_pct = "0.02", sides = "up""#,
        "signals.random.sides",
    ),
    (
        "random without seed",
        r#"rate_per_day = "6", sl_pct = "0.01", tp_pct = "0.02""#,
        "signals.random.seed",
    ),
];

#[test]
fn every_out_of_range_scenario_key_is_refused_with_its_file_line_and_field() {
    let mut n = 0;
    let mut failures = Vec::new();
    for (i, (case, section, key, value, field)) in KEY_CASES.iter().enumerate() {
        let (text, line) = with(section, key, value);
        let sb = Sandbox::new(case);
        sb.write("s.toml", &text);
        // the line of the key, or of its section when the error is about the table
        let must = if field.starts_with(&format!("{section}.{key}"))
            || (section.is_empty() && field.starts_with(key))
        {
            vec![format!("s.toml:{line}: field `{field}`")]
        } else {
            vec![format!("field `{field}")]
        };
        let must: Vec<&str> = must.iter().map(String::as_str).collect();
        // `run` and `check` alike; alternate so both commands see every kind
        collect(&mut failures, case, || {
            if i % 2 == 0 {
                sb.expect_bad_input(case, &["run", "s.toml", "--out", "{D}/out"], &must);
            } else {
                sb.expect_bad_input(case, &["check", "{D}/s.toml"], &must);
            }
        });
        n += 1;
    }
    for (case, sig, field) in SIGNAL_CASES {
        let (text, line) = with_signal(sig);
        let sb = Sandbox::new(case);
        sb.write("s.toml", &text);
        let must = format!("s.toml:{line}: field `{field}`");
        collect(&mut failures, case, || {
            sb.expect_bad_input(case, &["run", "s.toml", "--out", "{D}/out"], &[&must]);
        });
        n += 1;
    }
    for (case, r, field) in RANDOM_CASES {
        let (text, line) = with("signals", "random", &format!("{{ {r} }}"));
        let sb = Sandbox::new(case);
        sb.write("s.toml", &text);
        let must = format!("s.toml:{line}: field `{field}`");
        collect(&mut failures, case, || {
            sb.expect_bad_input(case, &["check", "s.toml"], &[&must]);
        });
        n += 1;
    }
    finish(failures);
    assert!(n >= 100, "{n} scenario cases");
    // the base itself is fine (the cases above fail for their one change only)
    let sb = Sandbox::new("base-ok");
    sb.write("s.toml", base());
    let o = sb.run(&["check", "s.toml"]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let (text, _) = with_signal(SIG);
    sb.write("t.toml", text);
    assert_eq!(sb.run(&["check", "t.toml"]).code, Some(0));
}

#[test]
fn broken_scenario_files_are_refused_whole() {
    let sb = Sandbox::new("files");
    let b = base();
    let cut = b.find("name = \"hos").unwrap() + 10;
    sb.write("truncated.toml", &b[..cut]);
    sb.expect_bad_input(
        "truncated string",
        &["check", "truncated.toml"],
        &["truncated.toml:1"],
    );
    let mut bytes = b.clone().into_bytes();
    let at = b.find("[latency]").unwrap();
    bytes[at + 2] = 0xff;
    sb.write("binary.toml", &bytes);
    let line = b[..at].lines().count() + 1;
    sb.expect_bad_input(
        "invalid utf-8",
        &["run", "binary.toml", "--out", "{D}/out"],
        &[&format!("binary.toml:{line}: is not UTF-8")],
    );
    sb.write("empty.toml", "");
    sb.expect_bad_input(
        "empty file",
        &["check", "empty.toml"],
        &["empty.toml: field `data`"],
    );
    sb.write("only-comment.toml", "# nothing\n");
    sb.expect_bad_input(
        "no data section",
        &["check", "only-comment.toml"],
        &["field `data`", "add"],
    );
    sb.write(
        "no-klines.toml",
        "name = \"x\"\n[data]\nfrom = \"2026-02-01\"\n",
    );
    sb.expect_bad_input(
        "missing klines key",
        &["check", "no-klines.toml"],
        &[
            "no-klines.toml:2: field `data.klines`: missing field `klines`",
            "under [data]",
        ],
    );
    sb.write("dup.toml", format!("{b}\nseed = 2\n"));
    sb.expect_bad_input("duplicate key", &["check", "dup.toml"], &["dup.toml:"]);
    sb.write("dup2.toml", format!("seed = 3\n{b}"));
    sb.expect_bad_input(
        "duplicate key at top",
        &["check", "dup2.toml"],
        &["dup2.toml:"],
    );
    std::fs::create_dir_all(sb.dir.join("folder.toml")).unwrap();
    sb.expect_bad_input(
        "a folder as scenario",
        &["check", "folder.toml"],
        &["folder.toml: is a folder"],
    );
    sb.expect_bad_input(
        "missing scenario",
        &["run", "nope.toml", "--out", "{D}/out"],
        &["nope.toml: cannot read"],
    );
    // a stem that is not a plain name, and no `name`
    let nameless = b.replacen("name = \"hostile\"\n", "", 1);
    sb.write("...toml", &nameless);
    sb.expect_bad_input(
        "stem `..`",
        &["check", "...toml"],
        &["field `name`", "add `name"],
    );
    #[cfg(unix)]
    {
        let fifo = sb.dir.join("fifo.toml");
        let ok = std::process::Command::new("mkfifo").arg(&fifo).status();
        if ok.is_ok_and(|s| s.success()) {
            sb.expect_bad_input(
                "a FIFO as scenario",
                &["check", "fifo.toml"],
                &["fifo.toml: is not a regular file"],
            );
            sb.expect_bad_input(
                "a FIFO as sweep",
                &["sweep", "fifo.toml", "--out", "{D}/out"],
                &["fifo.toml: is not a regular file"],
            );
        }
        sb.expect_bad_input(
            "a device as scenario",
            &["check", "/dev/zero"],
            &["/dev/zero: is not a regular file"],
        );
    }
}

/// A valid base scenario `s.toml` and the sweep `w.toml` given; returns the sandbox.
fn sweep_box(case: &str, sweep: &str) -> Sandbox {
    let sb = Sandbox::new(case);
    sb.write("s.toml", base());
    sb.write("w.toml", sweep);
    sb
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect(needle) + 1
}

#[test]
fn bad_sweep_files_cite_the_sweep_file_and_the_axis_line() {
    const HEAD: &str = "name = \"w\"\nbase = \"s.toml\"\n\n[grid]\n";
    // (case, grid lines, needle of the expected line, expected text)
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "negative latency value",
            "\"latency.request_ms\" = [25, -1]\n",
            "latency.request_ms",
            "field `grid.\"latency.request_ms\"`: value `-1`",
        ),
        (
            "largest decimal balance value",
            "\"exchange.initial_balance\" = [\"79228162514264337593543950335\"]\n",
            "initial_balance",
            "value `79228162514264337593543950335`",
        ),
        (
            "unknown axis key",
            "\"latency.nope\" = [1]\n",
            "latency.nope",
            "field `grid.\"latency.nope\"`",
        ),
        (
            "unknown profile value",
            "\"engine.profile\" = [\"reference\", \"nope\"]\n",
            "engine.profile",
            "value `nope`",
        ),
        (
            "value of the wrong type",
            "\"latency.request_ms\" = [\"fast\"]\n",
            "latency.request_ms",
            "value `fast`",
        ),
        ("empty axis", "\"seed\" = []\n", "seed", "no value"),
        (
            "empty axis key",
            "\"\" = [1]\n",
            "\"\"",
            "not a dotted scenario key",
        ),
        (
            "axis through a value",
            "\"seed.x\" = [1]\n",
            "seed.x",
            "field `grid.\"seed.x\"`",
        ),
        (
            "name through an axis",
            "\"name\" = [\"../up\"]\n",
            "\"name\"",
            "value `../up`",
        ),
        (
            "date that does not exist",
            "\"data.to\" = [\"2026-02-30\"]\n",
            "data.to",
            "value `2026-02-30`",
        ),
        (
            "window reversed with the base",
            "\"data.from\" = [\"2026-03-01\"]\n",
            "data.from",
            "with the base scenario: field `data.to`",
        ),
        (
            "ppm above a million",
            "\"faults.timeout_ppm\" = [1000001]\n",
            "timeout_ppm",
            "value `1000001`",
        ),
        (
            "switch out of range",
            "\"engine.switches.placement_retries\" = [99]\n",
            "placement_retries",
            "value `99`",
        ),
        (
            "signal table replaced",
            "\"signals.inline\" = [[{ at = \"2026-02-30\", action = \"buy\" }]]\n",
            "signals.inline",
            "value `",
        ),
    ];
    for (case, grid, needle, want) in cases {
        let text = format!("{HEAD}{grid}");
        let line = line_of(&text, needle);
        let sb = sweep_box(case, &text);
        sb.expect_bad_input(
            case,
            &["sweep", "w.toml", "--out", "{D}/out"],
            &[&format!("w.toml:{line}: "), want],
        );
    }
    // whole-file problems
    let files: &[(&str, &str, &str)] = &[
        (
            "sweep name escaping",
            "name = \"../../x\"\nbase = \"s.toml\"\n[grid]\nseed = [1]\n",
            "w.toml:1: field `name`",
        ),
        (
            "sweep name empty",
            "name = \"\"\nbase = \"s.toml\"\n[grid]\nseed = [1]\n",
            "w.toml:1: field `name`",
        ),
        (
            "sweep name absolute",
            "name = \"/etc\"\nbase = \"s.toml\"\n[grid]\nseed = [1]\n",
            "w.toml:1: field `name`",
        ),
        (
            "sweep base missing",
            "base = \"missing.toml\"\n[grid]\nseed = [1]\n",
            "w.toml:1: field `base`",
        ),
        (
            "sweep base is a folder",
            "base = \"user\"\n[grid]\nseed = [1]\n",
            "w.toml:1: field `base`",
        ),
        ("sweep without base", "[grid]\nseed = [1]\n", "field `base`"),
        (
            "sweep without axes",
            "base = \"s.toml\"\n[grid]\n",
            "w.toml:2: field `grid`",
        ),
        (
            "sweep unknown key",
            "base = \"s.toml\"\ncolour = 1\n[grid]\nseed = [1]\n",
            "w.toml:2: field `colour`",
        ),
        (
            "sweep heat map axis unknown",
            "base = \"s.toml\"\n[grid]\nseed = [1, 2]\n[heatmap]\nx = \"seed\"\ny = \"nope\"\n",
            "w.toml:6: field `heatmap.y`",
        ),
        ("sweep not toml", "base = \"s.toml\n", "w.toml:1"),
        (
            "sweep grid not a table",
            "base = \"s.toml\"\ngrid = 5\n",
            "w.toml:2: field `grid`",
        ),
    ];
    for (case, text, want) in files {
        let sb = sweep_box(case, text);
        sb.expect_bad_input(case, &["sweep", "w.toml", "--out", "{D}/out"], &[want]);
    }
    // a bad base scenario cites the base's own file and line
    let sb = Sandbox::new("bad base");
    let (bad, line) = with("latency", "request_ms", "-7");
    sb.write("s.toml", bad);
    sb.write("w.toml", format!("{HEAD}seed = [1, 2]\n"));
    sb.expect_bad_input(
        "bad base",
        &["sweep", "w.toml", "--out", "{D}/out"],
        &[&format!("s.toml:{line}: field `latency.request_ms`")],
    );
}

/// A grid of `axes` axes with `vals` values each (all valid keys and values).
fn big_grid(axes: usize, vals: usize) -> String {
    let keys = [
        ("seed", 0i64),
        ("latency.request_ms", 0),
        ("latency.response_ms", 0),
        ("latency.jitter_ms", 0),
        ("latency.stream_ms", 0),
        ("latency.timeout_ms", 1),
        ("engine.poll_interval_ms", 0),
        ("engine.error_backoff_ms", 0),
        ("exchange.slippage_ticks", 0),
        ("faults.rate_limit_ppm", 0),
        ("faults.timeout_ppm", 0),
        ("faults.server_error_ppm", 0),
        ("faults.cancel_unknown_ppm", 0),
        ("faults.poll_error_ppm", 0),
        ("faults.stream_drop_ppm", 0),
        ("faults.stream_delay_ms", 0),
        ("invariants.reaction_ms", 0),
        ("exchange.leverage", 1),
    ];
    let mut s = "name = \"big\"\nbase = \"s.toml\"\n[grid]\n".to_string();
    for (k, lo) in keys.iter().take(axes) {
        let v: Vec<String> = (0..vals as i64).map(|i| (lo + i).to_string()).collect();
        s.push_str(&format!("\"{k}\" = [{}]\n", v.join(", ")));
    }
    s
}

#[test]
fn oversized_grids_are_refused_with_a_hint_to_partition() {
    // 16^18 = 2^72 cases: the product overflows a u64 (it used to wrap to "0 of 0 cases", exit 0)
    let sb = sweep_box("grid 2^72", &big_grid(18, 16));
    sb.expect_bad_input(
        "grid overflow",
        &["sweep", "w.toml", "--out", "{D}/out"],
        &["w.toml:3: field `grid`", "overflows"],
    );
    // 2^64 exactly: 16 axes of 16 values
    let sb = sweep_box("grid 2^64", &big_grid(16, 16));
    sb.expect_bad_input(
        "grid 2^64",
        &["sweep", "w.toml", "--out", "{D}/out"],
        &["w.toml:3: field `grid`"],
    );
    // 2^21 cases: above the one-run limit; the hint names --partition
    let sb = sweep_box("grid 2^21", &big_grid(7, 8));
    sb.expect_bad_input(
        "grid above the limit",
        &["sweep", "w.toml", "--out", "{D}/out"],
        &[
            "w.toml:3: field `grid`",
            "2097152 cases",
            "--partition K/N (N >= 3)",
        ],
    );
    sb.expect_bad_input(
        "grid above the limit, share still too big",
        &["sweep", "w.toml", "--partition", "1/2", "--out", "{D}/out"],
        &["1048576 cases in one run", "--partition"],
    );
    // 10^9 cases aborted on memory before: refused at once
    let sb = sweep_box("grid 10^9", &big_grid(9, 10));
    let t0 = std::time::Instant::now();
    sb.expect_bad_input(
        "grid 10^9",
        &["sweep", "w.toml", "--out", "{D}/out"],
        &["1000000000 cases", "--partition"],
    );
    assert!(
        t0.elapsed().as_secs() < 20,
        "refused without enumerating the grid"
    );
}

#[test]
fn bad_command_line_arguments_name_the_argument() {
    let sb = Sandbox::new("args");
    sb.write("s.toml", base());
    sb.write(
        "w.toml",
        "name = \"w\"\nbase = \"s.toml\"\n[grid]\nseed = [1, 2]\n",
    );
    sb.write("part.csv", "case,seed,violations,ambiguous_bars\n0,1,0,0\n");
    sb.write("empty.csv", "");
    sb.write("not-sweep.csv", "hello,world\n1,2\n");
    let o = "{D}/out";
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "set with huge decimal",
            &[
                "run",
                "s.toml",
                "--out",
                o,
                "--set",
                &format!("confidence_floor={DEC_MAX}"),
            ],
            &["--set confidence_floor", "out of range"],
        ),
        (
            "set negative decimal",
            &[
                "run",
                "s.toml",
                "--out",
                o,
                "--set",
                "sl_min_distance_pct=-1",
            ],
            &["--set sl_min_distance_pct"],
        ),
        (
            "set without =",
            &["run", "s.toml", "--out", o, "--set", "nonsense"],
            &["--set `nonsense`"],
        ),
        (
            "set with empty key",
            &["run", "s.toml", "--out", o, "--set", "=5"],
            &["--set `=5`"],
        ),
        (
            "set unknown switch",
            &["run", "s.toml", "--out", o, "--set", "nope=1"],
            &["--set nope", "unknown switch"],
        ),
        (
            "set retries huge",
            &[
                "run",
                "s.toml",
                "--out",
                o,
                "--set",
                "placement_retries=99999999999",
            ],
            &["--set placement_retries"],
        ),
        (
            "set retries beyond bound",
            &["run", "s.toml", "--out", o, "--set", "cancel_retries=21"],
            &["--set cancel_retries", "0..=20"],
        ),
        (
            "set negative delay",
            &[
                "run",
                "s.toml",
                "--out",
                o,
                "--set",
                "retry_base_delay_ms=-1",
            ],
            &["--set retry_base_delay_ms"],
        ),
        (
            "set ttl i64 max",
            &[
                "run",
                "s.toml",
                "--out",
                o,
                "--set",
                &format!("duplicate_ttl_ms={I64_MAX}"),
            ],
            &["--set duplicate_ttl_ms"],
        ),
        (
            "set enum garbage",
            &[
                "run",
                "s.toml",
                "--out",
                o,
                "--set",
                "legs_api=carrier_pigeon",
            ],
            &["--set legs_api"],
        ),
        (
            "set bool garbage",
            &[
                "run",
                "s.toml",
                "--out",
                o,
                "--set",
                "leg_reduce_only=perhaps",
            ],
            &["--set leg_reduce_only"],
        ),
        (
            "set list garbage",
            &["run", "s.toml", "--out", o, "--set", "no_retry_codes=a,b"],
            &["--set no_retry_codes"],
        ),
        (
            "unknown profile",
            &["run", "s.toml", "--out", o, "--profile", "nope"],
            &["--profile", "nope"],
        ),
        (
            "negative seed",
            &["run", "s.toml", "--out", o, "--seed", "-1"],
            &["--seed"],
        ),
        (
            "seed beyond u64",
            &[
                "run",
                "s.toml",
                "--out",
                o,
                "--seed",
                "18446744073709551616",
            ],
            &["--seed"],
        ),
        (
            "seed not a number",
            &["run", "s.toml", "--out", o, "--seed", "abc"],
            &["--seed"],
        ),
        ("run without scenario", &["run", "--out", o], &["SCENARIO"]),
        (
            "run unknown flag",
            &["run", "s.toml", "--bogus"],
            &["--bogus"],
        ),
        (
            "check missing file",
            &["check", "nope.toml"],
            &["nope.toml: cannot read"],
        ),
        (
            "check two files",
            &["check", "s.toml", "s.toml"],
            &["s.toml"],
        ),
        (
            "explore zero cases",
            &["explore", "--cases", "0", "--no-real", "--out", o],
            &["--cases 0", "1..="],
        ),
        (
            "explore negative cases",
            &["explore", "--cases", "-1", "--no-real", "--out", o],
            &["--cases"],
        ),
        (
            "explore too many cases",
            &["explore", "--cases", "2000000000", "--no-real", "--out", o],
            &["--cases 2000000000"],
        ),
        (
            "explore zero time",
            &["explore", "--time", "0s", "--no-real", "--out", o],
            &["--time `0s`"],
        ),
        (
            "explore time overflow",
            &[
                "explore",
                "--time",
                "99999999999999999h",
                "--no-real",
                "--out",
                o,
            ],
            &["--time `99999999999999999h`"],
        ),
        (
            "explore time beyond u64",
            &[
                "explore",
                "--time",
                "99999999999999999999",
                "--no-real",
                "--out",
                o,
            ],
            &["--time"],
        ),
        (
            "explore time unit",
            &["explore", "--time", "5x", "--no-real", "--out", o],
            &["--time `5x`"],
        ),
        (
            "explore time empty",
            &["explore", "--time", "", "--no-real", "--out", o],
            &["--time"],
        ),
        (
            "explore unknown profile",
            &["explore", "--profile", "nope", "--no-real", "--out", o],
            &["--profile", "nope"],
        ),
        (
            "explore bad set",
            &[
                "explore",
                "--set",
                "leg_reduce_only=perhaps",
                "--no-real",
                "--out",
                o,
            ],
            &["--set leg_reduce_only"],
        ),
        (
            "explore huge set",
            &[
                "explore",
                "--set",
                &format!("sl_market_floor_pct={DEC_MAX}"),
                "--no-real",
                "--out",
                o,
            ],
            &["--set sl_market_floor_pct"],
        ),
        (
            "explore seed text",
            &["explore", "--seed", "x", "--no-real", "--out", o],
            &["--seed"],
        ),
        (
            "explore missing data file",
            &["explore", "--data", "nope.csv", "--cases", "1", "--out", o],
            &["nope.csv"],
        ),
        (
            "sweep partition 0/4",
            &["sweep", "w.toml", "--partition", "0/4", "--out", o],
            &["--partition `0/4`"],
        ),
        (
            "sweep partition 5/4",
            &["sweep", "w.toml", "--partition", "5/4", "--out", o],
            &["--partition `5/4`"],
        ),
        (
            "sweep partition 1/0",
            &["sweep", "w.toml", "--partition", "1/0", "--out", o],
            &["--partition `1/0`"],
        ),
        (
            "sweep partition words",
            &["sweep", "w.toml", "--partition", "abc", "--out", o],
            &["--partition `abc`"],
        ),
        (
            "sweep partition overflow",
            &[
                "sweep",
                "w.toml",
                "--partition",
                "1/18446744073709551616",
                "--out",
                o,
            ],
            &["--partition"],
        ),
        (
            "sweep partition negative",
            &["sweep", "w.toml", "--partition", "-1/4", "--out", o],
            &["--partition"],
        ),
        (
            "sweep empty share",
            &["sweep", "w.toml", "--partition", "3/4", "--out", o],
            &["w.toml:3: field `grid`", "empty"],
        ),
        (
            "sweep zero threads",
            &["sweep", "w.toml", "--threads", "0", "--out", o],
            &["--threads 0"],
        ),
        (
            "sweep many threads",
            &["sweep", "w.toml", "--threads", "100000", "--out", o],
            &["--threads 100000"],
        ),
        (
            "sweep negative threads",
            &["sweep", "w.toml", "--threads", "-2", "--out", o],
            &["--threads"],
        ),
        (
            "sweep missing file",
            &["sweep", "nope.toml", "--out", o],
            &["nope.toml: cannot read"],
        ),
        (
            "sweep given a scenario",
            &["sweep", "s.toml", "--out", o],
            &["s.toml:4: field `data`"],
        ),
        (
            "merge unknown x axis",
            &[
                "merge", "part.csv", "--out", o, "--x", "nope", "--y", "seed",
            ],
            &["--x `nope`", "part.csv"],
        ),
        (
            "merge unknown y axis",
            &[
                "merge",
                "part.csv",
                "--out",
                o,
                "--x",
                "seed",
                "--y",
                "violations2",
            ],
            &["--y `violations2`"],
        ),
        (
            "merge empty part",
            &[
                "merge",
                "empty.csv",
                "--out",
                o,
                "--x",
                "seed",
                "--y",
                "seed",
            ],
            &["empty.csv: empty"],
        ),
        (
            "merge not a sweep csv",
            &[
                "merge",
                "not-sweep.csv",
                "--out",
                o,
                "--x",
                "seed",
                "--y",
                "seed",
            ],
            &["not-sweep.csv:1"],
        ),
        (
            "merge duplicate part",
            &[
                "merge", "part.csv", "part.csv", "--out", o, "--x", "seed", "--y", "seed",
            ],
            &["part.csv:2: case 0 appears twice"],
        ),
        (
            "merge missing part",
            &[
                "merge", "nope.csv", "--out", o, "--x", "seed", "--y", "seed",
            ],
            &["nope.csv"],
        ),
        (
            "merge without out",
            &["merge", "part.csv", "--x", "seed", "--y", "seed"],
            &["--out"],
        ),
        (
            "merge without parts",
            &["merge", "--out", o, "--x", "seed", "--y", "seed"],
            &["PARTS"],
        ),
        (
            "download bad day",
            &[
                "data",
                "download",
                "BTCUSDT",
                "1m",
                "2026-02-30",
                "2026-03-01",
                "--out",
                o,
                "--base-url",
                "http://127.0.0.1:9",
            ],
            &["2026-02-30"],
        ),
        (
            "download bad interval",
            &[
                "data",
                "download",
                "BTCUSDT",
                "7x",
                "2026-02",
                "2026-03",
                "--out",
                o,
                "--base-url",
                "http://127.0.0.1:9",
            ],
            &["7x"],
        ),
        (
            "download reversed",
            &[
                "data",
                "download",
                "BTCUSDT",
                "1m",
                "2026-03",
                "2026-02",
                "--out",
                o,
                "--base-url",
                "http://127.0.0.1:9",
            ],
            &["before"],
        ),
        (
            "download unknown kind",
            &[
                "data",
                "download",
                "BTCUSDT",
                "1m",
                "2026-02",
                "2026-03",
                "--kind",
                "foo",
                "--out",
                o,
                "--base-url",
                "http://127.0.0.1:9",
            ],
            &["foo"],
        ),
        (
            "download symbol as path",
            &[
                "data",
                "download",
                "../x",
                "1m",
                "2026-02",
                "2026-03",
                "--out",
                o,
                "--base-url",
                "http://127.0.0.1:9",
            ],
            &["symbol"],
        ),
        (
            "download missing args",
            &["data", "download", "BTCUSDT"],
            &["INTERVAL"],
        ),
        ("inspect without files", &["data", "inspect"], &["FILES"]),
        (
            "profiles with an argument",
            &["profiles", "extra"],
            &["extra"],
        ),
        ("unknown command", &["frobnicate"], &["frobnicate"]),
    ];
    let mut failures = Vec::new();
    for (case, args, must) in cases {
        collect(&mut failures, case, || {
            sb.expect_bad_input(case, args, must);
        });
    }
    finish(failures);
    assert!(cases.len() >= 50);
}

#[test]
fn a_failing_sweep_case_cites_the_sweep_file_and_its_axis_line_not_a_copy() {
    // the axis value passes the load-time checks (a path) but the case fails when its data loads
    let text = "name = \"w\"\nbase = \"s.toml\"\n\n[grid]\n\"data.klines\" = [[\"missing.csv\"]]\n";
    let sb = sweep_box("case error", text);
    let o = sb.run(&["sweep", "w.toml", "--out", "{D}/out"]);
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    let err = o.stderr.trim_end();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("w.toml:5: field `grid.\"data.klines\"`: case 0, value `missing.csv`"),
        "{err}"
    );
    assert!(err.contains("missing.csv"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
