//! ListTransactions (key 66): transactional ids with their producer and state, filtered by state, producer id,
//! (v1) running time and (v2) a regular expression on the id (`kafka-transactions.sh list`).

use std::sync::Arc;

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{
    ApiKey, ListTransactionsRequest, ListTransactionsResponse, RequestHeader, ResponseKind,
};
use kafka_protocol::ResponseError;

use super::{Handler, Reply};
use crate::api::util;
use crate::coordinator::txn::state::TxnState;
use crate::maintenance::now_ms;
use crate::server::Shared;

pub(crate) struct ListTransactions;

impl Handler for ListTransactions {
    type Request = ListTransactionsRequest;
    const KEY: ApiKey = ApiKey::ListTransactions;
    const VERSIONS: (i16, i16) = (0, 2);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: ListTransactionsRequest) -> Reply {
        let mut response = ListTransactionsResponse::default();
        let pattern = match request.transactional_id_pattern.as_ref().filter(|p| !p.is_empty()) {
            None => None,
            Some(p) => match Pattern::parse(p.as_str()) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::debug!(pattern = %p.as_str(), error = %e, "ListTransactions pattern refused");
                    response.error_code = ResponseError::InvalidRegularExpression.code();
                    return Reply::Message(ResponseKind::ListTransactions(response));
                }
            },
        };
        let mut states = Vec::new();
        for f in &request.state_filters {
            match TxnState::ALL.iter().find(|s| s.name() == f.as_str()) {
                Some(s) => states.push(*s),
                None => response.unknown_state_filters.push(f.clone()),
            }
        }
        let now = now_ms();
        for t in shared.txns.list() {
            let m = &t.metadata;
            let by_state = request.state_filters.is_empty() || states.contains(&m.state);
            let by_producer = request.producer_id_filters.is_empty()
                || request.producer_id_filters.iter().any(|p| p.0 == m.producer_id);
            // Only open transactions have a running time (Kafka compares with the transaction's start).
            let by_duration = request.duration_filter < 0
                || (m.start_ms >= 0 && now.saturating_sub(m.start_ms) > request.duration_filter);
            let by_id = pattern.as_ref().is_none_or(|p| p.matches(&t.transactional_id));
            if by_state && by_producer && by_duration && by_id {
                response.transaction_states.push(
                    TransactionState::default()
                        .with_transactional_id(util::str_bytes(t.transactional_id.clone()).into())
                        .with_producer_id(m.producer_id.into())
                        .with_transaction_state(util::str_bytes(m.state.name())),
                );
            }
        }
        Reply::Message(ResponseKind::ListTransactions(response))
    }
}

/// The part of Java regular expressions transactional id filters use: literals, `.`, `\` escapes, and the
/// quantifiers `*`, `+`, `?` on one atom, matched against the whole id (Java's `matches`). Anything else
/// (classes, groups, alternation, counted repetition) is refused rather than matched wrongly.
#[derive(Debug)]
struct Pattern(Vec<(Atom, Repeat)>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Atom {
    Any,
    Char(char),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    One,
    ZeroOrMore,
    OneOrMore,
    ZeroOrOne,
}

impl Pattern {
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.strip_prefix('^').unwrap_or(text);
        let text = text.strip_suffix('$').filter(|t| !t.ends_with('\\')).unwrap_or(text);
        let mut out: Vec<(Atom, Repeat)> = Vec::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            let atom = match c {
                '.' => Atom::Any,
                '\\' => Atom::Char(chars.next().ok_or("a trailing backslash")?),
                '*' | '+' | '?' => {
                    let Some((_, repeat @ Repeat::One)) = out.last_mut() else {
                        return Err(format!("{c:?} does not follow a single character"));
                    };
                    *repeat = match c {
                        '*' => Repeat::ZeroOrMore,
                        '+' => Repeat::OneOrMore,
                        _ => Repeat::ZeroOrOne,
                    };
                    continue;
                }
                '[' | ']' | '(' | ')' | '{' | '}' | '|' | '^' | '$' => {
                    return Err(format!("{c:?} is not supported in transactional id patterns"))
                }
                c => Atom::Char(c),
            };
            out.push((atom, Repeat::One));
        }
        Ok(Self(out))
    }

    fn matches(&self, id: &str) -> bool {
        let chars: Vec<char> = id.chars().collect();
        matches_at(&self.0, &chars)
    }
}

fn matches_at(pattern: &[(Atom, Repeat)], text: &[char]) -> bool {
    let Some(&(atom, repeat)) = pattern.first() else { return text.is_empty() };
    let fits = |c: &char| atom == Atom::Any || atom == Atom::Char(*c);
    let rest = &pattern[1..];
    match repeat {
        Repeat::One => text.first().is_some_and(fits) && matches_at(rest, &text[1..]),
        Repeat::ZeroOrOne => matches_at(rest, text) || (text.first().is_some_and(fits) && matches_at(rest, &text[1..])),
        Repeat::ZeroOrMore | Repeat::OneOrMore => {
            let min = usize::from(repeat == Repeat::OneOrMore);
            let run = text.iter().take_while(|c| fits(c)).count();
            (min..=run).rev().any(|n| matches_at(rest, &text[n..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_ids() {
        let p = Pattern::parse("orders-.*").unwrap();
        assert!(p.matches("orders-1") && p.matches("orders-") && !p.matches("x-orders-1"));
        let p = Pattern::parse("^a+b?c\\.d$").unwrap();
        assert!(p.matches("aac.d") && p.matches("abc.d") && !p.matches("bc.d") && !p.matches("aacxd"));
        assert!(Pattern::parse("a|b").is_err());
        assert!(Pattern::parse("*a").is_err());
        assert!(Pattern::parse("a\\").is_err());
    }
}
