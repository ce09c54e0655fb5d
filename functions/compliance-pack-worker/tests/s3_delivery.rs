//! Delivery through S3 (moto): multipart parts of at least 5 MiB, a presigned
//! GET that returns exactly what was written, the API's own presigned URLs
//! (`S3Links`, no S3 SDK) equal to the SDK's, and a whole pack end to end.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use valdrix_shared::audit::Actor;
use valdrix_shared::http::layers;
use valdrix_shared::objects::{Links, MIN_PART_SIZE, ObjectStore, S3Links, S3ObjectStore};
use valdrix_shared::state::AppState;
use valdrix_shared::tenancy::{self, ChangeContext, Role, Tier};
use valdrix_tests::{
    call, event_request, moto_endpoint, sqlite_store, test_config, unique, user_token,
};

/// A fresh bucket in moto, and the function's store over it: a client whose
/// calls must be in functions/compliance-pack-worker/iam.txt.
async fn store() -> S3ObjectStore {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(moto_endpoint())
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "static",
        ));
    let setup = aws_sdk_s3::Client::from_conf(config.clone().build());
    let bucket = unique("packs").to_lowercase();
    setup.create_bucket().bucket(&bucket).send().await.unwrap();
    let guarded = config.interceptor(valdrix_tests::iam_guard::sdk_guard());
    let client = aws_sdk_s3::Client::from_conf(guarded.build());
    S3ObjectStore::new(client, bucket).with_part_size(MIN_PART_SIZE)
}

async fn get(url: &str) -> Vec<u8> {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn multipart_upload_and_presigned_get_round_trip() {
    let s3 = store().await;
    let mut upload = s3
        .create("packs/t/big.zip", "application/zip")
        .await
        .unwrap();
    // 11 MiB in odd-sized writes: two parts of at least 5 MiB, then the rest.
    let data: Vec<u8> = (0..11 * 1024 * 1024u32)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    for chunk in data.chunks(300_001) {
        upload.write(chunk).await.unwrap();
    }
    assert_eq!(upload.finish().await.unwrap(), data.len() as u64);
    let head = s3
        .client()
        .head_object()
        .bucket(s3.bucket())
        .key("packs/t/big.zip")
        .part_number(1)
        .send()
        .await
        .unwrap();
    assert_eq!(head.parts_count(), Some(3));
    let first = head.content_length().unwrap();
    assert!(first >= MIN_PART_SIZE as i64, "first part {first} bytes");

    let url = s3
        .signed_url(
            "packs/t/big.zip",
            "big.zip",
            std::time::Duration::from_secs(120),
        )
        .await
        .unwrap();
    assert!(url.url.contains("X-Amz-Expires=120"), "{}", url.url);
    assert_eq!(Sha256::digest(get(&url.url).await), Sha256::digest(&data));

    // A small object is one PUT; an aborted upload leaves nothing.
    let mut small = s3
        .create("packs/t/small.zip", "application/zip")
        .await
        .unwrap();
    small.write(b"tiny").await.unwrap();
    small.finish().await.unwrap();
    let url = s3
        .signed_url(
            "packs/t/small.zip",
            "small.zip",
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(get(&url.url).await, b"tiny");
    let mut gone = s3
        .create("packs/t/gone.zip", "application/zip")
        .await
        .unwrap();
    gone.write(&data).await.unwrap();
    gone.abort().await;
    assert!(
        s3.client()
            .head_object()
            .bucket(s3.bucket())
            .key("packs/t/gone.zip")
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_pack_is_delivered_through_s3() {
    let objects = Arc::new(store().await);
    let mut state = AppState::with_objects(
        Arc::new(test_config(&[])),
        sqlite_store().await,
        Some(objects),
    );
    Arc::get_mut(&mut state).unwrap().audit_signer = Some(valdrix_tests::local_signer());
    let router = layers(compliance_export::router(state.clone()), &state.config);
    let ctx = ChangeContext {
        actor: Actor::AdminKey,
        request_id: None,
    };
    let tenant = unique("acme");
    tenancy::create_tenant(&state.audit, Some(tenant.clone()), "Acme", Tier::Pro, &ctx)
        .await
        .unwrap();
    let sub = unique("owner");
    tenancy::put_member(
        state.store.as_ref(),
        &state.audit,
        &tenant,
        &sub,
        Role::Owner,
        "o@acme.example",
        &ctx,
    )
    .await
    .unwrap();
    let token = user_token(&sub, "o@acme.example");
    let request = event_request(
        "compliance-pack-get",
        &[
            ("REPLACE_WITH_TOKEN", &token),
            ("\"accept\": \"*/*\"", "\"accept\": \"application/json\""),
        ],
    );
    let (status, _, answer) = call(&router, request).await;
    assert_eq!(status, 200, "{answer}");
    let url = answer["url"].as_str().unwrap();
    assert!(url.starts_with(&moto_endpoint()), "{url}");
    let bytes = get(url).await;
    assert_eq!(answer["sha256"], hex::encode(Sha256::digest(&bytes)));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    assert!(archive.by_name("manifest.json").is_ok());
    assert!(archive.by_name("exports/focus-v1.2.csv").is_ok());

    // Without Accept: application/json, a 303 to the presigned URL.
    let request = event_request("compliance-pack-get", &[("REPLACE_WITH_TOKEN", &token)]);
    let (status, headers, _) = call(&router, request).await;
    assert_eq!(status, 303);
    assert!(
        headers["location"]
            .to_str()
            .unwrap()
            .contains("X-Amz-Signature=")
    );
}

/// The query's pairs, sorted (the signature covers them in canonical order;
/// the two presigners may list them differently).
fn parts(url: &str) -> (String, Vec<(String, String)>) {
    let url = url::Url::parse(url).unwrap();
    let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    pairs.sort();
    (
        format!("{}{}", &url[..url::Position::BeforePath], url.path()),
        pairs,
    )
}

#[tokio::test]
async fn the_apis_links_are_the_sdks_presigned_urls() {
    use aws_sdk_s3::presigning::PresigningConfig;
    use std::time::{Duration, SystemTime};

    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000);
    let ttl = Duration::from_secs(300);
    let credentials = aws_sdk_s3::config::Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        Some("session-token/with+odd=chars".into()),
        None,
        "static",
    );
    let key = "packs/acme corp/0193b2f4 run+1.zip";
    let filename = "compliance-pack-acme_corp-20261207T120000Z.zip";
    for endpoint in [None, Some(moto_endpoint())] {
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("eu-west-1"))
            .credentials_provider(credentials.clone());
        if let Some(e) = &endpoint {
            config = config.endpoint_url(e).force_path_style(true);
        }
        let sdk = aws_sdk_s3::Client::from_conf(config.build())
            .get_object()
            .bucket("valdrix-packbucket-1abc")
            .key(key)
            .response_content_disposition(format!("attachment; filename=\"{filename}\""))
            .response_content_type("application/zip")
            .presigned(
                PresigningConfig::builder()
                    .start_time(at)
                    .expires_in(ttl)
                    .build()
                    .unwrap(),
            )
            .await
            .unwrap();
        let ours = S3Links::new(
            "valdrix-packbucket-1abc".into(),
            "eu-west-1".into(),
            endpoint.clone(),
            aws_credential_types::provider::SharedCredentialsProvider::new(credentials.clone()),
        )
        .presign(key, filename, ttl, at)
        .await
        .unwrap();
        assert_eq!(parts(&ours.url), parts(sdk.uri()), "endpoint {endpoint:?}");
        let signature = |u: &str| parts(u).1.into_iter().find(|(k, _)| k == "X-Amz-Signature");
        assert!(signature(&ours.url).is_some(), "{}", ours.url);
    }

    // Through moto: the link fetches what was written.
    let s3 = store().await;
    let mut upload = s3
        .create("packs/t/linked.zip", "application/zip")
        .await
        .unwrap();
    upload.write(b"linked").await.unwrap();
    upload.finish().await.unwrap();
    let links = S3Links::new(
        s3.bucket().to_owned(),
        "us-east-1".into(),
        Some(moto_endpoint()),
        aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "static"),
        ),
    );
    let url = links
        .signed_url("packs/t/linked.zip", "linked.zip", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(get(&url.url).await, b"linked");
}
