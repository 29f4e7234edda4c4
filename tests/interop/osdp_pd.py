"""An OSDP reader for the tests: LibOSDP's peripheral device (the `libosdp` package on PyPI,
its C core) on a serial port, most often one end of a socat pty pair.

    osdp_pd.py PORT ADDRESS (install | KEY_HEX | plain)

Lines on stdin drive it:  card BITS HEX   keys TEXT   status TAMPER POWER   quit
Lines on stdout say what it saw, one JSON object a line: {"ready": ...} once started, then each
command the control panel sent ({"command": "led", ...}), and {"sc": true|false} whenever its
secure channel opens or closes.
"""

import json
import os
import sys
import threading
import time

import osdp


class Port(osdp.Channel):
    """The serial port, non-blocking: LibOSDP polls it from its refresh thread."""

    def __init__(self, path):
        super().__init__()
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)

    def read(self, max_bytes):
        try:
            return os.read(self.fd, max_bytes)
        except (BlockingIOError, OSError):
            return b""

    def write(self, buf):
        try:
            return os.write(self.fd, bytes(buf))
        except (BlockingIOError, OSError):
            return 0

    def flush(self):
        pass


def say(**what):
    print(json.dumps(what), flush=True)


NAMES = {
    osdp.Command.LED: "led",
    osdp.Command.Buzzer: "buzzer",
    osdp.Command.Text: "text",
    osdp.Command.Keyset: "keyset",
    osdp.Command.Output: "output",
    osdp.Command.Status: "status",
}


def on_command(cmd):
    record = {"command": NAMES.get(cmd.get("command"), str(cmd.get("command")))}
    for k, v in cmd.items():
        if k == "command":
            continue
        record[k] = v.hex() if isinstance(v, (bytes, bytearray)) else v
    say(**record)
    return 0, None


def main():
    path, address, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    flags = []
    scbk = None
    if key == "install":
        flags = [osdp.LibFlag.InstallMode]
    elif key != "plain":
        scbk = bytes.fromhex(key)
        flags = [osdp.LibFlag.EnforceSecure]
    info = osdp.PDInfo(
        address,
        Port(path),
        scbk=scbk,
        flags=flags,
        name="door-reader",
        id=osdp.PdId(version=2, model=7, vendor_code=0x00A1B2, serial_number=0x5EED1234,
                     firmware_version=0x010203),
    )
    caps = osdp.PDCapabilities([
        (osdp.Capability.CommunicationSecurity, 1, 1),
        (osdp.Capability.CardDataFormat, 1, 1),
        (osdp.Capability.LEDControl, 1, 1),
        (osdp.Capability.AudibleControl, 1, 1),
        (osdp.Capability.TextOutput, 1, 1),
        (osdp.Capability.Readers, 1, 1),
    ])
    pd = osdp.PeripheralDevice(info, caps, log_level=osdp.LogLevel.Warning,
                               command_handler=on_command)
    pd.start()
    say(ready=True, libosdp=getattr(osdp, "__version__", "?"))

    stop = threading.Event()

    def watch_sc():
        last = None
        while not stop.is_set():
            now = bool(pd.is_sc_active())
            if now != last:
                say(sc=now)
                last = now
            time.sleep(0.02)

    threading.Thread(target=watch_sc, daemon=True).start()

    for line in sys.stdin:
        word = line.split()
        if not word:
            continue
        if word[0] == "card":
            bits, data = int(word[1]), bytes.fromhex(word[2])
            pd.submit_event({"event": osdp.Event.CardRead, "reader_no": 0,
                             "format": osdp.CardFormat.Wiegand, "direction": 0,
                             "length": bits, "data": data})
        elif word[0] == "keys":
            pd.submit_event({"event": osdp.Event.KeyPress, "reader_no": 0,
                             "data": word[1].encode()})
        elif word[0] == "status":
            pd.submit_event({"event": osdp.Event.Status,
                             "type": osdp.StatusReportType.Local, "nr_entries": 2,
                             "report": bytes([int(word[1]), int(word[2])])})
        elif word[0] == "quit":
            break
    stop.set()
    pd.stop()


if __name__ == "__main__":
    main()
