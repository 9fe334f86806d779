use ocosim::explore::*;
#[test]
fn dbg() {
    let profile = std::env::var("P").unwrap_or("reference".into());
    let seed: u64 = std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let from: u64 = std::env::var("FROM")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let to: u64 = std::env::var("TO")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500);
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for i in from..to {
        let c = draw_case(seed, i, &[], &profile);
        eprintln!("start {i}");
        let t = std::time::Instant::now();
        let r = run_case(&c, &profile, &[]);
        let v: Vec<_> = r
            .map(|x| {
                x.0.into_iter()
                    .map(|v| format!("{} {}", v.invariant.name(), v.message))
                    .collect()
            })
            .unwrap_or_default();
        for x in &v {
            *counts
                .entry(x.split(' ').next().unwrap().to_string())
                .or_default() += 1;
        }
        eprintln!("done {i} {:?} {}", t.elapsed(), v.join(" | "));
    }
    eprintln!("COUNTS {counts:?}");
}
