//! The corpus gate: every real output in `corpus/` (see `corpus/generate.py`), in every client
//! shape, keeps every fact its manifest names in view (details in view or retrievable through
//! `headroom_retrieve`), and no class saves more than one point less than `corpus/baseline.json`
//! records. Re-record the baseline after an improvement with
//! `cargo run --release -p headroom-compress --example corpus -- --write-baseline`.

#[path = "../corpus/harness.rs"]
mod harness;

use harness::*;

#[test]
fn corpus_keeps_every_fact_and_holds_the_baseline() {
    let entries = load();
    assert!(entries.len() >= 80, "corpus has {} entries", entries.len());
    let runs = run_all(&entries, 1, false);

    let mut lost = Vec::new();
    for r in &runs {
        if !r.lost_facts.is_empty() || !r.lost_details.is_empty() {
            lost.push(format!(
                "{} / {}: lost facts {:?}, lost details {:?}",
                entries[r.entry].name,
                r.shape.name(),
                r.lost_facts.iter().take(5).collect::<Vec<_>>(),
                r.lost_details.iter().take(5).collect::<Vec<_>>()
            ));
        }
        // Never larger (by the heuristic count; bytes are guaranteed by the crate).
        assert!(
            r.heuristic_after <= r.heuristic_before * 1.01 + 2.0,
            "{} / {} grew: {} -> {} tokens",
            entries[r.entry].name,
            r.shape.name(),
            r.heuristic_before,
            r.heuristic_after
        );
    }
    assert!(lost.is_empty(), "facts lost:\n{}", lost.join("\n"));

    let classes = by(&runs, |r| entries[r.entry].class.clone());
    let base = baseline(&corpus_dir().join("baseline.json"));
    assert!(!base.is_empty(), "corpus/baseline.json missing");
    let mut worse = Vec::new();
    for (class, want) in &base {
        let got = classes
            .iter()
            .find(|(c, _)| c == class)
            .map(|(_, t)| t.heuristic_saved())
            .unwrap_or(0.0);
        if got < want - 1.0 {
            worse.push(format!("{class}: {got:.1} % saved, baseline {want:.1} %"));
        }
    }
    assert!(
        worse.is_empty(),
        "classes below baseline:\n{}",
        worse.join("\n")
    );
}
