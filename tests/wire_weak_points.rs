//! The real-engine traces of the weak-point scenarios (`tests/fixtures/wire/*/weak-points/`) say
//! what their table (`tests/fixtures/wire/weak-points.md`) says: every row has its trace, whose
//! header names a scenario that exists, whose request count is the row's, and whose recorded
//! server verdict and violation count are the row's; every trace has its row.

use flate2::read::GzDecoder;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One row of the table: W (or the file's name), release, requests, server column.
struct Row {
    w: String,
    release: String,
    requests: u64,
    server: String,
}

fn rows() -> Vec<Row> {
    let text = std::fs::read_to_string(root().join("tests/fixtures/wire/weak-points.md")).unwrap();
    text.lines()
        .filter(|l| l.starts_with("| W") && !l.starts_with("| W |"))
        .map(|l| {
            let c: Vec<&str> = l.split('|').map(str::trim).collect();
            Row {
                w: c[1].to_string(),
                release: c[2].to_string(),
                requests: c[3]
                    .replace(',', "")
                    .parse()
                    .unwrap_or_else(|_| panic!("{l}")),
                server: c[4].to_string(),
            }
        })
        .collect()
}

fn traces() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for rel in ["v1.1.78", "v1.1.80", "2026-08"] {
        let d = root()
            .join("tests/fixtures/wire")
            .join(rel)
            .join("weak-points");
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.to_str().unwrap().ends_with(".jsonl.gz") {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

/// Header, requests to `/fapi` and `/api`, and the `stop` answer's verdict and violations.
fn read_trace(p: &Path) -> (serde_json::Value, u64, String, u64) {
    let r = BufReader::new(GzDecoder::new(std::fs::File::open(p).unwrap()));
    let (mut header, mut n, mut stop_n) = (serde_json::Value::Null, 0, None);
    let mut verdict = (String::new(), 0);
    for l in r.lines() {
        let d: serde_json::Value = serde_json::from_str(&l.unwrap()).unwrap();
        if d.get("header").is_some() {
            header = d["header"].clone();
        } else if let Some(q) = d.get("req") {
            let path = q["path"].as_str().unwrap();
            if !path.starts_with("/sim/") {
                n += 1;
            }
            if path == "/sim/v1/stop" {
                stop_n = d["n"].as_u64();
            }
        } else if d.get("res").is_some() && d["n"].as_u64() == stop_n && stop_n.is_some() {
            let b = &d["res"]["body"];
            verdict = (
                b["verdict"].as_str().unwrap().to_string(),
                b["violations"].as_u64().unwrap(),
            );
        }
    }
    (header, n, verdict.0, verdict.1)
}

#[test]
fn every_weak_point_trace_matches_its_row() {
    let rows = rows();
    let traces = traces();
    assert!(traces.len() >= 10, "weak-point traces: {}", traces.len());
    assert_eq!(rows.len(), traces.len(), "one row per trace");
    for t in &traces {
        let release = t.parent().unwrap().parent().unwrap().file_name().unwrap();
        let release = release.to_str().unwrap();
        let stem = t
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches(".jsonl.gz");
        let w = stem.split('-').next().unwrap();
        // a row names its file (`W7-external-cancel`) where a release has two files of one W,
        // else the W alone
        let row = rows
            .iter()
            .find(|r| r.w == stem && r.release == release)
            .or_else(|| rows.iter().find(|r| r.w == w && r.release == release))
            .unwrap_or_else(|| panic!("no row for {release} {stem}"));
        let (header, n, verdict, violations) = read_trace(t);
        assert_eq!(header["name"], stem, "{}", t.display());
        let sc = header["scenario"].as_str().unwrap();
        assert!(
            root().join(sc).is_file(),
            "{}: scenario {sc} missing",
            t.display()
        );
        assert_eq!(n, row.requests, "{release} {w}: requests");
        let want = if row.server.contains("FAIL") {
            "FAIL"
        } else {
            "PASS"
        };
        assert_eq!(verdict, want, "{release} {w}: server verdict");
        // the counts written in the server column (`orphan 2`, `naked-position 1`) add up
        let counted: u64 = row
            .server
            .split(|c: char| c == ',' || c == '*' || c.is_whitespace())
            .filter_map(|w| w.parse::<u64>().ok())
            .sum();
        assert_eq!(counted, violations, "{release} {w}: violations");
    }
}
