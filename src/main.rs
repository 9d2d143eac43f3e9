//! The `rollout-guard` command line: parses flags, calls the library, maps results to exit codes.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use rollout_guard::fix::{self, Mode, Status as FixStatus};
use rollout_guard::policy::Policy;
use rollout_guard::render::{self, Format};
use rollout_guard::rules::{self, Severity};
use rollout_guard::{input, lint, mutation};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

// The linter allocates many small values per document; mimalloc halves the time glibc's
// allocator and its page faults took in the 10,000-document benchmark.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Make Argo Rollouts progressive delivery safe by default: lint manifests, inject default canary
/// steps and analysis, and serve the same policy as an admission webhook.
#[derive(Parser)]
#[command(name = "rollout-guard", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Lint manifests (files, directories, or - for stdin) against the policy.
    Lint(LintArgs),
    /// Print a manifest with the policy's mutations applied (what the mutating webhook does).
    Mutate(MutateArgs),
    /// Serve the policy as a TLS admission webhook (POST /mutate, POST /validate).
    Serve(ServeArgs),
    /// Print the rule catalog.
    Rules {
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: RulesFormat,
    },
    /// Write a CA and a serving certificate for the webhook's Service; print the caBundle.
    Certs(rollout_guard::certs_cli::CertsArgs),
    /// Run the Prometheus metrics of analyses against a real Prometheus as Argo would, now (or
    /// --at a time), or backtest them over a past window (--since).
    Analyze(AnalyzeArgs),
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// AnalysisTemplate, ClusterAnalysisTemplate or Rollout files or directories; - reads stdin.
    /// A Rollout's templates are found in the files given and the shipped templates.
    #[arg(required = true)]
    paths: Vec<String>,
    /// Prometheus URL replacing every metric's `address`.
    #[arg(long, value_name = "URL")]
    prometheus: Option<String>,
    /// An argument's value (repeatable); wins over template defaults and a Rollout's args.
    #[arg(long = "arg", value_name = "NAME=VALUE", value_parser = rollout_guard::analyze::parse_arg)]
    args: Vec<(String, String)>,
    /// Measure at this time (RFC 3339 or Unix seconds) instead of now; with --since, the end of
    /// the window.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Backtest over this past window (Go duration, e.g. 24h): a run started at every step.
    #[arg(long, value_name = "DURATION")]
    since: Option<String>,
    /// Step of the backtest (Go duration); default each metric's interval, else 1m.
    #[arg(long, value_name = "DURATION")]
    step: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: AnalyzeFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AnalyzeFormat {
    Human,
    Json,
}

#[derive(clap::Args)]
struct LintArgs {
    /// Files or directories to lint (*.yaml, *.yml, *.json); - reads stdin.
    #[arg(required = true)]
    paths: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Policy file replacing the embedded default policy (its rule levels, the defaults --fix
    /// injects, and `spec.prometheus.features`: the Prometheus feature flags RG102 accepts).
    #[arg(long)]
    policy: Option<String>,
    /// Exit 1 on any finding, warnings included.
    #[arg(long)]
    strict: bool,
    /// Exit 0 even when there are deny findings (errors reading files still exit 2).
    #[arg(long)]
    exit_zero: bool,
    /// Write the mutations (RG201, RG202) into the files, keeping everything else byte for byte.
    #[arg(long, conflicts_with = "diff")]
    fix: bool,
    /// Print the changes --fix would make as a unified diff; write nothing.
    #[arg(long)]
    diff: bool,
}

#[derive(clap::Args)]
struct MutateArgs {
    /// The manifest file, or - for stdin.
    input: String,
    /// Print one JSON line per mutated object with its JSON Patch instead of the manifest.
    #[arg(long)]
    patch: bool,
    /// Policy file replacing the embedded default policy.
    #[arg(long)]
    policy: Option<String>,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address of the TLS webhook port.
    #[arg(long, default_value = "0.0.0.0:8443")]
    addr: std::net::SocketAddr,
    /// Serving certificate (PEM, chain allowed); reloaded when the file changes. Without
    /// --tls-cert and --tls-key an ephemeral CA and certificate for localhost are made.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// Private key of the serving certificate (PEM); reloaded when the file changes.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Require client certificates signed by this CA (PEM).
    #[arg(long)]
    client_ca: Option<std::path::PathBuf>,
    /// Policy file replacing the embedded default policy.
    #[arg(long)]
    policy: Option<String>,
    /// Address of the plain-HTTP port for /metrics, /healthz and /readyz.
    #[arg(long, default_value = "0.0.0.0:9090")]
    metrics_addr: std::net::SocketAddr,
    /// Log line format.
    #[arg(long, value_enum, default_value = "text")]
    log_format: rollout_guard::server::log::LogFormat,
    /// Time a client has for the TLS handshake and for each request's headers (Go duration).
    #[arg(long, default_value = "10s", value_parser = go_duration)]
    header_read_timeout: std::time::Duration,
    /// Open connections at most.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// A keep-alive connection with no request for this long is closed (Go duration).
    #[arg(long, default_value = "60s", value_parser = go_duration)]
    idle_timeout: std::time::Duration,
    /// After SIGTERM, how long to keep accepting connections (readiness already off) while
    /// Kubernetes removes the pod from the Service's endpoints (Go duration; the chart sets 5s).
    #[arg(long, default_value = "0s", value_parser = go_duration)]
    shutdown_delay: std::time::Duration,
    /// After the shutdown delay, how long in-flight requests get to finish (Go duration).
    #[arg(long, default_value = "20s", value_parser = go_duration)]
    shutdown_timeout: std::time::Duration,
    /// Watch AnalysisTemplates, ClusterAnalysisTemplates and Rollouts in the cluster (kubeconfig,
    /// or the pod's service account) and review against them instead of the shipped templates.
    #[arg(long)]
    cluster: bool,
}

fn go_duration(text: &str) -> Result<std::time::Duration, String> {
    rollout_guard::lang::duration::go_seconds(text)
        .filter(|s| *s >= 0.0)
        .map(std::time::Duration::from_secs_f64)
        .ok_or_else(|| format!("{text:?} is not a duration such as 500ms, 10s or 1m"))
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RulesFormat {
    Human,
    Json,
    Markdown,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rollout-guard: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Lint(args) => run_lint(args),
        Command::Certs(args) => {
            let written = rollout_guard::certs_cli::run(&args)?;
            for f in &written.files {
                eprintln!("wrote {}", f.display());
            }
            print(&format!("{}\n", written.ca_bundle))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Mutate(args) => run_mutate(args),
        Command::Analyze(args) => run_analyze(args),
        Command::Serve(args) => run_serve(args),
        Command::Rules { format } => {
            let out = match format {
                RulesFormat::Json => format!("{}\n", serde_json::to_string_pretty(rules::ALL)?),
                RulesFormat::Markdown => rules::catalog::markdown_table(),
                RulesFormat::Human => rules::ALL
                    .iter()
                    .map(|r| {
                        format!(
                            "{} {} [{}]\n  {}\n  {}\n  help: {}\n\n",
                            r.id, r.name, r.severity, r.summary, r.doc, r.help
                        )
                    })
                    .collect(),
            };
            print(&out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads `--policy FILE`, or the embedded default.
fn load_policy(path: Option<&str>) -> anyhow::Result<Policy> {
    match path {
        None => Ok(Policy::embedded()),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read policy file {p}"))?;
            Ok(Policy::from_yaml(&text, p)?)
        }
    }
}

fn run_lint(args: LintArgs) -> anyhow::Result<ExitCode> {
    let policy = load_policy(args.policy.as_deref())?;
    let (mut sources, errors) = input::read_sources(&args.paths);
    let mut fix_failed = false;
    if args.fix || args.diff {
        let mode = if args.diff { Mode::Diff } else { Mode::Write };
        let results = fix::fix_sources(&mut sources, &policy, mode);
        for r in &results {
            if let Some(line) = fix::describe(r, mode) {
                eprintln!("{line}");
            }
        }
        eprintln!("rollout-guard: {}", fix::summary(&results, mode));
        fix_failed = results
            .iter()
            .any(|r| matches!(r.status, FixStatus::Refused { .. }));
        if mode == Mode::Diff {
            let diff: String = results
                .iter()
                .filter_map(|r| match &r.status {
                    FixStatus::Fixed { diff, .. } => Some(diff.as_str()),
                    _ => None,
                })
                .collect();
            print(&diff)?;
            let code = if !errors.is_empty() {
                2
            } else {
                u8::from(fix_failed || !diff.is_empty())
            };
            for e in &errors {
                eprintln!("{}: error: {}", e.path, e.message);
            }
            return Ok(ExitCode::from(code));
        }
    }
    let report = lint::lint(sources, errors, &policy);
    let color = args.format == Format::Human
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        match render::write(&report, args.format, color, &mut out).and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other?,
        }
    }
    if args.format != Format::Human {
        for e in &report.read_errors {
            eprintln!("{}: error: {}", e.path, e.message);
        }
    }
    let failing = report.count(Severity::Deny) > 0 || (args.strict && !report.findings.is_empty());
    let unreadable = !report.read_errors.is_empty();
    // Freeing every document of a large run one by one costs more than the rest of the exit;
    // the process ends here, so the memory goes back to the system anyway.
    std::mem::forget(report);
    Ok(if unreadable {
        ExitCode::from(2)
    } else if (failing || fix_failed) && !args.exit_zero {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_analyze(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    use rollout_guard::analyze;
    let req = analyze::Request {
        paths: args.paths,
        prometheus: args.prometheus,
        args: args.args,
        at: args.at,
        since: args.since,
        step: args.step,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let opts = analyze::options(&req, now).map_err(anyhow::Error::msg)?;
    let analyses = analyze::load(&req).map_err(anyhow::Error::msg)?;
    let client = analyze::prom::Client::new().context("cannot set up the HTTP client")?;
    let backtest = opts.since.is_some();
    let mut progress = |line: &str| {
        if backtest {
            eprintln!("rollout-guard analyze: {line}");
        }
    };
    let report = analyze::run::run(
        &analyses,
        &opts,
        &client,
        &analyze::classify::classify,
        &mut progress,
    )
    .map_err(|e| anyhow::anyhow!("cannot query Prometheus {e}"))?;
    let text = match args.format {
        AnalyzeFormat::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
        AnalyzeFormat::Human => analyze::report::human(&report),
    };
    print(&text)?;
    Ok(ExitCode::from(match report.outcome {
        "pass" => 0,
        "fail" => 1,
        _ => 2,
    }))
}

fn run_mutate(args: MutateArgs) -> anyhow::Result<ExitCode> {
    let policy = load_policy(args.policy.as_deref())?;
    if args.input != "-" && std::path::Path::new(&args.input).is_dir() {
        anyhow::bail!("{}: is a directory; mutate takes one file or -", args.input);
    }
    let (sources, errors) = input::read_sources(std::slice::from_ref(&args.input));
    if let Some(e) = errors.first() {
        anyhow::bail!("{}: {}", e.path, e.message);
    }
    let src = sources.into_iter().next().context("no input")?;
    let lookup = rollout_guard::lookup::shipped::lookup();
    let ctx = rollout_guard::engine::Context {
        policy: &policy,
        lookup: &lookup,
    };
    let mutated = mutation::source::mutate_source(&src.bytes, &ctx, "")
        .map_err(|r| anyhow::anyhow!("{}:{}: {}", src.name, r.line, r.message))?;
    if args.patch {
        let lines: String = mutated
            .changed
            .iter()
            .map(|c| {
                let line = serde_json::json!({
                    "file": src.name,
                    "kind": c.kind.as_str(),
                    "namespace": c.namespace,
                    "name": c.name,
                    "patch": c.patch,
                });
                format!("{line}\n")
            })
            .collect();
        print(&lines)?;
        return Ok(ExitCode::SUCCESS);
    }
    match mutated.text {
        Ok(text) => print(&text)?,
        Err(r) => {
            eprintln!(
                "{}:{}: note: {}; printing the mutated documents re-serialised (comments and layout are not kept)",
                src.name, r.line, r.message
            );
            print(&mutation::source::render_documents(&mutated.documents))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    use rollout_guard::server::{self, TlsSetup};
    let log = server::log::init(args.log_format);
    let mut config = server::Config::new(load_policy(args.policy.as_deref())?);
    config.addr = args.addr;
    config.metrics_addr = args.metrics_addr;
    config.client_ca = args.client_ca;
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        config.tls = TlsSetup::Files { cert, key };
    }
    config.limits.header_read_timeout = args.header_read_timeout;
    config.limits.max_connections = args.max_connections;
    config.limits.shutdown_timeout = args.shutdown_timeout;
    config.limits.idle_timeout = args.idle_timeout;
    config.limits.shutdown_delay = args.shutdown_delay;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        if args.cluster {
            let lookup = rollout_guard::cluster::ClusterLookup::connect().await?;
            config.lookup = std::sync::Arc::new(lookup);
        }
        anyhow::Ok(server::run(config, shutdown_signal()).await?)
    });
    log.flush();
    result?;
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a message.
fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
