//! `rollout-guard analyze`: runs the Prometheus metrics of AnalysisTemplates,
//! ClusterAnalysisTemplates and Rollouts' analyses against a real Prometheus, as Argo's
//! AnalysisRun would (one measurement now or `--at` a time), or backtests them over a past
//! window (`--since`) with Argo's counting over a sliding window of runs.
//!
//! Pure modules: [`plan`] (what to run, arguments substituted), [`convert`] (Prometheus answers
//! to Argo's values), [`counting`] (Argo's limits), [`report`] (the result and its rendering).
//! The edges: [`prom`] (HTTP) and [`run`].

pub mod classify;
pub mod convert;
pub mod counting;
pub mod plan;
pub mod prom;
pub mod report;
pub mod run;

use crate::manifest::{self, Document, Object};

/// The command line of `analyze`, already split into fields.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub paths: Vec<String>,
    pub prometheus: Option<String>,
    pub args: Vec<(String, String)>,
    pub at: Option<String>,
    pub since: Option<String>,
    pub step: Option<String>,
}

/// The analyses of the request's files, or why they cannot be read (exit 2).
pub fn load(req: &Request) -> Result<Vec<plan::Analysis>, String> {
    let (sources, errors) = crate::input::read_sources(&req.paths);
    if let Some(e) = errors.first() {
        return Err(format!("{}: {}", e.path, e.message));
    }
    let mut objects = Vec::new();
    for src in &sources {
        let parsed = manifest::parse_bytes(&src.bytes);
        if let Some(e) = parsed.error {
            return Err(format!(
                "{}:{}:{}: {}",
                src.name, e.line, e.column, e.message
            ));
        }
        let origin = src.origin();
        for doc in parsed.documents {
            if let Document::Object { mut object, .. } = doc {
                object.origin = origin.clone();
                objects.push(*object);
            }
        }
    }
    if !objects
        .iter()
        .any(|o| o.kind.is_template() || o.kind == manifest::Kind::Rollout)
    {
        return Err("no AnalysisTemplate, ClusterAnalysisTemplate or Rollout in the input".into());
    }
    let mut lookup = crate::lookup::shipped::lookup();
    let mut templates: Vec<Object> = crate::lookup::shipped::templates();
    for o in &objects {
        lookup.add(o);
        if o.kind.is_template() {
            templates.push(o.clone());
        }
    }
    let env = std::env::var("ARGO_ROLLOUTS_PROMETHEUS_ADDRESS").ok();
    let inputs = plan::Inputs {
        args: &req.args,
        prometheus: req.prometheus.as_deref(),
        env_address: env.as_deref(),
    };
    let analyses = plan::plan(&objects, &templates, &lookup, &inputs);
    for (name, _) in &req.args {
        if !analyses.iter().any(|a| a.declared_args.contains(name)) {
            let mut declared: Vec<&str> = analyses
                .iter()
                .flat_map(|a| a.declared_args.iter().map(String::as_str))
                .collect();
            declared.sort_unstable();
            declared.dedup();
            return Err(format!(
                "--arg {name}: no analysis in the input declares an argument {name:?} ({})",
                if declared.is_empty() {
                    "they declare none".to_string()
                } else {
                    format!("declared: {}", declared.join(", "))
                }
            ));
        }
    }
    Ok(analyses)
}

/// The measuring options of a request; `now_ms` is the current time.
pub fn options(req: &Request, now_ms: i64) -> Result<run::Options, String> {
    let at_ms = match &req.at {
        Some(t) => parse_time(t)?,
        None => now_ms,
    };
    let duration = |flag: &str, text: &str| -> Result<i64, String> {
        crate::lang::duration::go_seconds(text)
            .filter(|s| *s > 0.0)
            .map(|s| (s * 1000.0).round() as i64)
            .filter(|ms| *ms > 0)
            .ok_or_else(|| {
                format!("--{flag} {text:?} is not a positive duration such as 30s, 1m or 24h")
            })
    };
    if let Some(url) = &req.prometheus {
        if !plan::is_url(url) {
            return Err(format!(
                "--prometheus {url:?} is not a URL with a scheme and a host, such as http://localhost:9090"
            ));
        }
    }
    let since = match &req.since {
        Some(s) => Some((s.clone(), duration("since", s)?)),
        None => None,
    };
    let step_ms = match &req.step {
        Some(s) if since.is_none() => return Err(format!("--step {s} needs --since")),
        Some(s) => Some(duration("step", s)?),
        None => None,
    };
    if let (Some((_, window)), Some(step)) = (&since, step_ms) {
        if window / step > 100_000 {
            return Err(
                "--since/--step make more than 100,000 timestamps; use a longer --step".into(),
            );
        }
    }
    Ok(run::Options {
        at_ms,
        since,
        step_ms,
    })
}

/// `--at`: RFC 3339 (`2026-12-01T10:00:00Z`) or seconds since the epoch.
pub fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() {
            return Ok((seconds * 1000.0).round() as i64);
        }
    }
    text.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|e| format!("--at {text:?} is not an RFC 3339 time or Unix seconds: {e}"))
}

/// `--arg name=value`.
pub fn parse_arg(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("{text:?} is not name=value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollout_finds_the_shipped_templates() {
        let dir = std::env::temp_dir().join(format!("rg-analyze-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("rollout.yaml");
        std::fs::write(
            &file,
            "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: web, namespace: shop}\nspec:\n  strategy:\n    canary:\n      analysis:\n        templates: [{templateName: success-rate-nginx, clusterScope: true}]\n        args: [{name: service-name, value: web-canary}, {name: namespace, value: shop}]\n",
        )
        .unwrap();
        let req = Request {
            paths: vec![file.display().to_string()],
            prometheus: Some("http://127.0.0.1:9".into()),
            ..Request::default()
        };
        let a = load(&req).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].problem, None, "{a:?}");
        assert_eq!(
            a[0].templates,
            ["ClusterAnalysisTemplate/success-rate-nginx"]
        );
        let plan::Provider::Prometheus(p) = &a[0].metrics[0].provider else {
            panic!("{a:?}")
        };
        assert!(p
            .query
            .contains("exported_service=\"web-canary\",exported_namespace=\"shop\""));
        assert_eq!(p.timeout_seconds, 30);
        assert_eq!(a[0].metrics[0].limits.failure_limit, 2);
    }

    #[test]
    fn times_and_flags() {
        assert_eq!(parse_time("1700000000").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_time("1970-01-01T00:01:00Z").unwrap(), 60_000);
        assert!(parse_time("yesterday").is_err());
        assert_eq!(parse_arg("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_arg("=x").is_err());
        let req = Request {
            since: Some("24h".into()),
            step: Some("1m".into()),
            ..Request::default()
        };
        let o = options(&req, 5).unwrap();
        assert_eq!(
            (o.at_ms, o.since.unwrap().1, o.step_ms),
            (5, 86_400_000, Some(60_000))
        );
        let bad = Request {
            step: Some("1m".into()),
            ..Request::default()
        };
        assert!(options(&bad, 0).is_err(), "--step without --since");
    }
}
