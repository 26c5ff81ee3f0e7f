# SPDX-License-Identifier: ISC
"""
local_channel.py: the messages of the local hand-off channel, written from
the draft's Appendix A.2 alone (not from lib/wire.c), as an independent
implementer would: a 12-octet header ("OP", version 1, type, id, body
length, big-endian) and the body of each type. encode() takes what an
example's P: line says; decode() gives what an R: line checks, or raises
ValueError for anything malformed.
"""
import struct

HEADER = struct.Struct(">2sBBII")
TYPES = {"HANDOFF": 1, "ACK": 2, "GO": 3, "REGISTER": 4, "REGISTERED": 5,
         "REGISTER_PORT": 6, "ACCEPT": 7}
NAMES = {v: k for k, v in TYPES.items()}


def _name(name):
    # The encoder takes any name, upper case included: an example may
    # send what the server must refuse.
    b = name.encode("ascii")
    return bytes([len(b)]) + b


def _status(status, reason):
    r = reason.encode("ascii")
    return bytes([int(status), len(r)]) + r


def encode(message, fields):
    """The octets of one message; fields are str values by field name."""
    if message == "ACK" or message == "REGISTERED":
        body = _status(fields["status"], fields["reason"])
    elif message == "REGISTER":
        body = _name(fields["name"])
    elif message == "REGISTER_PORT":
        body = _name(fields["name"]) + struct.pack(">H",
                                                   int(fields["port"]))
    elif message == "ACCEPT":
        body = b""
    else:
        raise ValueError("a program does not send %s" % message)
    return HEADER.pack(b"OP", 1, TYPES[message], int(fields["id"]),
                       len(body)) + body


def decode(data):
    """(message, {field: str}) of one message the server sent."""
    if len(data) < HEADER.size:
        raise ValueError("short message: %r" % data)
    magic, version, typ, mid, length = HEADER.unpack_from(data)
    body = data[HEADER.size:]
    if magic != b"OP" or version != 1 or typ not in NAMES or \
            length != len(body):
        raise ValueError("bad header: %r" % data[:HEADER.size])
    message = NAMES[typ]
    out = {"id": str(mid)}
    if message == "HANDOFF":
        n = body[0]
        out["name"] = body[1:1 + n].decode("ascii")
        rest = body[1 + n:]
        family, pport = rest[0], struct.unpack(">H", rest[1:3])[0]
        lport = struct.unpack(">H", rest[19:21])[0]
        plen = struct.unpack(">H", rest[37:39])[0]
        if family not in (4, 6) or len(rest) != 39 + plen:
            raise ValueError("bad HANDOFF body: %r" % body)
        out.update({"family": str(family), "peer-port": str(pport),
                    "local-port": str(lport), "preread": str(plen)})
    elif message in ("ACK", "REGISTERED"):
        status, n = body[0], body[1]
        if len(body) != 2 + n or status > 1:
            raise ValueError("bad %s body: %r" % (message, body))
        out.update({"status": str(status),
                    "reason": body[2:].decode("ascii")})
    elif message == "GO":
        if body:
            raise ValueError("GO with a body: %r" % body)
    else:
        raise ValueError("the server does not send %s" % message)
    return message, out
