use ocosim::explore::*;
#[test]
fn dbg() {
    for profile in ["reference", "tradeengine-2026-08", "tradeengine-v1.1.80", "tradeengine-v1.1.78"] {
        let mut slow = std::time::Duration::ZERO;
        let mut viol: std::collections::BTreeMap<String, usize> = Default::default();
        let mut first: std::collections::BTreeMap<String, u64> = Default::default();
        for i in 0..1500u64 {
            let c = draw_case(1, i, &[], profile);
            let t = std::time::Instant::now();
            let r = run_case(&c, profile, &[]);
            let el = t.elapsed();
            if el > slow { slow = el; }
            if el > std::time::Duration::from_secs(2) { eprintln!("slow case {i}: {el:?}"); }
            if let Some((v, _)) = r { for x in v { *viol.entry(x.invariant.name().to_string()).or_default() += 1; first.entry(x.invariant.name().to_string()).or_insert(i); } }
        }
        eprintln!("{profile}: slowest {slow:?} violations {viol:?} first {first:?}");
    }
}
