//! oxeye-ruletest (being written).
