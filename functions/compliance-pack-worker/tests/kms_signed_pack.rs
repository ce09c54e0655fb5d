//! The pack signed with AWS KMS (moto's, the key spec and algorithm of the
//! template) on the DynamoDB backend: it verifies against the key's public
//! half as KMS hands it out; after a key rotation, the old key stays in the
//! registry and in the next pack beside the checkpoints it signed. The KMS
//! client is held to functions/compliance-pack-worker/iam.txt (iam_guard).

use std::io::Cursor;

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use chrono::Utc;
use valdrix_shared::audit::checkpoint::kms::KmsSigner;
use valdrix_shared::audit::checkpoint::{self, PublicKey, Signer};
use valdrix_shared::audit::{Actor, NewEvent};
use valdrix_shared::exports::{ExportRequest, Failure, export_pack, options, verify_pack};
use valdrix_shared::objects::LocalDirStore;
use valdrix_tests::{dynamo_store, moto_endpoint, state_with, unique};

fn kms_config() -> aws_sdk_kms::config::Builder {
    aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new("us-east-1"))
        .endpoint_url(moto_endpoint())
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            "testing", "testing", None, None, "static",
        ))
}

/// A new key as template.yaml makes it, and the function's signer over it.
async fn kms_key() -> (KmsSigner, PublicKey) {
    let setup = aws_sdk_kms::Client::from_conf(kms_config().build());
    let key = setup
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .expect("create a KMS key in moto");
    let arn = key.key_metadata().unwrap().arn().unwrap().to_owned();
    let public = setup.get_public_key().key_id(&arn).send().await.unwrap();
    let public = PublicKey::from_der(public.public_key().unwrap().as_ref().to_vec()).unwrap();
    let guarded = kms_config().interceptor(valdrix_tests::iam_guard::sdk_guard());
    (
        KmsSigner::new(aws_sdk_kms::Client::from_conf(guarded.build()), arn),
        public,
    )
}

async fn export(
    state: &valdrix_shared::state::SharedState,
    signer: &dyn Signer,
    tenant: &str,
) -> Vec<u8> {
    let dir = std::env::temp_dir().join(unique("valdrix-packs"));
    let objects = LocalDirStore::new(&dir, [7u8; 32]);
    let now = Utc::now();
    let exported = export_pack(
        &state.store,
        &state.audit,
        &objects,
        signer,
        ExportRequest {
            tenant_id: tenant.into(),
            tier: "pro".into(),
            actor: Actor::System,
            request_id: None,
            environment: "local".into(),
            method: "GET".into(),
            path: "/api/v1/audit/compliance-pack".into(),
            options: options::parse(&[], now.date_naive()).unwrap(),
            now,
            deadline: valdrix_shared::deadline::Deadline::unbounded(),
        },
    )
    .await
    .expect("export the pack");
    let path = dir.join(format!("packs/{tenant}/{}.zip", exported.run_id));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn append(state: &valdrix_shared::state::SharedState, tenant: &str, n: usize) {
    for i in 0..n {
        state
            .audit
            .append(NewEvent {
                tenant_id: tenant.into(),
                event_type: "settings.notifications_updated".into(),
                actor: Actor::System,
                request_id: Some(format!("req-{i}")),
                resource: Some(format!("tenant/{tenant}")),
                success: true,
                details: serde_json::json!({"n": i}),
            })
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_kms_signed_pack_on_dynamodb_verifies_and_rotation_keeps_the_old_key() {
    let state = state_with(dynamo_store().await);
    let tenant = unique("acme");
    let (first, first_public) = kms_key().await;
    append(&state, &tenant, 3).await;
    // The daily floor's checkpoint of the chain so far, with the first key.
    let early = checkpoint::sign_head(&state.audit, &first, &tenant, Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(early.statement.key_id, first_public.id());
    assert!(first_public.verifies(early.statement.text().as_bytes(), &early.signature));
    let registered = checkpoint::key(state.store.as_ref(), &first_public.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(registered.key, first_public);
    assert_eq!(registered.key_ref, first.key_ref());

    let pack = export(&state, &first, &tenant).await;
    let verified = verify_pack(
        Cursor::new(&pack),
        Some(std::slice::from_ref(&first_public)),
    )
    .unwrap_or_else(|f| panic!("the KMS-signed pack does not verify: {f}"));
    assert_eq!((verified.from_seq, verified.events_checked), (1, 4));
    assert_eq!(
        verified.checkpoints_checked, 2,
        "the early one and the export's"
    );
    assert_eq!(verified.keys, [first_public.id()]);

    // Rotation: a new key signs from now on; the old one stays with what it signed.
    let (second, second_public) = kms_key().await;
    append(&state, &tenant, 2).await;
    let pack = export(&state, &second, &tenant).await;
    let both = [first_public.clone(), second_public.clone()];
    let verified = verify_pack(Cursor::new(&pack), Some(&both))
        .unwrap_or_else(|f| panic!("the pack after rotation does not verify: {f}"));
    let mut keys = vec![first_public.id(), second_public.id()];
    keys.sort();
    assert_eq!(verified.keys, keys);
    assert_eq!(
        verified.checkpoints_checked, 3,
        "two by the old key, the second export's by the new"
    );
    // Trusting only the new key names the first checkpoint the old key signed.
    assert_eq!(
        verify_pack(
            Cursor::new(&pack),
            Some(std::slice::from_ref(&second_public))
        )
        .unwrap_err(),
        Failure::Checkpoint {
            seq: early.statement.seq,
            reason: format!(
                "signed by key {}, which is not a trusted key (--public-key)",
                first_public.id()
            ),
        }
    );
}
