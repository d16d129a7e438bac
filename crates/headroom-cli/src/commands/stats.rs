//! `headroom stats`: what Headroom saved today, over the last days and since it was first used,
//! read from a running proxy's `/stats` and `/stats/history` (which read the savings ledger
//! every proxy on this workspace shares), as a table or as JSON.
//!
//! It asks the proxy rather than reading the ledger files itself so the numbers are exactly the
//! ones the desktop app and `/stats` show, with one implementation of the price table.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use headroom_protocol::http;
use headroom_protocol::{History, Period, Stats};

use crate::diagnostics::user_error;

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Port the proxy listens on
    #[arg(long, short = 'p', env = "HEADROOM_PORT", default_value_t = headroom_proxy::DEFAULT_PORT)]
    pub port: u16,

    /// Days of history to show (1–366)
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u16).range(1..=366))]
    pub days: u16,

    /// Print the `/stats` and `/stats/history` documents as one JSON object
    #[arg(long)]
    pub json: bool,
}

const TIMEOUT: Duration = Duration::from_secs(3);

pub fn run(args: StatsArgs) -> anyhow::Result<ExitCode> {
    let stats: Stats = fetch(args.port, "/stats", Stats::parse)?;
    let history: History = fetch(
        args.port,
        &format!("/stats/history?days={}", args.days),
        History::parse,
    )?;
    if args.json {
        let doc = serde_json::json!({ "stats": stats, "history": history });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).context("cannot print JSON")?
        );
    } else {
        print!("{}", render(&stats, &history));
    }
    Ok(ExitCode::SUCCESS)
}

fn fetch<T>(port: u16, path: &str, parse: fn(&[u8]) -> Option<T>) -> anyhow::Result<T> {
    let r = http::get("127.0.0.1", port, path, "headroom-stats", TIMEOUT).map_err(|e| {
        user_error(
            format!("no Headroom proxy answers on port {port}: {e}"),
            Some("start one with `headroom proxy` (or the desktop app), or pass --port"),
        )
    })?;
    if r.status != 200 {
        return Err(user_error(
            format!("port {port} answered {path} with {}", r.status_line),
            Some("is this an older Headroom? `headroom health` shows its version"),
        ));
    }
    parse(&r.body).ok_or_else(|| {
        user_error(
            format!(
                "what answers on port {port} is not a Headroom proxy ({path} is not Headroom's)"
            ),
            Some("pass --port with the port Headroom listens on"),
        )
    })
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn usd(x: f64) -> String {
    if x > 0.0 && x < 0.01 {
        "<$0.01".to_owned()
    } else {
        format!("${x:.2}")
    }
}

fn row(out: &mut String, label: &str, p: &Period) {
    let _ = writeln!(
        out,
        "{label:<12} {:>9} {:>15} {:>14} {:>7.1}% {:>11}",
        thousands(p.requests),
        thousands(p.tokens_before),
        thousands(p.tokens_saved),
        p.savings_percent(),
        usd(p.cost_saved_usd),
    );
}

/// The table `headroom stats` prints.
pub fn render(stats: &Stats, history: &History) -> String {
    let mut out = String::new();
    let s = &stats.savings;
    let _ = writeln!(
        out,
        "{:<12} {:>9} {:>15} {:>14} {:>8} {:>11}",
        "period", "requests", "tokens in", "tokens saved", "saved", "est. saved"
    );
    row(&mut out, "today", &s.today);
    row(&mut out, "last 7 days", &s.last_7_days);
    row(&mut out, "lifetime", &s.lifetime);
    if history.days.iter().any(|d| d.total.requests > 0) {
        let _ = writeln!(out);
        for d in &history.days {
            row(&mut out, &d.date, &d.total);
        }
        let mut clients: std::collections::BTreeMap<&str, Period> = Default::default();
        for d in &history.days {
            for r in &d.rows {
                clients.entry(&r.client).or_default().add(&r.period);
            }
        }
        let _ = writeln!(out, "\nby tool, last {} days:", history.days.len());
        for (client, p) in clients {
            row(&mut out, client, &p);
        }
    }
    let _ = writeln!(
        out,
        "\n{} Costs are estimates at list input prices (docs/stats.md).",
        if s.persistent {
            "Totals survive restarts and include every Headroom proxy on this workspace."
        } else {
            "This proxy keeps no ledger (HEADROOM_LEDGER=0 or no writable workspace): totals cover its lifetime only."
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(usd(0.004), "<$0.01");
        assert_eq!(usd(2.5), "$2.50");
    }
}
