"""Hostile and malformed requests: veer's strict-parsing rules, one row per
rule and request (SPEC 3; README "Strict parsing"; issue 8).

TABLE is the written-down rule set.  Each row holds:

  name      a short name, used as the subTest label
  rfc       where the rule comes from (RFC 9112 / RFC 9110 / RFC 3986 / RFC
            6585 section numbers; RFC 9112 §11.2 for veer's own desync
            defences, which no grammar rule forbids)
  rule      the rule, in one line
  request   the exact bytes a client sends
  status    what veer answers: 400, 413, 414, 431 or 505
  part      HEAD when the fault is in the request line or header section,
            BODY when it is in the chunked body (sizes, extensions, the CRLF
            after data, the trailer section)
  closes    veer closes the connection after its answer
  withheld  nothing of the request reaches the backend

Every row has closes and withheld true.  For a BODY row the head may already
be on its way to the backend when the bad byte arrives (veer streams bodies),
so "withheld" there means no complete request reaches the backend; for a HEAD
row the backend receives nothing at all.

The listener runs with limits.header_bytes HEADER_BYTES, limits.headers
MAX_HEADERS and limits.body_bytes BODY_BYTES, so the limit rows do not
depend on the defaults.
"""

import unittest
from collections import namedtuple

import veertest
from veertest import Client, make_config

Row = namedtuple('Row', 'name rfc rule request status part closes withheld')

HEAD = 'head'
BODY = 'body'

HEADER_BYTES = 8 * 1024
MAX_HEADERS = 20
BODY_BYTES = 1024 * 1024

# The head of the BODY rows: a valid chunked POST.
CHUNKED = b'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'

TABLE = [
    # name, rfc, rule,
    #     request,
    #     status, part, closes, withheld

    # -- message framing: Content-Length and Transfer-Encoding ------------
    Row('cl_and_te', 'RFC 9112 §6.1, §6.3',
        'Content-Length together with Transfer-Encoding is refused, not resolved',
        b'POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n'
        b'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        400, HEAD, True, True),
    Row('cl_and_te_get', 'RFC 9112 §6.1, §6.3',
        'Content-Length together with Transfer-Encoding is refused on a GET too',
        b'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n'
        b'Transfer-Encoding: chunked\r\n\r\n',
        400, HEAD, True, True),
    Row('empty_te_with_cl', 'RFC 9112 §6.1, §6.3',
        'An empty Transfer-Encoding still counts: with Content-Length it is refused',
        b'POST /json HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\nContent-Length: 1\r\n\r\na',
        400, HEAD, True, True),
    Row('duplicate_differing_cl', 'RFC 9112 §6.3; RFC 9110 §8.6',
        'Content-Length lines with different values are invalid framing',
        b'POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n'
        b'Content-Length: 2\r\n\r\nab',
        400, HEAD, True, True),
    Row('duplicate_identical_cl', 'RFC 9110 §8.6',
        'Repeated Content-Length lines are refused, even with equal values (RFC: MAY reject)',
        b'POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na',
        400, HEAD, True, True),
    Row('cl_list_identical', 'RFC 9110 §8.6',
        'A Content-Length list of equal values is refused (RFC: MAY reject)',
        b'POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\na',
        400, HEAD, True, True),
    Row('cl_list_differing', 'RFC 9112 §6.3; RFC 9110 §8.6',
        'A Content-Length list of different values is invalid framing',
        b'POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\nab',
        400, HEAD, True, True),
    Row('bad_cl', 'RFC 9112 §6.3; RFC 9110 §8.6',
        'Content-Length is 1*DIGIT: trailing junk is invalid framing',
        b'POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\nab',
        400, HEAD, True, True),
    Row('negative_cl', 'RFC 9112 §6.3; RFC 9110 §8.6',
        'Content-Length is 1*DIGIT: no sign',
        b'POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n',
        400, HEAD, True, True),
    Row('plus_cl', 'RFC 9112 §6.3; RFC 9110 §8.6',
        'Content-Length is 1*DIGIT: no plus sign',
        b'POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\na',
        400, HEAD, True, True),
    Row('empty_cl', 'RFC 9112 §6.3; RFC 9110 §8.6',
        'Content-Length is 1*DIGIT: not empty',
        b'POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n',
        400, HEAD, True, True),
    Row('cl_overflow', 'RFC 9112 §6.3; RFC 9110 §8.6',
        'A Content-Length too large for any integer is invalid framing, not wrapped',
        b'POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n',
        400, HEAD, True, True),
    Row('te_not_chunked_final', 'RFC 9112 §6.3',
        'In a request, chunked must be the final transfer coding',
        b'POST /json HTTP/1.1\r\nHost: a\r\n'
        b'Transfer-Encoding: chunked, gzip\r\n\r\n',
        400, HEAD, True, True),
    Row('te_unknown', 'RFC 9112 §6.3',
        'A Transfer-Encoding without a final chunked (an unknown coding) is refused',
        b'POST /json HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n',
        400, HEAD, True, True),
    Row('te_identity', 'RFC 9112 §6.3',
        'A Transfer-Encoding without a final chunked ("identity") is refused',
        b'POST /json HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n',
        400, HEAD, True, True),
    Row('empty_te', 'RFC 9112 §6.1, §6.3',
        'An empty Transfer-Encoding has no final chunked',
        b'POST /json HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n',
        400, HEAD, True, True),
    Row('te_chunked_then_gzip_line', 'RFC 9110 §5.3; RFC 9112 §6.3',
        'Transfer-Encoding lines combine into one list, whose final coding must be chunked',
        b'POST /json HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n'
        b'Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n',
        400, HEAD, True, True),
    Row('te_chunked_twice', 'RFC 9112 §6.1',
        'chunked is applied to a body at most once',
        b'POST /json HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n'
        b'0\r\n\r\n',
        400, HEAD, True, True),
    Row('te_in_http10', 'RFC 9112 §6.1',
        'Transfer-Encoding in an HTTP/1.0 request means faulty framing',
        b'POST /json HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        400, HEAD, True, True),

    # -- framing look-alikes: veer's desync defence -----------------------
    Row('transfer_underscore_encoding', 'RFC 9112 §11.2',
        'A name read as Transfer-Encoding once "_" becomes "-" is refused',
        b'POST /json HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\n'
        b'Content-Length: 1\r\n\r\na',
        400, HEAD, True, True),
    Row('content_double_dash_length', 'RFC 9112 §11.2',
        'A name read as Content-Length once repeated dashes collapse is refused',
        b'POST /json HTTP/1.1\r\nHost: a\r\nContent--Length: 5\r\n\r\n',
        400, HEAD, True, True),
    Row('content_underscore_length', 'RFC 9112 §11.2',
        'A name read as Content-Length once "_" becomes "-" is refused',
        b'POST /json HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\n\r\n',
        400, HEAD, True, True),

    # -- obs-fold and whitespace-led lines ---------------------------------
    Row('obs_fold', 'RFC 9112 §5.2',
        'obs-fold (a line led by SP continuing a field) is refused, never unfolded',
        b'GET /json HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  folded\r\n\r\n',
        400, HEAD, True, True),
    Row('obs_fold_tab', 'RFC 9112 §5.2',
        'obs-fold led by HTAB is refused',
        b'GET /json HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\tfolded\r\n\r\n',
        400, HEAD, True, True),
    Row('obs_fold_transfer_encoding', 'RFC 9112 §5.2, §6.1',
        'A folded Transfer-Encoding is refused, not unfolded into "chunked"',
        b'POST /json HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n',
        400, HEAD, True, True),
    Row('obs_fold_transfer_encoding_list', 'RFC 9112 §5.2, §6.1',
        'A Transfer-Encoding list folded before its final chunked is refused',
        b'POST /json HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip,\r\n\tchunked\r\n\r\n'
        b'0\r\n\r\n',
        400, HEAD, True, True),
    Row('obs_fold_host', 'RFC 9112 §5.2, §3.2',
        'A folded Host is refused',
        b'GET /json HTTP/1.1\r\nHost: a\r\n b\r\n\r\n',
        400, HEAD, True, True),
    Row('whitespace_before_first_header', 'RFC 9112 §2.2',
        'A whitespace-led line between the request line and the first field is refused',
        b'GET /json HTTP/1.1\r\n X-A: 1\r\nHost: a\r\n\r\n',
        400, HEAD, True, True),

    # -- line ends: CRLF only ----------------------------------------------
    Row('bare_cr_after_request_line', 'RFC 9112 §2.2',
        'A bare CR is not a line end: after the request line',
        b'GET /json HTTP/1.1\rHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('bare_cr_between_fields', 'RFC 9112 §2.2',
        'A bare CR is not a line end: between two field lines',
        b'GET /json HTTP/1.1\r\nHost: a\rX-A: 1\r\n\r\n',
        400, HEAD, True, True),
    Row('bare_cr_in_value', 'RFC 9112 §2.2; RFC 9110 §5.5',
        'A bare CR inside a field value is refused',
        b'GET /json HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n',
        400, HEAD, True, True),
    Row('bare_lf', 'RFC 9112 §2.2',
        'A bare LF is not a line end: every line of the head',
        b'GET /json HTTP/1.1\nHost: a\n\n',
        400, HEAD, True, True),
    Row('bare_lf_in_header', 'RFC 9112 §2.2',
        'A bare LF is not a line end: after a field line',
        b'GET /json HTTP/1.1\r\nHost: a\nX-A: 1\r\n\r\n',
        400, HEAD, True, True),
    Row('bare_lf_after_request_line', 'RFC 9112 §2.2',
        'A bare LF is not a line end: after the request line',
        b'GET /json HTTP/1.1\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('bare_lf_ending_head', 'RFC 9112 §2.2',
        'A bare LF is not a line end: the empty line ending the head',
        b'GET /json HTTP/1.1\r\nHost: a\r\n\n',
        400, HEAD, True, True),
    Row('bare_lf_ending_head_after_cl', 'RFC 9112 §2.2, §6.3',
        'A bare LF is not a line end: the empty line after Content-Length',
        b'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\nhello',
        400, HEAD, True, True),

    # -- field names: tokens, no whitespace before the colon ---------------
    Row('space_in_header_name', 'RFC 9110 §5.1, §5.6.2',
        'A field name is a token: no space inside',
        b'GET /json HTTP/1.1\r\nHost: a\r\nBad Name: 1\r\n\r\n',
        400, HEAD, True, True),
    Row('space_before_colon', 'RFC 9112 §5.1',
        'No whitespace between a field name and its colon (MUST 400)',
        b'GET /json HTTP/1.1\r\nHost : a\r\n\r\n',
        400, HEAD, True, True),
    Row('tab_before_colon', 'RFC 9112 §5.1',
        'No HTAB between a field name and its colon (MUST 400)',
        b'GET /json HTTP/1.1\r\nHost\t: a\r\n\r\n',
        400, HEAD, True, True),
    Row('invalid_name_char', 'RFC 9110 §5.1, §5.6.2',
        'A field name is a token: no delimiters such as "(" ")"',
        b'GET /json HTTP/1.1\r\nHost: a\r\nX(A): 1\r\n\r\n',
        400, HEAD, True, True),
    Row('ctl_in_name', 'RFC 9110 §5.1, §5.6.2',
        'A field name is a token: no control characters',
        b'GET /json HTTP/1.1\r\nHost: a\r\nX-\x01A: 1\r\n\r\n',
        400, HEAD, True, True),
    Row('nul_in_name', 'RFC 9110 §5.1, §5.6.2',
        'A field name is a token: no NUL',
        b'GET /json HTTP/1.1\r\nHost: a\r\nX-\x00A: 1\r\n\r\n',
        400, HEAD, True, True),
    Row('del_in_name', 'RFC 9110 §5.1, §5.6.2',
        'A field name is a token: no DEL',
        b'GET /json HTTP/1.1\r\nHost: a\r\nX-\x7fA: 1\r\n\r\n',
        400, HEAD, True, True),
    Row('non_ascii_in_name', 'RFC 9110 §5.1, §5.6.2',
        'A field name is a token: ASCII only',
        b'GET /json HTTP/1.1\r\nHost: a\r\nX-\xc3\xa9: 1\r\n\r\n',
        400, HEAD, True, True),
    Row('empty_name', 'RFC 9110 §5.1, §5.6.2',
        'A field name is a token: at least one character',
        b'GET /json HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n',
        400, HEAD, True, True),
    Row('line_without_colon', 'RFC 9112 §5',
        'A field line is name ":" value: a line without a colon is refused',
        b'GET /json HTTP/1.1\r\nHost: a\r\nX-A\r\n\r\n',
        400, HEAD, True, True),

    # -- field values: no NUL, no CTLs -------------------------------------
    Row('nul_in_header_value', 'RFC 9110 §5.5',
        'NUL in a field value is refused (MUST reject or replace)',
        b'GET /json HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n',
        400, HEAD, True, True),
    Row('ctl_in_header_value', 'RFC 9110 §5.5',
        'A control character in a field value is refused',
        b'GET /json HTTP/1.1\r\nHost: a\r\nX-A: a\x01b\r\n\r\n',
        400, HEAD, True, True),
    Row('esc_in_header_value', 'RFC 9110 §5.5',
        'ESC (a control character) in a field value is refused',
        b'GET /json HTTP/1.1\r\nHost: a\r\nX-A: a\x1bb\r\n\r\n',
        400, HEAD, True, True),
    Row('del_in_header_value', 'RFC 9110 §5.5',
        'DEL in a field value is refused',
        b'GET /json HTTP/1.1\r\nHost: a\r\nX-A: a\x7fb\r\n\r\n',
        400, HEAD, True, True),
    Row('nul_in_host_value', 'RFC 9110 §5.5; RFC 9112 §3.2',
        'NUL in the Host value is refused',
        b'GET /json HTTP/1.1\r\nHost: a\x00b\r\n\r\n',
        400, HEAD, True, True),

    # -- Host ---------------------------------------------------------------
    Row('http11_without_host', 'RFC 9112 §3.2',
        'An HTTP/1.1 request without Host is a 400',
        b'GET /json HTTP/1.1\r\nX-A: 1\r\n\r\n',
        400, HEAD, True, True),
    Row('two_hosts', 'RFC 9112 §3.2',
        'More than one Host line is a 400',
        b'GET /json HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
        400, HEAD, True, True),
    Row('two_identical_hosts', 'RFC 9112 §3.2',
        'More than one Host line is a 400, even with equal values',
        b'GET /json HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('two_hosts_http10', 'RFC 9112 §3.2',
        'More than one Host line is a 400 in any request, HTTP/1.0 too',
        b'GET /json HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n',
        400, HEAD, True, True),
    Row('host_with_space', 'RFC 9112 §3.2; RFC 9110 §7.2; RFC 3986 §3.2.2',
        'Host is uri-host [":" port]: no space',
        b'GET /json HTTP/1.1\r\nHost: a b\r\n\r\n',
        400, HEAD, True, True),
    Row('host_with_slash', 'RFC 9112 §3.2; RFC 9110 §7.2; RFC 3986 §3.2.2',
        'Host is uri-host [":" port]: no slash',
        b'GET /json HTTP/1.1\r\nHost: a/b\r\n\r\n',
        400, HEAD, True, True),
    Row('host_with_userinfo', 'RFC 9112 §3.2; RFC 9110 §7.2; RFC 3986 §3.2',
        'Host is uri-host [":" port]: no userinfo',
        b'GET /json HTTP/1.1\r\nHost: u@a\r\n\r\n',
        400, HEAD, True, True),
    Row('bad_host_http10', 'RFC 9112 §3.2; RFC 9110 §7.2',
        'A Host value that is not an authority is a 400 in HTTP/1.0 too',
        b'GET /json HTTP/1.0\r\nHost: a/b\r\n\r\n',
        400, HEAD, True, True),

    # -- request line --------------------------------------------------------
    Row('bad_request_line', 'RFC 9112 §3',
        'The request line is method SP request-target SP HTTP-version (no HTTP/0.9 line)',
        b'GET /json\r\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('http09_request_line', 'RFC 9112 §3',
        'An HTTP/0.9 request line (no version) is refused',
        b'GET /json\r\n\r\n',
        400, HEAD, True, True),
    Row('method_not_token', 'RFC 9112 §3.1; RFC 9110 §5.6.2',
        'The method is a token',
        b'G(T /json HTTP/1.1\r\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('tab_as_separator', 'RFC 9112 §3',
        'The request line parts are separated by one SP, not HTAB',
        b'GET\t/json HTTP/1.1\r\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('space_before_request_line_crlf', 'RFC 9112 §3',
        'Nothing follows the version on the request line',
        b'GET /json HTTP/1.1 \r\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('control_in_target', 'RFC 9112 §3.2; RFC 3986 §3.3',
        'The request-target is visible ASCII only: no control characters',
        b'GET /js\x01on HTTP/1.1\r\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('space_in_target', 'RFC 9112 §3, §3.2; RFC 3986 §3.3',
        'The request-target has no space',
        b'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('tab_in_target', 'RFC 9112 §3.2; RFC 3986 §3.3',
        'The request-target has no HTAB',
        b'GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('nul_in_target', 'RFC 9112 §3.2; RFC 3986 §3.3',
        'The request-target has no NUL',
        b'GET /a\x00 HTTP/1.1\r\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('del_in_target', 'RFC 9112 §3.2; RFC 3986 §3.3',
        'The request-target has no DEL',
        b'GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('non_ascii_in_target', 'RFC 9112 §3.2; RFC 3986 §2, §3.3',
        'The request-target is ASCII: other octets are percent-encoded',
        b'GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('bad_version', 'RFC 9112 §2.3',
        'HTTP-version is "HTTP/" DIGIT "." DIGIT',
        b'GET /json HTTP/1.x\r\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('two_digit_major', 'RFC 9112 §2.3',
        'HTTP-version has one digit before the dot',
        b'GET /json HTTP/10.0\r\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('two_digit_minor', 'RFC 9112 §2.3',
        'HTTP-version has one digit after the dot',
        b'GET /json HTTP/1.12\r\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('lowercase_http_name', 'RFC 9112 §2.3',
        'HTTP-name is "HTTP", case-sensitive',
        b'GET /json http/1.1\r\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('rtsp_protocol', 'RFC 9112 §2.3',
        'The protocol is HTTP: RTSP/1.0 is refused',
        b'GET /json RTSP/1.0\r\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('rtsp_request', 'RFC 9112 §2.3',
        'The protocol is HTTP: an RTSP request is refused',
        b'DESCRIBE /json RTSP/1.0\r\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('ice_protocol', 'RFC 9112 §2.3',
        'The protocol is HTTP: ICE/1.0 is refused',
        b'SOURCE /json ICE/1.0\r\nHost: a\r\n\r\n',
        400, HEAD, True, True),
    Row('http2_request_line', 'RFC 9110 §2.5, §15.6.6',
        'Another major version (2) is well-formed but not served: 505',
        b'GET /json HTTP/2.0\r\nHost: a\r\n\r\n',
        505, HEAD, True, True),
    Row('http3_request_line', 'RFC 9110 §2.5, §15.6.6',
        'Another major version (3) is well-formed but not served: 505',
        b'GET /json HTTP/3.0\r\nHost: a\r\n\r\n',
        505, HEAD, True, True),

    # -- limits --------------------------------------------------------------
    Row('too_many_headers', 'RFC 9110 §5.4; RFC 6585 §5',
        'More than limits.headers field lines: 431',
        b'GET /json HTTP/1.1\r\nHost: a\r\n'
        + b''.join(b'X-N%d: v\r\n' % i for i in range(MAX_HEADERS + 10)) + b'\r\n',
        431, HEAD, True, True),
    Row('header_bytes_over_limit', 'RFC 9110 §5.4; RFC 6585 §5',
        'A head larger than limits.header_bytes: 431',
        b'GET /json HTTP/1.1\r\nHost: a\r\nX-Big: ' + b'a' * (HEADER_BYTES + 2000)
        + b'\r\n\r\n',
        431, HEAD, True, True),
    Row('request_target_over_limit', 'RFC 9112 §3; RFC 9110 §15.5.15',
        'A request-target longer than veer parses (limits.header_bytes): 414 (MUST)',
        b'GET /' + b'a' * (HEADER_BYTES + 1000) + b' HTTP/1.1\r\nHost: a\r\n\r\n',
        414, HEAD, True, True),
    Row('content_length_over_body_bytes', 'RFC 9110 §15.5.14',
        'A Content-Length over limits.body_bytes: 413, before any body byte',
        b'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n' % (BODY_BYTES + 1),
        413, HEAD, True, True),

    # -- chunked body (found after the head) ---------------------------------
    Row('bad_chunk_size', 'RFC 9112 §7.1',
        'chunk-size is 1*HEXDIG',
        CHUNKED + b'zz\r\nhello\r\n0\r\n\r\n',
        400, BODY, True, True),
    Row('chunk_size_overflow', 'RFC 9112 §7.1',
        'A chunk-size too large for any integer is refused, not wrapped',
        CHUNKED + b'fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n',
        400, BODY, True, True),
    Row('chunk_size_negative', 'RFC 9112 §7.1',
        'chunk-size is 1*HEXDIG: no sign',
        CHUNKED + b'-5\r\nhello\r\n0\r\n\r\n',
        400, BODY, True, True),
    Row('chunk_size_0x', 'RFC 9112 §7.1',
        'chunk-size is 1*HEXDIG: no "0x" prefix',
        CHUNKED + b'0x5\r\nhello\r\n0\r\n\r\n',
        400, BODY, True, True),
    Row('chunk_size_empty', 'RFC 9112 §7.1',
        'chunk-size is 1*HEXDIG: not empty',
        CHUNKED + b'\r\nhello\r\n0\r\n\r\n',
        400, BODY, True, True),
    Row('chunk_size_trailing_space', 'RFC 9112 §7.1, §7.1.1',
        'Whitespace after chunk-size only comes before a ";" extension',
        CHUNKED + b'5 \r\nhello\r\n0\r\n\r\n',
        400, BODY, True, True),
    Row('chunk_size_bare_lf', 'RFC 9112 §7.1',
        'The chunk-size line ends with CRLF, not a bare LF',
        CHUNKED + b'5\nhello\r\n0\r\n\r\n',
        400, BODY, True, True),
    Row('chunk_size_bare_cr', 'RFC 9112 §7.1, §2.2',
        'The chunk-size line ends with CRLF, not a bare CR',
        CHUNKED + b'5\rhello\r\n0\r\n\r\n',
        400, BODY, True, True),
    Row('chunk_missing_crlf', 'RFC 9112 §7.1',
        'chunk-data is followed by CRLF',
        CHUNKED + b'5\r\nhelloXX0\r\n\r\n',
        400, BODY, True, True),
    Row('chunk_data_bare_lf', 'RFC 9112 §7.1',
        'chunk-data is followed by CRLF, not a bare LF',
        CHUNKED + b'5\r\nhello\n0\r\n\r\n',
        400, BODY, True, True),
    Row('chunk_ext_ctl', 'RFC 9112 §7.1.1',
        'A chunk extension is token or quoted-string: no control characters',
        CHUNKED + b'5;a\x01b\r\nhello\r\n0\r\n\r\n',
        400, BODY, True, True),
    Row('chunk_ext_bare_lf', 'RFC 9112 §7.1.1, §7.1',
        'A bare LF inside a chunk extension is refused',
        CHUNKED + b'5;a\nb\r\nhello\r\n0\r\n\r\n',
        400, BODY, True, True),
    Row('chunk_ext_bare_cr', 'RFC 9112 §7.1.1, §2.2',
        'A bare CR inside a chunk extension is refused',
        CHUNKED + b'5;a\rb\r\nhello\r\n0\r\n\r\n',
        400, BODY, True, True),
    Row('chunk_ext_unterminated_quote', 'RFC 9112 §7.1.1; RFC 9110 §5.6.4',
        'A quoted chunk-ext-val ends with its closing quote',
        CHUNKED + b'5;a="b\r\nhello\r\n0\r\n\r\n',
        400, BODY, True, True),
    Row('chunk_ext_empty_name', 'RFC 9112 §7.1.1',
        'A chunk extension has a name (a token) after ";"',
        CHUNKED + b'5;\r\nhello\r\n0\r\n\r\n',
        400, BODY, True, True),
    Row('trailer_bare_cr', 'RFC 9112 §2.2, §7.1.2',
        'A bare CR in a trailer field is refused',
        CHUNKED + b'5\r\nhello\r\n0\r\nX-T: a\rb\r\n\r\n',
        400, BODY, True, True),
    Row('trailer_bare_lf', 'RFC 9112 §2.2, §7.1.2',
        'A trailer field line ends with CRLF, not a bare LF',
        CHUNKED + b'5\r\nhello\r\n0\r\nX-T: a\n\r\n',
        400, BODY, True, True),
    Row('trailer_nul', 'RFC 9110 §5.5; RFC 9112 §7.1.2',
        'NUL in a trailer field value is refused',
        CHUNKED + b'5\r\nhello\r\n0\r\nX-T: a\x00b\r\n\r\n',
        400, BODY, True, True),
    Row('trailer_ctl', 'RFC 9110 §5.5; RFC 9112 §7.1.2',
        'A control character in a trailer field value is refused',
        CHUNKED + b'5\r\nhello\r\n0\r\nX-T: a\x01b\r\n\r\n',
        400, BODY, True, True),
    Row('trailer_obs_fold', 'RFC 9112 §5.2, §7.1.2',
        'obs-fold is refused in the trailer section too, never forwarded',
        CHUNKED + b'5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n',
        400, BODY, True, True),
    Row('trailer_space_before_colon', 'RFC 9112 §5.1, §7.1.2',
        'No whitespace between a trailer field name and its colon (MUST 400)',
        CHUNKED + b'5\r\nhello\r\n0\r\nX-T : a\r\n\r\n',
        400, BODY, True, True),
    Row('last_chunk_bare_lf', 'RFC 9112 §7.1, §2.2',
        'The chunked body ends with CRLF after the trailer section, not a bare LF',
        CHUNKED + b'5\r\nhello\r\n0\r\n\n',
        400, BODY, True, True),
]


def row(name):
    return next(r for r in TABLE if r.name == name)


class TableTest(unittest.TestCase):
    """The table itself, without a veer."""

    def test_table_is_well_formed(self):
        names = [r.name for r in TABLE]
        self.assertEqual(len(names), len(set(names)), 'duplicate row names')
        for r in TABLE:
            with self.subTest(r.name):
                self.assertTrue(r.rfc.startswith('RFC '), r)
                self.assertTrue(r.rule, r)
                self.assertIsInstance(r.request, bytes, r)
                self.assertIn(r.status, (400, 413, 414, 431, 505), r)
                self.assertIn(r.part, (HEAD, BODY), r)
                self.assertTrue(r.closes and r.withheld, r)


class MalformedTest(veertest.TestCase):

    def setUp(self):
        self.b = self.backend('b1')
        self.v = self.veer(make_config(
            [self.b.address],
            listener_opts={'limits': '{ header_bytes: %d, headers: %d, body_bytes: %d }'
                                     % (HEADER_BYTES, MAX_HEADERS, BODY_BYTES)}))

    def check(self, name, data, status=400, closes=True):
        with Client(self.v.port(), timeout=5) as c:
            c.send(data)
            try:
                r = c.read_response()
            except (veertest.ProtocolError, OSError) as e:
                self.fail('%s: no %d response: %r' % (name, status, e))
            self.assertVeerError(r, status)
            if closes:
                self.assertTrue(c.wait_closed(3),
                                '%s: connection not closed after %d' % (name, status))

    def complete(self, requests):
        return [r for r in requests if r.complete.is_set()]

    def check_row(self, r):
        before = len(self.b.received())
        self.check(r.name, r.request, r.status, r.closes)
        if r.withheld:
            came = self.b.received()[before:]
            if r.part == HEAD:
                self.assertEqual(came, [], '%s: the request reached the backend' % r.name)
            else:
                self.assertEqual(self.complete(came), [],
                                 '%s: the request reached the backend whole' % r.name)

    def test_smuggling_and_syntax_in_head(self):
        for r in TABLE:
            if r.part != HEAD:
                continue
            with self.subTest(r.name):
                self.check_row(r)
        self.assertEqual(self.b.received(), [], 'a malformed request reached the backend')

    def test_bad_chunked_body(self):
        # Errors found only in the body, after the head may already be on its
        # way to the backend: still an error and a close, but the backend may
        # have seen a head.
        for r in TABLE:
            if r.part != BODY:
                continue
            with self.subTest(r.name):
                self.check_row(r)
        self.assertEqual(self.complete(self.b.received()), [],
                         'a malformed body reached the backend whole')

    def test_smuggled_second_request_not_served(self):
        # CL.TE desync attempt: the "body" holds a second request; veer must
        # refuse the whole thing, not forward either part.
        data = (b'POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: 44\r\n'
                b'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
                b'GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n')
        self.check('cl_te_smuggle', data)
        self.assertEqual(self.b.received('/smuggled'), [])
        self.assertEqual(self.b.received(), [])

    def test_good_request_after_bad_connection(self):
        self.check('cl_and_te', row('cl_and_te').request)
        r = veertest.http(self.v.port(), 'GET', '/json')
        self.assertEqual(r.status, 200, r)


if __name__ == '__main__':
    veertest.main()
