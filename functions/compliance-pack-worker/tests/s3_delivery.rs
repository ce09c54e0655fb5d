//! Delivery through S3 (moto): multipart parts of at least 5 MiB, a presigned
//! GET that returns exactly what was written, and a whole pack end to end.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use valdrix_shared::audit::Actor;
use valdrix_shared::http::layers;
use valdrix_shared::objects::{MIN_PART_SIZE, ObjectStore, S3ObjectStore};
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
