//! Hostile data inputs through the real `sim` binary: every kind of file ocosim reads besides the
//! scenario's own TOML (klines, mark-price klines, funding, the signals CSV, zips), the kind of
//! the paths it is given (FIFOs, devices, sockets, directories, oversize files) and downloads from
//! a slow or broken loopback server, through every command that reads them.
//!
//! Each case asserts: exit code 2, exactly one line on stderr (`sim: error: …`) that names the
//! file and line (or the argument / URL), no panic text, nothing on stderr that looks like a
//! hang, and a sentinel tree of the user's files (plus the inputs themselves) byte-for-byte
//! unchanged. A case that does not end within [`CASE_LIMIT`] is killed and fails as a hang.
//!
//! The harness is local to this file on purpose; only the loopback server is shared
//! (`tests/common/http.rs`, without the rest of `tests/common`).

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

#[path = "common/http.rs"]
mod http;
use http::{Mode, Server};

/// A case that runs longer than this is a hang.
const CASE_LIMIT: Duration = Duration::from_secs(15);

const KLINES: &str = "data/binance-um/klines/AVAXUSDT/1m/AVAXUSDT-1m-2026-02.csv";
const MARK: &str = "data/binance-um/markPriceKlines/AVAXUSDT/1h/AVAXUSDT-1h-2026-02.csv";
const FUNDING: &str = "data/binance-um/fundingRate/AVAXUSDT/AVAXUSDT-fundingRate-2026-02.csv";

/// File names of the fixture's inputs (inside `in/`).
const K: &str = "AVAXUSDT-1m-2026-02.csv";
const M: &str = "AVAXUSDT-1h-2026-02.csv";
const F: &str = "AVAXUSDT-fundingRate-2026-02.csv";
const S: &str = "signals.csv";

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The first `n` data rows of a real file (without header).
fn rows(rel: &str, n: usize) -> (String, Vec<String>) {
    let text = fs::read_to_string(repo(rel)).expect("real data file");
    let mut it = text.lines();
    let header = it.next().expect("header").to_string();
    (header, it.take(n).map(str::to_string).collect())
}

fn join(header: &str, rows: &[String]) -> String {
    let mut s = String::from(header);
    s.push('\n');
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

/// The fixture's kline CSV with row `k` (0-based; line `k + 2`) edited: column `col` set to `v`.
fn klines_with(k: usize, col: usize, v: &str) -> String {
    let (h, mut r) = rows(KLINES, 60);
    let mut f: Vec<String> = r[k].split(',').map(str::to_string).collect();
    f[col] = v.to_string();
    r[k] = f.join(",");
    join(&h, &r)
}

fn mark_with(k: usize, col: usize, v: &str) -> String {
    let (h, mut r) = rows(MARK, 3);
    let mut f: Vec<String> = r[k].split(',').map(str::to_string).collect();
    f[col] = v.to_string();
    r[k] = f.join(",");
    join(&h, &r)
}

const SIGNALS_OK: &str = "time,action,quantity,sl_pct,tp_pct\n2026-02-01T00:10,buy,1,0.01,0.02\n2026-02-01T00:20,sell,1,0.01,0.02\n";

/// What the fixture's scenario reads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    Klines,
    Mark,
    Funding,
    Signals,
    /// The scenario file itself.
    Scenario,
    /// The sweep file itself.
    Sweep,
}

/// A command that reads the hostile input.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cmd {
    Run,
    Check,
    Inspect,
    Explore,
    Sweep,
    Merge,
}

/// One fixture: `in/` holds the inputs and a scenario, `user/` the sentinel tree, `out` is the
/// output folder the commands are pointed at.
struct Fx {
    root: PathBuf,
}

impl Fx {
    fn new(tag: &str) -> Fx {
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "hostile-data-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("in")).unwrap();
        let fx = Fx { root };
        let (h, r) = rows(KLINES, 60);
        fs::write(fx.input(K), join(&h, &r)).unwrap();
        let (h, r) = rows(MARK, 3);
        fs::write(fx.input(M), join(&h, &r)).unwrap();
        let (h, r) = rows(FUNDING, 3);
        fs::write(fx.input(F), join(&h, &r)).unwrap();
        fs::write(fx.input(S), SIGNALS_OK).unwrap();
        // the sentinel tree: the user's own files beside the output folder
        let u = fx.root.join("user");
        fs::create_dir_all(u.join("deep/er")).unwrap();
        fs::write(u.join("notes.txt"), "my notes\n").unwrap();
        fs::write(u.join("deep/er/blob.bin"), (0..=255u8).collect::<Vec<u8>>()).unwrap();
        fs::copy(repo(KLINES), u.join("deep/AVAXUSDT-1m-2026-02.csv")).unwrap();
        fx
    }

    fn input(&self, name: &str) -> PathBuf {
        self.root.join("in").join(name)
    }

    fn out(&self) -> PathBuf {
        self.root.join("out")
    }

    fn scenario(&self) -> PathBuf {
        self.input("s.toml")
    }

    fn sweep(&self) -> PathBuf {
        self.input("sweep.toml")
    }

    /// Writes the scenario (reading `klines`, and mark/funding/signals when given) and a sweep over it.
    fn write_scenario(
        &self,
        klines: &str,
        mark: Option<&str>,
        funding: Option<&str>,
        signals: Option<&str>,
    ) {
        let q = |p: &str| format!("{p:?}");
        let mut t = format!("name = \"hostile\"\n[data]\nklines = [{}]\n", q(klines));
        if let Some(m) = mark {
            t.push_str(&format!("mark = [{}]\n", q(m)));
        }
        if let Some(f) = funding {
            t.push_str(&format!("funding = [{}]\n", q(f)));
        }
        if let Some(s) = signals {
            t.push_str(&format!("[signals]\ncsv = {}\n", q(s)));
        } else {
            t.push_str("[signals]\ninline = [ { at = \"2026-02-01T00:10\", action = \"buy\", quantity = \"1\", sl_pct = \"0.01\", tp_pct = \"0.02\" } ]\n");
        }
        fs::write(self.scenario(), t).unwrap();
        fs::write(
            self.sweep(),
            "name = \"hostile-sweep\"\nbase = \"s.toml\"\n[grid]\n\"engine.poll_interval_ms\" = [1000, 2000]\n",
        )
        .unwrap();
    }

    fn args(&self, cmd: Cmd, direct: &Path) -> Vec<String> {
        let s = |p: &Path| p.display().to_string();
        match cmd {
            Cmd::Run => vec![
                "run".into(),
                s(&self.scenario()),
                "--out".into(),
                s(&self.out()),
            ],
            Cmd::Check => vec!["check".into(), s(&self.scenario())],
            Cmd::Inspect => vec!["data".into(), "inspect".into(), s(direct)],
            Cmd::Explore => vec![
                "explore".into(),
                "--data".into(),
                s(direct),
                "--cases".into(),
                "3".into(),
                "--no-shrink".into(),
                "--out".into(),
                s(&self.out()),
            ],
            Cmd::Sweep => vec![
                "sweep".into(),
                s(&self.sweep()),
                "--out".into(),
                s(&self.out()),
                "--threads".into(),
                "1".into(),
            ],
            Cmd::Merge => vec![
                "merge".into(),
                s(direct),
                "--out".into(),
                s(&self.out()),
                "--x".into(),
                "a".into(),
                "--y".into(),
                "b".into(),
            ],
        }
    }
}

impl Drop for Fx {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// Everything under `root` but `out/`: regular files by content (by length when huge), other
/// kinds by kind.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if rel == Path::new("out") {
                continue;
            }
            let Ok(m) = fs::symlink_metadata(&p) else {
                continue;
            };
            let ft = m.file_type();
            if ft.is_dir() {
                out.insert(rel, "dir".into());
                walk(root, &p, out);
            } else if ft.is_file() && m.len() <= 64 << 20 {
                let bytes = fs::read(&p).unwrap();
                out.insert(rel, format!("file {:?}", sha(&bytes)));
            } else if ft.is_file() {
                out.insert(rel, format!("big file {}", m.len()));
            } else {
                out.insert(rel, format!("{ft:?}"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn sha(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Runs `sim args…`, killing it after [`CASE_LIMIT`]: (exit code or None if killed, stdout, stderr, time).
fn sim(args: &[String]) -> (Option<i32>, String, String, Duration) {
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sim");
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let out_t = thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let err_t = thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let code = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st.code();
        }
        if t0.elapsed() > CASE_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(5));
    };
    let elapsed = t0.elapsed();
    (code, out_t.join().unwrap(), err_t.join().unwrap(), elapsed)
}

/// Makes a hostile input in a fixture: (the path to use, the text the error must contain).
type Make = Box<dyn Fn(&Fx) -> (PathBuf, String) + Send + Sync>;

/// A bad input: how to make it, what reads it, and what the error line must contain.
struct Bad {
    name: String,
    target: Target,
    /// Creates the hostile input in the fixture; returns the path the scenario (or command)
    /// should use and the text the error line must contain (e.g. `PATH:7: field `open``).
    make: Make,
    /// Commands that read it.
    cmds: Vec<Cmd>,
}

fn bad(
    name: &str,
    target: Target,
    cmds: &[Cmd],
    make: impl Fn(&Fx) -> (PathBuf, String) + Send + Sync + 'static,
) -> Bad {
    Bad {
        name: name.to_string(),
        target,
        make: Box::new(make),
        cmds: cmds.to_vec(),
    }
}

const KLINE_CMDS: &[Cmd] = &[Cmd::Run, Cmd::Check, Cmd::Inspect, Cmd::Explore, Cmd::Sweep];
const MARK_CMDS: &[Cmd] = &[Cmd::Run, Cmd::Check, Cmd::Inspect, Cmd::Sweep];
const SIGNAL_CMDS: &[Cmd] = &[Cmd::Run, Cmd::Check, Cmd::Sweep];
const SCENARIO_CMDS: &[Cmd] = &[Cmd::Run, Cmd::Check, Cmd::Sweep];

/// A kline file with one field of one row replaced; the error must name `line`/`field`.
fn kline_field(name: &str, k: usize, col: usize, v: &'static str, field: &'static str) -> Bad {
    bad(name, Target::Klines, KLINE_CMDS, move |fx| {
        let p = fx.input(K);
        fs::write(&p, klines_with(k, col, v)).unwrap();
        let want = format!("{}:{}: field `{field}`", p.display(), k + 2);
        (p, want)
    })
}

/// A kline file given as `text`; the error must contain `PATH` + `suffix`.
fn kline_text(name: &str, text: String, suffix: String) -> Bad {
    bad(name, Target::Klines, KLINE_CMDS, move |fx| {
        let p = fx.input(K);
        fs::write(&p, &text).unwrap();
        (p.clone(), format!("{}{suffix}", p.display()))
    })
}

fn mark_text(name: &str, text: String, suffix: &'static str) -> Bad {
    bad(name, Target::Mark, MARK_CMDS, move |fx| {
        let p = fx.input(M);
        fs::write(&p, &text).unwrap();
        (p.clone(), format!("{}{suffix}", p.display()))
    })
}

fn funding_text(name: &str, text: &'static str, suffix: &'static str) -> Bad {
    bad(name, Target::Funding, MARK_CMDS, move |fx| {
        let p = fx.input(F);
        fs::write(&p, text).unwrap();
        (p.clone(), format!("{}{suffix}", p.display()))
    })
}

fn signals_text(name: &str, text: &'static [u8], suffix: &'static str) -> Bad {
    bad(name, Target::Signals, SIGNAL_CMDS, move |fx| {
        let p = fx.input(S);
        fs::write(&p, text).unwrap();
        (p.clone(), format!("{}{suffix}", p.display()))
    })
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().expect("mkfifo");
    assert!(st.success(), "mkfifo {}", p.display());
}

/// A sparse file of `len` bytes (no disk space used).
fn sparse(p: &Path, len: u64) {
    let f = fs::File::create(p).unwrap();
    f.set_len(len).unwrap();
}

// --- zips ------------------------------------------------------------------------------------

/// A zip with one member holding `data` compressed with `method` (0 stored, 8 deflate), whose
/// headers declare `crc` and `uncompressed` bytes (true or not).
fn zip_raw(member: &str, method: u16, crc: u32, data: &[u8], uncompressed: u32) -> Vec<u8> {
    let name = member.as_bytes();
    let (time, date) = (0u16, (44u16 << 9) | (1 << 5) | 1); // 2024-01-01
    let mut z = Vec::new();
    z.extend_from_slice(b"PK\x03\x04");
    for v in [20u16, 0, method, time, date] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    for v in [crc, data.len() as u32, uncompressed] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    z.extend_from_slice(&(name.len() as u16).to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z.extend_from_slice(name);
    z.extend_from_slice(data);
    let cd = z.len() as u32;
    z.extend_from_slice(b"PK\x01\x02");
    for v in [20u16, 20, 0, method, time, date] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    for v in [crc, data.len() as u32, uncompressed] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    for v in [name.len() as u16, 0, 0, 0, 0] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    z.extend_from_slice(&0u32.to_le_bytes()); // external attributes
    z.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    z.extend_from_slice(name);
    let cd_size = z.len() as u32 - cd;
    z.extend_from_slice(b"PK\x05\x06");
    for v in [0u16, 0, 1, 1] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    z.extend_from_slice(&cd_size.to_le_bytes());
    z.extend_from_slice(&cd.to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z
}

/// A real zip bomb: `mib` MiB of zeros as raw deflate (one sync-flushed 1 MiB block sequence,
/// repeated: about 1 KB per MiB), declaring `declared` inflated bytes, with the true CRC.
fn zip_bomb(member: &str, mib: u32, declared: u32) -> Vec<u8> {
    let zeros = vec![0u8; 1 << 20];
    let mut c = flate2::Compress::new(flate2::Compression::best(), false);
    let mut chunk = Vec::with_capacity(1 << 16);
    c.compress_vec(&zeros, &mut chunk, flate2::FlushCompress::Sync)
        .expect("deflate");
    assert_eq!(c.total_in(), 1 << 20);
    let mut data = Vec::with_capacity(chunk.len() * mib as usize + 2);
    let mut h = crc32fast::Hasher::new();
    for _ in 0..mib {
        data.extend_from_slice(&chunk);
        h.update(&zeros);
    }
    data.extend_from_slice(&[0x03, 0x00]); // an empty final fixed-Huffman block
    zip_raw(member, 8, h.finalize(), &data, declared)
}

/// A proper zip of `members` written by the zip crate.
fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in members {
        z.start_file(*name, o).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

fn zip_case(
    name: &str,
    make: impl Fn() -> Vec<u8> + Send + Sync + 'static,
    suffix: &'static str,
) -> Bad {
    bad(name, Target::Klines, KLINE_CMDS, move |fx| {
        let p = fx.input("AVAXUSDT-1m-2026-02.zip");
        fs::write(&p, make()).unwrap();
        (p.clone(), format!("{}{suffix}", p.display()))
    })
}

/// Every bad input of the table.
fn table() -> Vec<Bad> {
    let mut v: Vec<Bad> = Vec::with_capacity(128);
    // klines: values
    v.push(kline_field("negative open", 4, 1, "-10.1", "open"));
    v.push(kline_field("zero open", 5, 1, "0", "open"));
    v.push(kline_field("zero close", 6, 4, "0.0", "close"));
    v.push(kline_field("negative low", 7, 3, "-1", "low"));
    v.push(kline_field("negative volume", 8, 5, "-38521", "volume"));
    v.push(kline_field(
        "negative quote volume",
        9,
        7,
        "-1.5",
        "quote_volume",
    ));
    v.push(kline_field(
        "negative taker volume",
        10,
        9,
        "-3",
        "taker_buy_volume",
    ));
    v.push(kline_field(
        "negative taker quote volume",
        11,
        10,
        "-3",
        "taker_buy_quote_volume",
    ));
    v.push(kline_field("negative count", 12, 8, "-5", "count"));
    v.push(kline_field("letters in high", 13, 2, "x", "high"));
    v.push(kline_field("nine decimals", 14, 2, "10.123456789", "high"));
    v.push(kline_field(
        "price beyond i64",
        15,
        2,
        "92233720369",
        "high",
    ));
    v.push(kline_field(
        "14-digit open time",
        16,
        0,
        "17699040000000",
        "open_time",
    ));
    v.push(kline_field(
        "close time of another interval",
        17,
        6,
        "1769904059998",
        "close_time",
    ));
    v.push(kline_field("high below low", 18, 2, "1.0", "high"));
    v.push(kline_field("low above high", 19, 3, "99", "high"));
    v.push(kline_field("empty low", 20, 3, "", "low"));
    {
        let (h, mut r) = rows(KLINES, 60);
        r[21] = r[20].clone();
        v.push(kline_text(
            "duplicate row",
            join(&h, &r),
            ":23: field `open_time`".into(),
        ));
        let (h, mut r) = rows(KLINES, 60);
        r.swap(30, 31);
        v.push(kline_text(
            "rows out of order",
            join(&h, &r),
            ":33: field `open_time`".into(),
        ));
        let (h, mut r) = rows(KLINES, 60);
        r[24] = r[24].rsplit_once(',').unwrap().0.to_string();
        v.push(kline_text(
            "eleven columns",
            join(&h, &r),
            ":26: field `row`".into(),
        ));
        let (h, mut r) = rows(KLINES, 60);
        r.insert(10, String::new());
        v.push(kline_text(
            "empty line inside",
            join(&h, &r),
            ":12: field `row`".into(),
        ));
        let (h, mut r) = rows(KLINES, 60);
        r[3] = "\u{0}\u{1}\u{2}garbage\u{7f}".into();
        v.push(kline_text(
            "binary garbage row",
            join(&h, &r),
            ":5: field `".into(),
        ));
        let (h, mut r) = rows(KLINES, 60);
        r[40] = r[40].replacen(',', ";", 3);
        v.push(kline_text(
            "semicolons",
            join(&h, &r),
            ":42: field `".into(),
        ));
        let (h, mut r) = rows(KLINES, 60);
        r[2] = r[2].replace(',', ",\r");
        v.push(kline_text(
            "carriage returns inside a row",
            join(&h, &r),
            ":4: field `".into(),
        ));
        let (h, _) = rows(KLINES, 0);
        let text = join(&h, &[]);
        // (inspect reports an empty file as 0 rows: not an error)
        v.push(bad(
            "header only",
            Target::Klines,
            &[Cmd::Run, Cmd::Check, Cmd::Explore, Cmd::Sweep],
            move |fx| {
                let p = fx.input(K);
                fs::write(&p, &text).unwrap();
                (p.clone(), format!("{}: holds no klines", p.display()))
            },
        ));
    }
    // mark-price klines
    v.push(mark_text(
        "mark negative open",
        mark_with(1, 1, "-10.1"),
        ":3: field `open`",
    ));
    v.push(mark_text(
        "mark zero low",
        mark_with(0, 3, "0"),
        ":2: field `low`",
    ));
    v.push(mark_text(
        "mark negative close",
        mark_with(2, 4, "-10.16"),
        ":4: field `close`",
    ));
    v.push(mark_text(
        "mark letters",
        mark_with(1, 4, "ten"),
        ":3: field `close`",
    ));
    v.push(mark_text(
        "mark seven columns",
        mark_with(2, 5, "0,1"),
        ":4: field `row`",
    ));
    // funding
    v.push(funding_text(
        "funding rate 0.5",
        "fundingTime,fundingRate\n1769904000000,0.0001\n1769932800000,0.5\n",
        ":3: field `fundingRate`",
    ));
    v.push(funding_text(
        "funding rate -0.2",
        "fundingTime,fundingRate\n1769904000000,-0.2\n",
        ":2: field `fundingRate`",
    ));
    v.push(funding_text(
        "funding rate as percent",
        "fundingTime,fundingRate\n1769904000000,0.01\n1769932800000,1.5\n",
        ":3: field `fundingRate`",
    ));
    v.push(funding_text(
        "funding rate letters",
        "fundingTime,fundingRate\n1769904000000,abc\n",
        ":2: field `fundingRate`",
    ));
    v.push(funding_text(
        "funding interval 0 h",
        "calc_time,funding_interval_hours,last_funding_rate\n1769904000000,0,0.0001\n",
        ":2: field `funding_interval_hours`",
    ));
    v.push(funding_text("funding interval 99 h", "calc_time,funding_interval_hours,last_funding_rate\n1769904000000,8,0.0001\n1769932800000,99,0.0001\n", ":3: field `funding_interval_hours`"));
    v.push(funding_text(
        "funding duplicate time",
        "fundingTime,fundingRate\n1769904000000,0.0001\n1769904000000,0.0001\n",
        ":3: field `fundingTime`",
    ));
    v.push(funding_text(
        "funding bad header",
        "when,how_much\n1769904000000,0.0001\n",
        ":1: field `header`",
    ));
    // signals CSV
    v.push(signals_text(
        "signal negative quantity",
        b"time,action,quantity\n2026-02-01T00:10,buy,1\n2026-02-01T00:20,sell,-1\n",
        ":3: field `quantity`",
    ));
    v.push(signals_text(
        "signal zero quantity",
        b"time,action,quantity\n2026-02-01T00:10,buy,0\n",
        ":2: field `quantity`",
    ));
    v.push(signals_text(
        "signal huge quantity",
        b"time,action,quantity\n2026-02-01T00:10,buy,79228162514264337593543950335\n",
        ":2: field `quantity`",
    ));
    v.push(signals_text(
        "signal unknown action",
        b"time,action,quantity\n2026-02-01T00:10,BUY!,1\n",
        ":2: field `action`",
    ));
    v.push(signals_text(
        "signal empty action",
        b"time,action,quantity\n2026-02-01T00:10,,1\n",
        ":2: field `action`",
    ));
    v.push(signals_text(
        "signal 30 February",
        b"time,action\n2026-02-01T00:10,buy\n2026-02-30T01:00,buy\n",
        ":3: field `time`",
    ));
    v.push(signals_text(
        "signal time in seconds",
        b"time,action\n1769904600,buy\n",
        ":2: field `time`",
    ));
    v.push(signals_text(
        "signal time in words",
        b"time,action\nsoon,buy\n",
        ":2: field `time`",
    ));
    v.push(signals_text(
        "signal empty time",
        b"time,action\n,buy\n",
        ":2: field `time`",
    ));
    v.push(signals_text(
        "signal sl_pct 1.5",
        b"time,action,sl_pct\n2026-02-01T00:10,buy,1.5\n",
        ":2: field `sl_pct`",
    ));
    v.push(signals_text(
        "signal negative tp_pct",
        b"time,action,tp_pct\n2026-02-01T00:10,buy,-0.1\n",
        ":2: field `tp_pct`",
    ));
    v.push(signals_text(
        "signal negative stop",
        b"time,action,stop_loss\n2026-02-01T00:10,buy,-5\n",
        ":2: field `stop_loss`",
    ));
    v.push(signals_text(
        "signal zero take profit",
        b"time,action,take_profit\n2026-02-01T00:10,buy,0\n",
        ":2: field `take_profit`",
    ));
    v.push(signals_text(
        "signal confidence 2",
        b"time,action,confidence\n2026-02-01T00:10,buy,2\n",
        ":2: field `confidence`",
    ));
    v.push(signals_text(
        "signal quantity letters",
        b"time,action,quantity\n2026-02-01T00:10,buy,ten\n",
        ":2: field `quantity`",
    ));
    v.push(signals_text(
        "signal unknown column",
        b"time,action,qty\n2026-02-01T00:10,buy,1\n",
        ":1: field `header`",
    ));
    v.push(signals_text(
        "signal no time column",
        b"action,quantity\nbuy,1\n",
        ":1: field `header`",
    ));
    v.push(signals_text(
        "signal column twice",
        b"time,action,time\n2026-02-01T00:10,buy,2026-02-01T00:10\n",
        ":1: field `header`",
    ));
    v.push(signals_text(
        "signal short row",
        b"time,action,quantity\n2026-02-01T00:10,buy,1\n2026-02-01T00:20,buy\n",
        ":3: field `row`",
    ));
    v.push(signals_text("signal empty file", b"", ":1: field `header`"));
    v.push(signals_text(
        "signal after blank lines",
        b"time,action,quantity\n\n2026-02-01T00:10,buy,1\n\n\n2026-02-01T00:20,buy,-1\n",
        ":6: field `quantity`",
    ));
    v.push(signals_text("signal after a quoted line break", b"time,action,quantity,strategy\n2026-02-01T00:10,buy,1,\"two\nlines\"\n2026-02-01T00:20,buy,-1,x\n", ":4: field `quantity`"));
    v.push(signals_text(
        "signal with BOM and CRLF",
        b"\xEF\xBB\xBFtime,action,quantity\r\n2026-02-01T00:10,buy,1\r\n2026-02-01T00:20,buy,0\r\n",
        ":3: field `quantity`",
    ));
    v.push(signals_text(
        "signal not UTF-8",
        b"time,action,strategy\n2026-02-01T00:10,buy,ok\n2026-02-01T00:20,buy,\xff\xfe\n",
        ":3: field `strategy`",
    ));
    // zips
    v.push(zip_case(
        "zip bomb lying about its size (64 MiB of zeros declared as 1000 bytes)",
        || zip_bomb(K, 64, 1000),
        ": zip: AVAXUSDT-1m-2026-02.csv: inflates to more than the 1000 bytes it declares",
    ));
    v.push(zip_case(
        "zip bomb of 2 GiB declaring it",
        || {
            static BOMB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
            BOMB.get_or_init(|| zip_bomb(K, 2048, 2048 << 20)).clone()
        },
        ": zip: AVAXUSDT-1m-2026-02.csv: declares 2 GiB inflated, more than the 1 GiB limit",
    ));
    v.push(zip_case(
        "zip with two CSV members",
        || {
            let (h, r) = rows(KLINES, 5);
            let t = join(&h, &r);
            zip_of(&[(K, t.as_bytes()), ("AVAXUSDT-1m-2026-03.csv", t.as_bytes())])
        },
        ": zip: holds more than one .csv member",
    ));
    v.push(zip_case(
        "zip without a CSV member",
        || zip_of(&[("readme.txt", b"hello")]),
        ": zip: holds no .csv member",
    ));
    v.push(zip_case(
        "zip of 2000 members",
        || {
            let names: Vec<String> = (0..2000).map(|i| format!("n{i}.txt")).collect();
            let members: Vec<(&str, &[u8])> =
                names.iter().map(|n| (n.as_str(), &b""[..])).collect();
            zip_of(&members)
        },
        ": zip: lists 2000 members, more than 1000",
    ));
    v.push(zip_case(
        "junk named .zip",
        || b"PK\x03\x04 this is no archive".to_vec(),
        ": zip: ",
    ));
    v.push(zip_case(
        "truncated zip",
        || {
            let (h, r) = rows(KLINES, 60);
            let z = zip_of(&[(K, join(&h, &r).as_bytes())]);
            z[..z.len() / 2].to_vec()
        },
        ": zip: ",
    ));
    v.push(zip_case(
        "zip with damaged deflate data",
        || {
            let (h, r) = rows(KLINES, 60);
            let t = join(&h, &r);
            let mut z = zip_of(&[(K, t.as_bytes())]);
            // member data start after the 30-byte local header and the name
            let at = 30 + K.len() + 40;
            for b in &mut z[at..at + 64] {
                *b ^= 0x5A;
            }
            z
        },
        ": zip: AVAXUSDT-1m-2026-02.csv: ",
    ));
    v.push(zip_case(
        "zip holding a negative price",
        || zip_of(&[(K, klines_with(4, 1, "-1").as_bytes())]),
        "!AVAXUSDT-1m-2026-02.csv:6: field `open`",
    ));
    v.push(zip_case(
        "stored zip member longer than declared",
        || {
            let (h, r) = rows(KLINES, 60);
            let t = join(&h, &r);
            zip_raw(K, 0, 0, t.as_bytes(), 100)
        },
        ": zip: ",
    ));
    // klines: the kind and size of the path
    v.push(bad("klines are a FIFO", Target::Klines, KLINE_CMDS, |fx| {
        let p = fx.input("AVAXUSDT-1m-2026-03.csv");
        mkfifo(&p);
        (
            p.clone(),
            format!("{}: not a regular file (a FIFO)", p.display()),
        )
    }));
    v.push(bad(
        "a FIFO inside a data folder",
        Target::Klines,
        KLINE_CMDS,
        |fx| {
            let d = fx.input("months");
            fs::create_dir_all(&d).unwrap();
            fs::copy(fx.input(K), d.join(K)).unwrap();
            let p = d.join("AVAXUSDT-1m-2026-03.csv");
            mkfifo(&p);
            (d, format!("{}: not a regular file (a FIFO)", p.display()))
        },
    ));
    v.push(bad(
        "a folder named .csv inside a data folder",
        Target::Klines,
        KLINE_CMDS,
        |fx| {
            let d = fx.input("months");
            fs::create_dir_all(d.join("AVAXUSDT-1m-2026-03.csv")).unwrap();
            fs::copy(fx.input(K), d.join(K)).unwrap();
            (
                d.clone(),
                format!(
                    "{}: not a regular file (a directory)",
                    d.join("AVAXUSDT-1m-2026-03.csv").display()
                ),
            )
        },
    ));
    v.push(bad(
        "an empty data folder",
        Target::Klines,
        KLINE_CMDS,
        |fx| {
            let d = fx.input("empty");
            fs::create_dir_all(&d).unwrap();
            (
                d.clone(),
                format!("{}: directory holds no *.csv or *.zip file", d.display()),
            )
        },
    ));
    v.push(bad(
        "klines are /dev/zero",
        Target::Klines,
        KLINE_CMDS,
        |_| {
            (
                PathBuf::from("/dev/zero"),
                "/dev/zero: not a regular file (a character device)".into(),
            )
        },
    ));
    v.push(bad(
        "klines are /dev/null",
        Target::Klines,
        KLINE_CMDS,
        |_| {
            (
                PathBuf::from("/dev/null"),
                "/dev/null: not a regular file (a character device)".into(),
            )
        },
    ));
    v.push(bad(
        "klines are a socket",
        Target::Klines,
        KLINE_CMDS,
        |fx| {
            let p = fx.input("sock");
            drop(std::os::unix::net::UnixListener::bind(&p).unwrap()); // the socket file stays
            (
                p.clone(),
                format!("{}: not a regular file (a socket)", p.display()),
            )
        },
    ));
    v.push(bad(
        "klines are missing",
        Target::Klines,
        KLINE_CMDS,
        |fx| {
            let p = fx.input("AVAXUSDT-1m-2019-01.csv");
            (p.clone(), format!("{}: ", p.display()))
        },
    ));
    v.push(bad(
        "a kline file over 1 GiB",
        Target::Klines,
        KLINE_CMDS,
        |fx| {
            let p = fx.input("AVAXUSDT-1m-2026-04.csv");
            sparse(&p, (1 << 30) + 1);
            (
                p.clone(),
                format!(
                    "{}: larger than the 1 GiB limit for a data file (1073741825 bytes",
                    p.display()
                ),
            )
        },
    ));
    v.push(bad(
        "mark klines are a FIFO",
        Target::Mark,
        MARK_CMDS,
        |fx| {
            let p = fx.input("AVAXUSDT-1h-2026-03.csv");
            mkfifo(&p);
            (
                p.clone(),
                format!("{}: not a regular file (a FIFO)", p.display()),
            )
        },
    ));
    v.push(bad("funding is a FIFO", Target::Funding, MARK_CMDS, |fx| {
        let p = fx.input("AVAXUSDT-fundingRate-2026-03.csv");
        mkfifo(&p);
        (
            p.clone(),
            format!("{}: not a regular file (a FIFO)", p.display()),
        )
    }));
    v.push(bad(
        "funding is /dev/zero",
        Target::Funding,
        MARK_CMDS,
        |_| {
            (
                PathBuf::from("/dev/zero"),
                "/dev/zero: not a regular file (a character device)".into(),
            )
        },
    ));
    v.push(bad(
        "signals CSV is a FIFO",
        Target::Signals,
        SIGNAL_CMDS,
        |fx| {
            let p = fx.input("fifo-signals.csv");
            mkfifo(&p);
            (
                p.clone(),
                format!("{}: not a regular file (a FIFO)", p.display()),
            )
        },
    ));
    v.push(bad(
        "signals CSV is a directory",
        Target::Signals,
        SIGNAL_CMDS,
        |fx| {
            let p = fx.input("signals-dir");
            fs::create_dir_all(&p).unwrap();
            (
                p.clone(),
                format!("{}: not a regular file (a directory)", p.display()),
            )
        },
    ));
    v.push(bad(
        "signals CSV is /dev/zero",
        Target::Signals,
        SIGNAL_CMDS,
        |_| {
            (
                PathBuf::from("/dev/zero"),
                "/dev/zero: not a regular file (a character device)".into(),
            )
        },
    ));
    v.push(bad(
        "signals CSV over 256 MiB",
        Target::Signals,
        SIGNAL_CMDS,
        |fx| {
            let p = fx.input("big-signals.csv");
            sparse(&p, (256 << 20) + 1);
            (
                p.clone(),
                format!(
                    "{}: larger than the 256 MiB limit for a signals CSV",
                    p.display()
                ),
            )
        },
    ));
    // the scenario and sweep files themselves
    v.push(bad(
        "scenario is a FIFO",
        Target::Scenario,
        SCENARIO_CMDS,
        |fx| {
            let p = fx.scenario();
            let _ = fs::remove_file(&p);
            mkfifo(&p);
            (
                p.clone(),
                format!(
                    "{}: is not a regular file (a FIFO, socket or device)",
                    p.display()
                ),
            )
        },
    ));
    v.push(bad(
        "scenario is a directory",
        Target::Scenario,
        SCENARIO_CMDS,
        |fx| {
            let p = fx.scenario();
            let _ = fs::remove_file(&p);
            fs::create_dir_all(&p).unwrap();
            (
                p.clone(),
                format!("{}: is a folder; give a regular .toml file", p.display()),
            )
        },
    ));
    v.push(bad(
        "scenario over 16 MiB",
        Target::Scenario,
        SCENARIO_CMDS,
        |fx| {
            let p = fx.scenario();
            sparse(&p, (16 << 20) + 1);
            (
                p.clone(),
                format!(
                    "{}: is 16777217 bytes, more than the 16777216-byte limit for a scenario",
                    p.display()
                ),
            )
        },
    ));
    v.push(bad(
        "scenario is not UTF-8",
        Target::Scenario,
        SCENARIO_CMDS,
        |fx| {
            let p = fx.scenario();
            fs::write(&p, b"name = \"x\"\n[data]\nklines = [\"\xff\"]\n").unwrap();
            (p.clone(), format!("{}:3: is not UTF-8 text", p.display()))
        },
    ));
    v.push(bad(
        "sweep file is a FIFO",
        Target::Sweep,
        &[Cmd::Sweep],
        |fx| {
            let p = fx.sweep();
            let _ = fs::remove_file(&p);
            mkfifo(&p);
            (
                p.clone(),
                format!(
                    "{}: is not a regular file (a FIFO, socket or device)",
                    p.display()
                ),
            )
        },
    ));
    v.push(bad(
        "sweep file is /dev/zero",
        Target::Sweep,
        &[Cmd::Sweep],
        |fx| {
            let p = fx.sweep();
            let _ = fs::remove_file(&p);
            std::os::unix::fs::symlink("/dev/zero", &p).unwrap();
            (
                p.clone(),
                format!(
                    "{}: is not a regular file (a FIFO, socket or device)",
                    p.display()
                ),
            )
        },
    ));
    v.push(bad(
        "a sweep part to merge is a FIFO",
        Target::Sweep,
        &[Cmd::Merge],
        |fx| {
            let p = fx.input("part.csv");
            mkfifo(&p);
            (
                p.clone(),
                format!("{}: not a regular file (a FIFO)", p.display()),
            )
        },
    ));
    v
}

/// One planned run.
struct Planned {
    bad: usize,
    cmd: Cmd,
}

struct Outcome {
    label: String,
    problems: Vec<String>,
    elapsed: Duration,
}

fn run_one(b: &Bad, cmd: Cmd) -> Outcome {
    let label = format!("{} / {cmd:?}", b.name);
    let fx = Fx::new(&format!("{cmd:?}"));
    fx.write_scenario(K, None, None, None);
    let (path, want) = (b.make)(&fx);
    let ps = path.display().to_string();
    match b.target {
        Target::Klines => fx.write_scenario(&ps, None, None, None),
        Target::Mark => fx.write_scenario(K, Some(&ps), None, None),
        Target::Funding => fx.write_scenario(K, None, Some(&ps), None),
        Target::Signals => fx.write_scenario(K, None, None, Some(&ps)),
        Target::Scenario | Target::Sweep => {}
    }
    // a scenario that is not a scenario file any more: keep what make() put there
    let before = snapshot(&fx.root);
    let args = fx.args(cmd, &path);
    let (code, _stdout, stderr, elapsed) = sim(&args);
    let mut problems = Vec::new();
    if code.is_none() {
        problems.push(format!("killed after {CASE_LIMIT:?}: a hang"));
    } else if code != Some(2) {
        problems.push(format!("exit {code:?}, expected 2"));
    }
    let lines: Vec<&str> = stderr.lines().collect();
    if lines.len() != 1 {
        problems.push(format!("{} stderr lines, expected 1", lines.len()));
    }
    let line = lines.first().copied().unwrap_or("");
    if !line.starts_with("sim: error: ") {
        problems.push("stderr does not start with `sim: error: `".into());
    }
    if !line.contains(&want) {
        problems.push(format!("the error line lacks {want:?}"));
    }
    if line.contains(":0:") || line.contains("line 0") {
        problems.push("the error line cites line 0".into());
    }
    if b.target == Target::Signals && line.contains("s.toml") {
        problems.push("a signals CSV error names the scenario".into());
    }
    for bad_text in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        if stderr.contains(bad_text) {
            problems.push(format!("panic text `{bad_text}`"));
        }
    }
    let after = snapshot(&fx.root);
    if before != after {
        let changed: Vec<&PathBuf> = before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .collect();
        problems.push(format!("user files changed: {changed:?}"));
    }
    if cmd == Cmd::Run && fx.out().exists() {
        problems.push("a failed run left a report".into());
    }
    if !problems.is_empty() {
        problems.push(format!("stderr: {stderr:?}"));
    }
    Outcome {
        label,
        problems,
        elapsed,
    }
}

/// Runs `jobs` on a few threads; returns the outcomes in job order.
fn run_all<T: Sync>(jobs: &[T], f: impl Fn(&T) -> Outcome + Sync) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(job) = jobs.get(i) else { break };
                let o = f(job);
                results.lock().unwrap().push((i, o));
            });
        }
    });
    let mut r = results.into_inner().unwrap();
    r.sort_by_key(|(i, _)| *i);
    r.into_iter().map(|(_, o)| o).collect()
}

fn report(outcomes: &[Outcome], t0: Instant) {
    let slowest = outcomes.iter().max_by_key(|o| o.elapsed);
    eprintln!(
        "{} runs in {:.1} s; slowest: {:?}",
        outcomes.len(),
        t0.elapsed().as_secs_f64(),
        slowest.map(|o| (&o.label, o.elapsed))
    );
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.problems.is_empty())
        .map(|o| format!("{}:\n    {}", o.label, o.problems.join("\n    ")))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} runs failed:\n{}",
        failed.len(),
        outcomes.len(),
        failed.join("\n")
    );
}

#[test]
fn every_hostile_data_input_is_refused_in_one_line_with_exit_2_and_touches_nothing() {
    let t0 = Instant::now();
    let table = table();
    assert!(table.len() >= 60, "{} bad inputs", table.len());
    let plan: Vec<Planned> = table
        .iter()
        .enumerate()
        .flat_map(|(i, b)| b.cmds.iter().map(move |&cmd| Planned { bad: i, cmd }))
        .collect();
    let outcomes = run_all(&plan, |p| run_one(&table[p.bad], p.cmd));
    report(&outcomes, t0);
}

#[test]
fn the_untouched_fixture_is_accepted_by_every_command() {
    let fx = Fx::new("ok");
    fx.write_scenario(K, Some(M), Some(F), Some(S));
    let s = |p: &Path| p.display().to_string();
    for args in [
        fx.args(Cmd::Check, &fx.input(K)),
        fx.args(Cmd::Inspect, &fx.input(K)),
        fx.args(Cmd::Inspect, &fx.input(M)),
        fx.args(Cmd::Inspect, &fx.input(F)),
        vec![
            "run".into(),
            s(&fx.scenario()),
            "--out".into(),
            s(&fx.out()),
            "--quiet".into(),
        ],
    ] {
        let (code, out, err, _) = sim(&args);
        assert_eq!(code, Some(0), "{args:?}: {out}{err}");
        assert!(
            err.is_empty(),
            "{args:?}: no warning for gap-free data: {err}"
        );
    }
    // the zips the bad cases break are fine when whole
    let (h, r) = rows(KLINES, 60);
    let z = fx.input("AVAXUSDT-1m-2026-02.zip");
    fs::write(&z, zip_of(&[(K, join(&h, &r).as_bytes())])).unwrap();
    let (code, out, err, _) = sim(&fx.args(Cmd::Inspect, &z));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("rows      : 60"), "{out}");
    // and a small honest bomb is only a CSV of NUL bytes: refused as a row, not as memory
    fs::write(&z, zip_bomb(K, 1, 1 << 20)).unwrap();
    let (code, _, err, _) = sim(&fx.args(Cmd::Inspect, &z));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("!AVAXUSDT-1m-2026-02.csv:1: field `"), "{err}");
}

// --- gaps ------------------------------------------------------------------------------------

#[test]
fn a_missing_stretch_of_klines_is_named_by_check_and_run_and_listed_in_the_report() {
    let fx = Fx::new("gaps");
    let (h, mut r) = rows(KLINES, 60);
    r.drain(20..30); // 00:20 .. 00:29 missing
    fs::write(fx.input(K), join(&h, &r)).unwrap();
    fx.write_scenario(K, None, None, None);
    let mut text = fs::read_to_string(fx.scenario()).unwrap();
    text = text.replace(
        "[data]\n",
        "[data]\nfrom = \"2026-02-01\"\nto = \"2026-02-01T01:05\"\n",
    );
    fs::write(fx.scenario(), &text).unwrap();
    let sc = fx.scenario().display().to_string();
    let gap = "klines: 10 missing 1m bars from 2026-02-01 00:20 to 2026-02-01 00:29 UTC";
    let tail = "klines: 5 missing 1m bars from 2026-02-01 01:00 to 2026-02-01 01:04 UTC after the last bar";
    let (code, out, err, _) = sim(&fx.args(Cmd::Check, &fx.scenario()));
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        err,
        format!("sim: warning: {sc}: {gap}\nsim: warning: {sc}: {tail}\n")
    );
    let (code, out, err, _) = sim(&fx.args(Cmd::Run, &fx.scenario()));
    assert!(matches!(code, Some(0 | 1)), "{out}{err}");
    assert_eq!(
        err,
        format!("sim: warning: {sc}: {gap}\nsim: warning: {sc}: {tail}\n")
    );
    let md = fs::read_to_string(fx.out().join("report.md")).unwrap();
    assert!(
        md.contains(&format!("## Data warnings\n\n- {gap}\n- {tail}\n")),
        "{md}"
    );
    let html = fs::read_to_string(fx.out().join("report.html")).unwrap();
    assert!(
        html.contains(&format!("<h2>Data warnings</h2>\n<ul>\n<li>{gap}</li>")),
        "{html}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(fx.out().join("summary.json")).unwrap()).unwrap();
    assert_eq!(json["data_warnings"], serde_json::json!([gap, tail]));
    // without the gap: no warning, no section, no key
    let (h, r) = rows(KLINES, 60);
    fs::write(fx.input(K), join(&h, &r)).unwrap();
    fs::write(fx.scenario(), text.replace("T01:05", "T01:00")).unwrap();
    let (code, out, err, _) = sim(&fx.args(Cmd::Run, &fx.scenario()));
    assert!(matches!(code, Some(0 | 1)), "{out}{err}");
    assert!(err.is_empty(), "{err}");
    let md = fs::read_to_string(fx.out().join("report.md")).unwrap();
    assert!(!md.contains("Data warnings"));
    let json = fs::read_to_string(fx.out().join("summary.json")).unwrap();
    assert!(!json.contains("data_warnings"));
}

#[test]
fn gaps_in_mark_klines_are_named_too() {
    let fx = Fx::new("mark-gaps");
    let (h, mut r) = rows(MARK, 5);
    r.remove(2); // 02:00 missing
    fs::write(fx.input(M), join(&h, &r)).unwrap();
    fx.write_scenario(K, Some(M), None, None);
    let (code, out, err, _) = sim(&fx.args(Cmd::Check, &fx.scenario()));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        err.ends_with(
            "mark klines: 1 missing 1h bar from 2026-02-01 02:00 to 2026-02-01 02:00 UTC\n"
        ),
        "{err}"
    );
}

// --- downloads from a slow or broken loopback server ------------------------------------------

const DAY: &str = "/data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-15.zip";

/// One download case: the server, extra set-up, extra arguments and what the error must contain.
struct Dl {
    name: &'static str,
    mode: Option<Mode>,
    setup: fn(&Fx),
    extra: &'static [&'static str],
    /// `{url}` is replaced by the archive's URL, `{out}` by the output folder.
    want: &'static str,
}

fn dl_table() -> Vec<Dl> {
    let zip = zip_of(&[("BTCUSDT-1m-2024-01-15.csv", b"x")]);
    let good_sum = format!("{}  BTCUSDT-1m-2024-01-15.zip\n", sha(&zip)).into_bytes();
    let routes = |sum: Vec<u8>| {
        Mode::Routes(vec![
            (DAY.to_string(), zip.clone()),
            (format!("{DAY}.CHECKSUM"), sum),
        ])
    };
    vec![
        Dl {
            name: "silent server",
            mode: Some(Mode::Silent),
            setup: |_| {},
            extra: &[],
            want: "{url}.CHECKSUM: the server was silent for 300 ms (idle timeout",
        },
        Dl {
            name: "body a byte at a time",
            mode: Some(Mode::DribbleBody),
            setup: |_| {},
            extra: &[],
            want: "{url}.CHECKSUM: not done within 1.5 s (total timeout",
        },
        Dl {
            name: "headers a byte at a time",
            mode: Some(Mode::DribbleHeaders),
            setup: |_| {},
            extra: &[],
            want: "{url}.CHECKSUM: not done within 1.5 s (total timeout",
        },
        Dl {
            name: "connection closed at once",
            mode: Some(Mode::Close),
            setup: |_| {},
            extra: &[],
            want: "{url}.CHECKSUM: ",
        },
        Dl {
            name: "nobody listening",
            mode: None,
            setup: |_| {},
            extra: &[],
            want: "{url}.CHECKSUM: ",
        },
        Dl {
            name: "404",
            mode: Some(Mode::Routes(Vec::new())),
            setup: |_| {},
            extra: &[],
            want: "{url}.CHECKSUM: HTTP 404 Not Found",
        },
        Dl {
            name: "checksum of another archive",
            mode: Some(routes(format!("{}  BTCUSDT-1m-2024-01-15.zip\n", sha(b"other")).into_bytes())),
            setup: |_| {},
            extra: &[],
            want: "{url}: sha256 mismatch",
        },
        Dl {
            name: "checksum naming a path outside",
            mode: Some(routes(format!("{}  ../../../etc/passwd\n", sha(&zip)).into_bytes())),
            setup: |_| {},
            extra: &[],
            want: "{url}.CHECKSUM: CHECKSUM names \"../../../etc/passwd\"",
        },
        Dl {
            name: "checksum file too large",
            mode: Some(routes(vec![b'a'; 5000])),
            setup: |_| {},
            extra: &[],
            want: "{url}.CHECKSUM: ",
        },
        Dl {
            name: "not a checksum file",
            mode: Some(routes(b"<html>hello</html>".to_vec())),
            setup: |_| {},
            extra: &[],
            want: "{url}.CHECKSUM: not a CHECKSUM file",
        },
        Dl {
            name: "a FIFO where the archive goes",
            mode: Some(routes(good_sum.clone())),
            setup: |fx| {
                let d = fx.out().join("klines/BTCUSDT/1m");
                fs::create_dir_all(&d).unwrap();
                mkfifo(&d.join("BTCUSDT-1m-2024-01-15.zip"));
            },
            extra: &[],
            want: "{out}/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-15.zip: not a regular file (a FIFO)",
        },
        Dl {
            name: "a folder where the archive goes",
            mode: Some(routes(good_sum.clone())),
            setup: |fx| {
                fs::create_dir_all(fx.out().join("klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-15.zip")).unwrap();
            },
            extra: &[],
            want: "{out}/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-15.zip: not a regular file (a directory)",
        },
        Dl {
            name: "zero idle timeout",
            mode: Some(Mode::Silent),
            setup: |_| {},
            extra: &["--idle-timeout", "0s"],
            want: "--idle-timeout `0s`: expected a positive duration",
        },
        Dl {
            name: "idle timeout in weeks",
            mode: Some(Mode::Silent),
            setup: |_| {},
            extra: &["--total-timeout", "2w"],
            want: "--total-timeout `2w`: expected a positive duration",
        },
    ]
}

#[test]
fn downloads_from_a_slow_or_broken_server_end_with_exit_2_and_a_message() {
    let t0 = Instant::now();
    let table = dl_table();
    let outcomes = run_all(&table, |d| {
        let fx = Fx::new("dl");
        let server = d.mode.clone().map(Server::start);
        let base = match &server {
            Some(s) => s.base.clone(),
            None => {
                // a port nobody listens on
                let l = TcpListener::bind("127.0.0.1:0").unwrap();
                let a = l.local_addr().unwrap();
                drop(l);
                format!("http://{a}")
            }
        };
        (d.setup)(&fx);
        let before = snapshot(&fx.root);
        let out = fx.out().display().to_string();
        let mut args: Vec<String> = [
            "data",
            "download",
            "BTCUSDT",
            "1m",
            "2024-01-15",
            "2024-01-15",
            "--base-url",
            base.as_str(),
            "--out",
            out.as_str(),
            "--connect-timeout",
            "1s",
            "--idle-timeout",
            "300ms",
            "--total-timeout",
            "1500ms",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for pair in d.extra.chunks(2) {
            match args.iter().position(|a| a == pair[0]) {
                Some(k) => args[k + 1] = pair[1].to_string(),
                None => args.extend(pair.iter().map(|s| s.to_string())),
            }
        }
        let (code, _, stderr, elapsed) = sim(&args);
        drop(server);
        let want = d
            .want
            .replace("{url}", &format!("{base}{DAY}"))
            .replace("{out}", &out);
        let mut problems = Vec::new();
        if code != Some(2) {
            problems.push(format!("exit {code:?}, expected 2"));
        }
        let lines: Vec<&str> = stderr.lines().collect();
        let errors: Vec<&&str> = lines
            .iter()
            .filter(|l| l.starts_with("sim: error: "))
            .collect();
        if errors.len() != 1 || !lines.last().is_some_and(|l| l.starts_with("sim: error: ")) {
            problems.push("expected one `sim: error:` line, last".into());
        }
        if !errors.first().is_some_and(|l| l.contains(&want)) {
            problems.push(format!("the error line lacks {want:?}"));
        }
        if stderr.contains("panicked") {
            problems.push("panic text".into());
        }
        if before != snapshot(&fx.root) {
            problems.push("user files changed".into());
        }
        let leftovers = walk_names(&fx.out());
        if leftovers.iter().any(|n| n.contains(".part")) {
            problems.push(format!("temp files left: {leftovers:?}"));
        }
        if elapsed > Duration::from_secs(5) {
            problems.push(format!("took {elapsed:?}: the timeouts did not hold"));
        }
        if !problems.is_empty() {
            problems.push(format!("stderr: {stderr:?}"));
        }
        Outcome {
            label: d.name.to_string(),
            problems,
            elapsed,
        }
    });
    report(&outcomes, t0);
}

fn walk_names(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.display().to_string());
            if fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
                out.extend(walk_names(&p));
            }
        }
    }
    out
}
