#!/usr/bin/env python3
"""An independent reference for the serial framing (README "Firmware bridge: serial framing"), written
from the README and not from the TypeScript, for the serial tests:

  serial_sim.py crc                        hex lines on stdin -> CRC-16/CCITT-FALSE hex (binascii.crc_hqx)
  serial_sim.py encode slip|cobs           hex message lines on stdin -> whole frame hex
  serial_sim.py device slip|cobs PATH      a device on the serial line PATH (a pty end):
      stdin, one JSON command a line:
        {"op":"frame","hex":"0216"}              a good frame for that message
        {"op":"frame","hex":"0216","badCrc":1}   the same with the CRC's low bit flipped
        {"op":"frame","hex":"0216","split":1}    a good frame written one byte per write()
        {"op":"raw","hex":"..."}                 bytes as they are (noise, hand-made bad frames)
        {"op":"sleep","ms":50}
      stdout, one JSON object a line: {"ready":1} once the line is open, {"done":N} after command N,
      and for what arrives from the transport {"message":"hex"} or {"drop":"bad-crc"|"bad-frame"}.
"""
import binascii
import json
import os
import sys
import termios
import threading
import time
import tty

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD


def crc(data):
    return binascii.crc_hqx(data, 0xFFFF)


def body(message, bad_crc=False):
    c = crc(message) ^ (1 if bad_crc else 0)
    return bytes(message) + bytes([c >> 8, c & 0xFF])


def slip_frame(b):
    out = bytearray([END])
    for x in b:
        out += bytes([ESC, ESC_END]) if x == END else bytes([ESC, ESC_ESC]) if x == ESC else bytes([x])
    out.append(END)
    return bytes(out)


def cobs_stuff(data):
    """COBS as in Cheshire & Baker: groups of up to 254 non-zero bytes, each led by len+1."""
    out = bytearray()
    group = bytearray()
    for i, x in enumerate(data):
        if x == 0:
            out.append(len(group) + 1)
            out += group
            group = bytearray()
            continue
        group.append(x)
        if len(group) == 254 and i + 1 < len(data):
            out.append(0xFF)
            out += group
            group = bytearray()
    out.append(len(group) + 1)
    out += group
    return bytes(out)


def cobs_frame(b):
    return b"\x00" + cobs_stuff(b) + b"\x00"


def slip_unframe(chunk):
    out = bytearray()
    it = iter(chunk)
    for x in it:
        if x == ESC:
            y = next(it, None)
            if y == ESC_END:
                out.append(END)
            elif y == ESC_ESC:
                out.append(ESC)
            else:
                return None
        else:
            out.append(x)
    return bytes(out)


def cobs_unstuff(chunk):
    out = bytearray()
    i = 0
    while i < len(chunk):
        code = chunk[i]
        if code == 0 or i + code > len(chunk):
            return None
        out += chunk[i + 1:i + code]
        i += code
        if code < 0xFF and i < len(chunk):
            out.append(0)
    return bytes(out)


FRAMINGS = {
    "slip": (slip_frame, slip_unframe, END),
    "cobs": (cobs_frame, cobs_unstuff, 0x00),
}


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def reader(fd, unframe, delimiter):
    pending = bytearray()
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            return
        if not data:
            return
        pending += data
        while True:
            at = pending.find(bytes([delimiter]))
            if at < 0:
                break
            chunk, pending = bytes(pending[:at]), pending[at + 1:]
            if not chunk:
                continue
            b = unframe(chunk)
            if b is None or len(b) < 3:
                emit({"drop": "bad-frame"})
            elif crc(b[:-2]) != (b[-2] << 8 | b[-1]):
                emit({"drop": "bad-crc"})
            else:
                emit({"message": b[:-2].hex()})


def device(framing, path):
    frame, unframe, delimiter = FRAMINGS[framing]
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd, termios.TCSANOW)
    threading.Thread(target=reader, args=(fd, unframe, delimiter), daemon=True).start()
    emit({"ready": 1})
    for n, line in enumerate(sys.stdin):
        cmd = json.loads(line)
        op = cmd["op"]
        if op == "frame":
            data = frame(body(bytes.fromhex(cmd["hex"]), bool(cmd.get("badCrc"))))
            if cmd.get("split"):
                for x in data:
                    os.write(fd, bytes([x]))
                    time.sleep(0.001)
            else:
                os.write(fd, data)
        elif op == "raw":
            os.write(fd, bytes.fromhex(cmd["hex"]))
        elif op == "sleep":
            time.sleep(cmd["ms"] / 1000)
        else:
            raise SystemExit("unknown op " + op)
        emit({"done": n})
    # stdin closed: give the reader a moment for late replies, then go.
    time.sleep(0.2)
    os.close(fd)


def main():
    mode = sys.argv[1]
    if mode == "crc":
        for line in sys.stdin:
            print("%04x" % crc(bytes.fromhex(line.strip())))
    elif mode == "encode":
        frame = FRAMINGS[sys.argv[2]][0]
        for line in sys.stdin:
            print(frame(body(bytes.fromhex(line.strip()))).hex())
    elif mode == "device":
        device(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit("usage: serial_sim.py crc | encode slip|cobs | device slip|cobs PATH")


if __name__ == "__main__":
    main()
