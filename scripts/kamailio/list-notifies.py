#!/usr/bin/env python3
"""Print the NOTIFYs of a SIPp message log (-trace_msg) one line each, with
RFC 4662 list bodies taken apart, for selftest.sh and for people reading a
list subscription by hand.

Usage: list-notifies.py SIPP_MESSAGE_LOG

For every NOTIFY received, in order:
  NOTIFY cseq=<n> state=<Subscription-State> require=<Require> type=<media type>
         [version=<RLMI version> full=<RLMI fullState> resources=<uri,...>]
  (one line; the bracketed part only for a multipart/related body whose root
  is RLMI, RFC 4662 section 5), then for each RLMI <resource> one line
  RESOURCE cseq=<n> uri=<uri> instances=<id:state[:reason],...>
  followed by one line for each body part its <instance cid>s point to
  (section 5, RFC 2392 Content-IDs)
  PART cseq=<n> uri=<resource uri> type=<Content-Type> body=<body, line breaks dropped>
A NOTIFY with a non-list body gets one PART line with uri=- (empty body: no PART).
Exit 0; 2 on a usage error.
"""

import re
import sys
import xml.etree.ElementTree as ET

RLMI_NS = "{urn:ietf:params:xml:ns:rlmi}"
# SIPp starts every traced message with a line of dashes and a timestamp
MESSAGE_SEPARATOR = re.compile(r"^-{20,} \d{4}-", re.M)
RECEIVED = re.compile(r"^(UDP|TCP) message received")


def split_head_body(text):
    """Header lines (folded into a dict, first value wins) and the body."""
    text = text.replace("\r\n", "\n")
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), value.strip())
    return lines[0], headers, body


def media_param(content_type, name):
    match = re.search(r';\s*' + name + r'="?([^";]+)"?', content_type)
    return match.group(1) if match else ""


def one_line(text):
    return "".join(part.strip() for part in text.split("\n"))


def parts_of(body, boundary):
    """(headers, body) of each part of a multipart body (RFC 2046 section 5.1)."""
    out = []
    body = body.replace("\r\n", "\n")
    for chunk in body.split("--" + boundary)[1:]:
        if chunk.startswith("--"):
            break
        _, headers, part_body = split_head_body("x\n" + chunk.lstrip("\n"))
        out.append((headers, part_body.rstrip("\n")))
    return out


def print_list(cseq, headers, body):
    content_type = headers.get("content-type", "")
    parts = parts_of(body, media_param(content_type, "boundary"))
    start = media_param(content_type, "start").strip("<>")
    by_cid = {h.get("content-id", "").strip("<>"): (h, b) for h, b in parts}
    root = by_cid.get(start, parts[0] if parts else ({}, ""))
    try:
        rlmi = ET.fromstring(root[1].strip())
    except ET.ParseError as err:
        print(f"NOTIFY cseq={cseq} ... RLMI does not parse: {err}")
        return
    resources = rlmi.findall(RLMI_NS + "resource")
    print(f"NOTIFY cseq={cseq} state={headers.get('subscription-state', '')} "
          f"require={headers.get('require', '')} type=multipart/related "
          f"version={rlmi.get('version', '')} full={rlmi.get('fullState', '')} "
          f"resources={','.join(r.get('uri', '') for r in resources)}")
    for resource in resources:
        uri = resource.get("uri", "")
        instances = resource.findall(RLMI_NS + "instance")
        states = [f"{i.get('id', '')}:{i.get('state', '')}" + (":" + i.get("reason") if i.get("reason") else "")
                  for i in instances]
        print(f"RESOURCE cseq={cseq} uri={uri} instances={','.join(states)}")
        for inst in instances:
            part = by_cid.get(inst.get("cid", ""))
            if part:
                print(f"PART cseq={cseq} uri={uri} type={part[0].get('content-type', '')} body={one_line(part[1])}")


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8", errors="replace") as log:
        messages = MESSAGE_SEPARATOR.split(log.read())
    for message in messages:
        lines = message.split("\n")
        # lines[0]: the rest of the separator (time); lines[1]: direction
        if len(lines) < 3 or not RECEIVED.match(lines[1]):
            continue
        sip = "\n".join(lines[2:]).lstrip("\r\n")
        start_line, headers, body = split_head_body(sip)
        if not start_line.startswith("NOTIFY "):
            continue
        cseq = headers.get("cseq", "").split(" ")[0]
        content_type = headers.get("content-type", "")
        if content_type.lower().startswith("multipart/related") and "rlmi" in content_type:
            print_list(cseq, headers, body)
            continue
        print(f"NOTIFY cseq={cseq} state={headers.get('subscription-state', '')} "
              f"require={headers.get('require', '')} type={content_type.split(';')[0]}")
        if body.strip():
            print(f"PART cseq={cseq} uri=- type={content_type} body={one_line(body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
