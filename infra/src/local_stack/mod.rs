//! `valdrix local-stack`: the deployed shape on one machine. template.yaml's
//! SAM transform says what AWS would create; the table, buckets, queues and
//! the runtime secret are created on DynamoDB Local and moto, every function
//! binary runs behind its own Lambda Runtime API with the environment the
//! template gives it, an HTTP front serves the template's routes, and the
//! stream, schedules, bucket notification and CodeDeploy hook feed the
//! functions as their event sources do. Ctrl-C or SIGTERM stops all of it.

mod aws;
mod emulators;
mod events;
mod filter;
mod front;
mod queue;
mod resolve;
mod resources;
mod runtime_api;
mod stream;
pub mod template;

#[cfg(test)]
mod contract;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Value, json};
use valdrix_shared::config::vars::*;
use valdrix_shared::config::{self, StoreUrl, VarSet};
use valdrix_shared::state::AppState;

use crate::sandbox::{self, Sandbox};
use aws::Endpoints;
use resolve::Values;
use runtime_api::{Function, Spec};

#[derive(clap::Args)]
pub struct Args {
    /// The HTTP API's port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Where the generated development secrets are kept.
    #[arg(long, default_value = ".valdrix/local-stack")]
    data_dir: PathBuf,
    /// Start the fake Slack, Jira, GitHub, GitLab and webhook receivers and
    /// point the demo tenant (and the functions' Slack/GitHub APIs) at them.
    #[arg(long)]
    sandbox: bool,
    /// The template to deploy.
    #[arg(long, default_value = "template.yaml")]
    template: PathBuf,
    /// The function binaries (`cargo build --bins` puts them in target/debug).
    #[arg(long, default_value = "target/debug")]
    functions_dir: PathBuf,
    /// Where `infra/emulators.sh install` and `infra/lint-template.sh` put their tools.
    #[arg(long, default_value = ".valdrix-tools")]
    tools_dir: PathBuf,
    /// Use this DynamoDB Local instead of starting one.
    #[arg(long, value_name = "URL")]
    dynamodb_endpoint: Option<String>,
    /// Use this moto server instead of starting one.
    #[arg(long, value_name = "URL")]
    moto_endpoint: Option<String>,
    /// The stack's name, in every resource name (lower case).
    #[arg(long, default_value = "valdrix-local")]
    stack_name: String,
    /// Every schedule fires this often, in seconds.
    #[arg(long, default_value_t = 60)]
    schedule_interval: u64,
}

pub async fn run(args: Args) -> ExitCode {
    let mut started = emulators::Started::default();
    let result = up(args, &mut started).await;
    started.stop().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// What the control routes (`/_local/…`) reach.
struct Control {
    functions: BTreeMap<String, Arc<Function>>,
    mappings: Vec<Arc<stream::Mapping>>,
    sources: events::Stats,
    hooks: Vec<Arc<Function>>,
    /// (logical id, function name) of every function whose alias a
    /// deployment moves: what `POST /_local/deployments` deploys.
    deployable: Vec<(String, String)>,
    codedeploy: events::CodeDeploy,
}

async fn up(mut args: Args, started: &mut emulators::Started) -> Result<(), String> {
    // Absolute: DynamoDB Local runs in its jar's directory.
    if let Ok(dir) = std::fs::canonicalize(&args.tools_dir) {
        args.tools_dir = dir;
    }
    let t = template::transform(&args.tools_dir.join("sam-venv/bin/python"), &args.template)?;
    let (crates, problems) = t.functions();
    let (routes, route_problems) = t.routes();
    if let Some(p) = problems.iter().chain(&route_problems).next() {
        return Err(format!("template.yaml: {p}"));
    }
    let missing: Vec<&String> = crates
        .values()
        .filter(|c| !args.functions_dir.join(c).is_file())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "function binaries missing in {}: {missing:?}; build them with: cargo build --bins --workspace",
            args.functions_dir.display()
        ));
    }

    let dynamodb = match args.dynamodb_endpoint.clone() {
        Some(url) => url,
        None => emulators::dynamodb(&args.tools_dir, started).await?,
    };
    let moto = match args.moto_endpoint.clone() {
        Some(url) => url,
        None => emulators::moto(&args.tools_dir, started).await?,
    };
    let codedeploy_fake = events::CodeDeploy::default();
    let codedeploy = listen(
        Router::new()
            .fallback(events::codedeploy_api)
            .with_state(codedeploy_fake.clone()),
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port)))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    let base = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let endpoints = Endpoints {
        dynamodb,
        moto,
        codedeploy: format!("http://{codedeploy}"),
        lambda: base.clone(),
    };
    eprintln!(
        "local-stack: DynamoDB Local {}, moto {}, fake CodeDeploy {}",
        endpoints.dynamodb, endpoints.moto, endpoints.codedeploy
    );
    let clients = aws::Clients::new(&endpoints).await;

    let sandbox = match args.sandbox {
        true => Some(
            sandbox::start()
                .await
                .map_err(|e| format!("cannot start the sandbox receivers: {e}"))?,
        ),
        false => None,
    };
    let secret = runtime_secret(&args, sandbox.as_ref())?;
    let suffix = hex::encode(rand::random::<[u8; 4]>()).to_ascii_uppercase();
    let secret_arn = clients
        .secrets
        .create_secret()
        .name(format!("{}/runtime-{suffix}", args.stack_name))
        .secret_string(secret.to_string())
        .send()
        .await
        .map_err(|e| {
            format!(
                "create the runtime secret: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        })?
        .arn
        .unwrap_or_default();

    let mut values = Values::default();
    pseudo_and_parameters(&t, &mut values, &args.stack_name, &secret_arn)?;
    for (api, _) in t.of_type("AWS::ApiGatewayV2::Api") {
        values.set(api, "local");
        values.api_urls.insert(api.to_owned(), base.clone());
    }
    for (id, r) in t.of_type("AWS::Logs::LogGroup") {
        let name = values.resolve_string(&r["Properties"]["LogGroupName"])?;
        values.set(id, name);
    }
    let notification_queues =
        resources::create(&t, &clients, &mut values, &args.stack_name, &suffix).await?;

    // Functions: names first (an alias or a hook may name another function).
    let mut names = BTreeMap::new();
    for (id, r) in t.of_type("AWS::Lambda::Function") {
        let name = match &r["Properties"]["FunctionName"] {
            Value::Null => resources::generated_name(&args.stack_name, id, &suffix, 64),
            v => values.resolve_string(v)?,
        };
        let arn = format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            aws::REGION,
            aws::ACCOUNT
        );
        values.set(id, &name);
        values.set_attr(id, "Arn", &arn);
        names.insert(id.to_owned(), name);
    }
    for (id, r) in t.of_type("AWS::Lambda::Alias") {
        if let Some(f) = t.function_of(&r["Properties"]["FunctionName"]) {
            let alias = r["Properties"]["Name"].as_str().unwrap_or("live");
            values.set(
                id,
                format!(
                    "arn:aws:lambda:{}:{}:function:{}:{alias}",
                    aws::REGION,
                    aws::ACCOUNT,
                    names[&f]
                ),
            );
        }
    }
    let mut functions = BTreeMap::new();
    for (id, crate_name) in &crates {
        let spec = function_spec(
            &t,
            &values,
            &endpoints,
            id,
            &names[id],
            &args.functions_dir.join(crate_name),
            &args.functions_dir,
        )?;
        functions.insert(id.clone(), Function::new(spec));
    }

    // The operator's side: data migrations, the demo tenant, the sandbox targets.
    let table = values.resolve_string(
        &json!({"Ref": t.of_type("AWS::DynamoDB::Table").next().ok_or("no table")?.0}),
    )?;
    let vars = function_vars(&functions, &secret)?;
    let cfg = validated(&vars)?;
    seed(validated(&vars)?, &table, &endpoints, sandbox.as_ref()).await?;

    // Event sources.
    let mut mappings = Vec::new();
    let sources = events::Stats::default();
    for s in t.source_mappings() {
        let props = values.resolve(&s.properties)?;
        if props["Enabled"].as_bool() == Some(false) {
            continue;
        }
        if let Some(queue) = &s.queue {
            let url = values.resolve_string(&json!({ "Ref": queue }))?;
            let mapping = queue::QueueMapping::new(&s.id, &props, url)?;
            tokio::spawn(mapping.run(
                clients.sqs.clone(),
                functions[&s.function].clone(),
                sources.clone(),
            ));
            continue;
        }
        let queue_url = |arn: &str| {
            let id = values
                .attrs
                .iter()
                .find(|((_, a), v)| a == "Arn" && *v == arn)?
                .0
                .0
                .clone();
            values.resolve_string(&json!({ "Ref": id })).ok()
        };
        let mapping = Arc::new(stream::Mapping::new(
            &s.id,
            functions[&s.function].clone(),
            &props,
            &clients.sqs,
            queue_url,
        )?);
        let api = stream::StreamsApi::new(&endpoints.dynamodb);
        let shards = mapping.open(&api).await?;
        tokio::spawn(mapping.clone().run(api, shards));
        mappings.push(mapping);
    }
    let interval = Duration::from_secs(args.schedule_interval.max(1));
    for s in t.schedules() {
        eprintln!(
            "local-stack: schedule {} ({}) fires every {} s here",
            s.id,
            s.expression,
            interval.as_secs()
        );
        let targets = s.functions.iter().map(|f| functions[f].clone()).collect();
        tokio::spawn(events::run_schedule(
            s.id.clone(),
            targets,
            interval,
            sources.clone(),
        ));
    }
    for (i, q) in notification_queues.into_iter().enumerate() {
        let f = functions[&q.function].clone();
        tokio::spawn(events::run_notifications(
            format!("bucket-notification-{i}"),
            clients.sqs.clone(),
            q.url,
            f,
            sources.clone(),
        ));
    }
    let (hook_ids, deployable) = hook_functions(&t, &values, &names)?;
    let hooks = hook_ids
        .into_iter()
        .map(|id| functions[&id].clone())
        .collect();

    let control = Arc::new(Control {
        functions: functions.clone(),
        mappings,
        sources,
        hooks,
        deployable,
        codedeploy: codedeploy_fake,
    });
    // SAM turns a CorsConfiguration whose AllowOrigins is an intrinsic into a
    // Ref of its own making (template.yaml's does not resolve): said, not fatal.
    let cors = match t.cors().map(|c| values.resolve(c)) {
        Some(Ok(c)) if c["allowOrigins"].is_array() => Some(c),
        Some(Ok(c)) => {
            eprintln!(
                "local-stack: warning: the HTTP API's CORS configuration {c} has no allowOrigins list; preflights are not answered"
            );
            None
        }
        Some(Err(e)) => {
            eprintln!(
                "local-stack: warning: the HTTP API's CORS configuration does not resolve ({e}); preflights are not answered"
            );
            None
        }
        None => None,
    };
    let front = Arc::new(front::Front {
        routes,
        functions: functions.clone(),
        cors,
        api_id: "local".into(),
    });
    let mut app = Router::new()
        .route("/_local/functions", get(list_functions))
        .route(
            "/_local/functions/{id}/environment",
            delete(stop_environment),
        )
        .route("/_local/event-sources", get(event_sources))
        .route("/_local/deployments", post(run_deployment))
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .with_state(control.clone());
    if let Some(s) = &sandbox {
        app = app.merge(s.router());
    }
    let app = app.fallback(move |method, uri, headers, body| {
        front.clone().handle(method, uri, headers, body)
    });

    let addr: SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .map_err(|_| "address")?;
    print_banner(&cfg, &addr, &args, &endpoints, &table, sandbox.as_ref());
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    for f in control.functions.values() {
        f.stop_environment();
    }
    // Let the environments' processes be reaped.
    tokio::time::sleep(Duration::from_millis(200)).await;
    served.map_err(|e| format!("server error: {e}"))
}

async fn listen(app: Router) -> Result<SocketAddr, String> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move { axum::serve(l, app).await });
    Ok(addr)
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
    eprintln!("local-stack: stopping");
}

/// The contract's secrets (generated development values, kept in the data dir)
/// and, with the sandbox, what points the functions at the fake receivers.
fn runtime_secret(args: &Args, sandbox: Option<&Sandbox>) -> Result<Value, String> {
    let dev = crate::dev_env::load_with(&args.data_dir, VarSet::default())?;
    let mut secret = serde_json::Map::new();
    for name in [
        SUPABASE_JWT_SECRET,
        ENCRYPTION_KEY,
        KDF_SALT,
        CSRF_SECRET_KEY,
        ADMIN_API_KEY,
    ] {
        secret.insert(name.into(), dev.vars.get(name).unwrap_or_default().into());
    }
    if let Some(s) = sandbox {
        secret.insert(VALDRIX_ALLOW_PRIVATE_OUTBOUND.into(), "true".into());
        secret.insert(SLACK_BOT_TOKEN.into(), sandbox::fake_bot_token().into());
        secret.insert(VALDRIX_SLACK_API_URL.into(), s.slack_api.as_str().into());
        secret.insert(VALDRIX_GITHUB_API_URL.into(), s.github_api.as_str().into());
    }
    Ok(Value::Object(secret))
}

/// Pseudo parameters, then the template's parameters: their defaults, and
/// the local values of those a deployment passes (`Environment` is `local`,
/// outside the template's AllowedValues on purpose: the contract refuses
/// emulators and loopback receivers in staging and production).
fn pseudo_and_parameters(
    t: &template::Transformed,
    values: &mut Values,
    stack: &str,
    secret_arn: &str,
) -> Result<(), String> {
    values.set("AWS::Region", aws::REGION);
    values.set("AWS::AccountId", aws::ACCOUNT);
    values.set("AWS::StackName", stack);
    values.set(
        "AWS::StackId",
        format!(
            "arn:aws:cloudformation:{}:{}:stack/{stack}/local",
            aws::REGION,
            aws::ACCOUNT
        ),
    );
    values.set("AWS::Partition", "aws");
    values.set("AWS::URLSuffix", "amazonaws.com");
    let local: BTreeMap<&str, &str> = [
        ("Environment", "local"),
        ("RuntimeSecretArn", secret_arn),
        // A comma-separated list (the API's preflight answers and the contract's JSON).
        ("CorsOrigins", "http://localhost:5173"),
    ]
    .into();
    for (name, p) in t.template["Parameters"].as_object().into_iter().flatten() {
        let value = match (local.get(name.as_str()), &p["Default"]) {
            (Some(v), _) => Value::String((*v).to_owned()),
            (None, Value::Null) => {
                return Err(format!(
                    "parameter {name} has no default and no local value"
                ));
            }
            (None, d) => Value::String(values.resolve_string(d)?),
        };
        let value = match (p["Type"].as_str(), value) {
            (Some("CommaDelimitedList"), Value::String(s)) => {
                json!(s.split(',').map(str::trim).collect::<Vec<_>>())
            }
            (_, v) => v,
        };
        values.refs.insert(name.clone(), value);
    }
    Ok(())
}

fn function_spec(
    t: &template::Transformed,
    values: &Values,
    endpoints: &Endpoints,
    id: &str,
    name: &str,
    binary: &std::path::Path,
    dir: &std::path::Path,
) -> Result<Spec, String> {
    let props = &t.resource(id)["Properties"];
    let at = |e: String| format!("{id}: {e}");
    let mut env = Vec::new();
    for (k, v) in props["Environment"]["Variables"]
        .as_object()
        .into_iter()
        .flatten()
    {
        env.push((k.clone(), values.resolve_string(v).map_err(at)?));
    }
    let memory = props["MemorySize"].as_u64().unwrap_or(128);
    let timeout = props["Timeout"].as_u64().unwrap_or(3);
    let log_group = match &props["LoggingConfig"]["LogGroup"] {
        Value::Null => format!("/aws/lambda/{name}"),
        v => values.resolve_string(v).map_err(at)?,
    };
    let logging = &props["LoggingConfig"];
    // Lambda's own variables: reserved, they win over the template's.
    let mut lambda = vec![
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "1".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory.to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", log_group),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("{}/[1]local", chrono::Utc::now().format("%Y/%m/%d")),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        (
            "_HANDLER",
            props["Handler"].as_str().unwrap_or("bootstrap").to_owned(),
        ),
        ("LAMBDA_TASK_ROOT", dir.display().to_string()),
        ("LAMBDA_RUNTIME_DIR", dir.display().to_string()),
        ("TZ", ":UTC".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin".to_owned()),
    ];
    if let Some(f) = logging["LogFormat"].as_str() {
        lambda.push(("AWS_LAMBDA_LOG_FORMAT", f.to_owned()));
    }
    if let Some(l) = logging["ApplicationLogLevel"].as_str() {
        lambda.push(("AWS_LAMBDA_LOG_LEVEL", l.to_owned()));
    }
    let reserved: Vec<String> = lambda.iter().map(|(k, _)| (*k).to_owned()).collect();
    env.retain(|(k, _)| !reserved.contains(k));
    env.extend(lambda.into_iter().map(|(k, v)| (k.to_owned(), v)));
    env.extend(endpoints.sdk_env());
    Ok(Spec {
        id: id.to_owned(),
        name: name.to_owned(),
        arn: format!(
            "arn:aws:lambda:{}:{}:function:{name}:live",
            aws::REGION,
            aws::ACCOUNT
        ),
        binary: binary.to_path_buf(),
        env,
        timeout: Duration::from_secs(timeout),
    })
}

/// The contract's variables as the functions load them (an API function's env
/// plus the secret): they mint the demo tokens and name the admin key.
fn function_vars(
    functions: &BTreeMap<String, Arc<Function>>,
    secret: &Value,
) -> Result<VarSet, String> {
    let f = functions
        .values()
        .find(|f| f.spec.env.iter().any(|(k, _)| k == DATABASE_URL))
        .ok_or("no function has DATABASE_URL")?;
    let mut vars = VarSet::from_pairs(f.spec.env.clone());
    let secret: Vec<(String, String)> = secret
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    vars.fill_from(VarSet::from_pairs(secret));
    Ok(vars)
}

fn validated(vars: &VarSet) -> Result<config::RuntimeConfig, String> {
    config::validate(vars, chrono::Utc::now()).map_err(|violations| {
        let lines: Vec<String> = violations.iter().map(ToString::to_string).collect();
        format!(
            "the functions' runtime contract is broken:\n{}",
            lines.join("\n")
        )
    })
}

/// `valdrix migrate`, the demo tenant and (sandbox) its targets, on the table.
async fn seed(
    config: config::RuntimeConfig,
    table: &str,
    endpoints: &Endpoints,
    sandbox: Option<&Sandbox>,
) -> Result<(), String> {
    let url = StoreUrl::DynamoDb {
        table: table.to_owned(),
        endpoint: Some(endpoints.dynamodb.clone()),
        region: Some(aws::REGION.to_owned()),
    };
    let store = valdrix_shared::store::open(&url)
        .await
        .map_err(|e| e.to_string())?;
    let state = AppState::new(Arc::new(config), store);
    for line in crate::migrate::run(&state.store, &url, &state.audit)
        .await
        .map_err(|e| e.to_string())?
    {
        eprintln!("{line}");
    }
    crate::demo::seed(&state)
        .await
        .map_err(|e| format!("cannot create the demo tenant: {e}"))?;
    if let Some(s) = sandbox {
        crate::demo::point_at_sandbox(&state, s)
            .await
            .map_err(|e| format!("cannot configure the sandbox: {e}"))?;
    }
    Ok(())
}

/// The functions CodeDeploy runs as hooks of the aliases' deployments, and
/// the (logical id, name) of each function such a deployment moves.
type Deployable = Vec<(String, String)>;

fn hook_functions(
    t: &template::Transformed,
    values: &Values,
    names: &BTreeMap<String, String>,
) -> Result<(Vec<String>, Deployable), String> {
    let mut hooks = Vec::new();
    let mut deployable = Vec::new();
    for (_, r) in t.of_type("AWS::Lambda::Alias") {
        let update = &r["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"];
        if let Some(f) = t.function_of(&r["Properties"]["FunctionName"])
            && !update.is_null()
        {
            deployable.push((f.clone(), names[&f].clone()));
        }
        for key in ["BeforeAllowTrafficHook", "AfterAllowTrafficHook"] {
            if update[key].is_null() {
                continue;
            }
            let name = values.resolve_string(&update[key])?;
            let id = names
                .iter()
                .find(|(_, n)| **n == name)
                .map(|(id, _)| id.clone())
                .ok_or_else(|| format!("hook {name} is no function of the template"))?;
            if !hooks.contains(&id) {
                hooks.push(id);
            }
        }
    }
    deployable.sort();
    Ok((hooks, deployable))
}

type Ctl = State<Arc<Control>>;

async fn list_functions(State(c): Ctl) -> Response {
    let all: BTreeMap<&String, Value> = c
        .functions
        .iter()
        .map(|(id, f)| {
            let binary = f
                .spec
                .binary
                .file_name()
                .map(|b| b.to_string_lossy().into_owned());
            (
                id,
                json!({"name": f.spec.name, "binary": binary, "stats": f.stats()}),
            )
        })
        .collect();
    axum::Json(all).into_response()
}

async fn stop_environment(State(c): Ctl, Path(id): Path<String>) -> Response {
    match c.functions.get(&id) {
        Some(f) => {
            f.stop_environment();
            axum::http::StatusCode::NO_CONTENT.into_response()
        }
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

async fn event_sources(State(c): Ctl) -> Response {
    let sources = c.sources.lock().unwrap_or_else(|p| p.into_inner()).clone();
    axum::Json(json!({"streams": stream::stats_of(&c.mappings), "others": sources})).into_response()
}

#[derive(serde::Deserialize)]
struct DeploymentQuery {
    /// One function's logical id; every deployable function when absent.
    function: Option<String>,
}

/// One CodeDeploy deployment per function (or the one named), each run
/// through the post-traffic hooks.
async fn run_deployment(
    State(c): Ctl,
    axum::extract::Query(q): axum::extract::Query<DeploymentQuery>,
) -> Response {
    let targets: Vec<(String, String)> = c
        .deployable
        .iter()
        .filter(|(id, _)| q.function.as_ref().is_none_or(|f| f == id))
        .cloned()
        .collect();
    if targets.is_empty() {
        return (
            axum::http::StatusCode::NOT_FOUND,
            "no deployable function of that logical id",
        )
            .into_response();
    }
    axum::Json(events::deploy(&c.hooks, &c.codedeploy, &targets).await).into_response()
}

/// Lambda's Invoke API, by function name, ARN (a qualifier is ignored: one
/// version runs here) or logical id. `X-Amz-Invocation-Type: Event` queues
/// the invocation and answers 202 at once, as Lambda's asynchronous invoke.
async fn invoke(
    State(c): Ctl,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let wanted = function_name(&name);
    let Some(f) = c
        .functions
        .iter()
        .find(|(id, f)| **id == wanted || f.spec.name == wanted)
        .map(|(_, f)| f.clone())
    else {
        return (
            axum::http::StatusCode::NOT_FOUND,
            axum::Json(json!({"Type": "User", "Message": format!("Function not found: {name}")})),
        )
            .into_response();
    };
    let payload = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let event = headers
        .get("x-amz-invocation-type")
        .is_some_and(|v| v.as_bytes() == b"Event");
    if event {
        tokio::spawn(async move {
            if let Err(e) = f.invoke(payload).await {
                eprintln!(
                    "local-stack: {}: asynchronous invocation failed: {} {}",
                    f.spec.id, e.error_type, e.message
                );
            }
        });
        return axum::http::StatusCode::ACCEPTED.into_response();
    }
    runtime_api::invoke_response(f.invoke(payload).await)
}

/// `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]` or
/// `<name>[:<qualifier>]` → `<name>`.
fn function_name(name: &str) -> &str {
    let name = match name.strip_prefix("arn:") {
        Some(_) => name.split(':').nth(6).unwrap_or(name),
        None => name,
    };
    name.split(':').next().unwrap_or(name)
}

fn print_banner(
    cfg: &config::RuntimeConfig,
    addr: &SocketAddr,
    args: &Args,
    endpoints: &Endpoints,
    table: &str,
    sandbox: Option<&Sandbox>,
) {
    let base = format!("http://{addr}");
    println!(
        "valdrix local-stack: listening on {base} (environment {}, stack {})",
        cfg.environment, args.stack_name
    );
    println!(
        "  # DynamoDB Local {} (table {table}), moto {}",
        endpoints.dynamodb, endpoints.moto
    );
    // Every secret here was generated for development (`runtime_secret`).
    crate::serve::print_access(cfg, &base, sandbox, true);
    println!("  # local controls: functions, event sources, a deployment's post-traffic hook");
    println!("  curl {base}/_local/functions");
    println!("  curl -X POST {base}/_local/deployments");
    println!("{}", crate::serve::BANNER_END);
}

#[cfg(test)]
mod invoke_tests {
    use super::function_name;

    #[test]
    fn the_invoke_api_takes_a_name_an_arn_or_a_qualified_one() {
        for given in [
            "valdrix-ComplianceExportFunction-ABC",
            "valdrix-ComplianceExportFunction-ABC:live",
            "arn:aws:lambda:us-east-1:123456789012:function:valdrix-ComplianceExportFunction-ABC",
            "arn:aws:lambda:us-east-1:123456789012:function:valdrix-ComplianceExportFunction-ABC:live",
        ] {
            assert_eq!(
                function_name(given),
                "valdrix-ComplianceExportFunction-ABC",
                "{given}"
            );
        }
    }
}
