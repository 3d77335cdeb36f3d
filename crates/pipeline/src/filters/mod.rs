//! Filters: synchronous event transformations, one file (or folder) per filter.
