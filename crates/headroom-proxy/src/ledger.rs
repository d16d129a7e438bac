//! The durable savings ledger: what Headroom saved, per UTC day × provider × model × client,
//! kept under `<workspace>/savings/` so the numbers survive restarts and add up across every
//! proxy that shares the workspace (the desktop app, a service, a task, `wrap` sessions).
//!
//! Why it is shaped like this:
//! * **Append-only day files** (`YYYY-MM-DD.jsonl`), one short line per examined LLM request,
//!   written with a single `write` on a file opened `O_APPEND`. Several processes can append
//!   to the same file without a lock (each line is far below the size the kernel writes
//!   atomically), and a crash loses at most the line being written: a torn last line is
//!   skipped by readers and terminated by the next writer.
//! * **Readers tail**: each proxy remembers how far it read every file and, when `/stats` is
//!   asked, reads only what was appended since (its own lines and other processes'). One LLM
//!   request costs one small write; a `/stats` poll costs a directory listing.
//! * **Bounded**: day files older than [`KEEP_DAYS`] are folded into `archive.json` (lifetime
//!   totals only) by whichever proxy starts first, under a non-blocking file lock.
//! * **Cost is computed when read**, from the model name and a documented list-price table
//!   ([`usd_per_mtok`]), so the ledger stores only facts (tokens) and an updated table
//!   applies to the past too.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use headroom_protocol::{History, HistoryDay, HistoryRow, Period, Savings, SERVICE};
use serde::{Deserialize, Serialize};

/// Day files kept before they are folded into `archive.json`.
pub(crate) const KEEP_DAYS: i64 = 400;
/// Longest history `/stats/history` serves.
pub(crate) const MAX_HISTORY_DAYS: usize = 366;
const ARCHIVE: &str = "archive.json";
/// Longest field value stored (model names and client names are short; this bounds a line).
const MAX_FIELD: usize = 80;

/// One ledger line.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Line {
    provider: String,
    model: String,
    client: String,
    #[serde(default = "one")]
    requests: u64,
    before: u64,
    after: u64,
}

fn one() -> u64 {
    1
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Counts {
    requests: u64,
    before: u64,
    after: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.requests += o.requests;
        self.before += o.before;
        self.after += o.after;
    }
}

/// (provider, model, client)
type Key = (String, String, String);

#[derive(Debug, Default, Serialize, Deserialize)]
struct Archive {
    /// Per (provider, model): counts folded from day files that were retired.
    #[serde(default)]
    rows: Vec<(String, String, u64, u64, u64)>,
}

#[derive(Default)]
struct ReadState {
    /// Bytes of each day file already read.
    offsets: HashMap<String, u64>,
    /// day number → key → counts.
    days: BTreeMap<i64, HashMap<Key, Counts>>,
    /// Retired days, per (provider, model), for lifetime totals.
    archive: HashMap<(String, String), Counts>,
}

/// What one examined LLM request contributes.
#[derive(Debug, Clone)]
pub(crate) struct Entry<'a> {
    pub(crate) provider: &'a str,
    pub(crate) model: Option<&'a str>,
    pub(crate) client: &'static str,
    pub(crate) before: u64,
    pub(crate) after: u64,
}

/// The ledger of one proxy: persistent when it has a directory, else in memory only (the
/// periods then cover this process's lifetime).
pub(crate) struct Ledger {
    dir: Option<PathBuf>,
    writer: Mutex<Option<(i64, File)>>,
    read: Mutex<ReadState>,
}

impl Ledger {
    /// A ledger in `dir` (created 0700 if missing). When the directory cannot be used the
    /// ledger falls back to memory and says why in the log; savings are never worth failing a
    /// proxy start for.
    pub(crate) fn open(dir: Option<PathBuf>) -> Ledger {
        let dir = dir.and_then(|d| match create_private_dir(&d) {
            Ok(()) => Some(d),
            Err(e) => {
                tracing::warn!(dir = %d.display(), error = %e, "savings ledger disabled: cannot use its directory");
                None
            }
        });
        let ledger = Ledger {
            dir,
            writer: Mutex::new(None),
            read: Mutex::new(ReadState::default()),
        };
        if let Some(d) = &ledger.dir {
            if let Err(e) = retire_old_days(d, today()) {
                tracing::debug!(error = %e, "savings ledger: old days not folded");
            }
        }
        ledger.refresh();
        ledger
    }

    pub(crate) fn persistent(&self) -> bool {
        self.dir.is_some()
    }

    /// Record one examined request.
    pub(crate) fn record(&self, e: &Entry<'_>) {
        let line = Line {
            provider: clip(e.provider),
            model: clip(e.model.unwrap_or("unknown")),
            client: e.client.to_owned(),
            requests: 1,
            before: e.before,
            after: e.after.min(e.before),
        };
        let day = today();
        let Some(dir) = &self.dir else {
            let mut r = lock(&self.read);
            let key = (line.provider, line.model, line.client);
            r.days
                .entry(day)
                .or_default()
                .entry(key)
                .or_default()
                .add(&Counts {
                    requests: 1,
                    before: line.before,
                    after: line.after,
                });
            return;
        };
        let Ok(mut text) = serde_json::to_string(&line) else {
            return;
        };
        text.push('\n');
        let mut w = lock(&self.writer);
        if w.as_ref().map(|(d, _)| *d) != Some(day) {
            *w = open_day(dir, day).ok().map(|f| (day, f));
        }
        if let Some((_, f)) = w.as_mut() {
            if let Err(e) = f.write_all(text.as_bytes()) {
                tracing::debug!(error = %e, "savings ledger: line not written");
                *w = None;
            }
        }
    }

    /// Read whatever was appended since the last call (by this process or another).
    fn refresh(&self) {
        let Some(dir) = &self.dir else { return };
        let mut r = lock(&self.read);
        if let Ok(text) = std::fs::read(dir.join(ARCHIVE)) {
            if let Ok(a) = serde_json::from_slice::<Archive>(&text) {
                r.archive.clear();
                for (p, m, requests, before, after) in a.rows {
                    r.archive.entry((p, m)).or_default().add(&Counts {
                        requests,
                        before,
                        after,
                    });
                }
            }
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut seen = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(day) = name.strip_suffix(".jsonl").and_then(parse_date) else {
                continue;
            };
            seen.push(name.clone());
            let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
            let offset = r.offsets.get(&name).copied().unwrap_or(0);
            if len < offset {
                // Replaced or truncated: read it again from the start.
                r.days.remove(&day);
                r.offsets.insert(name.clone(), 0);
            }
            let offset = r.offsets.get(&name).copied().unwrap_or(0);
            if len == offset {
                continue;
            }
            let Ok(mut f) = File::open(entry.path()) else {
                continue;
            };
            let mut buf = Vec::new();
            if f.seek(SeekFrom::Start(offset)).is_err() || f.read_to_end(&mut buf).is_err() {
                continue;
            }
            // Only complete lines; a line still being written is read next time.
            let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
                continue;
            };
            let per_day = r.days.entry(day).or_default();
            for raw in buf[..end].split(|&b| b == b'\n') {
                // A line torn by a crash (and joined with the next writer's) is skipped.
                if let Ok(l) = serde_json::from_slice::<Line>(raw) {
                    per_day
                        .entry((l.provider, l.model, l.client))
                        .or_default()
                        .add(&Counts {
                            requests: l.requests,
                            before: l.before,
                            after: l.after.min(l.before),
                        });
                }
            }
            r.offsets.insert(name, offset + end as u64 + 1);
        }
        // Days retired by another process since: forget them (the archive has them now).
        let retired: Vec<String> = r
            .offsets
            .keys()
            .filter(|k| !seen.contains(k))
            .cloned()
            .collect();
        for name in retired {
            r.offsets.remove(&name);
            if let Some(day) = name.strip_suffix(".jsonl").and_then(parse_date) {
                r.days.remove(&day);
            }
        }
    }

    /// `/stats.savings`.
    pub(crate) fn savings(&self) -> Savings {
        self.refresh();
        let today = today();
        let r = lock(&self.read);
        let mut out = Savings {
            persistent: self.persistent(),
            date: format_date(today),
            ..Savings::default()
        };
        for (day, rows) in &r.days {
            for (key, c) in rows {
                let p = period(&key.1, c);
                out.lifetime.add(&p);
                if *day > today - 7 {
                    out.last_7_days.add(&p);
                }
                if *day == today {
                    out.today.add(&p);
                }
            }
        }
        for ((_, model), c) in &r.archive {
            out.lifetime.add(&period(model, c));
        }
        out
    }

    /// `/stats/history?days=N`.
    pub(crate) fn history(&self, days: usize) -> History {
        self.refresh();
        let days = days.clamp(1, MAX_HISTORY_DAYS) as i64;
        let today = today();
        let r = lock(&self.read);
        let mut out = History {
            service: SERVICE.to_owned(),
            persistent: self.persistent(),
            ..History::default()
        };
        for day in today - days + 1..=today {
            let mut d = HistoryDay {
                date: format_date(day),
                ..HistoryDay::default()
            };
            if let Some(rows) = r.days.get(&day) {
                let mut keys: Vec<&Key> = rows.keys().collect();
                keys.sort();
                for key in keys {
                    let p = period(&key.1, &rows[key]);
                    d.total.add(&p);
                    d.rows.push(HistoryRow {
                        provider: key.0.clone(),
                        model: key.1.clone(),
                        client: key.2.clone(),
                        period: p,
                    });
                }
            }
            out.days.push(d);
        }
        for rows in r.days.values() {
            for (key, c) in rows {
                out.lifetime.add(&period(&key.1, c));
            }
        }
        for ((_, model), c) in &r.archive {
            out.lifetime.add(&period(model, c));
        }
        out
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn clip(s: &str) -> String {
    let s: String = s
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_FIELD)
        .collect();
    if s.is_empty() {
        "unknown".into()
    } else {
        s
    }
}

fn period(model: &str, c: &Counts) -> Period {
    let saved = c.before.saturating_sub(c.after);
    Period {
        requests: c.requests,
        tokens_before: c.before,
        tokens_after: c.after,
        tokens_saved: saved,
        cost_saved_usd: saved as f64 * usd_per_mtok(model) / 1e6,
    }
}

/// List price of one million base input tokens, in USD, by model family. Savings are input
/// tokens that were never sent, so the base input price is what they would have cost (prompt
/// caching discounts are not applied: an estimate, documented as such in docs/stats.md).
/// Unknown models are priced like their provider's mainstream model.
pub(crate) fn usd_per_mtok(model: &str) -> f64 {
    let m = model.to_ascii_lowercase();
    // Most specific first.
    const TABLE: &[(&str, f64)] = &[
        ("claude-opus-4-5", 5.0),
        ("claude-opus-4.5", 5.0),
        ("opus-4-5", 5.0),
        ("opus", 15.0),
        ("claude-haiku-4", 1.0),
        ("haiku-4", 1.0),
        ("claude-3-5-haiku", 0.8),
        ("haiku", 0.25),
        ("sonnet", 3.0),
        ("claude", 3.0),
        ("gpt-5-nano", 0.05),
        ("gpt-5-mini", 0.25),
        ("gpt-5", 1.25),
        ("codex-mini", 1.5),
        ("gpt-4.1-nano", 0.1),
        ("gpt-4.1-mini", 0.4),
        ("gpt-4.1", 2.0),
        ("gpt-4o-mini", 0.15),
        ("gpt-4o", 2.5),
        ("o4-mini", 1.1),
        ("o3-mini", 1.1),
        ("o3", 2.0),
        ("o1", 15.0),
    ];
    TABLE
        .iter()
        .find(|(k, _)| m.contains(k))
        .map(|(_, p)| *p)
        .unwrap_or(if m.contains("gpt") || m.starts_with('o') {
            1.25
        } else {
            3.0
        })
}

/// The coding tool behind a request, from its `User-Agent` (what the clients really send:
/// `claude-cli/2.1.x (external, cli)`, `codex_cli_rs/0.17x …`, `codex_exec/…`, the SDKs'
/// `Anthropic/Python …` and `OpenAI/Python …`).
pub(crate) fn client_of(user_agent: Option<&str>) -> &'static str {
    let ua = user_agent.unwrap_or("").to_ascii_lowercase();
    const TABLE: &[(&str, &str)] = &[
        ("claude-cli", "claude-code"),
        ("claude-code", "claude-code"),
        ("codex", "codex"),
        ("opencode", "opencode"),
        ("qwen-code", "qwen-code"),
        ("aider", "aider"),
        ("copilot", "copilot"),
        ("cursor", "cursor"),
        ("openclaw", "openclaw"),
        ("gemini-cli", "gemini-cli"),
        ("litellm", "litellm"),
        ("anthropic/python", "anthropic-python"),
        ("anthropic/js", "anthropic-js"),
        ("openai/python", "openai-python"),
        ("openai/js", "openai-js"),
    ];
    TABLE
        .iter()
        .find(|(k, _)| ua.contains(k))
        .map(|(_, c)| *c)
        .unwrap_or("other")
}

fn create_private_dir(d: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(d)?;
    // Probe that we may write there (a read-only workspace disables the ledger up front).
    let probe = d.join(format!(".probe-{}", std::process::id()));
    File::create(&probe)?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

fn open_day(dir: &Path, day: i64) -> std::io::Result<File> {
    let path = dir.join(format!("{}.jsonl", format_date(day)));
    let mut o = OpenOptions::new();
    o.create(true).append(true).read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(&path)?;
    // A previous writer that died mid-line left no newline: end that line so ours stays whole.
    let len = f.metadata()?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        f.seek(SeekFrom::Start(len - 1))?;
        f.read_exact(&mut last)?;
        if last[0] != b'\n' {
            f.write_all(b"\n")?;
        }
    }
    Ok(f)
}

/// Fold day files older than [`KEEP_DAYS`] into the archive. Only one process does it at a
/// time (an exclusively created lock file); the archive is replaced atomically before the day files go, so
/// a crash in between counts a day twice at worst until the next start removes the file.
fn retire_old_days(dir: &Path, today: i64) -> std::io::Result<()> {
    let mut old = Vec::new();
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(day) = name.strip_suffix(".jsonl").and_then(parse_date) {
            if day <= today - KEEP_DAYS {
                old.push(entry.path());
            }
        }
    }
    if old.is_empty() {
        return Ok(());
    }
    // One retirer at a time: an exclusively created lock file (a stale one from a crashed
    // process is taken over after ten minutes).
    let lock_path = dir.join(".retire.lock");
    let stale = std::fs::metadata(&lock_path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age.as_secs() > 600);
    if stale {
        let _ = std::fs::remove_file(&lock_path);
    }
    if OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&lock_path)
        .is_err()
    {
        return Ok(());
    }
    let result = fold(dir, old);
    let _ = std::fs::remove_file(&lock_path);
    result
}

fn fold(dir: &Path, old: Vec<PathBuf>) -> std::io::Result<()> {
    let mut archive: Archive = std::fs::read(dir.join(ARCHIVE))
        .ok()
        .and_then(|t| serde_json::from_slice(&t).ok())
        .unwrap_or_default();
    let mut folded: BTreeMap<(String, String), Counts> = BTreeMap::new();
    for (p, m, requests, before, after) in archive.rows.drain(..) {
        folded.entry((p, m)).or_default().add(&Counts {
            requests,
            before,
            after,
        });
    }
    for path in &old {
        let text = std::fs::read(path)?;
        for raw in text.split(|&b| b == b'\n') {
            if let Ok(l) = serde_json::from_slice::<Line>(raw) {
                folded
                    .entry((l.provider, l.model))
                    .or_default()
                    .add(&Counts {
                        requests: l.requests,
                        before: l.before,
                        after: l.after.min(l.before),
                    });
            }
        }
    }
    archive.rows = folded
        .into_iter()
        .map(|((p, m), c)| (p, m, c.requests, c.before, c.after))
        .collect();
    let tmp = dir.join(format!(".{ARCHIVE}.{}", std::process::id()));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(&archive).unwrap_or_default())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(ARCHIVE))?;
    for path in old {
        std::fs::remove_file(path)?;
    }
    Ok(())
}

/// Days since 1970-01-01 (UTC).
pub(crate) fn today() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| (d.as_secs() / 86_400) as i64)
        .unwrap_or(0)
}

/// `YYYY-MM-DD` of a day number (proleptic Gregorian, Howard Hinnant's civil-from-days).
pub(crate) fn format_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Inverse of [`format_date`]; `None` for anything that is not a date we wrote.
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = s[0..4].parse().ok()?;
    let m: i64 = s[5..7].parse().ok()?;
    let d: i64 = s[8..10].parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (format_date(days) == s).then_some(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(before: u64, after: u64) -> Entry<'static> {
        Entry {
            provider: "anthropic",
            model: Some("claude-sonnet-4-5"),
            client: "claude-code",
            before,
            after,
        }
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(20_789), "2026-12-02");
        for d in [-800, 0, 59, 60, 365, 11_016, 20_789, 40_000] {
            assert_eq!(parse_date(&format_date(d)), Some(d), "{d}");
        }
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("archive"), None);
    }

    #[test]
    fn two_proxies_share_one_ledger_and_it_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let a = Ledger::open(Some(dir.path().into()));
        let b = Ledger::open(Some(dir.path().into()));
        a.record(&entry(1000, 400));
        b.record(&entry(500, 500));
        b.record(&entry(2_000_000, 1_000_000));
        for l in [&a, &b] {
            let s = l.savings();
            assert!(s.persistent);
            assert_eq!(s.today.requests, 3);
            assert_eq!(s.today.tokens_saved, 1_000_600);
            assert_eq!(s.lifetime, s.today);
            assert!((s.today.cost_saved_usd - 1_000_600.0 * 3.0 / 1e6).abs() < 1e-9);
        }
        drop((a, b));
        let again = Ledger::open(Some(dir.path().into()));
        assert_eq!(again.savings().lifetime.tokens_saved, 1_000_600);
        let h = again.history(7);
        assert_eq!(h.days.len(), 7);
        assert_eq!(h.days[6].date, format_date(today()));
        assert_eq!(h.days[6].rows.len(), 1);
        assert_eq!(h.days[6].rows[0].client, "claude-code");
        assert_eq!(h.days[0].total, Period::default());
    }

    #[test]
    fn torn_lines_are_skipped_and_terminated() {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("{}.jsonl", format_date(today()));
        std::fs::write(
            dir.path().join(&name),
            "{\"provider\":\"openai\",\"model\":\"gpt-5\",\"client\":\"codex\",\"before\":10,\"after\":4}\n{\"provider\":\"op",
        )
        .unwrap();
        let l = Ledger::open(Some(dir.path().into()));
        assert_eq!(l.savings().today.tokens_saved, 6);
        l.record(&entry(100, 50));
        let s = l.savings();
        assert_eq!((s.today.requests, s.today.tokens_saved), (2, 56));
    }

    #[test]
    fn old_days_fold_into_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let old = format!("{}.jsonl", format_date(today() - KEEP_DAYS - 3));
        std::fs::write(
            dir.path().join(&old),
            "{\"provider\":\"openai\",\"model\":\"gpt-5\",\"client\":\"codex\",\"before\":10,\"after\":4}\n",
        )
        .unwrap();
        let l = Ledger::open(Some(dir.path().into()));
        assert!(!dir.path().join(&old).exists());
        let s = l.savings();
        assert_eq!((s.lifetime.tokens_saved, s.today.tokens_saved), (6, 0));
    }

    #[test]
    fn without_a_directory_it_counts_in_memory() {
        let l = Ledger::open(None);
        l.record(&entry(10, 3));
        let s = l.savings();
        assert!(!s.persistent);
        assert_eq!(s.today.tokens_saved, 7);
    }

    #[test]
    fn clients_and_prices() {
        assert_eq!(
            client_of(Some("claude-cli/2.1.197 (external, cli)")),
            "claude-code"
        );
        assert_eq!(
            client_of(Some("codex_cli_rs/0.171.0 (Debian 12; x86_64)")),
            "codex"
        );
        assert_eq!(
            client_of(Some("Anthropic/Python 2.16.0")),
            "anthropic-python"
        );
        assert_eq!(client_of(None), "other");
        assert_eq!(usd_per_mtok("claude-opus-4-5-20251101"), 5.0);
        assert_eq!(usd_per_mtok("claude-sonnet-4-5"), 3.0);
        assert_eq!(usd_per_mtok("gpt-5-codex"), 1.25);
        assert_eq!(usd_per_mtok("gpt-4o-mini"), 0.15);
    }
}
