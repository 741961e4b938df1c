//! Oxeye's time series database: head with XOR chunks, postings index, WAL, persisted blocks, compaction and retention.
