//! Benchmark (not a timed test; run on demand): how long `headroom wrap` takes before the tool
//! starts. The tool is `/bin/true`, so a run's wall time minus a direct `/bin/true` run is
//! wrap's overhead (on Unix wrap execs the tool, so nothing of ours runs after it).
//!
//! ```text
//! cargo build --release -p headroom-cli
//! HEADROOM_BIN=target/release/headroom cargo test -p headroom-e2e --test wrap_overhead -- --ignored --nocapture
//! ```

mod wrap_support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use wrap_support::*;

fn time_runs(n: usize, mut run: impl FnMut()) -> Vec<Duration> {
    let mut out: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            run();
            t.elapsed()
        })
        .collect();
    out.sort();
    out
}

fn report(name: &str, runs: &[Duration], baseline: Duration) {
    let median = runs[runs.len() / 2];
    let p90 = runs[runs.len() * 9 / 10];
    println!(
        "{name:<34} median {:>7.2} ms  p90 {:>7.2} ms  overhead(median) {:>7.2} ms",
        median.as_secs_f64() * 1e3,
        p90.as_secs_f64() * 1e3,
        median.saturating_sub(baseline).as_secs_f64() * 1e3
    );
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn wrap_overhead_before_the_tool_starts() {
    let world = World::new();
    let direct = time_runs(30, || {
        let s = std::process::Command::new("/bin/true").status().unwrap();
        assert!(s.success());
    });
    let baseline = direct[direct.len() / 2];
    report("direct /bin/true", &direct, Duration::ZERO);

    let wrap = |port: u16| {
        let s = world
            .headroom(["wrap", "--port", &port.to_string(), "--", "/bin/true"])
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(s.success());
    };

    // Reusing a running Headroom (a deployment, the desktop app, `headroom proxy`).
    let port = free_port();
    let proxy = RealProxy::start(&world, port, Some("default"));
    let reuse = time_runs(30, || wrap(port));
    report("wrap, reusing a deployment", &reuse, baseline);
    drop(proxy);

    // Sharing an ephemeral proxy another wrapped tool holds.
    world.fake_tool("holder");
    let port = free_port();
    let mut holder = world.spawn(
        &["wrap", "--port", &port.to_string(), "--", "holder"],
        &[("WAIT", "1")],
    );
    world.wait_out("holder.pid");
    let shared = time_runs(30, || wrap(port));
    report("wrap, sharing an ephemeral proxy", &shared, baseline);
    world.release("holder");
    holder.wait().unwrap();

    // Starting a fresh ephemeral proxy each time (wait for the previous one to leave).
    let port = free_port();
    let mut fresh: Vec<Duration> = (0..15)
        .map(|_| {
            wait_until(
                Duration::from_secs(5),
                || !port_is_open(port),
                "the previous proxy to exit",
            );
            let t = Instant::now();
            wrap(port);
            t.elapsed()
        })
        .collect();
    fresh.sort();
    report("wrap, starting an ephemeral proxy", &fresh, baseline);

    // How long the session proxy outlives the last tool (lease poll + shutdown).
    let mut linger: Vec<Duration> = (0..10)
        .map(|_| {
            wait_until(
                Duration::from_secs(5),
                || !port_is_open(port),
                "the previous proxy to exit",
            );
            wrap(port);
            let t = Instant::now();
            wait_until(
                Duration::from_secs(5),
                || !port_is_open(port),
                "the proxy to exit",
            );
            t.elapsed()
        })
        .collect();
    linger.sort();
    report("proxy exit after the last tool", &linger, Duration::ZERO);
}
