//! Folder snapshots for the tests that prove users' files are untouched (`interrupt.rs`,
//! `output_safety.rs`): a tree as relative path → bytes, copied, and checked for leftovers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

/// Every entry under `dir`: relative path → bytes (folders as empty entries ending in `/`,
/// symlinks as `-> target`, never followed).
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(d) else {
            return;
        };
        for e in rd {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_symlink() {
                let to = std::fs::read_link(&p).unwrap();
                out.insert(rel, format!("-> {}", to.display()).into_bytes());
            } else if m.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(base, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Copies the files and folders of `from` into `to` (symlinks are not copied).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for (rel, bytes) in snapshot(from) {
        if let Some(d) = rel.strip_suffix('/') {
            std::fs::create_dir_all(to.join(d)).unwrap();
        } else if !bytes.starts_with(b"-> ") {
            std::fs::write(to.join(rel), bytes).unwrap();
        }
    }
}

/// No ocosim temporary and no 0-byte file anywhere under `dir`; `what` names the case.
pub fn assert_clean(dir: &Path, what: &str) {
    for (k, v) in snapshot(dir) {
        assert!(!k.contains("ocosim-tmp"), "{what}: temporary left: {k}");
        assert!(
            k.ends_with('/') || !v.is_empty(),
            "{what}: 0-byte file: {k}"
        );
    }
}
