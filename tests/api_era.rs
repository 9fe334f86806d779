//! `exchange.api` follows the profile unless the scenario names it; `--set exchange.api=…`
//! overrides both (issue 16).

use ocosim::exchange::ApiMode;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn write(name: &str, profile: &str, api: Option<&str>) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ocosim-api-era-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = root().join("data/binance-um/klines/AVAXUSDT/1m/AVAXUSDT-1m-2026-02.csv");
    let api = api.map(|a| format!("api = \"{a}\"\n")).unwrap_or_default();
    let text = format!(
        "name = \"era\"\n[data]\nklines = [\"{}\"]\nfrom = \"2026-02-01\"\nto = \"2026-02-03\"\n[exchange]\nposition_mode = \"hedge\"\n{api}[engine]\nprofile = \"{profile}\"\n[signals]\ninline = [ {{ at = \"2026-02-01T02:00\", action = \"buy\", quantity = \"10\", sl_pct = \"0.015\", tp_pct = \"0.03\" }} ]\n",
        data.display()
    );
    let p = dir.join("era.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn api_of(path: &std::path::Path, profile: Option<&str>, sets: &[&str]) -> Result<ApiMode, String> {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    ocosim::cli::load_with_overrides(path, profile, &sets, None)
        .map(|sc| sc.exchange.api)
        .map_err(|f| f.msg)
}

#[test]
fn api_follows_the_profile_unless_the_file_or_the_command_line_names_it() {
    let free = write("free", "tradeengine-v1.1.80", None);
    assert_eq!(api_of(&free, None, &[]).unwrap(), ApiMode::Legacy);
    assert_eq!(
        api_of(&free, Some("reference"), &[]).unwrap(),
        ApiMode::Algo
    );
    assert_eq!(
        api_of(&free, Some("tradeengine-2026-08"), &[]).unwrap(),
        ApiMode::Algo
    );
    assert_eq!(
        api_of(&free, Some("tradeengine-v1.1.78"), &[]).unwrap(),
        ApiMode::Legacy
    );
    assert_eq!(
        api_of(&free, None, &["exchange.api=algo"]).unwrap(),
        ApiMode::Algo
    );
    let r = write("ref", "reference", None);
    assert_eq!(api_of(&r, None, &[]).unwrap(), ApiMode::Algo);
    assert_eq!(
        api_of(&r, Some("tradeengine-2026-08"), &["exchange.api=legacy"]).unwrap(),
        ApiMode::Legacy
    );
    // a file that names it keeps it under any profile
    let pinned = write("pinned", "reference", Some("algo"));
    assert_eq!(
        api_of(&pinned, Some("tradeengine-v1.1.80"), &[]).unwrap(),
        ApiMode::Algo
    );
    assert_eq!(
        api_of(
            &pinned,
            Some("tradeengine-v1.1.80"),
            &["exchange.api=legacy"]
        )
        .unwrap(),
        ApiMode::Legacy
    );
    let e = api_of(&free, None, &["exchange.api=spot"]).unwrap_err();
    assert!(
        e.contains("exchange.api") && e.contains("algo or legacy") && !e.contains('\n'),
        "{e}"
    );
    for p in [free, r, pinned] {
        let _ = std::fs::remove_dir_all(p.parent().unwrap());
    }
}

#[test]
fn a_v1_1_80_run_of_a_file_without_api_places_its_legs_on_the_legacy_venue() {
    // the same file under --profile: v1.1.80's legacy legs are accepted (no -4120), as in its era
    let f = write("run", "reference", None);
    let out = f.parent().unwrap().join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sim"))
        .arg("run")
        .arg(&f)
        .args(["--profile", "tradeengine-v1.1.80", "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        o.status.code().unwrap() <= 1,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let ev = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    assert!(ev.contains("STOP_MARKET"), "legs were placed");
    assert!(!ev.contains("-4120"), "no leg refused for its endpoint");
    // forcing the algo era refuses those legacy conditional orders with -4120
    let out2 = f.parent().unwrap().join("out2");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sim"))
        .arg("run")
        .arg(&f)
        .args([
            "--profile",
            "tradeengine-v1.1.80",
            "--set",
            "exchange.api=algo",
            "--quiet",
            "--out",
        ])
        .arg(&out2)
        .output()
        .unwrap();
    assert!(o.status.code().unwrap() <= 1);
    let ev = std::fs::read_to_string(out2.join("events.jsonl")).unwrap();
    assert!(
        ev.contains("-4120"),
        "legacy legs on the algo era are refused"
    );
    let _ = std::fs::remove_dir_all(f.parent().unwrap());
}
