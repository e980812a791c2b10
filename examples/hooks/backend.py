"""The backend of examples/hooks/Caddyfile: a chat's rules as three HTTP
endpoints, standard library only.

  export SOCKETIO_HOOK_SECRET=...   (the same value Caddy signs with)
  python3 examples/hooks/backend.py  (listens on 127.0.0.1:8000, or PORT)

POST /socketio/connect  accepts a socket whose client sent auth {name}
                        (query ?name= for 2.x clients), puts it in room
                        "lobby" and remembers the name in socket.data
POST /socketio/event    "chat:message" [text]: sends {from, text} to the
                        lobby and acks {"ok": true}
POST /socketio/notify   prints who connected and disconnected
"""
import hashlib
import hmac
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ["SOCKETIO_HOOK_SECRET"].encode()


def verified(header, body):
    """Socketio-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    fields = [kv.split("=", 1) for kv in header.split(",") if "=" in kv]
    t = next((v for k, v in fields if k == "t"), "0")
    if abs(time.time() - int(t)) > 300:  # an old request replayed
        return False
    want = hmac.new(SECRET, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(k == "v1" and hmac.compare_digest(want, v) for k, v in fields)


def on_connect(req):
    hs = req["handshake"]
    name = (hs.get("auth") or {}).get("name") or hs["query"].get("name")
    if not isinstance(name, str) or not name.strip():
        return {"accept": False, "message": "name required", "data": {"hint": "connect with auth: {name}"}}
    return {"accept": True, "data": {"name": name}, "rooms": ["lobby"]}


def on_event(req):
    if req["event"] == "chat:message":
        text = str(req["args"][0]) if req["args"] else ""
        name = req["socket"]["data"]["name"]
        return {"ack": [{"ok": True}],
                "emit": [{"event": "chat:message", "args": [{"from": name, "text": text}], "to": ["lobby"]}]}
    return {"ack": [{"ok": False, "error": "unknown event " + req["event"]}]}


def on_notify(req):
    for e in req["events"]:
        who = (e["socket"].get("data") or {}).get("name", e["socket"]["id"])
        if e["type"] == "connect":
            print(f"{who} connected", flush=True)
        else:
            print(f"{who} left ({e.get('reason')})", flush=True)
    return {}


class Hooks(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    routes = {"/socketio/connect": on_connect, "/socketio/event": on_event, "/socketio/notify": on_notify}

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        route = self.routes.get(self.path)
        if route is None:
            return self.reply(404, {"error": "no such hook"})
        if not verified(self.headers.get("Socketio-Signature", ""), body):
            return self.reply(401, {"error": "bad signature"})
        self.reply(200, route(json.loads(body)))

    def reply(self, status, answer):
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


port = int(os.environ.get("PORT", "8000"))
server = ThreadingHTTPServer(("127.0.0.1", port), Hooks)
print(f"backend listening on 127.0.0.1:{port}", flush=True)
server.serve_forever()
