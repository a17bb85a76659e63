#!/usr/bin/python3
"""
An MQTT-SN test client built on scapy.contrib.mqttsn (Debian's python3-scapy): an MQTT-SN codec
written independently of firmware-bridge, so the bridge is checked against someone else's reading of
the spec, not its own.

One JSON request a line on stdin, one JSON answer a line on stdout:
  {"op":"open","sock":"a","host":"127.0.0.1","port":N}          a UDP socket = one device's address
  {"op":"send","sock":"a","pkt":{"type":"CONNECT",...},"encaps":{"w_node_id":"n1"}}
  {"op":"raw","sock":"a","hex":"0216"}                           bytes as they are
  {"op":"recv","sock":"a","timeout":2}                           the next datagram, decoded by scapy
  {"op":"quit"}
Byte fields (client_id, topic_name, data, ...) travel as latin-1 strings. Answers: {"ok":true,...} or
{"ok":false,"error":"..."}; "recv" gives {"pkt":null} after the timeout.
"""
import json
import select
import socket
import sys

from scapy.contrib import mqttsn as sn

TYPES = {
    "ADVERTISE": (sn.ADVERTISE, sn.MQTTSNAdvertise), "SEARCHGW": (sn.SEARCHGW, sn.MQTTSNSearchGW),
    "GWINFO": (sn.GWINFO, sn.MQTTSNGwInfo), "CONNECT": (sn.CONNECT, sn.MQTTSNConnect),
    "CONNACK": (sn.CONNACK, sn.MQTTSNConnack), "WILLTOPICREQ": (sn.WILLTOPICREQ, sn.MQTTSNWillTopicReq),
    "WILLTOPIC": (sn.WILLTOPIC, sn.MQTTSNWillTopic), "WILLMSGREQ": (sn.WILLMSGREQ, sn.MQTTSNWillMsgReq),
    "WILLMSG": (sn.WILLMSG, sn.MQTTSNWillMsg), "REGISTER": (sn.REGISTER, sn.MQTTSNRegister),
    "REGACK": (sn.REGACK, sn.MQTTSNRegack), "PUBLISH": (sn.PUBLISH, sn.MQTTSNPublish),
    "PUBACK": (sn.PUBACK, sn.MQTTSNPuback), "PUBCOMP": (sn.PUBCOMP, sn.MQTTSNPubcomp),
    "PUBREC": (sn.PUBREC, sn.MQTTSNPubrec), "PUBREL": (sn.PUBREL, sn.MQTTSNPubrel),
    "SUBSCRIBE": (sn.SUBSCRIBE, sn.MQTTSNSubscribe), "SUBACK": (sn.SUBACK, sn.MQTTSNSuback),
    "UNSUBSCRIBE": (sn.UNSUBSCRIBE, sn.MQTTSNUnsubscribe), "UNSUBACK": (sn.UNSUBACK, sn.MQTTSNUnsuback),
    "PINGREQ": (sn.PINGREQ, sn.MQTTSNPingReq), "PINGRESP": (sn.PINGRESP, sn.MQTTSNPingResp),
    "DISCONNECT": (sn.DISCONNECT, sn.MQTTSNDisconnect), "WILLTOPICUPD": (sn.WILLTOPICUPD, sn.MQTTSNWillTopicUpd),
    "WILLTOPICRESP": (sn.WILLTOPICRESP, sn.MQTTSNWillTopicResp), "WILLMSGUPD": (sn.WILLMSGUPD, sn.MQTTSNWillMsgUpd),
    "WILLMSGRESP": (sn.WILLMSGRESP, sn.MQTTSNWillMsgResp),
}
NAMES = {code: name for name, (code, _) in TYPES.items()}
BYTE_FIELDS = {"client_id", "topic_name", "data", "will_topic", "will_msg", "short_topic", "w_node_id", "gw_addr"}
socks = {}


def to_bytes(fields):
    return {k: (v.encode("latin-1") if k in BYTE_FIELDS and isinstance(v, str) else v) for k, v in fields.items()}


def build(spec, encaps):
    spec = dict(spec)
    name = spec.pop("type")
    code, cls = TYPES[name]
    header = {"type": code}
    if name == "DISCONNECT" and spec.get("duration") is None:
        spec.pop("duration", None)
        header["len"] = 2  # scapy includes the optional duration unless the length says it is absent
    pkt = sn.MQTTSN(**header) / cls(**to_bytes(spec))
    if encaps is not None:
        pkt = sn.MQTTSN(type=sn.ENCAPS_MSG) / sn.MQTTSNEncaps(**to_bytes(encaps)) / pkt
    return bytes(pkt)


def describe(data):
    pkt = sn.MQTTSN(data)
    out = {}
    if pkt.type == sn.ENCAPS_MSG:
        out["encaps"] = {"w_node_id": pkt[sn.MQTTSNEncaps].w_node_id.decode("latin-1"), "radius": pkt[sn.MQTTSNEncaps].radius}
        pkt = pkt[sn.MQTTSNEncaps].payload
    out["type"] = NAMES.get(pkt.type, "0x%02x" % pkt.type)
    out["len"] = pkt.len
    for k, v in pkt.payload.fields.items():
        out[k] = v.decode("latin-1") if isinstance(v, bytes) else v
    return out


def handle(req):
    op = req["op"]
    if op == "open":
        family = socket.AF_INET6 if ":" in req["host"] else socket.AF_INET
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", req.get("local", 0)))
        socks[req["sock"]] = (s, (req["host"], req["port"]))
        return {"local": s.getsockname()[1]}
    s, gateway = socks[req["sock"]]
    if op == "send":
        data = build(req["pkt"], req.get("encaps"))
        s.sendto(data, gateway)
        return {"hex": data.hex()}
    if op == "raw":
        s.sendto(bytes.fromhex(req["hex"]), gateway)
        return {}
    if op == "recv":
        ready, _, _ = select.select([s], [], [], req.get("timeout", 2))
        if not ready:
            return {"pkt": None}
        data, _ = s.recvfrom(70000)
        return {"pkt": describe(data), "hex": data.hex()}
    raise ValueError("unknown op %s" % op)


for line in sys.stdin:
    req = json.loads(line)
    if req["op"] == "quit":
        break
    try:
        answer = {"ok": True, **handle(req)}
    except Exception as err:  # the node side fails the test with this message
        answer = {"ok": False, "error": "%s: %s" % (type(err).__name__, err)}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
