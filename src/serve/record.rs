//! `--record FILE`: every request, answer and pushed frame with its venue time, one JSON object
//! per line, in the order the venue actor handled them (so two lockstep sessions driven alike
//! record identical files). Lines: `{"t":MS,"n":N,"req":{"method","path","query","body"}}`,
//! `{"t":MS,"n":N,"res":{"status","body"}}`, `{"t":MS,"ws":SESSION,"frame":TEXT}`.
//!
//! The first line is a header naming the session's scenario, so `sim parity` finds it:
//! `{"header":{"format":"ocosim-wire/1","scenario":PATH,"name":NAME,"sha256":HEX,"seed":N,
//! "clock":"lockstep"|"paced:S","t":MS}}` (PATH as given to `sim serve`, HEX the SHA-256 of the
//! scenario file's text). Traces recorded before the header existed start with a request line.

use super::state::Request;
use serde_json::json;
use std::io::{BufWriter, Write};

/// A JSONL recorder.
pub struct Recorder {
    w: BufWriter<std::fs::File>,
}

impl Recorder {
    /// Creates (truncates) the file.
    pub fn create(path: &std::path::Path) -> std::io::Result<Recorder> {
        Ok(Recorder {
            w: BufWriter::new(std::fs::File::create(path)?),
        })
    }

    fn line(&mut self, v: serde_json::Value) {
        let _ = writeln!(self.w, "{v}");
    }

    /// The header line (the first line of the file).
    pub fn header(
        &mut self,
        scenario: &std::path::Path,
        name: &str,
        text: &str,
        seed: u64,
        clock: &str,
        t: i64,
    ) {
        use sha2::{Digest, Sha256};
        let hash = hex::encode(Sha256::digest(text.as_bytes()));
        self.line(
            json!({"header": {"format": "ocosim-wire/1", "scenario": scenario.display().to_string(),
            "name": name, "sha256": hash, "seed": seed, "clock": clock, "t": t}}),
        );
    }

    /// A request as it arrived.
    pub fn request(&mut self, t: i64, n: u64, r: &Request) {
        self.line(json!({"t": t, "n": n, "req": {"method": r.method, "path": r.path, "query": r.query, "body": r.body}}));
    }

    /// Its answer.
    pub fn response(&mut self, t: i64, n: u64, status: u16, body: &str) {
        let b: serde_json::Value =
            serde_json::from_str(body).unwrap_or(serde_json::Value::String(body.to_string()));
        self.line(json!({"t": t, "n": n, "res": {"status": status, "body": b}}));
    }

    /// A frame pushed to a WebSocket session.
    pub fn frame(&mut self, t: i64, session: u64, text: &str) {
        self.line(json!({"t": t, "ws": session, "frame": text}));
    }

    /// Writes what is buffered.
    pub fn flush(&mut self) {
        let _ = self.w.flush();
    }
}
