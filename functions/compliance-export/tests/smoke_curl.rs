//! The checklist's smoke step, `curl -L -o pack.zip`, against the router
//! served on a real port with the local object store — as `valdrix serve`
//! wires it.

use std::sync::Arc;

use valdrix_shared::audit::Actor;
use valdrix_shared::http::layers;
use valdrix_shared::state::AppState;
use valdrix_shared::tenancy::{self, ChangeContext, Role, Tier};
use valdrix_tests::{sqlite_store, test_config, unique, user_token};

#[tokio::test]
async fn curl_follows_the_303_and_saves_a_valid_pack() {
    let config = Arc::new(test_config(&[]));
    let dir = std::env::temp_dir().join(unique("valdrix-smoke"));
    let objects = compliance_export::local_object_store(dir.join("packs"), &config);
    let mut state = AppState::with_objects(config, sqlite_store().await, Some(objects));
    std::sync::Arc::get_mut(&mut state).unwrap().audit_signer = Some(valdrix_tests::local_signer());
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

    let app = layers(compliance_export::router(state.clone()), &state.config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("pack.zip");
    let url = format!(
        "http://127.0.0.1:{port}/api/v1/audit/compliance-pack?include_focus_export=true&include_savings_proof=true&include_realized_savings=true&include_close_package=true"
    );
    let status = tokio::process::Command::new("curl")
        .args(["-sS", "-f", "-L", "-o"])
        .arg(&out)
        .args(["-H", &format!("Authorization: Bearer {token}"), &url])
        .status()
        .await
        .expect("curl runs");
    assert!(status.success(), "curl failed: {status}");
    let check = std::process::Command::new("python3")
        .args(["-m", "zipfile", "-l"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(check.status.success());
    let listing = String::from_utf8_lossy(&check.stdout);
    for name in [
        "manifest.json",
        "exports/focus-v1.2.csv",
        "exports/savings-proof.csv",
        "exports/realized-savings.csv",
    ] {
        assert!(listing.contains(name), "{name} not in {listing}");
    }
    // Empty ledger: no preliminary rows, so the close package is ready.
    assert!(listing.contains("exports/close-package.json"), "{listing}");
    server.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
