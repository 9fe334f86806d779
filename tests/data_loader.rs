//! Integration tests for `ocosim::data`: real Binance files from `data/`, broken copies made in a temp dir,
//! small fixtures from `tests/fixtures/data/`, and downloads from a loopback-only HTTP server.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

#[path = "common/http.rs"]
mod http;
use http::{Mode, Server};

use ocosim::data::{
    download, inspect, load_funding, load_klines, load_klines_polars, load_mark_klines,
    parse_interval, DataError, DownloadArgs, Gap, Kline, KlineSeries, LoadOptions,
};
use rust_decimal::Decimal;

const AVAX_2026_02_FIRST: i64 = 1_769_904_000_000;
const AVAX_2026_02_LAST: i64 = 1_772_323_140_000;
const MIN: i64 = 60_000;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn klines_file(sym: &str, month: &str) -> PathBuf {
    root().join(format!(
        "data/binance-um/klines/{sym}/1m/{sym}-1m-{month}.csv"
    ))
}

fn avax() -> PathBuf {
    klines_file("AVAXUSDT", "2026-02")
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("test literal")
}

/// A fresh, empty directory under the system temp dir, named after the test; removed when dropped.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn tmpdir(test: &str) -> TempDir {
    let d = std::env::temp_dir().join(format!("ocosim-data-loader-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).expect("create temp dir");
    TempDir(d)
}

fn opts() -> LoadOptions {
    LoadOptions::default()
}

fn load_both(paths: &[PathBuf]) -> KlineSeries {
    let a = load_klines(paths, &opts()).expect("hand parser");
    let b = load_klines_polars(paths, &opts()).expect("polars");
    assert_eq!(a, b, "hand parser and polars disagree");
    a
}

fn err_both(paths: &[PathBuf]) -> String {
    let a = load_klines(paths, &opts())
        .expect_err("hand parser must fail")
        .to_string();
    let b = load_klines_polars(paths, &opts())
        .expect_err("polars must fail")
        .to_string();
    assert_eq!(a, b, "hand parser and polars report different errors");
    assert!(!a.contains('\n'), "error is not one line: {a}");
    a
}

/// The real AVAX file's lines (header first) with `edit` applied, written to `dir/name`.
fn edited_copy(dir: &Path, name: &str, edit: impl FnOnce(&mut Vec<String>)) -> PathBuf {
    let text = fs::read_to_string(avax()).expect("read real file");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    edit(&mut lines);
    let p = dir.join(name);
    fs::write(&p, lines.join("\n") + "\n").expect("write copy");
    p
}

fn set_field(line: &mut String, k: usize, value: &str) {
    let mut f: Vec<&str> = line.split(',').collect();
    f[k] = value;
    *line = f.join(",");
}

#[test]
fn real_month_avax() {
    let s = load_both(&[avax()]);
    assert_eq!(s.symbol, "AVAXUSDT");
    assert_eq!(s.interval_ms, MIN);
    assert_eq!(s.len(), 40_320);
    assert_eq!(s.open_time_ms[0], AVAX_2026_02_FIRST);
    assert_eq!(s.open_time_ms[s.len() - 1], AVAX_2026_02_LAST);
    assert!(s.gaps.is_empty());
    let k = s.kline(0);
    assert_eq!(
        k,
        Kline {
            open_time_ms: AVAX_2026_02_FIRST,
            open: dec("10.1130"),
            high: dec("10.1300"),
            low: dec("10.1090"),
            close: dec("10.1280"),
            volume: dec("38521"),
            close_time_ms: 1_769_904_059_999,
            quote_volume: dec("389800.3310"),
            count: 1077,
            taker_buy_volume: dec("28754"),
            taker_buy_quote_volume: dec("290983.0070"),
        }
    );
    assert_eq!(s.open_e8[0], 1_011_300_000);
    assert_eq!(s.quote_volume_e8[0], 38_980_033_100_000);
    let last = s.kline(s.len() - 1);
    assert_eq!(
        (last.open, last.high, last.low, last.close),
        (dec("9.166"), dec("9.167"), dec("9.157"), dec("9.162"))
    );
    assert_eq!(last.close_time_ms, 1_772_323_199_999);
}

#[test]
fn folder_of_three_months_is_continuous() {
    let dir = root().join("data/binance-um/klines/FILUSDT/1m");
    let s = load_both(&[dir]);
    // 43 200 (April) + 44 640 (May) + 43 200 (June).
    assert_eq!(s.len(), 131_040);
    assert_eq!(s.symbol, "FILUSDT");
    assert!(s.gaps.is_empty());
    assert_eq!(s.open_time_ms[0], 1_680_307_200_000);
    assert_eq!(s.open_time_ms[s.len() - 1], 1_688_169_540_000);
    assert!(s.open_time_ms.windows(2).all(|w| w[1] - w[0] == MIN));
    // The same three files given one by one give the same series.
    let files: Vec<PathBuf> = ["2023-04", "2023-05", "2023-06"]
        .iter()
        .map(|m| klines_file("FILUSDT", m))
        .collect();
    assert_eq!(load_klines(&files, &opts()).expect("files"), s);
}

#[test]
fn no_header_and_crlf_give_the_same_series() {
    let dir = tmpdir("noheader");
    let reference = load_klines(&[avax()], &opts()).expect("real");
    let p = edited_copy(&dir, "AVAXUSDT-1m-2026-02.csv", |l| {
        l.remove(0);
    });
    assert_eq!(load_both(&[p]), reference);
    let text = fs::read_to_string(avax()).expect("read");
    let crlf = dir.join("crlf").join("AVAXUSDT-1m-2026-02.csv");
    fs::create_dir_all(crlf.parent().expect("parent")).expect("mkdir");
    fs::write(&crlf, text.replace('\n', "\r\n") + "\r\n").expect("write");
    assert_eq!(load_both(&[crlf]), reference);
}

#[test]
fn microsecond_timestamps_are_divided() {
    let dir = tmpdir("micros");
    let reference = load_klines(&[avax()], &opts()).expect("real");
    let p = edited_copy(&dir, "AVAXUSDT-1m-2026-02.csv", |lines| {
        for l in lines.iter_mut().skip(1) {
            let f: Vec<&str> = l.split(',').collect();
            let open_us = format!("{}000", f[0]);
            let close_us = format!("{}999", f[6]);
            let (o, c) = (open_us.clone(), close_us.clone());
            let mut g: Vec<String> = f.iter().map(|s| s.to_string()).collect();
            g[0] = o;
            g[6] = c;
            *l = g.join(",");
        }
    });
    let first = fs::read_to_string(&p).expect("read");
    assert!(first
        .lines()
        .nth(1)
        .expect("row")
        .starts_with("1769904000000000,"));
    assert_eq!(load_both(&[p]), reference);
}

#[test]
fn missing_day_is_a_gap_not_an_error() {
    let dir = tmpdir("gap");
    // 2026-02-10 00:00 UTC is bar 9 * 1440 (line 9 * 1440 + 2 with the header).
    let day = 9 * 1440;
    let p = edited_copy(&dir, "AVAXUSDT-1m-2026-02.csv", |l| {
        l.drain(day + 1..day + 1 + 1440);
    });
    let s = load_both(std::slice::from_ref(&p));
    assert_eq!(s.len(), 40_320 - 1440);
    let from = 1_770_681_600_000; // 2026-02-10 00:00 UTC
    assert_eq!(
        s.gaps,
        vec![Gap {
            from_ms: from,
            to_ms: from + 1439 * MIN,
            missing_bars: 1440
        }]
    );
    // Resampling keeps the gap and builds no bucket for the missing day.
    let h = s
        .resample(parse_interval("1h").expect("1h"))
        .expect("resample");
    assert_eq!(h.len(), 672 - 24);
    assert_eq!(h.gaps, s.gaps);
    assert_eq!(
        h.open_time_ms[9 * 24 - 1] + 25 * 3_600_000,
        h.open_time_ms[9 * 24]
    );
    // Slicing clips the gap.
    let part = s.slice_time(Some(from + 60 * MIN), Some(from + 1500 * MIN));
    assert_eq!(
        part.gaps,
        vec![Gap {
            from_ms: from + 60 * MIN,
            to_ms: from + 1439 * MIN,
            missing_bars: 1380
        }]
    );
    assert_eq!(part.len(), 60);
    assert_eq!(part.open_time_ms[0], from + 1440 * MIN);
    let report = inspect(&[p]).expect("inspect");
    assert!(
        report.contains("gaps      : 1 (1440 missing bars)"),
        "{report}"
    );
    assert!(
        report.contains("  2026-02-10 00:00 .. 2026-02-10 23:59 (1440 bars)"),
        "{report}"
    );
}

#[test]
fn bad_number_names_file_line_and_field() {
    let dir = tmpdir("badrow");
    let p = edited_copy(&dir, "AVAXUSDT-1m-2026-02.csv", |l| {
        set_field(&mut l[4], 2, "10.1x")
    });
    let e = err_both(std::slice::from_ref(&p));
    assert_eq!(
        e,
        format!(
            "{}:5: field `high`: \"10.1x\" is not a decimal number (expected digits with an optional '.' and at most 8 decimals)",
            p.display()
        )
    );
    match load_klines(&[p], &opts()) {
        Err(DataError::Parse { line, field, .. }) => {
            assert_eq!((line, field.as_str()), (5, "high"))
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn wrong_column_count_and_too_many_decimals() {
    let dir = tmpdir("columns");
    let p = edited_copy(&dir, "AVAXUSDT-1m-2026-02.csv", |l| {
        let cut = l[7].rfind(',').expect("comma");
        l[7].truncate(cut);
    });
    assert_eq!(
        err_both(std::slice::from_ref(&p)),
        format!(
            "{}:8: field `row`: has 11 columns, expected 12 (klines have open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore)",
            p.display()
        )
    );
    let p = edited_copy(&dir, "AVAXUSDT-1m-2026-02.csv", |l| l[3].push_str(",0"));
    assert!(err_both(&[p]).contains(":4: field `row`: has 13 columns, expected 12"));
    let p = edited_copy(&dir, "AVAXUSDT-1m-2026-02.csv", |l| {
        set_field(&mut l[2], 4, "10.123456789")
    });
    assert_eq!(
        err_both(std::slice::from_ref(&p)),
        format!(
            "{}:3: field `close`: \"10.123456789\" has 9 decimals, more than 8 (values are stored as fixed-point 1e-8; round the source)",
            p.display()
        )
    );
    // Extra decimals that are all zero lose nothing and are accepted.
    let p = edited_copy(&dir, "AVAXUSDT-1m-2026-02.csv", |l| {
        set_field(&mut l[1], 1, "10.1130000000")
    });
    assert_eq!(load_both(&[p]).open_e8[0], 1_011_300_000);
}

#[test]
fn inconsistent_bars_are_rejected() {
    let dir = tmpdir("ohlc");
    // Line 2 is 10.1130,10.1300,10.1090,10.1280.
    let p = edited_copy(&dir, "AVAXUSDT-1m-2026-02.csv", |l| {
        set_field(&mut l[1], 2, "10.1000")
    });
    assert_eq!(
        err_both(std::slice::from_ref(&p)),
        format!(
            "{}:2: field `high`: high 10.1 is below low 10.109 (the bar is inconsistent; check the source file)",
            p.display()
        )
    );
    let p = edited_copy(&dir, "AVAXUSDT-1m-2026-02.csv", |l| {
        set_field(&mut l[1], 2, "10.1200")
    });
    assert_eq!(
        err_both(std::slice::from_ref(&p)),
        format!(
            "{}:2: field `high`: high 10.12 is below max(open, close) = 10.128 (the bar is inconsistent; check the source file)",
            p.display()
        )
    );
    let p = edited_copy(&dir, "AVAXUSDT-1m-2026-02.csv", |l| {
        set_field(&mut l[1], 3, "10.1200")
    });
    assert_eq!(
        err_both(std::slice::from_ref(&p)),
        format!(
            "{}:2: field `low`: low 10.12 is above min(open, close) = 10.113 (the bar is inconsistent; check the source file)",
            p.display()
        )
    );
    let p = edited_copy(&dir, "AVAXUSDT-1m-2026-02.csv", |l| {
        set_field(&mut l[2], 6, "1769904119998")
    });
    assert_eq!(
        err_both(std::slice::from_ref(&p)),
        format!(
            "{}:3: field `close_time`: 1769904119998 is not open_time + interval - 1 = 1769904119999 (interval 1m; this row spans 59999 ms: wrong interval or timestamp unit)",
            p.display()
        )
    );
}

#[test]
fn duplicates_and_disorder_are_rejected() {
    let dir = tmpdir("order");
    let p = edited_copy(&dir, "AVAXUSDT-1m-2026-02.csv", |l| {
        let dup = l[10].clone();
        l.insert(11, dup);
    });
    assert_eq!(
        err_both(std::slice::from_ref(&p)),
        format!(
            "{}:12: field `open_time`: 1769904540000 (2026-02-01 00:09:00 UTC) duplicates the previous row at line 11 (remove one of the two rows; files must not overlap)",
            p.display()
        )
    );
    let p = edited_copy(&dir, "AVAXUSDT-1m-2026-02.csv", |l| l.swap(20, 21));
    assert_eq!(
        err_both(std::slice::from_ref(&p)),
        format!(
            "{}:22: field `open_time`: 1769905140000 (2026-02-01 00:19:00 UTC) is earlier than the previous row's 1769905200000 (2026-02-01 00:20:00 UTC) at line 21 (rows must be sorted by open_time; files are read in file-name order)",
            p.display()
        )
    );
    // Across files: the same month twice in one folder.
    let twice = dir.join("twice");
    fs::create_dir_all(&twice).expect("mkdir");
    fs::copy(avax(), twice.join("AVAXUSDT-1m-2026-02.csv")).expect("copy");
    fs::copy(avax(), twice.join("AVAXUSDT-1m-2026-02b.csv")).expect("copy");
    let e = err_both(std::slice::from_ref(&twice));
    assert_eq!(
        e,
        format!(
            "{}:2: field `open_time`: 1769904000000 (2026-02-01 00:00:00 UTC) is earlier than the previous row's 1772323140000 (2026-02-28 23:59:00 UTC) at {}:40321 (rows must be sorted by open_time; files are read in file-name order)",
            twice.join("AVAXUSDT-1m-2026-02b.csv").display(),
            twice.join("AVAXUSDT-1m-2026-02.csv").display()
        )
    );
}

#[test]
fn mixed_symbols_or_intervals_are_refused() {
    let dir = tmpdir("mixed");
    let p = dir.join("AVAXUSDT-5m-2026-02.csv");
    fs::copy(avax(), &p).expect("copy");
    // The file name says 5m but the rows span 1 minute.
    let e = load_klines(std::slice::from_ref(&p), &opts()).expect_err("5m name");
    assert!(e.to_string().contains(":2: field `close_time`:"), "{e}");
    let o = LoadOptions {
        expect_interval_ms: Some(MIN),
    };
    let e = load_klines(&[p], &o).expect_err("expect 1m");
    assert!(e.to_string().ends_with(
        "AVAXUSDT-5m-2026-02.csv: field `interval`: file name says 5m but expect_interval_ms is 60000 (1m) (load the matching files or change the option)"
    ), "{e}");
    let e = load_klines(&[avax(), klines_file("LINKUSDT", "2026-02")], &opts())
        .expect_err("two symbols");
    assert!(
        e.to_string()
            .contains("field `symbol`: file name says LINKUSDT but earlier files are AVAXUSDT"),
        "{e}"
    );
}

/// Writes `csv` as the single member `member` of a new zip at `path`.
fn write_zip(path: &Path, member: &str, csv: &[u8]) {
    let f = fs::File::create(path).expect("create zip");
    let mut z = zip::ZipWriter::new(f);
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    z.start_file(member, o).expect("start member");
    z.write_all(csv).expect("write member");
    z.finish().expect("finish zip");
}

#[test]
fn zip_archive_loads_like_the_csv() {
    let dir = tmpdir("zip");
    let p = dir.join("AVAXUSDT-1m-2026-02.zip");
    write_zip(
        &p,
        "AVAXUSDT-1m-2026-02.csv",
        &fs::read(avax()).expect("read"),
    );
    let s = load_both(std::slice::from_ref(&p));
    assert_eq!(s, load_klines(&[avax()], &opts()).expect("csv"));
    // Errors inside an archive name archive and member.
    let bad = dir.join("bad").join("AVAXUSDT-1m-2026-02.zip");
    fs::create_dir_all(bad.parent().expect("parent")).expect("mkdir");
    let text = fs::read_to_string(avax())
        .expect("read")
        .replacen(",10.1300,", ",x,", 1);
    write_zip(&bad, "AVAXUSDT-1m-2026-02.csv", text.as_bytes());
    assert_eq!(
        err_both(std::slice::from_ref(&bad)),
        format!(
            "{}!AVAXUSDT-1m-2026-02.csv:2: field `high`: \"x\" is not a decimal number (expected digits with an optional '.' and at most 8 decimals)",
            bad.display()
        )
    );
    let junk = dir.join("junk.zip");
    fs::write(&junk, b"PK\x03\x04 not really").expect("write");
    let e = load_klines(std::slice::from_ref(&junk), &opts())
        .expect_err("junk zip")
        .to_string();
    assert!(e.starts_with(&format!("{}: zip: ", junk.display())), "{e}");
    let e = load_klines(&[dir.join("nope.csv")], &opts())
        .expect_err("missing")
        .to_string();
    assert!(
        e.starts_with(&format!("{}: ", dir.join("nope.csv").display())),
        "{e}"
    );
}

#[test]
fn funding_both_layouts() {
    let api = root().join("data/binance-um/fundingRate/AVAXUSDT/AVAXUSDT-fundingRate-2023-02.csv");
    let f = load_funding(&[api]).expect("api layout");
    assert_eq!(f.symbol, "AVAXUSDT");
    assert_eq!(f.len(), 84);
    assert_eq!(f.time_ms[0], 1_675_209_600_013); // jitter kept, not snapped
    assert_eq!(f.time_ms[83], 1_677_600_000_005);
    assert_eq!(f.rate[0], dec("0.0001"));
    assert_eq!(f.rate.iter().min().copied(), Some(dec("-0.00005856")));
    assert_eq!(f.rate.iter().max().copied(), Some(dec("0.00064049")));
    assert!(f.interval_hours.iter().all(Option::is_none));

    let archive = root().join("tests/fixtures/data/BTCUSDT-fundingRate-2024-01.csv");
    let f = load_funding(std::slice::from_ref(&archive)).expect("archive layout");
    assert_eq!(f.symbol, "BTCUSDT");
    assert_eq!(
        f.time_ms,
        vec![1_704_067_200_003, 1_704_096_000_000, 1_704_124_800_001]
    );
    assert_eq!(
        f.rate,
        vec![dec("0.00037409"), dec("-0.000125"), dec("0.0001")]
    );
    assert_eq!(f.interval_hours, vec![Some(8), Some(8), Some(4)]);

    // Without header the column count decides; duplicates are refused.
    let dir = tmpdir("funding");
    let text = fs::read_to_string(&archive).expect("read");
    let body: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let p = dir.join("BTCUSDT-fundingRate-2024-01.csv");
    fs::write(&p, &body).expect("write");
    assert_eq!(
        load_funding(std::slice::from_ref(&p))
            .expect("no header")
            .interval_hours[2],
        Some(4)
    );
    fs::write(&p, format!("{body}1704124800001,8,0.0001\n")).expect("write");
    let e = load_funding(std::slice::from_ref(&p))
        .expect_err("duplicate")
        .to_string();
    assert_eq!(
        e,
        format!(
            "{}:4: field `calc_time`: 1704124800001 (2024-01-01 16:00:00.001 UTC) duplicates the previous row at line 3 (remove one of the two rows; files must not overlap)",
            p.display()
        )
    );
    fs::write(&p, "fundingTime,fundingRate\n1704067200000,0.0001x\n").expect("write");
    let e = load_funding(std::slice::from_ref(&p))
        .expect_err("bad rate")
        .to_string();
    assert_eq!(
        e,
        format!(
            "{}:2: field `fundingRate`: \"0.0001x\" is not a decimal number (expected e.g. 0.00010000)",
            p.display()
        )
    );
}

#[test]
fn mark_klines_six_and_twelve_columns() {
    let six = root().join("data/binance-um/markPriceKlines/AVAXUSDT/1h/AVAXUSDT-1h-2026-02.csv");
    let m = load_mark_klines(std::slice::from_ref(&six), &opts()).expect("6 columns");
    assert_eq!(
        (m.symbol.as_str(), m.interval_ms, m.len()),
        ("AVAXUSDT", 3_600_000, 672)
    );
    assert!(m.gaps.is_empty());
    let k = m.kline(0);
    assert_eq!(k.open_time_ms, AVAX_2026_02_FIRST);
    assert_eq!(k.close_time_ms, AVAX_2026_02_FIRST + 3_599_999);
    assert_eq!(
        (k.open, k.high, k.low, k.close),
        (
            dec("10.11486361"),
            dec("10.20062174"),
            dec("10.11345462"),
            dec("10.18070365")
        )
    );
    assert_eq!(
        (k.volume, k.count, k.taker_buy_quote_volume),
        (Decimal::ZERO, 0, Decimal::ZERO)
    );
    assert_eq!(m.open_time_ms[671], 1_772_319_600_000);
    // Without the interval in the file name it is inferred from the open-time step.
    let dir = tmpdir("mark");
    let renamed = dir.join("mark.csv");
    fs::copy(&six, &renamed).expect("copy");
    let r = load_mark_klines(&[renamed], &opts()).expect("inferred");
    assert_eq!(r.interval_ms, 3_600_000);
    assert_eq!(r.symbol, "");
    assert_eq!(r.open_e8, m.open_e8);
    // load_klines refuses the 6-column shape with a hint.
    let e = load_klines(std::slice::from_ref(&six), &opts())
        .expect_err("6 cols")
        .to_string();
    assert_eq!(
        e,
        format!(
            "{}:2: field `row`: has 6 columns, expected 12 (a 6-column file is a mark-price export: use load_mark_klines)",
            six.display()
        )
    );

    let twelve = root().join("tests/fixtures/data/BTCUSDT-1h-2024-01.csv");
    let t = load_mark_klines(std::slice::from_ref(&twelve), &opts()).expect("12 columns");
    assert_eq!(t.len(), 3);
    assert_eq!(t.interval_ms, 3_600_000);
    assert_eq!(t.kline(2).low, dec("42413.27123456"));
    assert_eq!(t.count, vec![3600, 3600, 3600]);
    assert_eq!(load_klines(&[twelve], &opts()).expect("as klines"), t);
}

#[test]
fn resample_to_5m_and_1h_matches_hand_computed_bars() {
    let s = load_klines(&[avax()], &opts()).expect("load");
    let m5 = s.resample(parse_interval("5m").expect("5m")).expect("5m");
    assert_eq!(m5.len(), 8064);
    assert_eq!(m5.interval_ms, 300_000);
    assert_eq!(
        m5.kline(0),
        Kline {
            open_time_ms: AVAX_2026_02_FIRST,
            open: dec("10.113"),
            high: dec("10.173"),
            low: dec("10.109"),
            close: dec("10.155"),
            volume: dec("160501"),
            close_time_ms: AVAX_2026_02_FIRST + 299_999,
            quote_volume: dec("1627426.087"),
            count: 4998,
            taker_buy_volume: dec("111288"),
            taker_buy_quote_volume: dec("1128317.694"),
        }
    );
    let k = m5.kline(1);
    assert_eq!(
        (k.open_time_ms, k.open, k.high, k.low, k.close, k.count),
        (
            AVAX_2026_02_FIRST + 300_000,
            dec("10.155"),
            dec("10.169"),
            dec("10.144"),
            dec("10.169"),
            2945
        )
    );
    let h1 = s.resample(parse_interval("1h").expect("1h")).expect("1h");
    assert_eq!(h1.len(), 672);
    assert_eq!(
        h1.kline(0),
        Kline {
            open_time_ms: AVAX_2026_02_FIRST,
            open: dec("10.113"),
            high: dec("10.201"),
            low: dec("10.109"),
            close: dec("10.176"),
            volume: dec("912415"),
            close_time_ms: AVAX_2026_02_FIRST + 3_599_999,
            quote_volume: dec("9273944.315"),
            count: 31363,
            taker_buy_volume: dec("470549"),
            taker_buy_quote_volume: dec("4782154.967"),
        }
    );
    let last = h1.kline(671);
    assert_eq!(
        (
            last.open_time_ms,
            last.open,
            last.high,
            last.low,
            last.close,
            last.volume,
            last.count
        ),
        (
            1_772_319_600_000,
            dec("9.202"),
            dec("9.21"),
            dec("9.123"),
            dec("9.162"),
            dec("557435"),
            20049
        )
    );
    // 5m then 1h equals 1h directly; a non-multiple is refused.
    assert_eq!(m5.resample(3_600_000).expect("5m->1h"), h1);
    let e = s.resample(90_000).expect_err("90 s").to_string();
    assert!(
        e.starts_with("resample: field `interval_ms`: 90000 ms is not a positive multiple"),
        "{e}"
    );
}

#[test]
fn from_klines_validates_like_the_loader() {
    let s = load_klines(&[avax()], &opts()).expect("load");
    let bars: Vec<Kline> = (0..100).map(|i| s.kline(i)).collect();
    let rebuilt = KlineSeries::from_klines("AVAXUSDT", MIN, &bars).expect("valid");
    assert_eq!(
        rebuilt,
        s.slice_time(None, Some(AVAX_2026_02_FIRST + 100 * MIN))
    );
    let mut broken = bars.clone();
    broken[3].high = dec("1");
    let e = KlineSeries::from_klines("AVAXUSDT", MIN, &broken)
        .expect_err("high")
        .to_string();
    assert!(
        e.starts_with("<klines>:4: field `high`: high 1 is below"),
        "{e}"
    );
    let mut fine = bars.clone();
    fine[3].open = dec("10.123456789");
    let e = KlineSeries::from_klines("AVAXUSDT", MIN, &fine)
        .expect_err("decimals")
        .to_string();
    assert!(
        e.starts_with("<klines>:4: field `open`: 10.123456789 has 9 decimals"),
        "{e}"
    );
    let mut gap = bars;
    gap.remove(50);
    let g = KlineSeries::from_klines("AVAXUSDT", MIN, &gap).expect("gap ok");
    assert_eq!(
        g.gaps,
        vec![Gap {
            from_ms: AVAX_2026_02_FIRST + 50 * MIN,
            to_ms: AVAX_2026_02_FIRST + 50 * MIN,
            missing_bars: 1
        }]
    );
}

#[test]
fn slice_time_is_half_open() {
    let s = load_klines(&[avax()], &opts()).expect("load");
    let part = s.slice_time(
        Some(AVAX_2026_02_FIRST + 10 * MIN),
        Some(AVAX_2026_02_FIRST + 20 * MIN),
    );
    assert_eq!(part.len(), 10);
    assert_eq!(part.open_time_ms[0], AVAX_2026_02_FIRST + 10 * MIN);
    assert_eq!(part.kline(0), s.kline(10));
    assert_eq!(s.slice_time(None, None), s);
    assert!(s.slice_time(Some(AVAX_2026_02_LAST + 1), None).is_empty());
}

#[test]
fn polars_equals_hand_parser_on_every_real_month() {
    for (sym, month) in [
        ("AVAXUSDT", "2023-02"),
        ("AVAXUSDT", "2026-06"),
        ("LINKUSDT", "2026-02"),
        ("NEARUSDT", "2025-02"),
    ] {
        let s = load_both(&[klines_file(sym, month)]);
        assert!(s.gaps.is_empty(), "{sym} {month}");
    }
}

#[test]
fn inspect_report_is_deterministic() {
    let r = inspect(&[avax()]).expect("inspect");
    assert_eq!(r, inspect(&[avax()]).expect("again"));
    let lines: Vec<&str> = r.lines().collect();
    assert_eq!(lines[2], "kind      : klines (12 columns)");
    assert_eq!(lines[3], "symbol    : AVAXUSDT");
    assert_eq!(lines[4], "interval  : 1m (60000 ms)");
    assert_eq!(lines[5], "rows      : 40320");
    assert_eq!(
        lines[6],
        "from      : 2026-02-01 00:00:00 UTC (open_time 1769904000000)"
    );
    assert_eq!(
        lines[7],
        "to        : 2026-02-28 23:59:00 UTC (last open_time 1772323140000)"
    );
    assert_eq!(lines[8], "gaps      : 0 (0 missing bars)");
    assert_eq!(lines[9], "low       : 7.534 at 2026-02-06 00:20");
    assert_eq!(lines[10], "high      : 10.355 at 2026-02-03 20:32");
    assert_eq!(lines[11], "close     : 10.128 -> 9.162 (-9.54%)");
    assert_eq!(
        lines[12],
        "volume    : 535089081 base, 4875302218.433 quote, 18013793 trades"
    );
    let top = lines
        .iter()
        .position(|l| l.starts_with("chart of close (60 x 12"))
        .expect("chart");
    let chart_rows = &lines[top + 1..top + 13];
    assert!(chart_rows.iter().all(|l| l.contains(" |")), "{r}");
    assert!(chart_rows[0].starts_with(" 10.3 |"), "{r}");
    assert!(chart_rows[11].starts_with("7.605 |"), "{r}");
    assert!(lines[top + 13].ends_with(&"-".repeat(60)), "{r}");
    assert_eq!(lines.len(), top + 15);
    assert!(chart_rows.iter().all(|l| l.chars().count() <= 8 + 2 + 60));
    let f = inspect(&[root().join("data/binance-um/fundingRate/AVAXUSDT")]).expect("funding");
    assert!(f.contains("kind      : funding rates"), "{f}");
    assert!(f.contains("rows      : 168"), "{f}");
    let m = inspect(&[root().join("data/binance-um/markPriceKlines/NEARUSDT/1h")]).expect("mark");
    assert!(
        m.contains("kind      : mark-price klines (6 columns)"),
        "{m}"
    );
}

// --- download against a loopback HTTP server ------------------------------------------------------

fn sha256_hex(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// A zip holding three 1m bars starting at `t0`, as Binance names it.
fn day_zip(dir: &Path, stem: &str, t0: i64) -> Vec<u8> {
    let mut csv = String::from("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n");
    for i in 0..3 {
        let t = t0 + i * MIN;
        csv.push_str(&format!(
            "{t},100.5,101.25,99.75,100.{i},12.5,{},1256.25,7,6.25,628.125,0\n",
            t + MIN - 1
        ));
    }
    let p = dir.join(format!("{stem}.zip"));
    write_zip(&p, &format!("{stem}.csv"), csv.as_bytes());
    fs::read(&p).expect("read zip")
}

#[test]
fn download_verifies_checksums_from_a_loopback_server() {
    let dir = tmpdir("download");
    let build = dir.join("build");
    fs::create_dir_all(&build).expect("mkdir");
    let pre = "/data/futures/um";
    let d15 = day_zip(&build, "BTCUSDT-1m-2024-01-15", 1_705_276_800_000);
    let d16 = day_zip(&build, "BTCUSDT-1m-2024-01-16", 1_705_363_200_000);
    let d17 = day_zip(&build, "BTCUSDT-1m-2024-01-17", 1_705_449_600_000);
    let feb = day_zip(&build, "BTCUSDT-1m-2024-02", 1_706_745_600_000);
    let daily = |d: &str| format!("{pre}/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-{d}.zip");
    let monthly = format!("{pre}/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02.zip");
    let sum = |b: &[u8], name: &str| format!("{}  {name}\n", sha256_hex(b)).into_bytes();
    let routes = vec![
        (daily("15"), d15.clone()),
        (
            format!("{}.CHECKSUM", daily("15")),
            sum(&d15, "BTCUSDT-1m-2024-01-15.zip"),
        ),
        (daily("16"), d16.clone()),
        (
            format!("{}.CHECKSUM", daily("16")),
            sum(&d16, "BTCUSDT-1m-2024-01-16.zip"),
        ),
        // Day 17's CHECKSUM is deliberately that of another archive.
        (daily("17"), d17),
        (
            format!("{}.CHECKSUM", daily("17")),
            sum(&d16, "BTCUSDT-1m-2024-01-17.zip"),
        ),
        (monthly.clone(), feb.clone()),
        (
            format!("{monthly}.CHECKSUM"),
            sum(&feb, "BTCUSDT-1m-2024-02.zip"),
        ),
    ];
    let server = Server::start(Mode::Routes(routes));
    let base = server.base.clone();
    let out = dir.join("out");
    let args = |from: &str, to: &str| DownloadArgs {
        symbol: "BTCUSDT".into(),
        interval: "1m".into(),
        from: from.into(),
        to: to.into(),
        base_url: base.clone(),
        out_dir: out.clone(),
        kind: "klines".into(),
        timeouts: Default::default(),
    };
    let mut log = Vec::new();
    // Days 15-16 of January (daily archives) and all of February (one monthly archive).
    let got = download(&args("2024-01-15", "2024-01-16"), &mut |l| {
        log.push(l.to_string())
    })
    .expect("daily");
    let month = download(&args("2024-02", "2024-02"), &mut |l| {
        log.push(l.to_string())
    })
    .expect("monthly");
    let folder = out.join("klines/BTCUSDT/1m");
    assert_eq!(
        got,
        vec![
            folder.join("BTCUSDT-1m-2024-01-15.zip"),
            folder.join("BTCUSDT-1m-2024-01-16.zip")
        ]
    );
    assert_eq!(month, vec![folder.join("BTCUSDT-1m-2024-02.zip")]);
    assert_eq!(fs::read(&got[0]).expect("saved"), d15);
    // A second run finds the files in place and only fetches the CHECKSUM.
    let again = download(&args("2024-01-15", "2024-01-15"), &mut |l| {
        log.push(l.to_string())
    })
    .expect("again");
    assert_eq!(again, vec![got[0].clone()]);
    assert!(log.iter().any(|l| l.contains("already present")), "{log:?}");
    // Wrong checksum: error names the archive, nothing is written.
    let e = download(&args("2024-01-17", "2024-01-17"), &mut |_| {}).expect_err("bad sum");
    let url17 = format!("{base}{}", daily("17"));
    match &e {
        DataError::Checksum {
            file,
            expected,
            actual,
        } => {
            assert_eq!(file, &url17);
            assert_eq!(expected, &sha256_hex(&d16));
            assert_ne!(expected, actual);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(e
        .to_string()
        .starts_with(&format!("{url17}: sha256 mismatch: expected ")));
    assert!(!folder.join("BTCUSDT-1m-2024-01-17.zip").exists());
    // 404: error names the URL.
    let e = download(&args("2024-01-18", "2024-01-18"), &mut |_| {})
        .expect_err("404")
        .to_string();
    let url18 = format!("{base}{}.CHECKSUM", daily("18"));
    assert!(
        e.starts_with(&format!("{url18}: HTTP 404 Not Found")),
        "{e}"
    );
    let asked = server.asked();
    drop(server);
    assert_eq!(asked.len(), 4 + 2 + 1 + 2 + 1, "{asked:?}");
    // The downloaded zips load as one series with the day boundary reported as a gap.
    let s = load_both(&[folder]);
    assert_eq!(s.symbol, "BTCUSDT");
    assert_eq!(s.len(), 9);
    assert_eq!(s.gaps.len(), 2);
    assert_eq!(
        s.gaps[0],
        Gap {
            from_ms: 1_705_276_800_000 + 3 * MIN,
            to_ms: 1_705_363_200_000 - MIN,
            missing_bars: 1437
        }
    );
    assert_eq!(s.kline(2).close, dec("100.2"));
}
