#!/usr/bin/env python3
"""Regenerate the corpus of real tool outputs (issue 12).

Every entry is the output of a real command run on this machine, on real code: this repository
(a temporary clone, so planted edits never touch the checkout), crates from the local cargo
registry copied into a temp dir, packages downloaded from PyPI and npm through pip and npm, and
system folders. Bugs and warnings are *planted* in the temp copies so builds and test runs fail
the way they do in a session. Nothing outside the temp dir is written except `outputs/` and
`manifest.json` next to this script.

For each entry the manifest records the command, its exit code, the class it belongs to, the
question a user would have asked, and the facts that must survive compression:
  * `facts`: lines or fragments an agent needs in view (errors, failing tests, summaries,
    every diagnostic location, the line a search was for);
  * `details`: things that must stay reachable (in view or via `headroom_retrieve`).
Facts are extracted from the real output by per-entry patterns (never hard-coded), so a
regenerated corpus has facts that match its outputs.

Usage: python3 crates/headroom-compress/corpus/generate.py [--only NAME_SUBSTRING]
Needs: cargo (+clippy), git, python3 (venv), npm/node, javac, rg, grep, find, ls, ps; network
access to PyPI and npm. Missing tools skip their entries with a note.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(HERE, "outputs")
MAX_BYTES = 300_000
ONLY = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
# Re-extract facts from the committed outputs without re-running the commands.
REFACTS = "--refacts" in sys.argv

T = tempfile.mkdtemp(prefix="hr-corpus-")
HOME = os.path.expanduser("~")
ENV = dict(os.environ)
ENV.update(
    {
        "CARGO_TERM_COLOR": "never",
        "NO_COLOR": "1",
        "CARGO_BUILD_JOBS": "1",
        "CARGO_TARGET_DIR": os.path.join(T, "target"),
        "GIT_PAGER": "cat",
        "PAGER": "cat",
        "COLUMNS": "120",
        "LC_ALL": "C.UTF-8",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
        "npm_config_update_notifier": "false",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
)

entries = []
OLD_ENTRIES = []
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def sanitize(s):
    """No personal or machine paths in the committed corpus: only /tmp-style ones."""
    s = s.replace(T, "/tmp/corpus")
    s = s.replace(REPO, "/tmp/headroom")
    s = s.replace(HOME, "/home/dev")
    host = os.uname().nodename
    if len(host) > 3:
        s = s.replace(host, "devbox")
    return s


def sh(cmd, cwd=None, check=False, env=None):
    """Run a setup command (not recorded)."""
    r = subprocess.run(
        cmd, shell=True, cwd=cwd or T, env=env or ENV, capture_output=True, text=True,
        errors="replace",
    )
    if check and r.returncode != 0:
        raise RuntimeError(f"setup failed: {cmd}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r


def have(tool):
    return shutil.which(tool) is not None


def extract(text, patterns, cap=400):
    """Facts: for each pattern, every line it matches (group 1 if any, else the stripped line),
    deduplicated, in order, each cut to 160 chars."""
    out = []
    seen = set()
    plain = ANSI.sub("", text)
    for pat in patterns:
        rx = re.compile(pat)
        for line in plain.splitlines():
            m = rx.search(line)
            if not m:
                continue
            if "t" in m.groupdict():
                f = m.group("t")
            else:
                f = m.group(1) if m.groups() else line
            f = f.strip()[:160].strip()
            if len(f) >= 3 and f not in seen:
                seen.add(f)
                out.append(f)
            if len(out) >= cap:
                return out
    return out


def record(name, cls, command, cwd, facts=(), details=(), question=None, shape_cmd=None,
           max_bytes=MAX_BYTES, keep_tail=False, stdin=None, not_in=None):
    """Run `command` (bash, stdout+stderr interleaved like a terminal) and record it."""
    if ONLY and ONLY not in name:
        return
    if REFACTS:
        path = os.path.join(OUT, f"{name}.txt")
        if not os.path.exists(path):
            return
        text = open(path).read()
        old = next(e for e in OLD_ENTRIES if e["name"] == name)
        r = subprocess.CompletedProcess([], old["exit_code"], text, "")
    else:
        r = subprocess.run(
            ["bash", "-c", command + " 2>&1"], cwd=cwd, env=ENV, capture_output=True,
            text=True, errors="replace", input=stdin,
        )
    text = sanitize(r.stdout)
    cut = False
    if len(text.encode()) > max_bytes:
        lines = text.splitlines(keepends=True)
        acc, size = [], 0
        seq = reversed(lines) if keep_tail else lines
        for l in seq:
            size += len(l.encode())
            if size > max_bytes:
                break
            acc.append(l)
        text = "".join(reversed(acc) if keep_tail else acc)
        cut = True
    if not text.strip():
        print(f"  ! {name}: empty output, skipped ({command})", file=sys.stderr)
        return
    path = os.path.join(OUT, f"{name}.txt")
    with open(path, "w") as f:
        f.write(text)
    entry = {
        "name": name,
        "class": cls,
        "command": sanitize(shape_cmd or command),
        "exit_code": r.returncode,
        "bytes": len(text.encode()),
        "question": question,
        "facts": [f for f in extract(text, facts)
                  if not (not_in and any(f in l for l in text.splitlines() if re.search(not_in, l)))],
        "details": [d for d in extract(text, details) if d],
    }
    if cut:
        entry["cut_to_bytes"] = max_bytes
    entries.append(entry)
    print(f"  {name:40} {cls:12} {len(text):>8} B rc={r.returncode} facts={len(entry['facts'])}"
          f" details={len(entry['details'])}", file=sys.stderr)


# Fact patterns shared by several entries.
# Errors whole; for warnings the message (a grouped listing may drop the repeated `warning:`).
RUST_DIAG = [
    r"^(error(?:\[\w+\])?: .*)",
    r"^warning(?:\[\w+\])?: (.*)",
    r"-->\s+(\S+:\d+:\d+)",
    r"^(error: could not compile .*)",
    r"^(warning: .* generated \d+ warnings?.*)",
]
RUST_TEST = [
    r"^(test \S+ \.\.\. FAILED)",
    r"^(---- \S+ stdout ----)",
    r"(panicked at \S+:\d+:\d+)",
    r"^(test result: .*)",
    r"^(error: test failed.*)",
    r"^\s+(left: .*)",
    r"^\s+(right: .*)",
]
# Diffs: every file header and every changed line (hunk headers are renumbered by trimming).
DIFF = [r"^(diff --git .*)", r"^([+-](?![+-]{2} ).*\S.*)"]
# Search: the text of each match line (grouping may move path and line number apart).
HIT = r"^[^\s:]+:(?:\d+:)?\s*(?P<t>\S.*)"
PYTEST = [
    r"^(FAILED \S+)",
    r"^(ERROR \S+)",
    r"^(E\s+\S.*)",
    r"^(=+ .*(?:passed|failed|error).* =+)$",
    r"^(_+ \S+ _+)$",
]


def main():
    os.makedirs(OUT, exist_ok=True)
    if REFACTS:
        with open(os.path.join(HERE, "manifest.json")) as f:
            OLD_ENTRIES.extend(json.load(f)["entries"])
    elif not ONLY:
        for f in os.listdir(OUT):
            os.remove(os.path.join(OUT, f))
    print(f"temp dir {T}", file=sys.stderr)

    # ---------------------------------------------------------------- git, on a temp clone
    repo = os.path.join(T, "headroom")
    sh(f"git clone -q {REPO} {repo}", check=True)
    g = lambda c: c  # readability
    record("git_log_40", "git_log", g("git log -n 40"), repo,
           facts=[r"^(commit [0-9a-f]{40})"], question="what changed recently?")
    record("git_log_stat", "git_log", "git log --stat -n 15", repo,
           facts=[r"^(commit [0-9a-f]{40})", r"^( \d+ files? changed.*)"],
           question="which files did the last commits touch?")
    record("git_log_oneline", "git_log", "git log --oneline", repo,
           facts=[r"^([0-9a-f]{7,}) "], question="list the commits")
    record("git_log_format", "git_log", "git log --format='%h %ad %s' --date=short -n 60", repo,
           facts=[r"^([0-9a-f]{7,}) "])
    record("git_log_graph", "git_log", "git log --graph --decorate --oneline --all -n 80", repo,
           facts=[r"([0-9a-f]{7,}) "])
    record("git_log_patch", "diff", "git log -p -n 2 -- crates/headroom-compress", repo,
           facts=[r"^(commit [0-9a-f]{40})"] + DIFF)
    record("git_show_stat", "git_log", "git show --stat HEAD~1", repo,
           facts=[r"^(commit [0-9a-f]{40})", r"^( \d+ files? changed.*)"])
    record("git_show", "diff", "git show HEAD~2", repo,
           facts=[r"^(commit [0-9a-f]{40})"] + DIFF)
    record("git_diff_range", "diff", "git diff HEAD~6 HEAD -- crates docs", repo,
           facts=DIFF, max_bytes=250_000)
    record("git_diff_stat", "git_log", "git diff --stat HEAD~20 HEAD", repo,
           facts=[r"^( \d+ files? changed.*)"], details=[r"^ (\S+)\s+\|"])
    record("git_blame", "text", "git blame crates/headroom-compress/src/router.rs", repo,
           facts=[r"(fn detect_lines)"], question="who wrote detect_lines?")
    record("git_shortlog", "small", "git shortlog -sn HEAD", repo, facts=[r"^\s+(\d+\s+\S.*)"])
    record("git_status_clean", "small", "git status", repo, facts=[r"(nothing to commit.*)"])
    # Planted edits for status / diff of a working tree.
    sh("sed -i 's/min_bytes: 500/min_bytes: 400/' crates/headroom-compress/src/lib.rs", cwd=repo)
    sh("sed -i 's/const SAMPLE: usize = 400;/const SAMPLE: usize = 800;/' "
       "crates/headroom-compress/src/router.rs", cwd=repo)
    sh("for f in $(git ls-files 'crates/*/src/*.rs' | head -40); do "
       "sed -i '1s|^|// reviewed\\n|' $f; done", cwd=repo)
    sh("mkdir -p scratch && for i in $(seq 1 30); do echo x > scratch/note_$i.txt; done; "
       "git rm -q --cached README.md", cwd=repo)
    record("git_status_dirty", "listing", "git status", repo,
           facts=[r"^\s+(modified:\s+\S+)", r"^\s+(deleted:\s+\S+)", r"(Untracked files:)",
                  r"^\s+(scratch/)"])
    record("git_status_short", "listing", "git status --short", repo,
           facts=[r"^( M \S+)", r"^(D  \S+)", r"^(\?\? \S+)"])
    record("git_diff_worktree", "diff", "git diff", repo,
           facts=[r"^(diff --git .*)", r"^([+-](?:\s+min_bytes|const SAMPLE).*)"])
    record("git_diff_word_stat", "git_log", "git diff --numstat HEAD~12 HEAD", repo,
           details=[r"^(\d+\s+\d+\s+\S+)"], max_bytes=200_000)

    # ---------------------------------------------------------------- search
    if have("rg"):
        record("rg_fn_defs", "search", "rg -n 'fn ' crates -g '!*.json'", repo,
               facts=[r"(fn text_envelope\b.*)"],
               details=[HIT],
               question="where is fn text_envelope defined?")
        record("rg_plain", "search", "rg 'compress_request' crates docs", repo,
               facts=[r"(pub fn compress_request\(.*)"],
               question="where is compress_request declared and called?")
        record("rg_context", "search", "rg -n -C 3 'Options \\{' crates", repo,
               facts=[HIT], question="where are Options built?")
        record("rg_unsafe_regex_syntax", "search", "rg -n 'unsafe|unwrap\\(\\)' .", REG_SYNTAX(),
               facts=[HIT], question="find the unsafe blocks")
        record("rg_files", "listing", "rg --files crates docs", repo,
               details=[r"/(router\.rs)$"])
        record("rg_count", "search", "rg -c 'fn ' crates", repo, details=[r"([^/\s]+:\d+)$"])
        record("rg_json", "json", "rg --json -m 3 'thiserror' crates", repo,
               facts=[r'"path":\{"text":"([^"]+)"'])
        record("rg_todo_wide", "search", "rg -n -i 'todo|fixme|xxx|hack' " + REGISTRY_SAMPLE(),
               T, details=[HIT], question="which TODOs are in the vendored crates?",
               max_bytes=280_000)
    record("grep_rn_struct", "search", "grep -rn 'pub struct' crates", repo,
           facts=[r"(pub struct Outcome\b.*)"], details=[HIT],
           question="where is the Outcome struct?")
    record("grep_context", "search", "grep -rn -B2 -A2 'thiserror' crates --include=*.rs", repo,
           facts=[HIT])
    record("grep_python_defs", "search", "grep -rn '^def \\|^    def ' .", PYPKG("toolz"),
           facts=[r"(def merge_with\b.*)"], details=[HIT],
           question="where is merge_with defined?")
    record("grep_l", "listing", "grep -rl 'impl' " + REGISTRY_SAMPLE(), T,
           details=[r"/ast/(parse\.rs)$"])

    # ---------------------------------------------------------------- listings and tables
    record("find_repo", "listing", "find . -path ./.git -prune -o -type f -print", repo,
           details=[r"/(router\.rs)$"])
    record("find_usr_share", "listing", "find /usr/share/doc -maxdepth 2 -name 'copyright'", T,
           details=[r"(/usr/share/doc/git/)copyright"], max_bytes=120_000)
    record("find_node_modules", "listing", "find node_modules -name '*.d.ts' | sort", NPMPROJ(),
           details=[r"/(lib\.es2015\.d\.ts)$"], max_bytes=150_000)
    record("find_mtime", "listing", "find /usr/lib/python3* -maxdepth 1 -name '*.py' -newer /etc/hostname -o -maxdepth 1 -name '*.py' -print", T,
           details=[r"/(os\.py)$"])
    record("ls_la_usr_bin", "listing", "ls -la /usr/bin", T,
           facts=[r"(\S+\s+git)$", r"^(total \d+)"], question="is git installed?")
    record("ls_la_etc", "listing", "ls -la /etc", T, facts=[r"^(total \d+)"], details=[r"(\S*\s+hostname)$"])
    record("ls_la_registry_src", "listing", "ls -la " + REG_SYNTAX() + "/src/ast", T,
           facts=[r"(\S+\s+parse\.rs)$"])
    record("ls_lR_pkg", "listing", "ls -lR node_modules/semver", NPMPROJ(),
           facts=[r"^(node_modules/semver/\S*:)$"], details=[r"(\S+\s+semver\.js)$"])
    record("ls_1_lib", "listing", "ls -1 /usr/lib/x86_64-linux-gnu", T,
           facts=[r"^(libc\.so\.6)$"], max_bytes=120_000)
    record("ls_lh_sizes", "listing", "ls -lhS /usr/lib/x86_64-linux-gnu | head -300", T,
           facts=[r"^(total \S+)"])
    if have("tree"):
        record("tree_crates", "listing", "tree crates", repo,
               facts=[r"^(\d+ directories, \d+ files)"], details=[r"(router\.rs)"])
        record("tree_pkg", "listing", "tree -L 3 node_modules/typescript", NPMPROJ(),
               facts=[r"^(\d+ directories, \d+ files)"])
    record("du_ah", "listing", "du -ah node_modules | sort -k2 | head -800", NPMPROJ(),
           details=[r"(\S+\s+node_modules/typescript)$"])
    # Multi-line records of one shape (eight labelled lines per file), no run of one shape.
    record("stat_usr_bin", "listing", "stat /usr/bin/* | head -2400", T,
           facts=[r"^\s*(File: /usr/bin/bash)$"],
           details=[r"^\s*(File: /usr/bin/b2sum)$"], question="what are the permissions of bash?")
    record("ps_eo", "table", "ps -eo user,pid,ppid,%cpu,%mem,vsz,rss,tty,stat,start,time,comm", T,
           facts=[r"^(USER\s+PID.*)"])
    record("ps_threads", "table", "ps -eLo pid,lwp,nlwp,stat,comm", T, facts=[r"^(\s*PID\s+LWP.*)"])
    record("df_h", "small", "df -h", T, facts=[r"^(Filesystem.*)"])
    record("dpkg_l", "table", "dpkg -l", T,
           facts=[r"^(ii\s+git\s+\S+)"], details=[r"^(ii\s+ripgrep\s+\S+)"], question="which git version?",
           max_bytes=280_000)
    record("apt_list_installed", "table", "apt list --installed 2>/dev/null | head -1500", T,
           facts=[r"^(git/\S+ \S+)"], question="which git version is installed?")
    if have("docker"):
        record("docker_ps", "small", "docker ps -a", T, facts=[r"(Cannot connect.*|CONTAINER ID.*)"])
    record("mount", "table", "mount", T, facts=[r"^(\S+ on / type \S+)"])
    record("pip_list_table", "table", f"{VENV()}/bin/pip list", T, facts=[r"^(pytest\s+\S+)"],
           question="which pytest version is installed?")
    record("npm_ls_all", "listing", "npm ls --all", NPMPROJ(), facts=[r"(typescript@\S+)", r"(semver@\S+)"])
    record("cargo_tree", "listing", "cargo tree -p headroom-compress -e normal,dev", repo,
           details=[r"(tiktoken-rs v\S+)", r"(serde_json v\S+)"])

    # ---------------------------------------------------------------- JSON
    record("cargo_metadata", "json", "cargo metadata --format-version 1", CRATE("either"),
           facts=[r'"name":"(either)"'], details=[r'"version":"([\d.]+)"'],
           question="which version of serde_json is resolved?")
    record("cargo_metadata_nodeps", "json", "cargo metadata --format-version 1 --no-deps",
           repo, facts=[r'"name":"(headroom-compress)"'])
    record("cargo_build_json", "json",
           "cargo build --message-format=json 2>/dev/null | head -400", WARN_CRATE(),
           facts=[r'"code":\{"code":"(\w+)"'], max_bytes=280_000)
    for pkg, q in [("express", "what is the latest express version?"),
                   ("lodash", "what license does lodash use?"),
                   ("axios", "which axios versions are tagged next?"),
                   ("chalk", "what does chalk depend on?")]:
        record(f"npm_view_{pkg}", "json", f"npm view {pkg} --json", T,
               facts=[r'^\s+"(latest)": "', r'^\s+"latest": "([^"]+)"', r'^\s+"license": "([^"]+)"'],
               details=[r'^\s+"(4\.17\.21)"', r'^\s+"next": "([^"]+)"'],
               question=q)
    record("npm_view_react_time", "json", "npm view react time --json", T,
           facts=[r'^\s+"(modified)": "'], details=[r'^\s+"(18\.2\.0)": "([^"]+)"'],
           question="when was react 18.2.0 published?")
    record("npm_view_ts_versions", "json", "npm view typescript versions --json", T,
           facts=[r'^\s+"(5\.4\.5)"'], question="is typescript 5.4.5 published?")
    record("npm_view_versions", "json", "npm view semver versions --json", T,
           facts=[r'^\s+"(7\.5\.4)"'], question="is semver 7.5.4 published?")
    record("npm_ls_json", "json", "npm ls --json --all", NPMPROJ(), facts=[r'"(typescript)": \{'],
           details=[r'"version": "([^"]+)"'])
    record("npm_search_json", "json", "npm search --json --searchlimit 60 markdown parser", T,
           facts=[r'"name": ?"(markdown-it)"'], question="which markdown parsers exist?")
    record("pip_list_json", "json", f"{VENV()}/bin/pip list --format=json", T,
           facts=[r'"name": "(pytest)"'])
    record("pip_inspect", "json", f"{VENV()}/bin/pip inspect", T,
           facts=[r'"name": "(pytest)"'], details=[r'"version": "([^"]+)"'],
           question="which version of pluggy is installed?", max_bytes=300_000)
    record("pip_show_files", "listing", f"{VENV()}/bin/pip show -f ruff pytest", T,
           facts=[r"^(Version: \S+)", r"^(Name: \S+)"])
    record("ruff_json", "json",
           f"{VENV()}/bin/ruff check --select E,W,F,B,UP,SIM --output-format json . | head -c 250000",
           PYPKG("toolz"), facts=[r'"code": "(\w+)"'])
    record("node_versions", "small", "node -p 'JSON.stringify(process.versions, null, 2)'", T,
           facts=[r'"(node)": "'])
    record("tsc_show_config", "json", "npx tsc --showConfig --strict --target es2020 --allowJs --checkJs node_modules/semver/index.js", NPMPROJ(),
           facts=[r'"(strict)": true'])

    # ---------------------------------------------------------------- logs, CSV
    record("dpkg_log", "log", "tail -n 3000 /var/log/dpkg.log", T,
           facts=[r"(status installed ripgrep:\S+ \S+)"], question="when was ripgrep installed?")
    record("apt_history", "log", "cat /var/log/apt/history.log", T,
           facts=[r"^(Commandline: .*)"], max_bytes=150_000)
    record("apt_term_log", "log", "tail -n 2500 /var/log/apt/term.log", T,
           facts=[r"^(Setting up ripgrep.*)"])
    record("http_access_log", "log", HTTP_LOG(), T,
           facts=[r'("GET /missing-\d+ HTTP/1\.1" 404)'], question="which requests returned 404?")
    record("csv_dpkg", "table",
           "dpkg-query -W -f='${Package},${Version},${Architecture},${Installed-Size},${Status}\\n'",
           T, facts=[r"^(git,[^,]+)"], question="what version of git is installed (csv)?")
    record("csv_git_log", "table", "git log --format='%h,%ad,%an,%s' --date=iso", repo,
           facts=[r"^([0-9a-f]{7,}),"])
    record("tsv_zones", "table", "grep -v '^#' /usr/share/zoneinfo/zone1970.tab", T,
           facts=[r"(Europe/Paris)"], question="what is the tz for Paris?")
    record("npm_install_log", "log", "npm install --no-audit --foreground-scripts --loglevel=http lodash@4.17.21 chalk@5 2>&1 | tail -400", NPMPROJ(),
           facts=[r"^(added \d+ packages?.*|up to date.*|changed \d+.*)"])
    record("pip_install_verbose", "log", f"{VENV()}/bin/pip install -v --force-reinstall --no-deps iniconfig", T,
           facts=[r"^(Successfully installed .*)"])

    # ---------------------------------------------------------------- Rust builds and tests
    rust_entries()
    # ---------------------------------------------------------------- Python tests and lint
    python_entries()
    # ---------------------------------------------------------------- JS / TS
    js_entries()
    # ---------------------------------------------------------------- Java
    java_entries()
    # ---------------------------------------------------------------- source reads, small
    record("cat_source_rs", "source", "cat crates/headroom-compress/src/router.rs", repo,
           facts=[r"(pub fn compress_problems.*)"])
    record("cat_source_py", "source", "cat toolz/itertoolz.py", PYPKG("toolz"),
           facts=[r"^(def interleave.*)"])
    record("sed_source_range", "source", "sed -n '1,400p' src/ast/parse.rs", REG_SYNTAX(),
           facts=[r"(pub struct ParserBuilder.*)"])
    record("cat_readme", "source", "cat README.md", repo, facts=[r"^(# .*)"])
    # Lockfiles printed through a shell: every package name and version stays in view.
    # A name that also occurs in the dropped `source = "registry+https://…"` lines (`http`)
    # would count as present in a cut input that no longer holds the package.
    record("cat_cargo_lock", "lockfile", "cat Cargo.lock", repo,
           facts=[r'^name = "([^"]+)"', r'^version = "([^"]+)"'], not_in=r"://",
           question="which version of serde does the workspace lock?")
    record("cat_package_lock", "lockfile", "cat package-lock.json", NPMPROJ(),
           facts=[r'^\s+"node_modules/([^"]+)": \{', r'^\s+"version": "([^"]+)"'],
           question="which yargs-parser version is installed?")
    record("cat_cargo_toml", "small", "cat Cargo.toml", CRATE("either"), facts=[r'^(name = .*)'])
    record("cargo_version", "small", "cargo --version --verbose", T, facts=[r"^(cargo \S+)"])
    record("uname", "small", "uname -a; cat /etc/os-release", T, facts=[r"^(PRETTY_NAME=.*)"])
    record("git_branch", "small", "git branch -a", repo, facts=[r"(\S+)"])

    all_entries = entries
    if ONLY:
        # Re-run of some entries: replace them in the existing manifest, keep the others.
        with open(os.path.join(HERE, "manifest.json")) as f:
            old = json.load(f)["entries"]
        new = {e["name"]: e for e in entries}
        all_entries = [new.pop(e["name"], e) for e in old] + list(new.values())
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump({"generated_by": "corpus/generate.py", "entries": all_entries}, f, indent=1,
                  ensure_ascii=False)
        f.write("\n")
    total = sum(e["bytes"] for e in all_entries)
    print(f"{len(all_entries)} entries, {total/1e6:.2f} MB", file=sys.stderr)


# ---------------------------------------------------------------------- sources (memoised)
_memo = {}


def memo(f):
    def g(*a):
        if (f.__name__, a) not in _memo:
            _memo[(f.__name__, a)] = f(*a)
        return _memo[(f.__name__, a)]
    return g


def registry_src():
    base = os.path.join(HOME, ".cargo", "registry", "src")
    return os.path.join(base, sorted(os.listdir(base))[0])


@memo
def CRATE(prefix):
    """A copy of a crate from the local cargo registry (downloaded from crates.io by cargo)."""
    src = registry_src()
    name = sorted(d for d in os.listdir(src) if re.fullmatch(re.escape(prefix) + r"-[\d.]+", d))[-1]
    dst = os.path.join(T, "crates", name)
    shutil.copytree(os.path.join(src, name), dst)
    # A standalone workspace so the copy never joins a parent one.
    with open(os.path.join(dst, "Cargo.toml"), "a") as f:
        f.write("\n[workspace]\n")
    return dst


@memo
def REG_SYNTAX():
    return CRATE("regex-syntax")


@memo
def REGISTRY_SAMPLE():
    """A few vendored crates copied into the temp dir (relative paths in outputs)."""
    d = os.path.join(T, "vendor")
    os.makedirs(d, exist_ok=True)
    src = registry_src()
    names = []
    for p in ["regex-syntax-", "memchr-", "either-", "strsim-", "shlex-", "smallvec-"]:
        n = sorted(x for x in os.listdir(src) if x.startswith(p))[-1]
        shutil.copytree(os.path.join(src, n), os.path.join(d, n))
        names.append(n)
    return " ".join("vendor/" + n for n in names)


@memo
def WARN_CRATE():
    """regex-syntax with planted warnings: dead code and unused variables in a new module."""
    d = CRATE("regex-syntax")
    body = ["#![allow(clippy::all)]", "use std::collections::HashMap;", "use std::fmt::Write;"]
    for i in range(40):
        body.append(f"fn planted_helper_{i}(input: &str, count: usize) -> usize {{\n"
                    f"    let unused_{i} = input.len();\n    let mut total = 0;\n"
                    f"    total += 1;\n    count\n}}")
    with open(os.path.join(d, "src", "planted.rs"), "w") as f:
        f.write("\n".join(body) + "\n")
    lib = os.path.join(d, "src", "lib.rs")
    s = open(lib).read()
    s = s.replace("mod either;", "mod either;\nmod planted;", 1)
    if "mod planted;" not in s:
        s += "\nmod planted;\n"
    open(lib, "w").write(s)
    return d


@memo
def VENV():
    v = os.path.join(T, "venv")
    sh(f"{sys.executable} -m venv {v}", check=True)
    sh(f"{v}/bin/pip install -q pytest ruff", check=True)
    return v


@memo
def PYPKG(name):
    """An sdist from PyPI (tests included), unpacked."""
    d = os.path.join(T, "py")
    os.makedirs(d, exist_ok=True)
    sh(f"{VENV()}/bin/pip download -q --no-deps --no-binary :all: -d {d} {name}", check=True)
    arc = [f for f in os.listdir(d) if f.lower().startswith(name.replace("-", "_")) or f.lower().startswith(name)]
    arc = sorted(a for a in arc if a.endswith(".tar.gz"))[-1]
    sh(f"tar xzf {arc}", cwd=d, check=True)
    return os.path.join(d, arc[: -len(".tar.gz")])


@memo
def NPMPROJ():
    d = os.path.join(T, "js")
    os.makedirs(d, exist_ok=True)
    sh("npm init -y >/dev/null", cwd=d, check=True)
    sh("npm install -q semver@7 typescript@5 minimist@1 yargs@17", cwd=d, check=True)
    return d


def HTTP_LOG():
    """A real access log: python's http.server on loopback, hit by curl."""
    d = os.path.join(T, "www")
    os.makedirs(d, exist_ok=True)
    for i in range(20):
        open(os.path.join(d, f"page_{i}.html"), "w").write(f"<p>page {i}</p>\n")
    return (
        f"cd {d}; python3 -m http.server 18931 --bind 127.0.0.1 >server.log 2>&1 & pid=$!; sleep 1; "
        "for i in $(seq 1 300); do curl -s -o /dev/null http://127.0.0.1:18931/page_$((i % 20)).html; "
        "if [ $((i % 97)) = 0 ]; then curl -s -o /dev/null http://127.0.0.1:18931/missing-$i; fi; done; "
        "kill $pid; wait $pid 2>/dev/null; cat server.log"
    )


def rust_entries():
    if not have("cargo"):
        return
    rs = REG_SYNTAX()
    record("cargo_build_clean", "build_log", "cargo build", rs,
           facts=[r"^\s*(Finished .*)"])
    w = WARN_CRATE()
    record("cargo_build_warnings", "diagnostics", "touch src/lib.rs && cargo build", w,
           facts=RUST_DIAG + [r"^\s*(Finished .*)"])
    record("cargo_build_lints", "diagnostics",
           "touch src/lib.rs && RUSTFLAGS='-W unreachable-pub -W missing-debug-implementations "
           "-W unused-qualifications -W elided-lifetimes-in-paths -W trivial-numeric-casts' "
           "cargo build", w, facts=RUST_DIAG, max_bytes=300_000)
    record("cargo_clippy_pedantic", "diagnostics",
           "touch src/lib.rs && cargo clippy -- -W clippy::pedantic -A dead_code -A unused",
           w, facts=RUST_DIAG, max_bytes=300_000, question="fix the clippy warnings")
    record("cargo_clippy_default", "diagnostics", "touch src/lib.rs && cargo clippy",
           CRATE("smallvec"), facts=RUST_DIAG)
    # Planted errors.
    e = os.path.join(T, "crates", "err-crate")
    shutil.copytree(rs, e)
    p = os.path.join(e, "src", "ast", "parse.rs")
    s = open(p).read()
    s = s.replace("pub fn build(&self) -> Parser {", "pub fn build(&self) -> Parser {\n        let wrong: u32 = \"planted\";", 1)
    s = s.replace("pub fn new() -> ParserBuilder {", "pub fn new() -> ParserBuilder {\n        let _ = undefined_function(1);", 1)
    open(p, "w").write(s)
    record("cargo_build_errors", "diagnostics", "cargo build", e,
           facts=RUST_DIAG, question="why does the build fail?")
    record("cargo_check_json_errors", "json", "cargo check --message-format=json", e,
           facts=[r'"code":\{"code":"(E\d+)"'], max_bytes=200_000)
    # Test runs: passing, failing (planted), with warnings first.
    record("cargo_test_pass", "build_log", "cargo test", rs,
           facts=[r"^(test result: .*)", r"^\s*(Doc-tests \S+)"], question="do the tests pass?")
    t = os.path.join(T, "crates", "fail-crate")
    shutil.copytree(w, t)
    lib = os.path.join(t, "src", "lib.rs")
    with open(lib, "a") as f:
        f.write("""
#[cfg(test)]
mod planted_tests {
    #[test]
    fn planted_arithmetic_is_wrong() {
        let got = crate::escape("a+b");
        assert_eq!(got, "a+b", "escape must keep plus signs");
    }
    #[test]
    fn planted_unwrap_on_none() {
        let v: Option<u8> = None;
        v.expect("planted: the parser returned no AST");
    }
}
""")
    record("cargo_test_fail", "build_log", "cargo test", t,
           facts=RUST_TEST + [r"^warning: (unused variable: .*)"], question="why do the tests fail?")
    record("cargo_test_fail_lib", "build_log", "cargo test --lib -- --test-threads 1", t,
           facts=RUST_TEST)
    record("cargo_test_fail_tail", "build_log", "cargo test 2>&1 | tail -120", t,
           facts=RUST_TEST, shape_cmd="cargo test 2>&1 | tail -120")
    record("cargo_test_strsim", "build_log", "cargo test", CRATE("strsim"),
           facts=[r"^(test result: .*)"])
    record("cargo_test_either", "build_log", "cargo test -- --nocapture", CRATE("either"),
           facts=[r"^(test result: .*)"])
    record("cargo_build_color", "diagnostics", "touch src/lib.rs && cargo build --color=always", w,
           facts=RUST_DIAG)
    record("cargo_doc_warnings", "diagnostics", "cargo doc --no-deps 2>&1 | tail -600", w,
           facts=[r"^((?:warning|error)(?:\[\w+\])?: .*)", r"-->\s+(\S+:\d+:\d+)", r"^\s*(Finished .*)"])


def python_entries():
    toolz = PYPKG("toolz")
    mi = PYPKG("more-itertools")
    py = f"{VENV()}/bin/python"
    record("pytest_pass_v", "build_log", f"{py} -m pytest -v -p no:cacheprovider", toolz,
           facts=[r"^(=+ .*passed.* =+)$"], question="do the tests pass?")
    record("pytest_pass_q", "build_log", f"{py} -m pytest -q -p no:cacheprovider", mi,
           facts=[r"^(\d+ passed.*)"])
    # Planted failures: a wrong result in a library function and an exception in another.
    t2 = os.path.join(T, "py", "toolz-planted")
    shutil.copytree(toolz, t2)
    p = os.path.join(t2, "toolz", "itertoolz.py")
    s = open(p).read()
    s = s.replace("def frequencies(seq):", "def frequencies(seq):\n    seq = list(seq)[1:]", 1)
    s = s.replace("def partition_all(n, seq):", "def partition_all(n, seq):\n    if n == 2:\n        raise ValueError('planted: n == 2 is not supported')", 1)
    open(p, "w").write(s)
    record("pytest_fail_v", "build_log", f"{py} -m pytest -v -p no:cacheprovider", t2,
           facts=PYTEST, question="why do the tests fail?")
    record("pytest_fail_q", "build_log", f"{py} -m pytest -q -p no:cacheprovider", t2, facts=PYTEST)
    record("pytest_fail_long", "build_log", f"{py} -m pytest -p no:cacheprovider --tb=long -rA", t2,
           facts=PYTEST, max_bytes=300_000)
    m2 = os.path.join(T, "py", "mi-planted")
    shutil.copytree(mi, m2)
    p = os.path.join(m2, "more_itertools", "more.py")
    s = open(p).read()
    s = s.replace("def chunked(iterable, n, strict=False):", "def chunked(iterable, n, strict=False):\n    n = n + 1 if n == 3 else n", 1)
    open(p, "w").write(s)
    record("pytest_mi_fail", "build_log", f"{py} -m pytest -p no:cacheprovider -q -x --maxfail=5", m2,
           facts=PYTEST)
    record("pytest_mi_fail_v", "build_log", f"{py} -m pytest -p no:cacheprovider -v", m2, facts=PYTEST,
           max_bytes=300_000)
    ruff = f"{VENV()}/bin/ruff"
    record("ruff_full", "diagnostics", f"{ruff} check --select ALL --output-format full . | head -4000", toolz,
           facts=[r"^([A-Z]+\d+ .*)", r"-->\s+(\S+:\d+:\d+)", r"^(Found \d+ errors?.*)"], max_bytes=300_000)
    record("ruff_concise", "diagnostics", f"{ruff} check --select ALL --output-format concise .", mi,
           facts=[r"^(\S+\.py:\d+:\d+): ", r"^\S+\.py:\d+:\d+: ([A-Z]+\d+) ", r"^(Found \d+ errors?.*)"], max_bytes=300_000,
           question="what lint errors are there?")
    record("ruff_default", "diagnostics", f"{ruff} check .", t2,
           facts=[r"^(\S+\.py:\d+:\d+): ", r"^\S+\.py:\d+:\d+: ([A-Z]+\d+) ", r"^(Found \d+ errors?.*)", r"^(All checks passed!)"])
    record("python_traceback", "build_log", f"{py} -c 'import toolz, json; json.loads(open(\"setup.cfg\").read())'", t2,
           facts=[r"^(json\.decoder\.JSONDecodeError.*)", r"^(Traceback .*)"])
    record("python_compileall", "build_log", f"{py} -m compileall -f toolz more_itertools 2>&1", os.path.join(T, "py"),
           facts=[r"^(Listing .*)"])


def js_entries():
    if not have("node"):
        return
    d = NPMPROJ()
    tests = ["const test = require('node:test');", "const assert = require('node:assert');",
             "const semver = require('semver');", "const minimist = require('minimist');"]
    for i in range(120):
        tests.append(f"test('semver satisfies 1.{i}.0 in ^1.0.0', () => {{ "
                     f"assert.ok(semver.satisfies('1.{i}.0', '^1.0.0')); }});")
    for i in range(60):
        tests.append(f"test('minimist parses --n{i}', () => {{ "
                     f"assert.strictEqual(minimist(['--n{i}', '{i}'])['n{i}'], {i}); }});")
    # Planted failures.
    tests.append("test('semver coerces v2 (planted)', () => { assert.strictEqual(semver.coerce('v2').version, '2.0.1'); });")
    tests.append("test('minimist booleans (planted)', () => { assert.deepStrictEqual(minimist(['-abc']), {_: [], a: true, b: true, c: false}); });")
    open(os.path.join(d, "semver.test.js"), "w").write("\n".join(tests) + "\n")
    open(os.path.join(d, "pass.test.js"), "w").write("\n".join(tests[:4] + tests[4:124]) + "\n")
    record("node_test_fail", "build_log", "node --test semver.test.js", d,
           facts=[r"^(not ok \d+ - .*)", r"^(# (?:pass|fail) \d+)", r"(expected: .*)", r"(actual: .*)"],
           question="which tests fail?")
    record("node_test_pass", "build_log", "node --test pass.test.js", d, facts=[r"^(# (?:pass|fail) \d+)"])
    record("node_test_spec", "build_log", "node --test --test-reporter=spec semver.test.js", d,
           facts=[r"(✖ .*planted.*)", r"^(ℹ (?:pass|fail) \d+)"])
    # TypeScript: planted type errors plus checkJs over a real package.
    open(os.path.join(d, "app.ts"), "w").write(
        "import * as fs from 'fs';\n"
        + "".join(f"export function handler{i}(req: {{ id: number }}): string {{ return req.id; }}\n" for i in range(30))
        + "const x: number = 'planted';\nfs.readFileSync(42);\n")
    record("tsc_errors", "diagnostics", "npx tsc --noEmit --strict --types node app.ts; npx tsc --noEmit --strict app.ts", d,
           facts=[r"^(app\.ts\(\d+,\d+\)): error TS\d+", r"error (TS\d+):", r"^(Found \d+ errors?.*)"], question="fix the type errors")
    record("tsc_checkjs", "diagnostics", "npx tsc --noEmit --allowJs --checkJs --strict --target es2020 --module commonjs node_modules/minimist/index.js node_modules/semver/index.js | head -1500", d,
           facts=[r"^(\S+\.js\(\d+,\d+\)): error TS\d+", r"error (TS\d+):"], max_bytes=300_000)
    record("npm_outdated_json", "json", "npm outdated --json semver typescript yargs; npm view yargs versions --json", d,
           details=[r'"(17\.7\.2)"'])


def java_entries():
    if not have("javac"):
        return
    d = os.path.join(T, "java", "src", "demo")
    os.makedirs(d, exist_ok=True)
    for i in range(25):
        open(os.path.join(d, f"Service{i}.java"), "w").write(
            "package demo;\nimport java.util.*;\n"
            f"public class Service{i} {{\n"
            "  @SuppressWarnings(\"unused\") private int unused;\n"
            "  public List items() { List l = new ArrayList(); l.add(\"x\"); return l; }\n"
            f"  public long total() {{ Integer boxed = new Integer({i}); return boxed; }}\n"
            + ("  public String broken() { return 42; }\n" if i % 8 == 3 else "")
            + "}\n")
    record("javac_errors", "diagnostics", "javac -Xlint:all -Xmaxwarns 1000 -d out src/demo/*.java",
           os.path.join(T, "java"), facts=[r"^(src/demo/\S+\.java:\d+: error: .*)", r"^(src/demo/\S+\.java:\d+): warning", r"^(\d+ errors?)$", r"^(\d+ warnings?)$"],
           question="why does javac fail?")


if __name__ == "__main__":
    main()
