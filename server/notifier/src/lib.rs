//! oxeye-notifier (being written).
