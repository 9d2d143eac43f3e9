//! The Rollout as Argo reads it: its strategy and the analyses it runs.

use serde_json::Value;

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
    let canary = rollout.pointer("/spec/strategy/canary");
    if let Some(v) = canary
        .and_then(|c| c.get("analysis"))
        .filter(|v| v.is_object())
    {
        templated(
            "/spec/strategy/canary/analysis".into(),
            v,
            false,
            &mut blocks,
        );
    }
    let steps = canary
        .and_then(|c| c.get("steps"))
        .and_then(Value::as_array);
    for (i, step) in steps.into_iter().flatten().enumerate() {
        if let Some(v) = step.get("analysis").filter(|v| v.is_object()) {
            let at = format!("/spec/strategy/canary/steps/{i}/analysis");
            templated(at, v, true, &mut blocks);
        }
        let Some(experiment) = step.get("experiment") else {
            continue;
        };
        let endless = experiment.get("duration").is_none_or(Value::is_null);
        let analyses = experiment.get("analyses").and_then(Value::as_array);
        for (k, a) in analyses.into_iter().flatten().enumerate() {
            let at = format!("/spec/strategy/canary/steps/{i}/experiment/analyses/{k}");
            let required = a.get("requiredForCompletion").and_then(Value::as_bool) == Some(true);
            blocks.push(AnalysisBlock {
                refs: vec![(at.clone(), a)],
                args: a.get("args"),
                at,
                blocking: endless && required,
            });
        }
    }
    for key in ["prePromotionAnalysis", "postPromotionAnalysis"] {
        if let Some(v) = rollout
            .pointer(&format!("/spec/strategy/blueGreen/{key}"))
            .filter(|v| v.is_object())
        {
            templated(
                format!("/spec/strategy/blueGreen/{key}"),
                v,
                true,
                &mut blocks,
            );
        }
    }
    blocks
}

/// True when the strategy at `strategy` (`/spec/strategy/canary` or `/spec/strategy/blueGreen`)
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
