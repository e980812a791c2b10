"""A backend for Caddy's socketio hooks, standard library only, as a user
would write one. The Go tests start it, point Caddy's reverse_proxy at it,
and read what it received from the HOOK_LOG file (one JSON line per
request). hooks_backend.php answers the same way through php_fastcgi.

It prints {"port": N} once it listens on 127.0.0.1.

Environment: HOOK_SECRET (the secret Caddy signs with), HOOK_LOG (the log
file), HOOK_SLOW (seconds the "slow" cases take).

connect, by the client's token (auth.token, or query.token for 2.x clients):
  good     accept, data {"user": <user>}, rooms ["user:<user>"], meta {"session": "s-<user>"}
  bad      refuse with "not authorized", data {"code": 42}
  slow     sleep HOOK_SLOW seconds, then accept
  garbage  answer 200 with a body that is not JSON
event, by name:
  echo         ack [{"args", "meta", "data"} as received, <binary "pong">]
  order:place  ack ["placed"], and emit order:placed [args[0]] to room user:<args[0].for>
  room:join    join args[0], ack ["joined"]
  slow, garbage  as for connect
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ["HOOK_SECRET"].encode()
LOG = os.environ["HOOK_LOG"]
SLOW = float(os.environ.get("HOOK_SLOW", "3"))
log_lock = threading.Lock()


def verify(header, body):
    """Checks Socketio-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]."""
    fields = [kv.split("=", 1) for kv in header.split(",") if "=" in kv]
    t = next((v for k, v in fields if k == "t"), None)
    if t is None or abs(time.time() - int(t)) > 300:
        return False
    want = hmac.new(SECRET, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(want, v) for k, v in fields if k == "v1")


def first(v):
    """A query value is a string, or a list for a repeated key."""
    return v[0] if isinstance(v, list) else v


def answer(kind, req):
    if kind == "connect":
        hs = req["handshake"]
        auth = hs.get("auth") or {}
        token = auth.get("token") or first(hs["query"].get("token"))
        user = auth.get("user") or first(hs["query"].get("user"))
        if token == "slow":
            time.sleep(SLOW)
            token = "good"
        if token == "garbage":
            return 200, b"<html>this is not JSON"
        if token == "good":
            return 200, {"accept": True, "data": {"user": user}, "rooms": ["user:" + user],
                         "meta": {"session": "s-" + user}}
        return 200, {"accept": False, "message": "not authorized", "data": {"code": 42}}
    if kind == "event":
        name, args, sock = req["event"], req["args"], req["socket"]
        if name == "slow":
            time.sleep(SLOW)
            return 200, {"ack": ["late"]}
        if name == "garbage":
            return 200, b"{not json"
        if name == "echo":
            pong = base64.b64encode(b"pong").decode()
            return 200, {"ack": [{"args": args, "meta": sock.get("meta"), "data": sock.get("data")},
                                 {"_binary": pong}]}
        if name == "order:place":
            order = args[0]
            return 200, {"ack": ["placed"],
                         "emit": [{"event": "order:placed", "args": [order], "to": ["user:" + order["for"]]}]}
        if name == "room:join":
            return 200, {"join": [args[0]], "ack": ["joined"]}
        return 200, {"ack": ["unknown event " + name]}
    return 200, {}  # notify


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        verified = verify(self.headers.get("Socketio-Signature", ""), body)
        kind = self.path.rsplit("/", 1)[-1]
        try:
            req = json.loads(body)
        except ValueError:
            req = None
        entry = {"backend": "python", "path": self.path, "verified": verified,
                 "content_type": self.headers.get("Content-Type"),
                 "authorization": self.headers.get("Authorization"), "body": req}
        with log_lock, open(LOG, "a") as f:
            f.write(json.dumps(entry) + "\n")
        if not verified:
            status, out = 401, {"error": "bad signature"}
        else:
            status, out = answer(kind, req)
        data = out if isinstance(out, bytes) else json.dumps(out).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write(fmt % args + "\n")


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(json.dumps({"port": server.server_address[1]}), flush=True)
server.serve_forever()
