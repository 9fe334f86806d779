//! `sim serve` on loopback: requests per second over one keep-alive connection (a public ping, a
//! signed venue read), over four keep-alive connections at once (one client thread each), and the
//! cost of an `advance` with nothing due. The server is the real binary on `--port 0` (or the one
//! named by `OCOSIM_BENCH_SIM`, to compare two builds on the same client); the client is a
//! minimal blocking HTTP/1.1 client.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Keep-alive connections of the `*_4_connections` benches.
const CONNS: u64 = 4;

struct Conn(BufReader<TcpStream>);

impl Conn {
    fn call(&mut self, method: &str, target: &str, key: Option<&str>) -> u16 {
        let mut req = format!("{method} {target} HTTP/1.1\r\nHost: b\r\n");
        if let Some(k) = key {
            req.push_str("X-MBX-APIKEY: ");
            req.push_str(k);
            req.push_str("\r\n");
        }
        req.push_str("Content-Length: 0\r\n\r\n");
        self.0.get_mut().write_all(req.as_bytes()).unwrap();
        let mut line = String::new();
        self.0.read_line(&mut line).unwrap();
        let status: u16 = line[9..12].parse().unwrap();
        let mut len = 0;
        loop {
            line.clear();
            self.0.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut b = vec![0; len];
        self.0.read_exact(&mut b).unwrap();
        status
    }
}

impl Conn {
    fn open(addr: &str) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        Conn(BufReader::new(s))
    }
}

/// `iters` requests spread over [`CONNS`] connections, each on its own thread, all at once; the
/// wall time of the whole. The venue first moves to a new minute, and every 100th request of a
/// connection advances it another, so the request weight (2400 a minute) never runs out.
fn concurrent(addr: &str, iters: u64, target: &str, key: Option<&str>) -> Duration {
    let per = iters.div_ceil(CONNS);
    let mut conns: Vec<Conn> = (0..CONNS).map(|_| Conn::open(addr)).collect();
    assert_eq!(conns[0].call("POST", "/sim/v1/advance?by=60000", None), 200);
    let start = std::sync::Barrier::new(CONNS as usize + 1);
    std::thread::scope(|sc| {
        for c in conns.iter_mut() {
            let b = &start;
            sc.spawn(move || {
                b.wait();
                for i in 0..per {
                    if i % 100 == 99 {
                        assert_eq!(c.call("POST", "/sim/v1/advance?by=60000", None), 200);
                    } else {
                        assert_eq!(c.call("GET", target, key), 200);
                    }
                }
            });
        }
        start.wait();
        Instant::now()
    })
    .elapsed()
}

fn bench(c: &mut Criterion) {
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/oco-long-short-avax.toml"
    );
    let out = std::env::temp_dir().join(format!("ocosim-bench-serve-{}", std::process::id()));
    let bin =
        std::env::var("OCOSIM_BENCH_SIM").unwrap_or_else(|_| env!("CARGO_BIN_EXE_sim").into());
    let mut child = Command::new(bin)
        .args(["serve", scenario, "--port", "0", "--no-time-check", "--out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut so = BufReader::new(child.stdout.take().unwrap());
    let (mut addr, mut key, mut secret) = (String::new(), String::new(), String::new());
    loop {
        let mut l = String::new();
        so.read_line(&mut l).unwrap();
        let l = l.trim_end().to_string();
        if let Some(a) = l.strip_prefix("rest: http://") {
            addr = a.into();
        } else if let Some(k) = l.strip_prefix("api key: ") {
            key = k.into();
        } else if let Some(s) = l.strip_prefix("secret: ") {
            secret = s.into();
        } else if l == "ready" {
            break;
        }
    }
    let s = TcpStream::connect(&addr).unwrap();
    s.set_nodelay(true).unwrap();
    let mut conn = Conn(BufReader::new(s));
    let q = "symbol=AVAXUSDT&timestamp=1";
    let signed = format!(
        "/fapi/v1/openOrders?{q}&signature={}",
        ocosim::serve::auth::sign(&secret, q)
    );
    // request weight is counted per minute of venue time (2400): a minute passes every 2000 calls
    let mut n = 0u64;
    let mut tick = |conn: &mut Conn| {
        n += 1;
        if n % 2000 == 0 {
            assert_eq!(conn.call("POST", "/sim/v1/advance?by=60000", None), 200);
        }
    };
    let mut g = c.benchmark_group("serve");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ping_keepalive", |b| {
        b.iter(|| {
            tick(&mut conn);
            assert_eq!(conn.call("GET", "/fapi/v1/ping", None), 200)
        })
    });
    g.bench_function("signed_open_orders_keepalive", |b| {
        b.iter(|| {
            tick(&mut conn);
            assert_eq!(conn.call("GET", &signed, Some(&key)), 200)
        })
    });
    g.bench_function("advance_nothing_due", |b| {
        b.iter(|| assert_eq!(conn.call("POST", "/sim/v1/advance?by=1", None), 200))
    });
    g.bench_function("ping_4_connections", |b| {
        b.iter_custom(|iters| concurrent(&addr, iters, "/fapi/v1/ping", None))
    });
    g.bench_function("signed_open_orders_4_connections", |b| {
        b.iter_custom(|iters| concurrent(&addr, iters, &signed, Some(&key)))
    });
    g.finish();
    let _ = conn.call("POST", "/sim/v1/stop", None);
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&out);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
