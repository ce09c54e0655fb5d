//! The audit checkpoints' signing key in template.yaml: the spec and
//! algorithm the code signs with (and moto signs with in the tests), and a
//! key policy that lets only the checkpoint writers sign — the functions
//! whose iam.txt lists kms:Sign — while the account administers the key
//! without being able to sign (so no IAM policy can grant it either).

mod sam;

use std::collections::BTreeSet;

use sam::{Template, base_params, read, transform};
use serde_json::Value;
use valdrix_shared::audit::checkpoint::{KEY_SPEC, SIGNING_ALGORITHM};
use valdrix_tests::iam_guard::parse_table;

const KEY: &str = "AuditSigningKey";

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// Whether an IAM action pattern (`kms:*`, `kms:Si*`, `*`) covers `action`.
fn covers(pattern: &str, action: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern.eq_ignore_ascii_case(action),
        Some((head, _)) => action
            .to_ascii_lowercase()
            .starts_with(&head.to_ascii_lowercase()),
    }
}

/// The functions (by crate) whose table says they sign checkpoints.
fn writers() -> BTreeSet<String> {
    let dir = sam::root().join("functions");
    std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().join("iam.txt").is_file())
        .filter(|e| {
            parse_table(&std::fs::read_to_string(e.path().join("iam.txt")).unwrap())
                .contains("kms:Sign")
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The crate of each function whose role is `role_id`.
fn crates_of_role(t: &Template, role_id: &str) -> Vec<String> {
    t.of_type("AWS::Lambda::Function")
        .filter(|(_, f)| f["Properties"]["Role"]["Fn::GetAtt"][0] == role_id)
        .map(|(_, f)| {
            f["Properties"]["Code"]["S3Key"]
                .as_str()
                .unwrap_or("?")
                .split('/')
                .next()
                .unwrap_or("?")
                .to_owned()
        })
        .collect()
}

/// What is wrong with the key: each a sentence.
fn problems(t: &Template) -> Vec<String> {
    let Some(key) = t.resources().get(KEY) else {
        return vec![format!("{KEY} is missing")];
    };
    let props = &key["Properties"];
    let mut problems = Vec::new();
    if props["KeySpec"] != KEY_SPEC || props["KeyUsage"] != "SIGN_VERIFY" {
        problems.push(format!(
            "the key is {} {}, the code signs with {KEY_SPEC}",
            props["KeySpec"], props["KeyUsage"]
        ));
    }
    if key["DeletionPolicy"] != "Retain" || key["UpdateReplacePolicy"] != "Retain" {
        problems.push("the key is not retained: packs it signed would become unverifiable".into());
    }
    let mut signers = BTreeSet::new();
    for s in as_list(&props["KeyPolicy"]["Statement"]) {
        if s["Effect"] != "Allow" {
            continue;
        }
        let signs = as_list(&s["Action"])
            .iter()
            .any(|a| a.as_str().is_some_and(|a| covers(a, "kms:Sign")));
        if !signs {
            continue;
        }
        let sid = s["Sid"].as_str().unwrap_or("?");
        let condition = &s["Condition"]["StringEquals"];
        if condition["kms:SigningAlgorithm"] != SIGNING_ALGORITHM
            || condition["kms:MessageType"] != "RAW"
        {
            problems.push(format!(
                "{}: signing is not held to {SIGNING_ALGORITHM} over RAW messages",
                sid
            ));
        }
        for principal in as_list(&s["Principal"]["AWS"]) {
            match principal["Fn::GetAtt"][0].as_str() {
                Some(role) if principal["Fn::GetAtt"][1] == "Arn" => {
                    let crates = crates_of_role(t, role);
                    if crates.is_empty() {
                        problems.push(format!(
                            "{}: {role} may sign, and is no function's role",
                            sid
                        ));
                    }
                    signers.extend(crates);
                }
                _ => problems.push(format!(
                    "{}: {principal} may sign, and is no checkpoint writer",
                    sid
                )),
            }
        }
    }
    let writers = writers();
    for missing in writers.difference(&signers) {
        problems.push(format!(
            "{missing} writes checkpoints (its iam.txt) but may not sign"
        ));
    }
    for extra in signers.difference(&writers) {
        problems.push(format!(
            "{extra} may sign, and writes no checkpoint (its iam.txt)"
        ));
    }
    for (id, f) in t.of_type("AWS::Lambda::Function") {
        let krate = f["Properties"]["Code"]["S3Key"]
            .as_str()
            .unwrap_or("?")
            .split('/')
            .next()
            .unwrap_or("?");
        let named = &f["Properties"]["Environment"]["Variables"]["VALDRIX_AUDIT_SIGNING_KEY"];
        let has = named["Fn::GetAtt"][0] == KEY;
        if writers.contains(krate) != has {
            problems.push(format!(
                "{id}: VALDRIX_AUDIT_SIGNING_KEY set {has}, signs {}",
                writers.contains(krate)
            ));
        }
    }
    problems
}

fn template() -> Template {
    transform(&read("template.yaml"), &base_params(), "1")
}

#[test]
fn only_the_checkpoint_writers_may_sign_with_the_documented_key() {
    assert_eq!(
        writers(),
        BTreeSet::from(
            [
                "compliance-pack-worker",
                "evidence-daily",
                "notification-dispatcher"
            ]
            .map(String::from)
        )
    );
    assert_eq!(problems(&template()), Vec::<String>::new());
}

#[test]
fn the_account_or_another_role_that_may_sign_fails() {
    let text = read("template.yaml");
    let root_signs = text.replacen(
        "              - kms:CancelKeyDeletion\n",
        "              - kms:*\n",
        1,
    );
    assert_ne!(root_signs, text);
    let found = problems(&transform(&root_signs, &base_params(), "1"));
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with("AccountAdministersWithoutSigning: signing is not held"),
        "{found:#?}"
    );
    assert!(
        found[1].contains("may sign, and is no checkpoint writer"),
        "{found:#?}"
    );

    let admin_signs = text.replacen(
        "                - !GetAtt NotificationDispatcherRole.Arn\n            Action: kms:Sign\n",
        "                - !GetAtt NotificationDispatcherRole.Arn\n                - !GetAtt AdminFunctionRole.Arn\n            Action: kms:Sign\n",
        1,
    );
    assert_ne!(admin_signs, text);
    assert_eq!(
        problems(&transform(&admin_signs, &base_params(), "1")),
        ["admin may sign, and writes no checkpoint (its iam.txt)"]
    );

    let rsa = text.replacen(
        "      KeySpec: ECC_NIST_P256\n",
        "      KeySpec: RSA_2048\n",
        1,
    );
    assert_eq!(
        problems(&transform(&rsa, &base_params(), "1")),
        [format!(
            "the key is \"RSA_2048\" \"SIGN_VERIFY\", the code signs with {KEY_SPEC}"
        )]
    );
}
