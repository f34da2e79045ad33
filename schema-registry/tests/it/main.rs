//! Integration tests of the schema registry: a real broker in this process, real registry instances, real HTTP.

mod converter;
mod rest;
mod store;
mod support;
