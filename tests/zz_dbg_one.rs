use ocosim::explore::*;
use ocosim::events::*;
#[test]
fn dbg() {
    let profile = std::env::var("P").unwrap_or("reference".into());
    let seed: u64 = std::env::var("SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let i: u64 = std::env::var("CASE").unwrap().parse().unwrap();
    let c = draw_case(seed, i, &[], &profile);
    eprintln!("{:?}", (c.bars.len(), &c.signals, &c.manual, c.hedge, c.legacy_api, c.stream, c.poll_ms, c.latency_ms, &c.faults));
    let sc = c.scenario(&profile, &[]).unwrap();
    eprintln!("reaction {}", sc.check.reaction_ms);
    let r = sc.run();
    let t0 = r.output.log.records().first().map(|x| x.time_ms.0).unwrap_or(0);
    for x in r.output.log.records() { if matches!(x.event, Event::Equity{..}) { continue; } eprintln!("{} {:>8} {}", x.seq.0, x.time_ms.0 - t0, serde_json::to_string(&x.event).unwrap().chars().take(230).collect::<String>()); }
    for v in r.violations { eprintln!("VIOL {} seq {} {}", v.invariant.name(), v.seq.0, v.message); }
}
