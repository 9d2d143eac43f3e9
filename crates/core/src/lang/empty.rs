//! Whether a PromQL query can return an empty vector, which decides whether `result[0]` can
//! fail (RG105). `x or vector(0)` at the top of a query never returns nothing; the same
//! fallback inside `(x or vector(0)) / y` does not help, since `/` drops series without a match.

use crate::argo::args;
use promql_parser::parser::{token, value::ValueType, Expr};

/// Longest query analysed; longer ones count as possibly empty (RG102 guards their parse).
const MAX_BYTES: usize = 2048;

/// Functions that map each input series to one output series.
const ELEMENTWISE: &[&str] = &[
    "abs",
    "ceil",
    "floor",
    "round",
    "exp",
    "ln",
    "log2",
    "log10",
    "sqrt",
    "sgn",
    "clamp",
    "clamp_min",
    "clamp_max",
    "sort",
    "sort_desc",
    "timestamp",
    "label_replace",
    "label_join",
];

/// True when the query, its `{{args.*}}` tags filled with `known` values or a placeholder,
/// parses and can never return an empty vector.
pub fn never_empty(query: &str, known: &dyn Fn(&str) -> Option<String>) -> bool {
    if query.len() > MAX_BYTES {
        return false;
    }
    // A tag may stand where a name, a string or a number goes: try each placeholder.
    ["rg_arg", "1", "5m"].iter().any(|placeholder| {
        let rendered = args::substitute(query, |t| {
            known(t.name).unwrap_or_else(|| (*placeholder).to_string())
        });
        super::promql::with_tree(&rendered, never_empty_expr).unwrap_or(false)
    })
}

fn never_empty_expr(e: &Expr) -> bool {
    match e {
        Expr::Paren(p) => never_empty_expr(&p.expr),
        Expr::Unary(u) => never_empty_expr(&u.expr),
        Expr::Call(c) if c.func.name == "vector" => true,
        Expr::Call(c) if ELEMENTWISE.contains(&c.func.name) => c
            .args
            .args
            .iter()
            .find(|a| a.value_type() == ValueType::Vector)
            .is_some_and(|a| never_empty_expr(a)),
        // Aggregating a non-empty vector gives at least one group.
        Expr::Aggregate(a) => {
            matches!(
                a.op.id(),
                token::T_SUM
                    | token::T_AVG
                    | token::T_MIN
                    | token::T_MAX
                    | token::T_COUNT
                    | token::T_GROUP
                    | token::T_STDDEV
                    | token::T_STDVAR
                    | token::T_QUANTILE
            ) && never_empty_expr(&a.expr)
        }
        Expr::Binary(b) if b.op.id() == token::T_LOR => {
            never_empty_expr(&b.lhs) || never_empty_expr(&b.rhs)
        }
        Expr::Binary(b) if !b.op.is_set_operator() => {
            // With a scalar on one side every series of the other survives, unless a
            // comparison without `bool` filters it.
            let filters = b.op.is_comparison_operator()
                && !b.modifier.as_ref().is_some_and(|m| m.return_bool);
            let (l, r) = (b.lhs.value_type(), b.rhs.value_type());
            !filters
                && match (l, r) {
                    (ValueType::Vector, ValueType::Scalar) => never_empty_expr(&b.lhs),
                    (ValueType::Scalar, ValueType::Vector) => never_empty_expr(&b.rhs),
                    _ => false,
                }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never(q: &str) -> bool {
        never_empty(q, &|_| None)
    }

    #[test]
    fn top_level_fallback_is_never_empty() {
        assert!(never("sum(rate(x[5m])) or on() vector(0)"));
        assert!(never("sum(rate(x[5m])) or vector(1)"));
        assert!(never("(sum(rate(x[5m])) or on() vector(0))"));
        assert!(never("sum(x or vector(0))"));
        assert!(never("(sum(x) or vector(0)) * 100"));
        assert!(never("1 - (sum(x) or vector(0))"));
        assert!(never("clamp_min(sum(x) or vector(0), 0)"));
        assert!(never(
            "sum(rate(x{svc=\"{{args.svc}}\"}[{{args.w}}])) or vector(0)"
        ));
    }

    #[test]
    fn fallback_under_a_vector_operation_can_be_empty() {
        assert!(!never("(sum(a) or vector(0)) / sum(b)"));
        assert!(!never("sum(rate(x[5m]))"));
        assert!(!never("(sum(a) or vector(0)) > 0.5"));
        assert!(!never("(sum(a) or vector(0)) and sum(b)"));
        assert!(!never("topk(1, sum(a) or vector(0))"));
        assert!(never("(sum(a) or vector(0)) > bool 0.5"));
    }
}
