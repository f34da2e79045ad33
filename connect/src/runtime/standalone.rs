//! A single worker: configs from files and the REST API, offsets in a local file. (Being built.)
