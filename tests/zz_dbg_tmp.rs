use ocosim::explore::*;
#[test]
fn dbg() {
    let profile = std::env::var("P").unwrap_or("reference".into());
    let i: u64 = std::env::var("CASE").unwrap().parse().unwrap();
    let c = draw_case(1, i, &[], &profile);
    eprintln!("{:?}", (c.bars.len(), &c.signals, &c.manual, c.hedge, c.legacy_api, c.stream, c.poll_ms, c.latency_ms, &c.faults));
    std::fs::write("/tmp/dbg/case.csv", c.csv()).unwrap();
    std::fs::write("/tmp/dbg/case.toml", c.toml("dbg", &profile, &[], "case.csv", "")).unwrap();
}
