//! The parts of PromQL a default Prometheus 3.x refuses until a feature flag enables them, and
//! the flags' names. Prometheus's parser (`promql/parser/parse.go` `Options`,
//! `promql/parser/functions.go` `Experimental: true`, `promql/parser/features.go`) rejects
//! them; `promql-parser` accepts them all.

use serde::Deserialize;

/// A Prometheus `--enable-feature` flag that changes what PromQL parses.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// `promql-experimental-functions`: experimental functions and the `limitk`/`limit_ratio`
    /// aggregators.
    PromqlExperimentalFunctions,
    /// `promql-duration-expr`: arithmetic in ranges and offsets (`[5m * 2]`, `offset (1h+5m)`)
    /// and the `step()`, `range()`, `min_of()`, `max_of()` duration functions.
    PromqlDurationExpr,
    /// `promql-binop-fill-modifiers`: `fill(...)`, `fill_left(...)`, `fill_right(...)` on
    /// binary operators.
    PromqlBinopFillModifiers,
}

impl Feature {
    /// The flag as `--enable-feature` spells it.
    pub fn flag(self) -> &'static str {
        match self {
            Feature::PromqlExperimentalFunctions => "promql-experimental-functions",
            Feature::PromqlDurationExpr => "promql-duration-expr",
            Feature::PromqlBinopFillModifiers => "promql-binop-fill-modifiers",
        }
    }
}

/// Functions marked `Experimental: true` in Prometheus 3.x's function table (the same ones
/// `promql-parser` 0.11 marks experimental), without the duration functions.
pub const EXPERIMENTAL_FUNCTIONS: &[&str] = &[
    "double_exponential_smoothing",
    "first_over_time",
    "histogram_quantiles",
    "info",
    "integral",
    "mad_over_time",
    "sort_by_label",
    "sort_by_label_desc",
    "start_timestamp",
    "ts_of_first_over_time",
    "ts_of_last_over_time",
    "ts_of_max_over_time",
    "ts_of_min_over_time",
];

/// Aggregators Prometheus's `IsExperimentalAggregator` names.
pub const EXPERIMENTAL_AGGREGATORS: &[&str] = &["limitk", "limit_ratio"];

/// Functions that only exist inside duration expressions (`start`/`end` after `@` are the
/// standard `@ start()` modifiers and are not meant).
pub const DURATION_FUNCTIONS: &[&str] = &["start", "end", "range", "step", "max_of", "min_of"];

/// The binary-operator fill modifiers.
pub const FILL_MODIFIERS: &[&str] = &["fill", "fill_left", "fill_right"];
