//! The auditor's pack end to end on `valdrix serve --sandbox`: after cost
//! files, test calls, captures and a policy event (`valdrix smoke`), an
//! exported pack passes `valdrix verify-pack` (pinned to the data dir's key)
//! and the VERIFY.md script, run as written with only sh, sha256sum and
//! openssl on PATH; a byte changed in any file, an event edited with the
//! chain after it recomputed, an event deleted, and a checkpoint signed by a
//! key not in the pack each make both fail naming what broke. The report,
//! index.html, renders in headless Chromium with figures equal to totals
//! computed here from the CSV and JSON files; its screenshot is kept.

mod browser;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rust_decimal::Decimal;
use serde_json::Value;
use sha2::{Digest, Sha256};
use valdrix_tests::serve::ServeProcess;
use valdrix_tests::{focus_csv, focus_line};

const BIN: &str = env!("CARGO_BIN_EXE_valdrix");

type Files = BTreeMap<String, Vec<u8>>;

fn unzip(zip: &[u8]) -> Files {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).expect("a ZIP");
    let mut files = Files::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        files.insert(name, data);
    }
    files
}

fn zip_of(files: &Files) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let opts = zip::write::SimpleFileOptions::default();
    for (name, data) in files {
        zip.start_file(name.as_str(), opts).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap();
    out.into_inner()
}

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// What a tamperer who knows the format redoes after a change: the
/// manifest's sizes and hashes, and SHA256SUMS (not its signature).
fn rehash(files: &mut Files) {
    let mut manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    for entry in manifest["files"].as_array_mut().unwrap() {
        let data = &files[entry["path"].as_str().unwrap()];
        entry["bytes"] = data.len().into();
        entry["sha256"] = sha256(data).into();
    }
    files.insert(
        "manifest.json".into(),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    );
    let sums: String = files
        .iter()
        .filter(|(p, _)| !p.starts_with("SHA256SUMS"))
        .map(|(p, d)| format!("{}  {p}\n", sha256(d)))
        .collect();
    files.insert("SHA256SUMS".into(), sums.into_bytes());
}

/// One byte changed, to another of its kind, so the file still parses.
fn flip_one_byte(data: &mut [u8]) {
    let at = (data.len() / 2..data.len())
        .chain(0..data.len() / 2)
        .find(|&i| data[i].is_ascii_alphanumeric())
        .unwrap_or(data.len() / 2);
    data[at] = match data[at] {
        b'0'..=b'8' | b'a'..=b'y' | b'A'..=b'Y' => data[at] + 1,
        b'9' => b'0',
        b'z' => b'a',
        b'Z' => b'A',
        other => other ^ 0x01,
    };
}

struct Checked {
    verify_pack: Output,
    script: Output,
}

/// Run both verifiers over `files`; the script is the untouched pack's
/// VERIFY.md (the procedure stays the one the auditor read, whatever the
/// tamperer did to the pack's copy).
fn check(work: &Path, name: &str, files: &Files, trusted: &Path, procedure: &[u8]) -> Checked {
    let zip_path = work.join(format!("{name}.zip"));
    std::fs::write(&zip_path, zip_of(files)).unwrap();
    let verify_pack = Command::new(BIN)
        .args(["verify-pack", "--format", "json", "--public-key"])
        .arg(trusted)
        .arg(&zip_path)
        .output()
        .unwrap();
    let dir = work.join(name);
    for (path, data) in files {
        let target = dir.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, data).unwrap();
    }
    let script = run_verify_md(&dir, procedure, trusted);
    Checked {
        verify_pack,
        script,
    }
}

/// VERIFY.md's `sh` block, as written, in the unzipped pack, with nothing
/// but sh, sha256sum and openssl on PATH.
fn run_verify_md(dir: &Path, procedure: &[u8], trusted: &Path) -> Output {
    let doc = String::from_utf8(procedure.to_vec()).expect("VERIFY.md is text");
    let script = doc
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("VERIFY.md has one sh block");
    std::fs::write(dir.join("verify.sh"), script).unwrap();
    let bin = dir.with_extension("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["sh", "sha256sum", "openssl"] {
        let found = ["/bin", "/usr/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{tool} is not installed"));
        let link = bin.join(tool);
        if !link.exists() {
            std::os::unix::fs::symlink(found, link).unwrap();
        }
    }
    Command::new(bin.join("sh"))
        .arg("verify.sh")
        .current_dir(dir)
        .env_clear()
        .env("PATH", &bin)
        .env("TRUSTED_KEY", trusted)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Both verifiers fail (exit 1), verify-pack naming `failure` exactly and
/// the script's last line holding `script_says`.
fn assert_fails(c: &Checked, case: &str, failure: Value, script_says: &str) {
    assert_eq!(
        c.verify_pack.status.code(),
        Some(1),
        "{case}: {}",
        text(&c.verify_pack)
    );
    let answer: Value = serde_json::from_slice(&c.verify_pack.stdout).unwrap();
    assert_eq!(answer["ok"], false, "{case}");
    assert_eq!(
        answer["failure"],
        failure,
        "{case}: {}",
        text(&c.verify_pack)
    );
    assert_eq!(
        c.script.status.code(),
        Some(1),
        "{case}: {}",
        text(&c.script)
    );
    let stderr = String::from_utf8_lossy(&c.script.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("VERIFY FAILED: ") && last.contains(script_says),
        "{case}: the script should say {script_says:?}:\n{}",
        text(&c.script)
    );
}

fn events(files: &Files) -> Vec<String> {
    String::from_utf8(files["audit/events.jsonl"].clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn seq_of(line: &str) -> u64 {
    serde_json::from_str::<Value>(line).unwrap()["seq"]
        .as_u64()
        .unwrap()
}

/// Edit event `seq`'s details, then recompute every hash and link after it.
fn edit_and_rechain(files: &mut Files, seq: u64) {
    let mut out = String::new();
    let mut prev: Option<String> = None;
    for line in events(files) {
        let mut v: Value = serde_json::from_str(&line).unwrap();
        let s = v["seq"].as_u64().unwrap();
        if s == seq {
            v["success"] = Value::Bool(!v["success"].as_bool().unwrap());
        }
        if s > seq
            && let Some(p) = &prev
        {
            v["prev_hash"] = p.clone().into();
        }
        let canonical = serde_json::to_string(&v).unwrap();
        if s >= seq {
            prev = Some(sha256(canonical.as_bytes()));
        } else {
            prev = Some(sha256(line.as_bytes()));
        }
        out.push_str(&canonical);
        out.push('\n');
    }
    files.insert("audit/events.jsonl".into(), out.into_bytes());
}

fn openssl(args: &[&str], cwd: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", text(&out));
}

/// Costs by (month, service) and in total, straight from the FOCUS CSV.
fn spend_from_csv(csv_bytes: &[u8]) -> (BTreeMap<(String, String), Decimal>, Decimal) {
    let mut reader = csv::Reader::from_reader(csv_bytes);
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (cost, start, service) = (
        col("BilledCost"),
        col("ChargePeriodStart"),
        col("ServiceName"),
    );
    let mut by = BTreeMap::new();
    let mut total = Decimal::ZERO;
    for record in reader.records() {
        let r = record.unwrap();
        let amount: Decimal = r[cost].parse().unwrap();
        *by.entry((r[start][..7].to_owned(), r[service].to_owned()))
            .or_default() += amount;
        total += amount;
    }
    (by, total)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sandbox_pack_proves_itself_to_valdrix_and_to_standard_tools_and_reads_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join(".valdrix");
    let serve = ServeProcess::start(BIN, &data_dir, &["--sandbox"], &[]);

    // Costs in two months for three services, through the operator command.
    let lines: Vec<String> = [
        ("12.50", "2026-01-03", "Compute"),
        ("7.25", "2026-01-09", "Storage"),
        ("100.125", "2026-01-20", "Database"),
        ("3.10", "2026-02-02", "Compute"),
        ("0.40", "2026-02-14", "Storage"),
        ("19.99", "2026-02-27", "Compute"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (cost, day, service))| {
        focus_line(
            cost,
            &format!("{day}T00:00:00Z"),
            &format!("{day}T01:00:00Z"),
            service,
            "Compute",
            &format!("i-{i}"),
            "",
            "final",
        )
    })
    .collect();
    let cost_file = dir.path().join("costs.csv");
    std::fs::write(&cost_file, focus_csv(&lines)).unwrap();
    let dev_env = std::fs::read_to_string(data_dir.join("dev.env")).unwrap();
    let mut ingest = Command::new(BIN);
    ingest
        .args(["ingest-costs", "--tenant", "demo"])
        .arg(&cost_file)
        .env_clear();
    for line in dev_env.lines().filter_map(|l| l.split_once('=')) {
        ingest.env(line.0, line.1);
    }
    let db = format!("sqlite://{}", data_dir.join("valdrix.sqlite").display());
    let out = ingest
        .env("ENVIRONMENT", "local")
        .env("DATABASE_URL", &db)
        .output()
        .unwrap();
    assert!(out.status.success(), "ingest-costs: {}", text(&out));

    // Test calls, an evidence capture, a policy event (and a first pack).
    let admin_key = serve.admin_key.clone().expect("the admin key");
    let out = Command::new(BIN)
        .args([
            "smoke",
            "--base-url",
            &serve.base,
            "--token",
            serve.token("owner"),
        ])
        .args(["--admin-key", &admin_key])
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success(), "smoke: {}", text(&out));

    // The pack under test, with the FOCUS export of both months.
    let http = reqwest::Client::new();
    let answer: Value = http
        .get(format!(
            "{}/api/v1/audit/compliance-pack?include_focus_export=true&focus_start_date=2026-01-01&focus_end_date=2026-02-28",
            serve.base
        ))
        .bearer_auth(serve.token("owner"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = answer["url"].as_str().unwrap_or_else(|| panic!("{answer}"));
    let zip = http
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let errors = serve.error_lines();
    drop(serve);
    assert!(errors.is_empty(), "serve logged errors: {errors:#?}");
    let files = unzip(&zip);

    // The private key stays in its 0600 file: not in the pack, not in the log.
    let key_file = data_dir.join("audit-signing-key.p8");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let private = std::fs::read(&key_file).unwrap();
    let forms = [
        hex::encode(&private),
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &private),
    ];
    let log = std::fs::read_to_string(data_dir.join("serve.log")).unwrap();
    for (path, data) in files
        .iter()
        .chain([(&"serve.log".to_owned(), &log.into_bytes())])
    {
        let text = String::from_utf8_lossy(data);
        assert!(
            forms.iter().all(|f| !text.contains(f.as_str()))
                && !data.windows(private.len()).any(|w| w == private),
            "{path} holds the private key"
        );
    }

    // The operator hands the auditor the public key, made with openssl
    // from the data dir's key file (which only the operator can read).
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let trusted = work.join("operator.pem");
    openssl(
        &[
            "pkey",
            "-inform",
            "DER",
            "-in",
            &data_dir.join("audit-signing-key.p8").display().to_string(),
            "-pubout",
            "-out",
            &trusted.display().to_string(),
        ],
        &work,
    );

    // The untouched pack passes both.
    let ok = check(&work, "ok", &files, &trusted, &files["VERIFY.md"]);
    assert_eq!(
        ok.verify_pack.status.code(),
        Some(0),
        "{}",
        text(&ok.verify_pack)
    );
    let verified: Value = serde_json::from_slice(&ok.verify_pack.stdout).unwrap();
    assert_eq!(verified["ok"], true);
    assert_eq!(ok.script.status.code(), Some(0), "{}", text(&ok.script));
    assert!(
        String::from_utf8_lossy(&ok.script.stdout).contains("PACK VERIFIED"),
        "{}",
        text(&ok.script)
    );
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let (from, to) = (
        manifest["audit_range"]["from_seq"].as_u64().unwrap(),
        manifest["audit_range"]["to_seq"].as_u64().unwrap(),
    );
    assert_eq!(
        (verified["from_seq"].as_u64(), verified["to_seq"].as_u64()),
        (Some(from), Some(to))
    );
    assert_eq!(manifest["last_checkpoint"]["seq"], to);
    let types: BTreeSet<String> = events(&files)
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["event_type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for t in [
        "evidence.check",
        "policy.accepted",
        "policy.delivery_delivered",
        "cost.ingested",
        "audit.export_requested",
    ] {
        assert!(
            types.contains(t),
            "no {t} among the exported events: {types:?}"
        );
    }

    // One byte changed in any file: both fail naming it (SHA256SUMS and its
    // signature name themselves; a changed SHA256SUMS is no file's fault).
    for path in files.keys() {
        let mut tampered = files.clone();
        flip_one_byte(tampered.get_mut(path).unwrap());
        let c = check(&work, "byte", &tampered, &trusted, &files["VERIFY.md"]);
        let (failure, says) = match path.as_str() {
            "SHA256SUMS" => (
                serde_json::json!({"kind": "file", "path": "SHA256SUMS", "reason": "was changed after export: its signature does not verify"}),
                "SHA256SUMS was changed after export".to_owned(),
            ),
            "SHA256SUMS.sig" => (
                serde_json::json!({"kind": "file", "path": "SHA256SUMS.sig",
                    "reason": format!("does not verify SHA256SUMS with keys/{}.pem", manifest["signing_key"].as_str().unwrap())}),
                "SHA256SUMS.sig".to_owned(),
            ),
            p => (
                serde_json::json!({"kind": "file", "path": p, "reason": "its SHA-256 does not match SHA256SUMS"}),
                format!("{p} does not match SHA256SUMS"),
            ),
        };
        assert_fails(&c, &format!("a byte of {path}"), failure, &says);
    }

    // An event edited, the chain after it recomputed (and the manifest and
    // SHA256SUMS redone): the first checkpoint at or after it no longer holds.
    let checkpoints: Vec<u64> = files
        .keys()
        .filter_map(|p| {
            p.strip_prefix("audit/checkpoints/")?
                .strip_suffix(".txt")?
                .parse()
                .ok()
        })
        .collect();
    let edited = from + (to - from) / 2;
    let broken = *checkpoints.iter().find(|c| **c >= edited).unwrap();
    let mut tampered = files.clone();
    edit_and_rechain(&mut tampered, edited);
    rehash(&mut tampered);
    let c = check(&work, "edited", &tampered, &trusted, &files["VERIFY.md"]);
    let reason =
        serde_json::from_slice::<Value>(&c.verify_pack.stdout).unwrap()["failure"]["reason"]
            .clone();
    assert!(
        reason
            .as_str()
            .unwrap_or_default()
            .starts_with("the chain does not pass through the signed head"),
        "{reason}"
    );
    assert_fails(
        &c,
        "an edited event",
        serde_json::json!({"kind": "checkpoint", "seq": broken, "reason": reason}),
        &format!("checkpoint {broken}: the chain does not pass through its signed head"),
    );

    // One event deleted.
    let mut tampered = files.clone();
    let kept: String = events(&files)
        .into_iter()
        .filter(|l| seq_of(l) != edited)
        .map(|l| l + "\n")
        .collect();
    tampered.insert("audit/events.jsonl".into(), kept.into_bytes());
    rehash(&mut tampered);
    let c = check(&work, "deleted", &tampered, &trusted, &files["VERIFY.md"]);
    assert_fails(
        &c,
        "a deleted event",
        serde_json::json!({"kind": "event", "seq": edited, "reason": format!("is missing (the next line is event {})", edited + 1)}),
        &format!("event {edited} is missing"),
    );

    // The last checkpoint re-signed with a key that is not in the pack.
    openssl(
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "other.key",
        ],
        &work,
    );
    openssl(
        &[
            "pkey",
            "-in",
            "other.key",
            "-pubout",
            "-outform",
            "DER",
            "-out",
            "other.der",
        ],
        &work,
    );
    let other_id = sha256(&std::fs::read(work.join("other.der")).unwrap());
    let last = format!("audit/checkpoints/{to:020}");
    let statement = String::from_utf8(files[&format!("{last}.txt")].clone()).unwrap();
    let own_id = manifest["signing_key"].as_str().unwrap();
    std::fs::write(
        work.join("statement.txt"),
        statement.replace(own_id, &other_id),
    )
    .unwrap();
    openssl(
        &[
            "dgst",
            "-sha256",
            "-sign",
            "other.key",
            "-out",
            "statement.sig",
            "statement.txt",
        ],
        &work,
    );
    let mut tampered = files.clone();
    tampered.insert(
        format!("{last}.txt"),
        std::fs::read(work.join("statement.txt")).unwrap(),
    );
    tampered.insert(
        format!("{last}.sig"),
        std::fs::read(work.join("statement.sig")).unwrap(),
    );
    rehash(&mut tampered);
    let c = check(&work, "foreign", &tampered, &trusted, &files["VERIFY.md"]);
    assert_fails(
        &c,
        "a checkpoint signed by a key not in the pack",
        serde_json::json!({"kind": "checkpoint", "seq": to,
            "reason": format!("signed by key {other_id}, which is not in the pack")}),
        &format!("checkpoint {to}: signed by key {other_id}, which is not in the pack"),
    );

    // Not a pack at all: exit 2.
    std::fs::write(work.join("not.zip"), b"not a zip").unwrap();
    let out = Command::new(BIN)
        .args(["verify-pack"])
        .arg(work.join("not.zip"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // The report in a real browser: the figures are the files' own totals.
    let html = String::from_utf8(files["index.html"].clone()).unwrap();
    assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "the report needs no script"
    );
    assert!(
        html.contains("content=\"default-src 'none'; style-src 'unsafe-inline'\""),
        "the report may fetch nothing"
    );
    let browser = browser::Browser::start().await;
    browser.open(&work.join("ok/index.html")).await;
    let rendered = browser.text().await;
    let shot = browser.screenshot().await;
    browser.close().await;
    let keep = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("auditor-pack");
    std::fs::create_dir_all(&keep).unwrap();
    std::fs::write(keep.join("index.png"), &shot).unwrap();
    std::fs::write(keep.join("index.html"), &html).unwrap();
    println!("report screenshot: {}", keep.join("index.png").display());
    assert!(shot.starts_with(b"\x89PNG"), "a PNG screenshot");

    let (by, total) = spend_from_csv(&files["exports/focus-v1.2.csv"]);
    assert_eq!(by.len(), 5, "{by:?}");
    assert!(
        rendered.contains(&format!("USD: total {}", total.normalize())),
        "total {total}:\n{rendered}"
    );
    for ((month, service), amount) in &by {
        // WebDriver's text joins a table row's cells with spaces.
        let row = format!("{month} {service} {}", amount.normalize());
        assert!(
            rendered.contains(&row),
            "no row {row:?} in the rendered report:\n{rendered}"
        );
    }
    let mut months: BTreeMap<&str, Decimal> = BTreeMap::new();
    for ((month, _), amount) in &by {
        *months.entry(month).or_default() += amount;
    }
    for (month, amount) in months {
        assert!(
            // The month chart's label and figure, one SVG text each.
            rendered.contains(&format!("{month}\n{}\n", amount.normalize())),
            "no month bar {month} {amount} in:\n{rendered}"
        );
    }
    let evidence: Vec<Value> =
        serde_json::from_slice(&files["integration_acceptance_evidence.json"]).unwrap();
    let checks = evidence
        .iter()
        .filter(|e| e["event_type"] == "evidence.check")
        .count();
    assert!(checks > 0);
    assert!(
        rendered.contains(&format!("{checks} checks in")),
        "evidence count {checks}:\n{rendered}"
    );
    let accepted = events(&files)
        .iter()
        .filter(|l| l.contains("\"event_type\":\"policy.accepted\""))
        .count();
    assert!(accepted > 0);
    assert!(
        rendered.contains(&format!("{accepted} policy events accepted.")),
        "{rendered}"
    );
    assert!(rendered.contains("Audit chain intact"), "{rendered}");
    assert!(rendered.contains("Tenant\ndemo"), "{rendered}");
}
