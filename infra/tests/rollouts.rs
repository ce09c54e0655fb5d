//! Safe rollouts, on the SAM-transformed template (the transform runs
//! offline, `tests/sam`): any change of code, of a function's properties or
//! of a parameter it reads publishes new versions, so CodeDeploy and the hook
//! see it; every deployment watches the gating alarms and runs the hook; the
//! hook runs on the first create too; every asynchronous source has an
//! on-failure destination. Each check returns its problems, and the mutation
//! tests show each one failing.

mod sam;

use std::collections::{BTreeMap, BTreeSet};

use sam::{Template, base_params, read, transform};
use serde_json::Value;

const HOOK: &str = "PostDeployHookFunction";
const HOOK_NAME: &str = "CodeDeployHook_valdrix-post-deploy";

/// The alarms that stop and roll back a deployment (docs/deploy.md, "Alarms").
const GATING_ALARMS: [&str; 8] = [
    "Api5xxAlarm",
    "ApiFunctionErrorsAlarm",
    "ApiFunctionThrottlesAlarm",
    "DeadDeliveriesAlarm",
    "DispatchBacklogAgeAlarm",
    "EventFunctionErrorsAlarm",
    "EventFunctionThrottlesAlarm",
    "InitFailuresAlarm",
];

/// Parameters the functions' versions read; each must publish new versions.
const VERSIONED: [(&str, &str); 5] = [
    ("Environment", "staging"),
    (
        "RuntimeSecretArn",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:valdrix-runtime-XyZ123",
    ),
    (
        "RuntimeSecretVersion",
        "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
    ),
    (
        "RuntimeSecretKmsKeyArn",
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ),
    (
        "CorsOrigins",
        "https://app.example.com,https://admin.example.com",
    ),
];

/// Parameters of what surrounds the versions (logs, API stage, alarms, the
/// concurrency cap): no new versions, and no function configuration beyond
/// the listed property.
const UNVERSIONED: [(&str, &str, Option<&str>); 5] = [
    ("LogRetentionDays", "365", None),
    (
        "ReservedConcurrency",
        "25",
        Some("ReservedConcurrentExecutions"),
    ),
    ("ApiThrottleRate", "10", None),
    ("ApiThrottleBurst", "20", None),
    ("AlarmEmail", "ops@example.com", None),
];

fn params_with(changes: &[(&str, &str)]) -> BTreeMap<&'static str, String> {
    let mut params = base_params();
    for (k, v) in changes {
        let key = *params.keys().find(|p| *p == k).expect("a known parameter");
        params.insert(key, (*v).to_owned());
    }
    params
}

fn template() -> String {
    read("template.yaml")
}

/// Each function CodeDeploy deploys: (function, its alias, its version).
fn deployed(t: &Template) -> Vec<(String, String, String)> {
    t.of_type("AWS::Lambda::Alias")
        .filter(|(_, a)| !a["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"].is_null())
        .map(|(id, a)| {
            (
                a["Properties"]["FunctionName"]["Ref"]
                    .as_str()
                    .expect("alias FunctionName Ref")
                    .to_owned(),
                id.clone(),
                a["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
                    .as_str()
                    .expect("alias FunctionVersion GetAtt")
                    .to_owned(),
            )
        })
        .collect()
}

/// What CloudFormation sees of a function's version: its logical id (a new
/// one is a new resource) and resolved properties (a change replaces it),
/// and what Lambda publishes: the function's resolved configuration.
fn published(t: &Template, function: &str, version: &str) -> (String, Value, Value) {
    let r = t.resources();
    (
        version.to_owned(),
        t.eval(&r[version]["Properties"]),
        t.eval(&r[function]["Properties"]),
    )
}

/// Every deployed function of `before` that `after` would not give a new
/// version: CloudFormation must create or replace its Version resource, and
/// Lambda must find a new configuration to publish.
fn kept_versions(before: &Template, after: &Template) -> Vec<String> {
    let after_versions: BTreeMap<String, String> = deployed(after)
        .into_iter()
        .map(|(f, _, v)| (f, v))
        .collect();
    let mut problems = Vec::new();
    for (function, _, version) in deployed(before) {
        let (old_id, old_version, old_config) = published(before, &function, &version);
        let Some(new_version) = after_versions.get(&function) else {
            problems.push(format!("{function} is no longer deployed"));
            continue;
        };
        let (new_id, new_version, new_config) = published(after, &function, new_version);
        if old_id == new_id && old_version == new_version {
            problems.push(format!("{function} keeps its Version resource {old_id}"));
        } else if old_config == new_config {
            problems.push(format!(
                "{function}: a new Version resource but the same configuration (Lambda republishes the old version)"
            ));
        }
    }
    problems
}

#[test]
fn every_parameter_a_function_reads_publishes_new_versions() {
    let text = template();
    let before = transform(&text, &base_params(), "1");
    assert_eq!(
        deployed(&before).len(),
        11,
        "eleven functions deploy through CodeDeploy"
    );
    for (name, value) in VERSIONED {
        let after = transform(&text, &params_with(&[(name, value)]), "1");
        let problems = kept_versions(&before, &after);
        assert!(problems.is_empty(), "changing {name}: {problems:#?}");
    }
}

#[test]
fn new_code_and_a_changed_property_publish_new_versions() {
    let text = template();
    let before = transform(&text, &base_params(), "1");
    let problems = kept_versions(&before, &transform(&text, &base_params(), "2"));
    assert!(problems.is_empty(), "new code: {problems:#?}");

    // The global Timeout: the functions that inherit it get new versions,
    // the four that set their own keep theirs.
    let longer = text.replacen("    Timeout: 29\n", "    Timeout: 30\n", 1);
    assert_ne!(longer, text);
    let problems = kept_versions(&before, &transform(&longer, &base_params(), "1"));
    let own_timeout = [
        "CompliancePackWorkerFunction",
        "CostIngestFunction",
        "EvidenceDailyFunction",
        "NotificationDispatcherFunction",
    ];
    assert_eq!(
        problems.len(),
        own_timeout.len(),
        "a Timeout change: {problems:#?}"
    );
    for (problem, function) in problems.iter().zip(own_timeout) {
        assert!(
            problem.starts_with(&format!("{function} keeps")),
            "{problem}"
        );
    }
}

#[test]
fn the_same_inputs_keep_every_version_and_other_parameters_touch_none() {
    let text = template();
    let before = transform(&text, &base_params(), "1");
    // The check can fail: nothing changed, so every function keeps its version.
    let same = kept_versions(&before, &transform(&text, &base_params(), "1"));
    assert_eq!(same.len(), 11, "{same:#?}");

    for (name, value, property) in UNVERSIONED {
        let after = transform(&text, &params_with(&[(name, value)]), "1");
        for (function, _, version) in deployed(&before) {
            let (old_id, old_version, old_config) = published(&before, &function, &version);
            let new_version = &deployed(&after)
                .into_iter()
                .find(|(f, _, _)| *f == function)
                .expect("still deployed")
                .2;
            let (new_id, new_version, new_config) = published(&after, &function, new_version);
            assert_eq!(
                (&old_id, &old_version),
                (&new_id, &new_version),
                "{name} re-versions {function}"
            );
            let changed: Vec<&String> = old_config
                .as_object()
                .unwrap()
                .keys()
                .chain(new_config.as_object().unwrap().keys())
                .filter(|k| old_config.get(*k) != new_config.get(*k))
                .collect();
            let allowed: Vec<&String> = changed
                .iter()
                .copied()
                .filter(|k| Some(k.as_str()) == property)
                .collect();
            assert_eq!(
                changed, allowed,
                "{name} reaches {function}'s configuration"
            );
        }
    }
}

#[test]
fn a_function_without_the_fingerprint_keeps_its_version() {
    let text = template();
    let admin = text.find("CodeUri: functions/admin\n").expect("admin");
    let line = text[admin..]
        .find("      VersionDescription:")
        .expect("its fingerprint")
        + admin;
    let end = text[line..].find('\n').unwrap() + line + 1;
    let mutated = format!("{}{}", &text[..line], &text[end..]);
    let before = transform(&mutated, &base_params(), "1");
    let after = transform(
        &mutated,
        &params_with(&[("RuntimeSecretVersion", VERSIONED[2].1)]),
        "1",
    );
    assert_eq!(
        kept_versions(&before, &after),
        ["AdminFunction keeps its Version resource".to_owned()
            + &format!(
                " {}",
                deployed(&before)
                    .into_iter()
                    .find(|(f, _, _)| f == "AdminFunction")
                    .unwrap()
                    .2
            )]
    );
}

#[test]
fn the_fingerprint_fits_lambdas_description_at_the_parameters_limits() {
    let name = "n".repeat(64);
    let params = params_with(&[
        ("Environment", "production"),
        (
            "RuntimeSecretArn",
            &format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf"),
        ),
        ("RuntimeSecretKmsKeyArn", VERSIONED[3].1),
        ("CorsOrigins", &format!("https://{}", "o".repeat(91))),
    ]);
    assert_eq!(params["CorsOrigins"].len(), 99, "CorsOrigins' MaxLength");
    let t = transform(&template(), &params, "1");
    for (function, _, version) in deployed(&t) {
        let (_, version_props, config) = published(&t, &function, &version);
        let description = version_props["Description"]
            .as_str()
            .expect("a fingerprint");
        assert!(
            description.len() <= 256,
            "{function}: {} chars",
            description.len()
        );
        assert_eq!(
            version_props["Description"], config["Description"],
            "{function}"
        );
    }
}

/// Every deployment runs the hook after traffic moved, watches the gating
/// alarms and rolls back on a failure or an alarm; every alarm notifies.
fn deployment_problems(t: &Template) -> Vec<String> {
    let r = t.resources();
    let mut problems = Vec::new();
    let deployed_functions: BTreeSet<String> = deployed(t).into_iter().map(|(f, _, _)| f).collect();
    for (id, _) in t.of_type("AWS::Lambda::Function") {
        if id != HOOK && !deployed_functions.contains(id) {
            problems.push(format!("{id} is not deployed through CodeDeploy"));
        }
    }
    let expected: BTreeSet<&str> = GATING_ALARMS.into_iter().collect();
    for (function, alias, _) in deployed(t) {
        let update = &r[&alias]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"];
        if t.eval(&update["AfterAllowTrafficHook"]) != HOOK_NAME {
            problems.push(format!("{function}: no post-deploy hook after traffic"));
        }
        let group = &r[update["DeploymentGroupName"]["Ref"].as_str().unwrap_or("?")]["Properties"];
        let alarms: BTreeSet<&str> = group["AlarmConfiguration"]["Alarms"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["Name"]["Ref"].as_str()).collect())
            .unwrap_or_default();
        if alarms != expected || group["AlarmConfiguration"]["Enabled"] != true {
            problems.push(format!("{function}: its deployment watches {alarms:?}"));
        }
        let rollback = group["AutoRollbackConfiguration"]["Events"].to_string();
        if !(rollback.contains("DEPLOYMENT_FAILURE")
            && rollback.contains("DEPLOYMENT_STOP_ON_ALARM"))
        {
            problems.push(format!("{function}: no automatic rollback ({rollback})"));
        }
    }
    for (id, alarm) in t.of_type("AWS::CloudWatch::Alarm") {
        if alarm["Properties"]["AlarmActions"][0]["Ref"] != "AlarmTopic" {
            problems.push(format!("{id} notifies no one"));
        }
    }
    if t.eval(&r[HOOK]["Properties"]["FunctionName"]) != HOOK_NAME {
        problems.push("the hook's name is not the one the deployments call".into());
    }
    problems
}

/// The checks run on the stack's first create, after every deployed alias
/// and the API stage exist.
fn first_create_problems(t: &Template) -> Vec<String> {
    let on_create: Vec<&Value> = t
        .of_type("AWS::CloudFormation::CustomResource")
        .map(|(_, r)| r)
        .filter(|r| r["Properties"]["ServiceToken"]["Fn::GetAtt"][0] == HOOK)
        .collect();
    let [custom] = on_create.as_slice() else {
        return vec![format!(
            "{} custom resources call the hook",
            on_create.len()
        )];
    };
    let refs = custom["Properties"].to_string();
    let mut problems = Vec::new();
    for (function, alias, _) in deployed(t) {
        if !refs.contains(&format!("{{\"Ref\":\"{alias}\"}}")) {
            problems.push(format!(
                "the first-create checks may run before {function}'s alias exists"
            ));
        }
    }
    if !refs.contains("ServerlessHttpApiApiGatewayDefaultStage") {
        problems.push("the first-create checks may run before the API stage exists".into());
    }
    problems
}

#[test]
fn every_deployment_runs_the_hook_and_watches_the_alarms() {
    let t = transform(&template(), &base_params(), "1");
    assert_eq!(deployment_problems(&t), Vec::<String>::new());
    assert_eq!(first_create_problems(&t), Vec::<String>::new());

    let fewer = template().replacen("        - !Ref DispatchBacklogAgeAlarm\n", "", 1);
    let problems = deployment_problems(&transform(&fewer, &base_params(), "1"));
    assert_eq!(problems.len(), 11, "{problems:#?}");
    assert!(
        problems[0].contains("its deployment watches"),
        "{problems:#?}"
    );

    let no_create = template().replacen("        - !Ref CostIngestFunction.Alias\n", "", 1);
    assert_eq!(
        first_create_problems(&transform(&no_create, &base_params(), "1")),
        ["the first-create checks may run before CostIngestFunction's alias exists"]
    );
}

/// Every asynchronous source ends somewhere on failure: functions invoked
/// asynchronously (schedules, S3, CodeDeploy and CloudFormation for the hook)
/// have an on-failure destination, stream mappings too, and schedule rules a
/// dead-letter queue for events they could not deliver.
fn async_problems(t: &Template) -> Vec<String> {
    let r = t.resources();
    let function_of_alias = |alias: &str| -> Option<String> {
        r.get(alias)?["Properties"]["FunctionName"]["Ref"]
            .as_str()
            .map(str::to_owned)
    };
    let mut invoked_async: BTreeSet<String> = BTreeSet::from([HOOK.to_owned()]);
    let mut problems = Vec::new();
    for (id, rule) in t.of_type("AWS::Events::Rule") {
        for target in rule["Properties"]["Targets"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(f) = target["Arn"]["Ref"].as_str().and_then(function_of_alias) {
                invoked_async.insert(f);
            }
            if target["DeadLetterConfig"]["Arn"].is_null() {
                problems.push(format!(
                    "{id}: no dead-letter queue for undeliverable events"
                ));
            }
        }
    }
    for (_, bucket) in t.of_type("AWS::S3::Bucket") {
        let configs = &bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"];
        for config in configs.as_array().into_iter().flatten() {
            if let Some(f) = config["Function"]["Ref"]
                .as_str()
                .and_then(function_of_alias)
            {
                invoked_async.insert(f);
            }
        }
    }
    for (id, mapping) in t.of_type("AWS::Lambda::EventSourceMapping") {
        // An SQS source's failures go to its queue's dead-letter queue (the
        // mapping has no on-failure destination of its own).
        let queue = mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]
            .as_str()
            .and_then(|q| r.get(q))
            .filter(|q| q["Type"] == "AWS::SQS::Queue");
        match queue {
            Some(q) if q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"].is_null() => {
                problems.push(format!("{id}: its queue has no dead-letter queue"));
            }
            Some(_) => {}
            None if mapping["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
                .is_null() =>
            {
                problems.push(format!("{id}: no on-failure destination"))
            }
            None => {}
        }
    }
    for function in invoked_async {
        let configured = t.of_type("AWS::Lambda::EventInvokeConfig").any(|(_, c)| {
            c["Properties"]["FunctionName"]["Ref"] == function.as_str()
                && !c["Properties"]["DestinationConfig"]["OnFailure"]["Destination"].is_null()
        });
        if !configured {
            problems.push(format!(
                "{function}: asynchronous invocations have no on-failure destination"
            ));
        }
    }
    problems
}

#[test]
fn every_asynchronous_source_has_an_on_failure_destination() {
    let t = transform(&template(), &base_params(), "1");
    assert_eq!(async_problems(&t), Vec::<String>::new());
    let invoked = t.of_type("AWS::Lambda::EventInvokeConfig").count();
    assert_eq!(
        invoked, 5,
        "the schedules' two functions, cost-ingest, the pack worker and the hook"
    );

    let text = template();
    let stream = text.replacen("            DestinationConfig:\n              OnFailure:\n                Type: SQS\n                Destination: !GetAtt AsyncFailureQueue.Arn\n", "", 1);
    assert_ne!(stream, text);
    assert_eq!(
        async_problems(&transform(&stream, &base_params(), "1")),
        ["NotificationDispatcherFunctionPendingDeliveries: no on-failure destination"]
    );

    let ingest = text.find("CodeUri: functions/cost-ingest").unwrap();
    let block = text[ingest..].find("      EventInvokeConfig:").unwrap() + ingest;
    let end = text[block..].find("      Events:").unwrap() + block;
    let no_invoke_config = format!("{}{}", &text[..block], &text[end..]);
    assert_eq!(
        async_problems(&transform(&no_invoke_config, &base_params(), "1")),
        ["CostIngestFunction: asynchronous invocations have no on-failure destination"]
    );

    let no_dlq = text.replacen(
        "            DeadLetterConfig: { Arn: !GetAtt AsyncFailureQueue.Arn }\n",
        "",
        1,
    );
    assert_eq!(
        async_problems(&transform(&no_dlq, &base_params(), "1")),
        ["EvidenceDailyFunctionDaily: no dead-letter queue for undeliverable events"]
    );

    let no_redrive = text.replacen(
        "      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt DailyRunDeadLetterQueue.Arn\n        maxReceiveCount: 3\n",
        "",
        1,
    );
    assert_ne!(no_redrive, text);
    assert_eq!(
        async_problems(&transform(&no_redrive, &base_params(), "1")),
        ["EvidenceDailyFunctionTenants: its queue has no dead-letter queue"]
    );
}

/// CloudFormation holds a parameter to its AllowedPattern as a whole-string match.
fn allowed(t: &Template, parameter: &str, value: &str) -> bool {
    let pattern = t.doc["Parameters"][parameter]["AllowedPattern"]
        .as_str()
        .unwrap_or_else(|| panic!("{parameter} has an AllowedPattern"));
    regex::Regex::new(&format!("^(?:{pattern})$"))
        .unwrap()
        .is_match(value)
}

#[test]
fn the_secret_arn_needs_its_suffix_and_the_key_is_optional() {
    let t = transform(&template(), &base_params(), "1");
    let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valdrix/runtime-AbC123";
    assert!(allowed(&t, "RuntimeSecretArn", arn));
    for wrong in [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valdrix/runtime",
        "valdrix/runtime-AbC123",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valdrix/runtime-AbC12",
        "arn:aws:ssm:eu-west-1:123456789012:parameter/valdrix-AbC123",
    ] {
        assert!(!allowed(&t, "RuntimeSecretArn", wrong), "{wrong}");
    }
    assert!(allowed(&t, "RuntimeSecretKmsKeyArn", ""));
    assert!(allowed(&t, "RuntimeSecretKmsKeyArn", VERSIONED[3].1));
    assert!(!allowed(&t, "RuntimeSecretKmsKeyArn", "alias/valdrix"));
    assert!(allowed(&t, "RuntimeSecretVersion", ""));
    assert!(allowed(&t, "RuntimeSecretVersion", VERSIONED[2].1));
    assert!(allowed(&t, "CorsOrigins", VERSIONED[4].1));
    assert!(!allowed(&t, "CorsOrigins", "app.example.com"));

    // Without a key no role may decrypt; with one, every function's may.
    let decrypts = |t: &Template| {
        let policy = t.eval(&t.resources()["RuntimeSecretReadPolicy"]["Properties"]);
        policy.to_string().contains("kms:Decrypt")
    };
    assert!(!decrypts(&t));
    assert!(decrypts(&transform(
        &template(),
        &params_with(&[VERSIONED[3]]),
        "1"
    )));
}
