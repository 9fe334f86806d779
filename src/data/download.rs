//! Fetching archives from Binance's public data site (data.binance.vision) with sha256 verification.
//!
//! Whole calendar months in the requested range come as monthly archives, partial months as daily ones
//! (funding rates exist only monthly, so a partial month fetches the whole month). Each archive is checked
//! against its `.CHECKSUM` file before it is written; files already on disk with the right digest are kept
//! without downloading them again. Archives are kept as `.zip`: the loaders read them directly.
//!
//! Every request has a connect timeout, an idle timeout (longest silence between two reads) and a
//! total timeout (one archive, from connecting to its last byte), see [`Timeouts`]: a server that
//! never answers, or answers a byte at a time, ends the command with an error instead of a hang.
//! A file already at a destination is read only if it is a regular file (a FIFO there is refused).
//! Each archive is written atomically (temporary file + rename, see [`crate::output`]); nothing in
//! the output folder is ever deleted.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::error::DataError;
use super::files::{check_regular, read_capped, MAX_DATA_FILE_BYTES};
use super::inspect::{civil_from_days, days_from_civil};
use super::kline::parse_interval;

/// Binance's public data site.
pub const DEFAULT_BASE_URL: &str = "https://data.binance.vision";

/// Largest archive accepted (bytes), the cap of any data file; a month of 1m klines is a few MB.
const MAX_ARCHIVE_BYTES: u64 = MAX_DATA_FILE_BYTES;

/// How long a download may wait, per request (a `.CHECKSUM` or an archive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest time to open the connection (DNS, TCP, TLS); default 10 s.
    pub connect: Duration,
    /// Longest silence while waiting for the answer or its body (each read); default 30 s.
    pub idle: Duration,
    /// Longest time for one request from connecting to the last byte of its body; default 10 min.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            idle: Duration::from_secs(30),
            total: Duration::from_secs(600),
        }
    }
}

/// Formats a timeout for messages: `300 ms`, `30 s`, `2.5 s`.
fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// What to download and where to put it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadArgs {
    /// Contract symbol, e.g. `AVAXUSDT`.
    pub symbol: String,
    /// Kline interval, e.g. `1m` (ignored for `fundingRate`).
    pub interval: String,
    /// First day, `YYYY-MM` (its first day) or `YYYY-MM-DD`, inclusive.
    pub from: String,
    /// Last day, `YYYY-MM` (its last day) or `YYYY-MM-DD`, inclusive.
    pub to: String,
    /// Site root without trailing slash; [`DEFAULT_BASE_URL`] by default.
    pub base_url: String,
    /// Root of the local layout: files land in `out_dir/KIND/SYMBOL/INTERVAL/` (`out_dir/fundingRate/SYMBOL/`).
    pub out_dir: PathBuf,
    /// `klines`, `markPriceKlines` or `fundingRate`.
    pub kind: String,
    /// Connect, idle and total timeouts of each request.
    pub timeouts: Timeouts,
}

impl Default for DownloadArgs {
    fn default() -> Self {
        DownloadArgs {
            symbol: String::new(),
            interval: "1m".into(),
            from: String::new(),
            to: String::new(),
            base_url: DEFAULT_BASE_URL.into(),
            out_dir: PathBuf::from("data/binance-um"),
            kind: "klines".into(),
            timeouts: Timeouts::default(),
        }
    }
}

/// One archive to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Planned {
    url: String,
    file_name: String,
    dest: PathBuf,
}

fn bad_arg(field: &str, msg: String) -> DataError {
    DataError::invalid("download", field, msg)
}

/// Parses `YYYY-MM` or `YYYY-MM-DD` into days since the epoch; `end` picks the month's last day for `YYYY-MM`.
fn parse_day(s: &str, field: &str, end: bool) -> Result<i64, DataError> {
    let err = || {
        bad_arg(
            field,
            format!(
                "{s:?} is not a date (expected YYYY-MM or YYYY-MM-DD, e.g. 2024-01 or 2024-01-15)"
            ),
        )
    };
    let parts: Vec<&str> = s.trim().split('-').collect();
    let num = |p: &str, len: usize| -> Option<i64> {
        (p.len() == len && p.bytes().all(|c| c.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    let (y, m) = match parts.as_slice() {
        [y, m] | [y, m, _] => (num(y, 4).ok_or_else(err)?, num(m, 2).ok_or_else(err)?),
        _ => return Err(err()),
    };
    if !(1..=12).contains(&m) {
        return Err(err());
    }
    let m = m as u32;
    let last = days_in_month(y, m);
    let d = match parts.get(2) {
        Some(d) => {
            let d = num(d, 2).ok_or_else(err)?;
            if d < 1 || d > i64::from(last) {
                return Err(err());
            }
            d as u32
        }
        None if end => last,
        None => 1,
    };
    Ok(days_from_civil(y, m, d))
}

fn days_in_month(y: i64, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) as u32
}

/// Works out the archive URLs and local paths for `args`, in time order.
fn plan(args: &DownloadArgs, log: &mut dyn FnMut(&str)) -> Result<Vec<Planned>, DataError> {
    let sym = args.symbol.trim();
    if sym.is_empty()
        || !sym
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return Err(bad_arg(
            "symbol",
            format!(
                "{sym:?} is not a symbol (expected upper-case letters and digits, e.g. AVAXUSDT)"
            ),
        ));
    }
    let kind = args.kind.as_str();
    let funding = match kind {
        "klines" | "markPriceKlines" => false,
        "fundingRate" => true,
        other => {
            return Err(bad_arg(
                "kind",
                format!("{other:?} is not supported (use klines, markPriceKlines or fundingRate)"),
            ))
        }
    };
    if !funding && parse_interval(&args.interval).is_none() {
        return Err(bad_arg(
            "interval",
            format!(
                "{:?} is not a kline interval (use 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w)",
                args.interval
            ),
        ));
    }
    let from = parse_day(&args.from, "from", false)?;
    let to = parse_day(&args.to, "to", true)?;
    if to < from {
        return Err(bad_arg(
            "to",
            format!("{} is before from {} (swap them)", args.to, args.from),
        ));
    }
    let base = args.base_url.trim_end_matches('/');
    let iv = args.interval.as_str();
    let mut dir = args.out_dir.join(kind).join(sym);
    if !funding {
        dir = dir.join(iv);
    }
    let mut out = Vec::new();
    let (mut y, mut m, _) = civil_from_days(from);
    loop {
        let month_first = days_from_civil(y, m, 1);
        if month_first > to {
            break;
        }
        let month_last = month_first + i64::from(days_in_month(y, m)) - 1;
        let a = from.max(month_first);
        let b = to.min(month_last);
        let ym = format!("{y:04}-{m:02}");
        if funding || (a == month_first && b == month_last) {
            if funding && !(a == month_first && b == month_last) {
                log(&format!(
                    "note: fundingRate exists only as monthly archives; fetching all of {ym}"
                ));
            }
            let (path, name) = if funding {
                (
                    format!("monthly/fundingRate/{sym}"),
                    format!("{sym}-fundingRate-{ym}.zip"),
                )
            } else {
                (
                    format!("monthly/{kind}/{sym}/{iv}"),
                    format!("{sym}-{iv}-{ym}.zip"),
                )
            };
            out.push(Planned {
                url: format!("{base}/data/futures/um/{path}/{name}"),
                dest: dir.join(&name),
                file_name: name,
            });
        } else {
            for day in a..=b {
                let (dy, dm, dd) = civil_from_days(day);
                let name = format!("{sym}-{iv}-{dy:04}-{dm:02}-{dd:02}.zip");
                out.push(Planned {
                    url: format!("{base}/data/futures/um/daily/{kind}/{sym}/{iv}/{name}"),
                    dest: dir.join(&name),
                    file_name: name,
                });
            }
        }
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    Ok(out)
}

/// True if the URL's host is a loopback address (then no proxy is ever used).
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(h) = host.strip_prefix('[') {
        h.split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|a| a.is_loopback())
}

fn agent_for(base_url: &str, t: &Timeouts) -> ureq::Agent {
    let mut cfg = ureq::Agent::config_builder()
        .timeout_connect(Some(t.connect))
        .timeout_per_read(Some(t.idle))
        .timeout_per_write(Some(t.idle))
        .timeout_global(Some(t.total))
        .user_agent(concat!("ocosim/", env!("CARGO_PKG_VERSION")));
    if is_loopback(base_url) {
        cfg = cfg.proxy(None);
    }
    ureq::Agent::new_with_config(cfg.build())
}

fn http_err(url: &str, e: ureq::Error, t: &Timeouts) -> DataError {
    use ureq::Timeout as T;
    let msg = match e {
        ureq::Error::Timeout(T::Connect | T::Resolve) => format!(
            "no connection within {} (connect timeout; check the network or the base URL, or raise --connect-timeout)",
            show_duration(t.connect)
        ),
        ureq::Error::Timeout(T::PerRead | T::PerWrite) => format!(
            "the server was silent for {} (idle timeout; retry later, or raise --idle-timeout)",
            show_duration(t.idle)
        ),
        ureq::Error::Timeout(T::Global | T::PerCall) => format!(
            "not done within {} (total timeout; the server is too slow: retry later, or raise --total-timeout)",
            show_duration(t.total)
        ),
        ureq::Error::Timeout(other) => {
            format!("timed out ({other}) (the server is too slow: retry later)")
        }
        ureq::Error::StatusCode(404) => "HTTP 404 Not Found (no such archive: check symbol, interval and dates; daily files appear the next day, monthly ones early in the next month)".to_string(),
        ureq::Error::StatusCode(c) => format!("HTTP status {c} (retry later)"),
        ureq::Error::BodyExceedsLimit(n) => format!("response larger than {n} bytes (not an archive?)"),
        other => format!("{other} (check the network or the base URL)"),
    };
    DataError::Http {
        url: url.to_string(),
        msg,
    }
}

fn get_bytes(
    agent: &ureq::Agent,
    url: &str,
    limit: u64,
    t: &Timeouts,
) -> Result<Vec<u8>, DataError> {
    let mut resp = agent.get(url).call().map_err(|e| http_err(url, e, t))?;
    resp.body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| http_err(url, e, t))
}

/// Reads `<sha256hex>  <filename>` and returns the lower-case digest.
fn parse_checksum(text: &[u8], url: &str, file_name: &str) -> Result<String, DataError> {
    let text = String::from_utf8_lossy(text);
    let mut it = text.split_whitespace();
    let digest = it.next().unwrap_or("");
    if digest.len() != 64 || !digest.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(DataError::Http {
            url: url.to_string(),
            msg: "not a CHECKSUM file (expected `<sha256 hex>  <file name>`)".into(),
        });
    }
    if let Some(name) = it.next() {
        let name = name.trim_start_matches('*');
        if name != file_name {
            return Err(DataError::Http {
                url: url.to_string(),
                msg: format!("CHECKSUM names {name:?}, expected {file_name:?} (wrong URL layout?)"),
            });
        }
    }
    Ok(digest.to_ascii_lowercase())
}

fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Downloads and verifies the archives for `args`, returning their local paths in time order; `log`
/// receives one line per step.
pub fn download(args: &DownloadArgs, log: &mut dyn FnMut(&str)) -> Result<Vec<PathBuf>, DataError> {
    let planned = plan(args, log)?;
    let t = &args.timeouts;
    for (name, d) in [("connect", t.connect), ("idle", t.idle), ("total", t.total)] {
        if d.is_zero() {
            return Err(bad_arg(
                &format!("{name}-timeout"),
                "0 waits for nothing (give a duration such as 30s)".into(),
            ));
        }
    }
    let agent = agent_for(&args.base_url, t);
    let mut done = Vec::with_capacity(planned.len());
    for p in planned {
        // A destination that exists must be a regular file (reading a FIFO there would hang).
        let present = match fs::metadata(&p.dest) {
            Ok(_) => Some(check_regular(&p.dest)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(DataError::io(p.dest.display().to_string(), e)),
        };
        let sum_url = format!("{}.CHECKSUM", p.url);
        let sum_text = get_bytes(&agent, &sum_url, 4096, t)?;
        let expected = parse_checksum(&sum_text, &sum_url, &p.file_name)?;
        if present.is_some() {
            let existing = read_capped(&p.dest, MAX_ARCHIVE_BYTES, "an archive")?;
            if sha256_hex(&existing) == expected {
                log(&format!(
                    "ok   {} (already present, sha256 matches)",
                    p.dest.display()
                ));
                done.push(p.dest);
                continue;
            }
        }
        log(&format!("get  {}", p.url));
        let bytes = get_bytes(&agent, &p.url, MAX_ARCHIVE_BYTES, t)?;
        let actual = sha256_hex(&bytes);
        if actual != expected {
            return Err(DataError::Checksum {
                file: p.url.clone(),
                expected,
                actual,
            });
        }
        if let Some(dir) = p.dest.parent() {
            fs::create_dir_all(dir).map_err(|e| DataError::io(dir.display().to_string(), e))?;
        }
        // temporary file + rename, removed on error or interrupt; nothing else is ever deleted
        crate::output::write_file_atomic(&p.dest, &bytes)
            .map_err(|e| DataError::io(p.dest.display().to_string(), e))?;
        log(&format!(
            "ok   {} ({} bytes, sha256 {})",
            p.dest.display(),
            bytes.len(),
            &actual[..16]
        ));
        done.push(p.dest);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(from: &str, to: &str) -> DownloadArgs {
        DownloadArgs {
            symbol: "BTCUSDT".into(),
            from: from.into(),
            to: to.into(),
            out_dir: PathBuf::from("out"),
            ..Default::default()
        }
    }

    #[test]
    fn plan_months_and_days() {
        let p = plan(&args("2024-01-30", "2024-03"), &mut |_| {}).expect("plan");
        let names: Vec<&str> = p.iter().map(|p| p.file_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "BTCUSDT-1m-2024-01-30.zip",
                "BTCUSDT-1m-2024-01-31.zip",
                "BTCUSDT-1m-2024-02.zip",
                "BTCUSDT-1m-2024-03.zip"
            ]
        );
        assert_eq!(
            p[2].url,
            "https://data.binance.vision/data/futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02.zip"
        );
        assert_eq!(
            p[0].url,
            "https://data.binance.vision/data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-30.zip"
        );
        assert_eq!(
            p[2].dest,
            PathBuf::from("out/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02.zip")
        );
    }

    #[test]
    fn plan_funding_is_monthly() {
        let mut a = args("2024-02-10", "2024-02-12");
        a.kind = "fundingRate".into();
        let p = plan(&a, &mut |_| {}).expect("plan");
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0].url,
            "https://data.binance.vision/data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-02.zip"
        );
    }

    #[test]
    fn plan_rejects_bad_input() {
        assert!(plan(&args("2024-13", "2024-12"), &mut |_| {}).is_err());
        assert!(plan(&args("2024-02-30", "2024-03"), &mut |_| {}).is_err());
        assert!(plan(&args("2024-03", "2024-02"), &mut |_| {}).is_err());
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2023, 2), 28);
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("http://127.0.0.1:8080/x"));
        assert!(is_loopback("http://localhost/x"));
        assert!(is_loopback("http://[::1]:9/x"));
        assert!(!is_loopback("https://data.binance.vision"));
    }
}
