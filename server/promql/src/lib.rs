//! Oxeye's PromQL engine: evaluates promql-parser ASTs against a Queryable, plus the promqltest script runner.
