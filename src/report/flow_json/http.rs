//! The `http` part of a flow's JSON, by hand: what serde writes for [`HttpFacts`] (the
//! request's hand-written `Serialize` impl is the contract). Through serde it was the dearest
//! part left after the PROXY header: ~19 M of 631 M instructions for the 100 MiB bench capture.

use super::{boolean, ip, list, opt_int, opt_str, or_null};
use crate::inspect::flow::HttpFacts;
use crate::inspect::http::{ForwardedAddr, ForwardedElement, HttpRequest, HttpResponse, XffHeader};
use crate::report::compact::{push_escaped, push_int};

/// Appends `http` as `serde_json::to_writer(out, http)` would.
pub(crate) fn write_http(out: &mut Vec<u8>, http: &HttpFacts) {
    let HttpFacts {
        requests,
        responses,
        requests_not_listed,
        responses_not_listed,
    } = http;
    out.extend_from_slice(b"{\"requests\":");
    list(out, requests, request);
    key!(out, "responses");
    list(out, responses, response);
    key!(out, "requests_not_listed");
    push_int(out, *requests_not_listed);
    key!(out, "responses_not_listed");
    push_int(out, *responses_not_listed);
    out.push(b'}');
}

fn request(out: &mut Vec<u8>, r: &HttpRequest) {
    let HttpRequest {
        method,
        uri,
        version,
        host,
        x_forwarded_for,
        forwarded,
        other_client_ip: _, // written as its three fields, below
        complete,
    } = r;
    out.extend_from_slice(b"{\"method\":");
    push_escaped(out, method);
    key!(out, "uri");
    push_escaped(out, uri);
    key!(out, "version");
    push_escaped(out, version);
    key!(out, "host");
    opt_str(out, host.as_deref());
    key!(out, "x_forwarded_for");
    list(out, x_forwarded_for, xff_header);
    key!(out, "forwarded");
    list(out, forwarded, forwarded_element);
    key!(out, "x_real_ip");
    opt_str(out, r.x_real_ip());
    key!(out, "true_client_ip");
    opt_str(out, r.true_client_ip());
    key!(out, "cf_connecting_ip");
    opt_str(out, r.cf_connecting_ip());
    key!(out, "complete");
    boolean(out, *complete);
    key!(out, "x_forwarded_for_not_listed");
    push_int(out, r.x_forwarded_for_not_listed());
    key!(out, "forwarded_not_listed");
    push_int(out, r.forwarded_not_listed());
    out.push(b'}');
}

fn xff_header(out: &mut Vec<u8>, h: &XffHeader) {
    let XffHeader {
        raw,
        entries,
        entries_not_listed,
        invalid_not_listed: _, // not in the JSON: the finding says it
    } = h;
    out.extend_from_slice(b"{\"raw\":");
    push_escaped(out, raw);
    key!(out, "entries");
    list(out, entries, forwarded_addr);
    key!(out, "entries_not_listed");
    push_int(out, *entries_not_listed);
    out.push(b'}');
}

fn forwarded_element(out: &mut Vec<u8>, e: &ForwardedElement) {
    let ForwardedElement {
        for_,
        by,
        proto,
        host,
    } = e;
    out.extend_from_slice(b"{\"for\":");
    or_null(out, for_.as_ref(), forwarded_addr);
    key!(out, "by");
    or_null(out, by.as_ref(), forwarded_addr);
    key!(out, "proto");
    opt_str(out, proto.as_deref());
    key!(out, "host");
    opt_str(out, host.as_deref());
    out.push(b'}');
}

fn forwarded_addr(out: &mut Vec<u8>, a: &ForwardedAddr) {
    let ForwardedAddr {
        raw,
        ip: addr,
        port,
        valid,
        note,
    } = a;
    out.extend_from_slice(b"{\"raw\":");
    push_escaped(out, raw);
    key!(out, "ip");
    or_null(out, *addr, ip);
    key!(out, "port");
    opt_int(out, *port);
    key!(out, "valid");
    boolean(out, *valid);
    key!(out, "note");
    opt_str(out, note.as_deref());
    out.push(b'}');
}

fn response(out: &mut Vec<u8>, r: &HttpResponse) {
    let HttpResponse {
        version,
        status,
        reason,
        complete,
    } = r;
    out.extend_from_slice(b"{\"version\":");
    push_escaped(out, version);
    key!(out, "status");
    push_int(out, *status);
    key!(out, "reason");
    push_escaped(out, reason);
    key!(out, "complete");
    boolean(out, *complete);
    out.push(b'}');
}
