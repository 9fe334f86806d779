//! Binance's request security: parameters from the raw query string and form body, the API key,
//! the HMAC-SHA256 signature over the raw transmitted string, and the `timestamp`/`recvWindow`
//! check. Pure functions over the request's bytes; the caller supplies the clock.
//!
//! Signature rule (Binance's `totalParams` = query string + body): the part that carries
//! `signature=` is taken as sent, the `signature` pair removed; a signature in the body is checked
//! against query + body; one in the query against the query, then query + body (official SDK:
//! signed params in the query, body params repeated in the body). Only if those fail, the
//! percent-decoded forms are tried (clients differ in what they escape).

use super::wire::{err, mandatory, Params};
use crate::api::ApiError;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte.
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|x| u8::from_str_radix(x, 16).ok());
                match h {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Adds the `k=v` pairs of `raw` to `into` (a name sent twice keeps its first value).
pub fn parse_into(raw: &str, into: &mut Params) {
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        into.entry(decode(k)).or_insert_with(|| decode(v));
    }
}

/// The parameters of a request: the query string, then the form body.
pub fn params(query: &str, body: &str) -> Params {
    let mut p = Params::new();
    parse_into(query, &mut p);
    parse_into(body, &mut p);
    p
}

fn strip_signature(raw: &str) -> (String, Option<String>) {
    let mut sig = None;
    let kept: Vec<&str> = raw
        .split('&')
        .filter(|p| {
            if let Some(v) = p.strip_prefix("signature=") {
                sig = Some(v.to_string());
                false
            } else {
                true
            }
        })
        .collect();
    (kept.join("&"), sig)
}

/// HMAC-SHA256 of `msg` under `secret`, lower-case hex.
pub fn sign(secret: &str, msg: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    m.update(msg.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

fn same(secret: &str, msg: &str, sig: &str) -> bool {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    m.update(msg.as_bytes());
    match hex::decode(sig.trim()) {
        Ok(b) => m.verify_slice(&b).is_ok(),
        Err(_) => false,
    }
}

/// Checks the signature of a signed request (raw query and body as transmitted).
pub fn verify(secret: &str, query: &str, body: &str) -> Result<(), ApiError> {
    let bad = || err(400, -1022, "Signature for this request is not valid.");
    let (q, qsig) = strip_signature(query);
    let (b, bsig) = strip_signature(body);
    let mut candidates: Vec<String> = Vec::with_capacity(4);
    let sig = match (qsig, bsig) {
        (Some(s), _) => {
            candidates.push(q.clone());
            if !body.is_empty() {
                candidates.push(format!("{q}{body}"));
                candidates.push(format!("{q}&{body}"));
            }
            s
        }
        (None, Some(s)) => {
            if query.is_empty() {
                candidates.push(b.clone());
            } else {
                candidates.push(format!("{query}{b}"));
                candidates.push(format!("{query}&{b}"));
                candidates.push(b.clone());
            }
            s
        }
        (None, None) => return Err(mandatory("signature")),
    };
    let sig = decode(&sig);
    let decoded: Vec<String> = candidates.iter().map(|c| decode(c)).collect();
    if candidates
        .iter()
        .chain(decoded.iter())
        .any(|c| same(secret, c, &sig))
    {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Checks `timestamp` and `recvWindow` (default 5000 ms) against `now` (ms), as Binance does:
/// the request is refused when it is older than the window or more than 1 s ahead.
pub fn check_time(p: &Params, now: i64) -> Result<(), ApiError> {
    let ts: i64 = match p.get("timestamp").and_then(|s| s.parse().ok()) {
        Some(t) => t,
        None => return Err(mandatory("timestamp")),
    };
    let window: i64 = match p.get("recvWindow") {
        None => 5000,
        Some(w) => w.parse().map_err(|_| mandatory("recvWindow"))?,
    };
    if ts >= now + 1000 {
        return Err(err(
            400,
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        ));
    }
    if now - ts > window {
        return Err(err(
            400,
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    Ok(())
}

/// An API key and secret derived from the seed (64 characters each), so runs are reproducible.
pub fn keys_from_seed(seed: u64) -> (String, String) {
    let h = |tag: &str| {
        let mut d = Sha256::new();
        d.update(tag.as_bytes());
        d.update(seed.to_le_bytes());
        hex::encode(d.finalize())
    };
    (h("ocosim api key"), h("ocosim api secret"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binance_doc_example_signature() {
        // Binance's documented example (SIGNED endpoint security)
        let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        let q = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        let sig = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";
        assert_eq!(sign(secret, q), sig);
        assert!(verify(secret, &format!("{q}&signature={sig}"), "").is_ok());
        // mixed: query part and body part, signature in the body (totalParams = query + body)
        let cut = q.find("quantity").unwrap();
        let (a, b) = q.split_at(cut);
        assert_eq!(a, "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&");
        let a = a.trim_end_matches('&');
        let sig2 = sign(secret, &format!("{a}{b}"));
        assert!(verify(secret, a, &format!("{b}&signature={sig2}")).is_ok());
        // a signature over other bytes than those sent fails
        assert_eq!(
            verify(secret, a, &format!("{b}0&signature={sig2}"))
                .unwrap_err()
                .code,
            -1022
        );
        assert_eq!(
            verify(secret, &format!("{q}&signature={}", "0".repeat(64)), "")
                .unwrap_err()
                .code,
            -1022
        );
        assert_eq!(verify(secret, q, "").unwrap_err().code, -1102);
    }

    #[test]
    fn params_and_time_window() {
        let p = params("a=1&b=x%20y&a=2", "c=3+4");
        assert_eq!(p["a"], "1");
        assert_eq!(p["b"], "x y");
        assert_eq!(p["c"], "3 4");
        assert_eq!(decode("%zz%4"), "%zz%4");
        let mut p = Params::new();
        p.insert("timestamp".into(), "10000".into());
        assert!(check_time(&p, 14_000).is_ok());
        assert_eq!(check_time(&p, 15_001).unwrap_err().code, -1021);
        assert_eq!(check_time(&p, 9_000).unwrap_err().code, -1021);
        p.insert("recvWindow".into(), "60000".into());
        assert!(check_time(&p, 60_000).is_ok());
        assert_eq!(check_time(&Params::new(), 0).unwrap_err().code, -1102);
    }
}
