//! #18: invariants checked online and reports streamed. Every shipped scenario, run with a
//! streaming log (only a ring of recent records kept, the reports gathered as the run goes, as
//! `sim run` does), must give exactly the violations, trails and report files (every file, at
//! every `events` level) of the same run over its whole log; and the checker's state must stay
//! bounded by what is open on a run of thousands of trades.

use ocosim::events::{EventLog, EventRecord, Observer};
use ocosim::invariants::Checker;
use ocosim::report::{self, EventsLevel, PriceBars, Recorder};
use ocosim::scenario::Scenario;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scenarios() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

fn bars(sc: &Scenario, span: (ocosim::types::TimeMs, ocosim::types::TimeMs)) -> PriceBars<'_> {
    PriceBars::within(
        &sc.bars,
        sc.interval_ms,
        sc.spec.tick_size,
        span.0 .0,
        span.1 .0,
    )
}

#[test]
fn streamed_runs_match_whole_log_runs_for_every_shipped_scenario() {
    let tmp = std::env::temp_dir().join(format!("ocosim-online-{}", std::process::id()));
    let all = scenarios();
    assert!(all.len() >= 10);
    let mut with_violations = 0;
    for path in &all {
        let sc = ocosim::scenario::load(path).expect("scenario");
        let full = sc.run();
        // online over the whole log = the post-hoc pass over it
        let post = Checker::check_log(sc.check.clone(), &full.output.log, full.output.span.1);
        assert_eq!(full.violations, post, "{}", path.display());
        if !full.violations.is_empty() {
            with_violations += 1;
        }
        let s = ocosim::report::summarize_run(&sc, &full);
        // a sweep's case: the summary from a streamed run's tally is the whole log's
        let (streamed, sr) = ocosim::report::run_summary(&sc);
        assert_eq!(streamed, s, "{}", path.display());
        assert_eq!(sr.violations, full.violations, "{}", path.display());
        for level in [
            EventsLevel::All,
            EventsLevel::Trades,
            EventsLevel::Violations,
        ] {
            let (a, b) = (tmp.join("full"), tmp.join("streamed"));
            for d in [&a, &b] {
                let _ = std::fs::remove_dir_all(d);
                std::fs::create_dir_all(d).unwrap();
            }
            let pb = bars(&sc, full.output.span);
            report::write_files_with(
                &a,
                &s,
                &full.output.log,
                &full.violations,
                &sc.text,
                Some(&pb),
                level,
            )
            .unwrap();
            // the recorder on the run's thread for one level, on its own report thread for
            // the others: the same bytes either way
            let rec = Recorder::create(&b, level, sc.exchange.initial_balance).unwrap();
            let rec = if level == EventsLevel::Trades {
                rec
            } else {
                rec.on_own_thread().unwrap()
            };
            let (r, rec) = sc.run_observed(
                &mut |_| {},
                EventLog::streaming(sc.check.trail_len + 1),
                Some(Box::new(rec)),
            );
            assert!(
                r.output.log.records().is_empty(),
                "the streaming log keeps no history"
            );
            assert_eq!(r.output.log.len(), full.output.log.len());
            assert_eq!(r.violations, full.violations, "{}", path.display());
            // every record a trail names was kept, as the whole log has it
            for v in &r.violations {
                for seq in v.trail.iter().chain([&v.seq]) {
                    assert_eq!(
                        r.trails.get(seq),
                        full.output.log.records().get(seq.0 as usize),
                        "{} trail seq {seq}",
                        path.display()
                    );
                }
            }
            let rec = rec
                .and_then(|o| o.into_any().downcast::<Recorder>().ok())
                .expect("recorder");
            let mut s2 = rec.summarize(&ocosim::report::run_info(&sc, &r.output), &r.violations);
            s2.data_warnings = sc.data_warnings.clone();
            assert_eq!(s2, s, "{}", path.display());
            rec.finish(&s2, &r.violations, &r.trails, &sc.text, Some(&pb))
                .unwrap();
            let (fa, fb) = (files(&a), files(&b));
            assert_eq!(
                fa.iter().map(|f| &f.0).collect::<Vec<_>>(),
                fb.iter().map(|f| &f.0).collect::<Vec<_>>()
            );
            for (x, y) in fa.iter().zip(&fb) {
                assert!(
                    x.1 == y.1,
                    "{} level {level:?}: {} differs",
                    path.display(),
                    x.0
                );
            }
        }
    }
    assert!(
        with_violations >= 3,
        "some scenarios have violations and trails"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

/// A checker fed alongside the run's own, recording the most state it held.
struct Probe {
    c: Checker,
    max_held: usize,
}

impl Observer for Probe {
    fn observe(&mut self, r: &EventRecord, log: &EventLog) {
        self.c.observe_in(r, log);
        self.max_held = self.max_held.max(self.c.held());
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

#[test]
fn the_checker_holds_open_state_only_over_thousands_of_trades() {
    let sc = ocosim::scenario::load(&root().join("scenarios/bracket-filusdt.toml")).unwrap();
    let probe = Probe {
        c: Checker::new(sc.check.clone()),
        max_held: 0,
    };
    let (r, probe) = sc.run_observed(
        &mut |_| {},
        EventLog::streaming(sc.check.trail_len + 1),
        Some(Box::new(probe)),
    );
    let p = probe
        .and_then(|o| o.into_any().downcast::<Probe>().ok())
        .unwrap();
    let pairs = r.output.exchange.fills;
    assert!(pairs > 10_000, "thousands of trades ({pairs} fills)");
    assert!(r.violations.is_empty());
    // a pair, its two legs, their stop and a few deadlines at a time, not the whole history
    assert!(p.max_held < 64, "held {} entries at most", p.max_held);
    assert_eq!(p.c.finish(r.output.span.1), r.violations);
}
