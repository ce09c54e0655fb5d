//! `VERIFY.md`: how an auditor checks the pack with standard tools only —
//! `sha256sum`, `openssl` and a POSIX shell (its builtins: `read`, `printf`,
//! `[`, `case`, `set`). Its one `sh` block is a complete script; a test runs
//! it as written with nothing else on PATH (infra/tests/auditor_pack.rs).

pub const VERIFY_PATH: &str = "VERIFY.md";

/// The page, for the pack of `tenant_id` from run `run_id`.
pub fn render(tenant_id: &str, run_id: &str) -> String {
    format!(
        r#"# Verifying this compliance pack

Tenant `{tenant_id}`, export run `{run_id}`. Everything below runs offline with
`sha256sum`, `openssl` (1.1 or 3) and a POSIX shell; nothing here trusts our code.

## What is signed

- `audit/events.jsonl` holds the audit events of the exported range, one per line, oldest
  first. **The chain-hash rule**: an event's hash is the SHA-256 (lowercase hex) of its line's
  bytes, without the newline. Each line is the event as canonical JSON (keys sorted, no
  spaces; `docs/audit_chain.md` of Valdrix), so it holds `"prev_hash":"<hash of the event
  before>"` and `"seq":<n>`; seq grows by one from line to line.
- `audit/checkpoints/<seq>.txt` is a signed statement of the chain's head: six lines —
  `valdrix audit checkpoint v1`, `tenant <id>`, `seq <n>`, `head <hash of event n>`,
  `time <UTC>`, `key <key id>`. `<seq>.sig` is its ECDSA P-256 / SHA-256 signature (DER), made
  by a key no Valdrix function can read (AWS KMS in production).
- `keys/<key id>.pem` are the public keys. A key id is the SHA-256 of the key's DER form.
  Compare them with the key(s) your operator gave you: the run below does when you set
  `TRUSTED_KEY=<their PEM file>`.
- `SHA256SUMS` lists every other file with its SHA-256; `SHA256SUMS.sig` signs it with the
  export's key (`signing_key` in `manifest.json`; the last checkpoint's too, unless the export
  reused an older checkpoint). `manifest.json` names the exported range (`audit_range`) and the last
  checkpoint (`last_checkpoint`), which signs the range's last event: no exported event is
  left unsigned.

## Steps

Unzip the pack into an empty directory, change into it, and run the script below (save it as
`verify.sh`, then `sh verify.sh`). It stops at the first check that fails and names the file,
event or checkpoint; it ends with `PACK VERIFIED` when all hold.

1. Every file matches `SHA256SUMS` (and if one does not, whether `SHA256SUMS` itself changed).
2. The chain: each event's `prev_hash` is the hash of the line before, seq has no gap.
3. Each checkpoint: its key is in the pack and is the key its id names (and the trusted key,
   when set); its signature verifies; the chain passes through its signed head; the last one
   signs the last event.
4. `SHA256SUMS.sig` verifies with a key of the pack (the trusted one, when set), so no file
   changed since export.

```sh
#!/bin/sh
set -u
fail() {{ printf 'VERIFY FAILED: %s\n' "$*" >&2; exit 1; }}
keyid() {{ set -- $(openssl pkey -pubin -in "$1" -outform DER | sha256sum); printf '%s' "$1"; }}

# 1. Every file against SHA256SUMS. Whether SHA256SUMS is still as signed
#    says whose fault a mismatch is: the file's, or SHA256SUMS's own.
sums_key=
for k in keys/*.pem; do
  [ -n "${{TRUSTED_KEY:-}}" ] && [ "$(keyid "$k")" != "$(keyid "$TRUSTED_KEY")" ] && continue
  openssl dgst -sha256 -verify "$k" -signature SHA256SUMS.sig SHA256SUMS >/dev/null 2>&1 && sums_key=$k
done
if ! mismatched=$(sha256sum --strict --quiet -c SHA256SUMS); then
  first=${{mismatched%%: FAILED*}}
  case "$sums_key:$first" in
    :keys/*|?*:*) fail "$first does not match SHA256SUMS" ;;
    *) fail "SHA256SUMS was changed after export: its signature does not verify" ;;
  esac
fi

# 2. The chain over audit/events.jsonl.
hashes=' ' last= prev= tenant_of_events=
while IFS= read -r line || [ -n "$line" ]; do
  set -- $(printf '%s' "$line" | sha256sum)
  hash=$1
  rest=${{line##*\"prev_hash\":\"}}
  link=${{rest%%\"*}}
  rest=${{rest#*\"seq\":}}
  seq=${{rest%%,*}}
  rest=${{rest#*\"tenant_id\":\"}}
  owner=${{rest%%\"*}}
  case $seq in ''|*[!0-9]*) fail "audit/events.jsonl: a line without a seq after '$last'" ;; esac
  if [ -n "$last" ]; then
    [ "$seq" -eq $((last + 1)) ] || fail "event $((last + 1)) is missing (the next line is event $seq)"
    [ "$link" = "$prev" ] || fail "event $seq: prev_hash is not the hash of event $last"
  fi
  [ -z "$last" ] && tenant_of_events=$owner
  [ "$owner" = "$tenant_of_events" ] || fail "event $seq belongs to tenant $owner, not $tenant_of_events"
  hashes="$hashes$seq:$hash "
  last=$seq prev=$hash
done < audit/events.jsonl

# 3. The checkpoints.
signed= signer=
for statement in audit/checkpoints/*.txt; do
  [ -f "$statement" ] || fail "no checkpoint in the pack"
  {{ read -r header; read -r f tenant; read -r f seq; read -r f head; read -r f time; read -r f key; }} < "$statement"
  [ "$header" = "valdrix audit checkpoint v1" ] || fail "$statement is not a checkpoint statement"
  [ "$tenant" = "$tenant_of_events" ] || fail "checkpoint $seq: signed for tenant $tenant, not $tenant_of_events"
  [ -f "keys/$key.pem" ] || fail "checkpoint $seq: signed by key $key, which is not in the pack"
  [ "$(keyid "keys/$key.pem")" = "$key" ] || fail "keys/$key.pem holds another key than its name says"
  if [ -n "${{TRUSTED_KEY:-}}" ]; then
    [ "$(keyid "$TRUSTED_KEY")" = "$key" ] || fail "checkpoint $seq: signed by key $key, not by the trusted key"
  fi
  openssl dgst -sha256 -verify "keys/$key.pem" -signature "${{statement%.txt}}.sig" "$statement" >/dev/null \
    || fail "checkpoint $seq: the signature does not verify with keys/$key.pem"
  case "$hashes" in
    *" $seq:$head "*) ;;
    *) fail "checkpoint $seq: the chain does not pass through its signed head $head" ;;
  esac
  signed=$seq signer=$key
done
[ "$signed" = "$last" ] || fail "event $last, the last exported, is not signed (last checkpoint: $signed)"

# 4. SHA256SUMS itself, signed with the export's key (manifest.json's signing_key).
[ -n "$sums_key" ] || fail "SHA256SUMS.sig: it verifies SHA256SUMS with no key in keys/"
printf 'PACK VERIFIED: events to %s chained, last signed checkpoint %s (key %s), SHA256SUMS signed by %s\n' \
  "$last" "$signed" "$signer" "$sums_key"
```

A pack whose range holds no event has no checkpoint; step 3 then fails, and only the other
files can be checked (steps 1 and 4, with the key in `keys/`).

`valdrix verify-pack PACK.zip [--public-key FILE] [--format json]` runs the same checks and also
holds `audit_log.csv`, `integration_acceptance_evidence.json` and `audit_chain.json` to the
events they were made from.
"#
    )
}
