//! The Rollout as Argo reads it: its strategy, its canary steps, the Deployment it manages and
//! the analyses it runs, each with the pointer findings and patches use.

use crate::manifest::pointer::get;
use serde_json::{Map, Value};

/// `spec.strategy`.
pub const STRATEGY: &str = "/spec/strategy";
/// The canary strategy.
pub const CANARY: &str = "/spec/strategy/canary";
/// The blue-green strategy.
pub const BLUE_GREEN: &str = "/spec/strategy/blueGreen";
/// The canary's steps.
pub const STEPS: &str = "/spec/strategy/canary/steps";

/// The pointer of canary step `i`.
pub fn step_at(i: usize) -> String {
    format!("{STEPS}/{i}")
}

/// `spec.strategy` when it is set (not absent, not null): the value and the two strategies it
/// may hold, each when set. A strategy that is not a mapping holds neither.
#[derive(Clone, Copy)]
pub struct Strategy<'a> {
    pub value: &'a Value,
    pub canary: Option<&'a Value>,
    pub blue_green: Option<&'a Value>,
}

/// The Rollout's strategy, `None` when `spec.strategy` is absent or null.
pub fn strategy(rollout: &Value) -> Option<Strategy<'_>> {
    let value = get(rollout, STRATEGY).filter(|s| !s.is_null())?;
    let set = |k: &str| value.get(k).filter(|v| !v.is_null());
    Some(Strategy {
        value,
        canary: set("canary"),
        blue_green: set("blueGreen"),
    })
}

/// True when `spec` is a mapping (the only Rollout a mutation can add to).
pub fn has_spec(rollout: &Value) -> bool {
    rollout.get("spec").is_some_and(Value::is_object)
}

/// The canary's steps, when they are a list.
pub fn steps(rollout: &Value) -> Option<&[Value]> {
    get(rollout, STEPS)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
}

/// A canary's steps as the mutation reads them: absent or null is no steps (`Some(&[])`), a
/// list is its steps, anything else is `None` (RG203's to report; it stays as it is).
pub fn canary_steps(canary: &Map<String, Value>) -> Option<&[Value]> {
    match canary.get("steps") {
        None | Some(Value::Null) => Some(&[]),
        Some(Value::Array(steps)) => Some(steps.as_slice()),
        Some(_) => None,
    }
}

/// The Deployment a Rollout's `workloadRef` names.
pub fn workload_ref(rollout: &Value) -> Option<&str> {
    let r = get(rollout, "/spec/workloadRef")?;
    if r.get("kind").and_then(Value::as_str) != Some("Deployment") {
        return None;
    }
    r.get("name")?.as_str()
}

/// One analysis a Rollout runs: the background analysis, a step's analysis, one analysis of an
/// experiment step, or a blue-green pre- or post-promotion analysis.
pub struct AnalysisBlock<'a> {
    /// Where the block is: what a finding about the block as a whole points at.
    pub at: String,
    /// The template references, each with its pointer. A block with none runs nothing.
    pub refs: Vec<(String, &'a Value)>,
    /// The `args` the block passes.
    pub args: Option<&'a Value>,
    /// True when the rollout waits for the analysis to complete.
    pub blocking: bool,
}

/// Every analysis block of a Rollout, in document order within each strategy.
///
/// An experiment step's analyses count: Argo's rollout controller aborts the rollout when the
/// step's Experiment ends Failed or Error (`reconcileExperiments` in `rollout/experiment.go`),
/// and a Failed, Error or Inconclusive AnalysisRun ends the Experiment with that phase
/// (`assessAnalysisRuns` in `experiments/experiment.go`). Each `analyses[]` entry names one
/// template (`templateName`, `clusterScope`) with its own `args`. The step waits for the
/// Experiment; an analysis keeps it running only when the experiment has no `duration` and the
/// analysis is `requiredForCompletion` (with a duration, Argo terminates the runs when it ends).
pub fn analysis_blocks(rollout: &Value) -> Vec<AnalysisBlock<'_>> {
    /// A block that lists its templates under `templates`.
    fn templated<'a>(
        at: String,
        value: &'a Value,
        blocking: bool,
        out: &mut Vec<AnalysisBlock<'a>>,
    ) {
        let refs = value
            .get("templates")
            .and_then(Value::as_array)
            .map(|t| {
                t.iter()
                    .enumerate()
                    .map(|(j, r)| (format!("{at}/templates/{j}"), r))
                    .collect()
            })
            .unwrap_or_default();
        out.push(AnalysisBlock {
            args: value.get("args"),
            at,
            refs,
            blocking,
        });
    }
    let mut blocks = Vec::new();
    // Each level looked up once: a lookup hashes its key, and this runs on every review.
    let strategy = get(rollout, STRATEGY);
    let canary = strategy.and_then(|s| s.get("canary"));
    if let Some(v) = canary
        .and_then(|c| c.get("analysis"))
        .filter(|v| v.is_object())
    {
        templated(format!("{CANARY}/analysis"), v, false, &mut blocks);
    }
    let steps = canary.and_then(Value::as_object).and_then(canary_steps);
    for (i, step) in steps.into_iter().flatten().enumerate() {
        if let Some(v) = step.get("analysis").filter(|v| v.is_object()) {
            let at = format!("{}/analysis", step_at(i));
            templated(at, v, true, &mut blocks);
        }
        let Some(experiment) = step.get("experiment") else {
            continue;
        };
        let endless = experiment.get("duration").is_none_or(Value::is_null);
        let analyses = experiment.get("analyses").and_then(Value::as_array);
        for (k, a) in analyses.into_iter().flatten().enumerate() {
            let at = format!("{}/experiment/analyses/{k}", step_at(i));
            let required = a.get("requiredForCompletion").and_then(Value::as_bool) == Some(true);
            blocks.push(AnalysisBlock {
                refs: vec![(at.clone(), a)],
                args: a.get("args"),
                at,
                blocking: endless && required,
            });
        }
    }
    let blue_green = strategy.and_then(|s| s.get("blueGreen"));
    for key in ["prePromotionAnalysis", "postPromotionAnalysis"] {
        if let Some(v) = blue_green
            .and_then(|b| b.get(key))
            .filter(|v| v.is_object())
        {
            templated(format!("{BLUE_GREEN}/{key}"), v, true, &mut blocks);
        }
    }
    blocks
}

/// True when the strategy at `strategy` ([`CANARY`] or [`BLUE_GREEN`])
/// runs an analysis: some block under it names at least one template (`analysis: {}` or
/// `templates: []` runs nothing). The one meaning of "has analysis": RG202 and the injection
/// decide by it, and the reference rules check exactly these blocks.
pub fn has_analysis(rollout: &Value, strategy: &str) -> bool {
    analysis_blocks(rollout).iter().any(|b| {
        b.at.strip_prefix(strategy)
            .is_some_and(|rest| rest.starts_with('/'))
            && !b.refs.is_empty()
    })
}
