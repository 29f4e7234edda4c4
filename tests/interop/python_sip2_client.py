"""Drive the third-party Python SIP2 client (PyPI package `Sip2`) against the simulator over TLS.

Usage: python_sip2_client.py PORT   (with SSL_CERT_FILE pointing at the simulator's ca.pem)
Prints one JSON line with what the client saw; exits non-zero on an exception.
"""
import json
import logging
import sys

from Sip2.sip2 import Sip2

port = int(sys.argv[1])
logging.disable(logging.CRITICAL)

c = Sip2()
c.hostName = "localhost"
c.hostPort = port
c.tlsEnable = True
c.tlsAcceptSelfsigned = False  # the CA comes from SSL_CERT_FILE; no trust-on-first-use
c.institutionId = "heili"
c.scLocation = "LPR"
c.connect()
mode = "tls" if c._socket.__class__.__name__ == "SSLSocket" else "plain"

out = {"tls": mode}
r = c.sip_login_response(c.get_response(c.sip_login_request("kiosk-lpr-1", "kiosk-secret-1")))
out["login_ok"] = r["fixed"]["Ok"]

c.patron = "24680000000011"
c.patronpwd = "1234"
r = c.sip_patron_status_response(c.get_response(c.sip_patron_status_request()))
out["valid_patron"] = r["variable"].get("BL", [""])[0]
out["valid_pin"] = r["variable"].get("CQ", [""])[0]

c.patronpwd = "9999"
r = c.sip_patron_status_response(c.get_response(c.sip_patron_status_request()))
out["wrong_pin_valid"] = r["variable"].get("CQ", [""])[0]

c.patronpwd = "1234"
r = c.sip_checkout_response(c.get_response(c.sip_checkout_request("HE0000010")))
out["checkout_ok"] = r["fixed"]["Ok"]
out["title"] = r["variable"].get("AJ", [""])[0]

r = c.sip_checkin_response(c.get_response(c.sip_checkin_request("HE0000010", currentLocation="LEMI")))
out["checkin_ok"] = r["fixed"]["Ok"]
print(json.dumps(out, ensure_ascii=False))
