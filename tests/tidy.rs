//! Tidy: the venue core must not depend on the server. `exchange`, `engine`, `sim`, `invariants`
//! and `events` may not name tokio, hyper, axum or tungstenite (only `serve` and `cli` do).

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("source folder exists") {
        let p = e.expect("readable entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn offenders(root: &Path) -> Vec<String> {
    const BANNED: [&str; 4] = ["tokio", "hyper", "axum", "tungstenite"];
    let mut found = Vec::new();
    for m in ["exchange", "engine", "sim", "invariants", "events"] {
        let mut files = Vec::new();
        rust_files(&root.join("src").join(m), &mut files);
        assert!(!files.is_empty(), "src/{m} has Rust files");
        for f in files {
            let text = std::fs::read_to_string(&f).expect("readable source");
            for (i, line) in text.lines().enumerate() {
                for b in BANNED {
                    if line.contains(b) {
                        found.push(format!("{}:{}: `{b}`: {}", f.display(), i + 1, line.trim()));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn venue_core_does_not_import_the_server_stack() {
    let found = offenders(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(
        found.is_empty(),
        "server code in the venue core:\n{}",
        found.join("\n")
    );
}

#[test]
fn tidy_check_catches_a_planted_import() {
    // the check itself: a copy of the tree with one planted line must fail
    let tmp = std::env::temp_dir().join(format!("ocosim-tidy-{}", std::process::id()));
    for m in ["exchange", "engine", "sim", "invariants", "events"] {
        let d = tmp.join("src").join(m);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("mod.rs"), "//! clean\n").unwrap();
    }
    assert!(offenders(&tmp).is_empty());
    std::fs::write(tmp.join("src/sim/venue.rs"), "use tokio::sync::mpsc;\n").unwrap();
    let found = offenders(&tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("venue.rs:1"));
}
