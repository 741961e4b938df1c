//! prometheus.yml: types, defaults, validation with file/line errors, and loading.
