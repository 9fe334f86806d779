//! Reading a `sim serve --record` trace: plain or gzip (detected by its magic bytes), one line
//! at a time, so a trace of any size is read in bounded memory.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The header line `sim serve --record` writes first (see `serve::record`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Header {
    /// Scenario path as given to `sim serve`.
    pub scenario: String,
    /// Scenario name.
    pub name: String,
    /// SHA-256 of the scenario file's text (hex).
    pub sha256: String,
    /// Seed.
    pub seed: u64,
    /// Clock (`lockstep` or `paced:S`).
    pub clock: String,
}

/// One line of a trace.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// The header.
    Header(Header),
    /// A request: number, venue time, method, path, query, body.
    Req {
        /// Request number.
        n: u64,
        /// Venue time when the server took it.
        t: i64,
        /// HTTP method.
        method: String,
        /// Path.
        path: String,
        /// Raw query.
        query: String,
        /// Raw body.
        body: String,
    },
    /// An answer: number, venue time, status, body.
    Res {
        /// Request number.
        n: u64,
        /// Venue time of the answer.
        t: i64,
        /// HTTP status.
        status: u16,
        /// JSON body.
        body: Value,
    },
    /// A frame pushed on a WebSocket.
    Frame,
}

/// A line-by-line reader over a trace file.
pub struct Reader {
    inner: Box<dyn BufRead>,
    buf: String,
    /// 1-based number of the last line read.
    pub line_no: u64,
}

impl Reader {
    /// Opens `path`; gzip is recognised by its first two bytes (`1f 8b`) whatever the name.
    pub fn open(path: &Path) -> std::io::Result<Reader> {
        let mut f = BufReader::new(std::fs::File::open(path)?);
        let gz = f.fill_buf()?.starts_with(&[0x1f, 0x8b]);
        let inner: Box<dyn BufRead> = if gz {
            Box::new(BufReader::with_capacity(
                1 << 16,
                flate2::bufread::MultiGzDecoder::new(f),
            ))
        } else {
            Box::new(f)
        };
        Ok(Reader {
            inner,
            buf: String::new(),
            line_no: 0,
        })
    }

    /// The next line, `Ok(None)` at the end; a line that is not a trace line is an error
    /// starting with its number (`N: …`, for `FILE:N: …`).
    pub fn next_line(&mut self) -> Result<Option<Line>, String> {
        loop {
            self.buf.clear();
            let n = self
                .inner
                .read_line(&mut self.buf)
                .map_err(|e| format!("{}: {e}", self.line_no + 1))?;
            if n == 0 {
                return Ok(None);
            }
            self.line_no += 1;
            if self.buf.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(&self.buf)
                .map_err(|e| format!("{}: not JSON: {e}", self.line_no))?;
            return parse_line(&v)
                .map(Some)
                .ok_or_else(|| format!("{}: not a trace line", self.line_no));
        }
    }
}

fn parse_line(v: &Value) -> Option<Line> {
    let s = |x: &Value| x.as_str().unwrap_or("").to_string();
    if let Some(h) = v.get("header") {
        return Some(Line::Header(Header {
            scenario: s(&h["scenario"]),
            name: s(&h["name"]),
            sha256: s(&h["sha256"]),
            seed: h["seed"].as_u64().unwrap_or(0),
            clock: s(&h["clock"]),
        }));
    }
    if v.get("frame").is_some() {
        return Some(Line::Frame);
    }
    let n = v.get("n")?.as_u64()?;
    let t = v.get("t")?.as_i64()?;
    if let Some(r) = v.get("req") {
        return Some(Line::Req {
            n,
            t,
            method: s(&r["method"]),
            path: s(&r["path"]),
            query: s(&r["query"]),
            body: s(&r["body"]),
        });
    }
    let r = v.get("res")?;
    Some(Line::Res {
        n,
        t,
        status: r["status"].as_u64().unwrap_or(0) as u16,
        body: r["body"].clone(),
    })
}

/// What a trace says about its scenario without reading it whole: the header if it has one,
/// else the scenario name in the `stop` answer's report folder (`reports/NAME`), read from the
/// end of a plain file or, for gzip, by streaming it.
pub fn scenario_hint(path: &Path) -> Result<(Option<Header>, Option<String>), String> {
    let mut r = Reader::open(path).map_err(|e| e.to_string())?;
    let first = r.next_line()?;
    if let Some(Line::Header(h)) = first {
        let name = h.name.clone();
        return Ok((Some(h), Some(name)));
    }
    let mut last_reports = None;
    let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut magic = [0u8; 2];
    let gz = f.read(&mut magic).map_err(|e| e.to_string())? == 2 && magic == [0x1f, 0x8b];
    if !gz {
        use std::io::{Seek, SeekFrom};
        let len = f.metadata().map_err(|e| e.to_string())?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(4096)))
            .map_err(|e| e.to_string())?;
        let mut tail = Vec::new();
        f.read_to_end(&mut tail).map_err(|e| e.to_string())?;
        for l in String::from_utf8_lossy(&tail).lines() {
            if let Ok(v) = serde_json::from_str::<Value>(l) {
                if let Some(rep) = v["res"]["body"]["reports"].as_str() {
                    last_reports = Some(rep.to_string());
                }
            }
        }
    } else {
        while let Some(l) = r.next_line()? {
            if let Line::Res { body, .. } = l {
                if let Some(rep) = body.get("reports").and_then(Value::as_str) {
                    last_reports = Some(rep.to_string());
                }
            }
        }
    }
    let name = last_reports.and_then(|p| {
        Path::new(&p)
            .file_name()
            .map(|s| s.to_string_lossy().to_string())
    });
    Ok((None, name))
}
