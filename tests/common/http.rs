//! A loopback HTTP server for the download tests (`data_loader.rs`, `hostile_data.rs`): it serves
//! fixed routes, or misbehaves (silent, dribbling, closing), on 127.0.0.1 only, until dropped.
//! Included with `#[path = "common/http.rs"] mod http;` so a test file needs nothing else of
//! `tests/common`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How the loopback server answers.
#[derive(Clone)]
pub enum Mode {
    /// Accepts, reads the request, never answers.
    Silent,
    /// Answers headers, then one body byte every 100 ms.
    DribbleBody,
    /// Sends the status line, then one header byte every 100 ms.
    DribbleHeaders,
    /// Closes the connection without a word.
    Close,
    /// Serves these paths (anything else: 404).
    Routes(Vec<(String, Vec<u8>)>),
}

/// A server on 127.0.0.1 that answers per `mode` until dropped.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    stop: Arc<AtomicBool>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts answering on a free loopback port.
    pub fn start(mode: Mode) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        assert!(addr.ip().is_loopback());
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !st.load(Ordering::SeqCst) && Instant::now() < deadline {
                let Ok((mut conn, _)) = listener.accept() else {
                    thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let mode = mode.clone();
                let st = st.clone();
                let log = log.clone();
                thread::spawn(move || {
                    let _ = conn.set_nonblocking(false);
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                    if matches!(mode, Mode::Close) {
                        return;
                    }
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                        match conn.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let alive = || !st.load(Ordering::SeqCst);
                    match mode {
                        Mode::Silent | Mode::Close => {
                            while alive() {
                                thread::sleep(Duration::from_millis(20));
                            }
                        }
                        Mode::DribbleBody => {
                            let _ =
                                conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
                            while alive() && conn.write_all(b"0").is_ok() {
                                thread::sleep(Duration::from_millis(100));
                            }
                        }
                        Mode::DribbleHeaders => {
                            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nX-Slow: ");
                            while alive() && conn.write_all(b"a").is_ok() {
                                thread::sleep(Duration::from_millis(100));
                            }
                        }
                        Mode::Routes(routes) => {
                            let text = String::from_utf8_lossy(&head);
                            let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
                            log.lock().unwrap().push(path.clone());
                            let body = routes
                                .iter()
                                .find(|(p, _)| *p == path)
                                .map(|(_, b)| b.clone());
                            let (status, body) = match body {
                                Some(b) => ("200 OK", b),
                                None => ("404 Not Found", b"not found".to_vec()),
                            };
                            let _ = write!(
                                conn,
                                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                body.len()
                            );
                            let _ = conn.write_all(&body);
                        }
                    }
                });
            }
        });
        Server {
            base: format!("http://{addr}"),
            stop,
            asked,
        }
    }
}

impl Server {
    /// The paths asked of a `Routes` server so far, in the order they arrived.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
