//! `valdrix serve`: every function's router on one port, the embedded store,
//! development secrets, a demo tenant, and ready-to-paste curl lines.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use secrecy::ExposeSecret;
use valdrix_shared::audit::checkpoint::{self, local::LocalSigner};
use valdrix_shared::config::vars::{
    ADMIN_API_KEY, SLACK_BOT_TOKEN, VALDRIX_ALLOW_PRIVATE_OUTBOUND,
};
use valdrix_shared::config::{self, RuntimeConfig};
use valdrix_shared::notify::Integrations;
use valdrix_shared::outbound::Timeouts;
use valdrix_shared::state::AppState;
use valdrix_shared::store;

use crate::demo::{self, DEMO_TENANT, DEMO_USERS};
use crate::sandbox::{self, Sandbox};
use crate::{migrate, routes};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Where the embedded store and the generated development secrets live.
    #[arg(long, default_value = ".valdrix")]
    data_dir: PathBuf,
    /// Start fake Slack, Jira, GitHub, GitLab and webhook receivers on loopback
    /// and point the demo tenant's notification settings at them.
    #[arg(long)]
    sandbox: bool,
}

/// The signing key of the audit checkpoints, in the data dir.
pub const AUDIT_KEY_FILE: &str = "audit-signing-key.p8";

pub async fn run(args: Args) -> ExitCode {
    match serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), String> {
    // One JSON line per request and per error on stderr, as each function logs in Lambda.
    valdrix_shared::telemetry::init();
    let dev = crate::dev_env::load(&args.data_dir)?;
    let admin_key_generated = dev.is_generated(ADMIN_API_KEY);
    let mut vars = dev.vars;
    let sandbox = match args.sandbox {
        false => None,
        true => {
            let sandbox = sandbox::start()
                .await
                .map_err(|e| format!("cannot start the sandbox receivers: {e}"))?;
            // Before validation: the contract refuses both in staging and production.
            vars.set(VALDRIX_ALLOW_PRIVATE_OUTBOUND, "true");
            vars.set(SLACK_BOT_TOKEN, sandbox::fake_bot_token());
            Some(sandbox)
        }
    };
    let config = config::validate(&vars, chrono::Utc::now()).map_err(|violations| {
        let lines: Vec<String> = violations.iter().map(ToString::to_string).collect();
        format!("the runtime contract is broken:\n{}", lines.join("\n"))
    })?;
    let url = config.store.clone().ok_or("DATABASE_URL is not set")?;
    let store = store::open(&url).await.map_err(|e| e.to_string())?;
    let integrations = match &sandbox {
        Some(sandbox) => Integrations::with(&config, sandbox.endpoints(), Timeouts::default()),
        None => Integrations::from_config(&config),
    };
    // Compliance packs go to a local directory, served by signed URLs.
    let packs = compliance_export::local_object_store(args.data_dir.join("packs"), &config);
    let mut state = AppState::with(config.into(), store, integrations, Some(packs));
    // The audit checkpoints' key: a 0600 file in the data dir, never printed.
    let signer: checkpoint::DynSigner = std::sync::Arc::new(
        LocalSigner::open_or_create(&args.data_dir.join(AUDIT_KEY_FILE))
            .map_err(|e| e.to_string())?,
    );
    std::sync::Arc::get_mut(&mut state)
        .expect("a freshly built state has no other owner")
        .audit_signer = Some(signer.clone());
    tokio::spawn(checkpoint::sweep_forever(
        state.audit.clone(),
        signer,
        std::time::Duration::from_secs(2),
    ));
    // The dispatcher runs in-process here: no stream, so accepted policy
    // deliveries are sent at once and the due index is swept every 2 s.
    tokio::spawn(valdrix_shared::policy::inline::sweep_forever(
        state.notifying(),
        std::time::Duration::from_secs(2),
    ));
    for line in migrate::run(&state.store, &url, &state.audit)
        .await
        .map_err(|e| e.to_string())?
    {
        eprintln!("{line}");
    }
    demo::seed(&state)
        .await
        .map_err(|e| format!("cannot create the demo tenant: {e}"))?;
    if let Some(sandbox) = &sandbox {
        demo::point_at_sandbox(&state, sandbox)
            .await
            .map_err(|e| format!("cannot configure the sandbox: {e}"))?;
    }

    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    print_banner(
        &state.config,
        &listener.local_addr().map_err(|e| e.to_string())?,
        sandbox.as_ref(),
        admin_key_generated,
    );
    let mut app = routes::app(state.clone()).layer(axum::middleware::from_fn_with_state(
        state.notifying(),
        valdrix_shared::policy::inline::after_accept,
    ));
    if let Some(sandbox) = &sandbox {
        app = app.merge(sandbox.router());
    }
    crate::http_front::serve(listener, app, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| format!("server error: {e}"))
}

/// The banner's last line: everything above it is printed once serve is ready.
pub const BANNER_END: &str = "  # stop with Ctrl-C";

/// What `valdrix serve` prints. Secrets it generated for development may be
/// shown; one the operator supplied is theirs: named, never shown.
fn print_banner(
    config: &RuntimeConfig,
    addr: &SocketAddr,
    sandbox: Option<&Sandbox>,
    admin_key_generated: bool,
) {
    let base = format!("http://{addr}");
    println!(
        "valdrix serve: listening on {base} (environment {})",
        config.environment
    );
    print_access(config, &base, sandbox, admin_key_generated);
    println!("{BANNER_END}");
}

/// The curl lines: health, the checklist's variables, a token per demo user,
/// the admin key (shown only when `admin_key_generated`), the sandbox.
pub fn print_access(
    config: &RuntimeConfig,
    base: &str,
    sandbox: Option<&Sandbox>,
    admin_key_generated: bool,
) {
    let token = |user: &str| {
        valdrix_shared::auth::mint_user_token(
            config,
            user,
            &format!("{user}@demo.valdrix.local"),
            chrono::Duration::days(7),
        )
    };
    let admin_key = match &config.admin_api_key {
        Some(key) if admin_key_generated => Some(key.expose_secret().to_owned()),
        Some(_) => Some("\"$ADMIN_API_KEY\"".to_owned()),
        None => None,
    };
    println!("  curl {base}/health");
    println!(
        "  # the variables of docs/production_env_checklist.md, section 6 ({} of tenant {DEMO_TENANT}):",
        DEMO_USERS[0].1.as_str()
    );
    let mut exports = format!(
        "  export VALDRIX_API={base} TENANT_ID={DEMO_TENANT} TOKEN={}",
        token(DEMO_USERS[0].0)
    );
    if let Some(key) = &admin_key {
        exports.push_str(&format!(" ADMIN_KEY={key}"));
    }
    println!("{exports}");
    for (user, role) in DEMO_USERS {
        println!("  # {} of tenant {DEMO_TENANT}", role.as_str());
        println!(
            "  curl -H 'Authorization: Bearer {}' {base}/api/v1/me",
            token(user)
        );
    }
    match admin_key {
        Some(key) if admin_key_generated => {
            println!("  # operator (admin key generated into the data dir's dev.env)");
            println!("  curl -H 'X-Admin-Key: {key}' {base}/api/v1/admin/tenants/{DEMO_TENANT}");
        }
        Some(_) => {
            println!("  # operator (the admin key is yours: ADMIN_API_KEY in this environment)");
            println!(
                "  curl -H \"X-Admin-Key: $ADMIN_API_KEY\" {base}/api/v1/admin/tenants/{DEMO_TENANT}"
            );
        }
        None => {}
    }
    if let Some(sandbox) = sandbox {
        println!("  # sandbox: fake receivers on loopback; tenant {DEMO_TENANT} sends to them");
        for (name, url) in sandbox.urls() {
            println!("  #   {name:<8}{url}");
        }
        for test in ["test-slack", "test-jira", "test-workflow"] {
            println!(
                "  curl -X POST -H \"Authorization: Bearer $TOKEN\" {base}/api/v1/settings/notifications/{test}"
            );
        }
        println!("  curl {base}/_sandbox/received");
    }
}
