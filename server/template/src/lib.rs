//! oxeye-template (being written).
