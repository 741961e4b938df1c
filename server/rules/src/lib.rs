//! oxeye-rules (being written).
