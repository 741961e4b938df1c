//! Relabeling (`relabel_configs`, `metric_relabel_configs`, `alert_relabel_configs`): the
//! configuration type with Prometheus's defaults and validation, and its application to label
//! sets with every Prometheus action.
