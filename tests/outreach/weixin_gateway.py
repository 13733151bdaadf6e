"""A real HTTP server on loopback that speaks Tencent's documented WeChat Official Account
and WeCom APIs, for backend and dispatch tests.

- `GET /cgi-bin/token?grant_type=client_credential&appid=..&secret=..` (WeChat) and
  `GET /cgi-bin/gettoken?corpid=..&corpsecret=..` (WeCom) issue `{access_token, expires_in}`
  (errcode 40013 for unknown credentials); tokens really expire after `token_lifetime`
  seconds, and the test may expire or revoke them all at once.
- `POST /cgi-bin/message/template/send?access_token=..` takes `{touser, template_id, url?,
  client_msg_id?, data: {key: {value}}}` and answers `{errcode, errmsg, msgid}`; a repeated
  client_msg_id gets the first msgid back and is not delivered again. 43004 for a user who
  does not follow, 40003 for an unknown openid.
- `POST /cgi-bin/externalcontact/add_msg_template?access_token=..` takes `{chat_type:
  "single", external_userid: [..], sender?, text: {content}}` and answers `{errcode, errmsg,
  msgid, fail_list}`; 40096 for an unknown external contact, `fail_list` for one who is no
  longer a contact.
- Every send with a token that is unknown answers 40001, an expired one 42001; the test may
  script the next N sends to answer any errcode.
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

APP_ID = "wx-app-1"
APP_SECRET = "wx-secret-1"
TEMPLATE_ID = "tmpl-care-1"
CORP_ID = "ww-corp-1"
CORP_SECRET = "ww-secret-1"


@dataclass
class Sent:
    path: str
    query: dict[str, str]
    body: dict[str, Any]


@dataclass
class WeixinGateway:
    """State shared with the handler threads; the test reads and steers it."""

    url: str = ""
    token_lifetime: int = 7200
    # Tokens issued: token -> (issued at, lifetime); revoked ones answer 40001.
    tokens: dict[str, tuple[float, int]] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    token_fetches: int = 0
    token_fetch_delay: float = 0.0
    sends: list[Sent] = field(default_factory=list)
    delivered: list[Sent] = field(default_factory=list)
    msgids: dict[str, int] = field(default_factory=dict)
    # WeChat: openids that do not follow (43004); known openids (others answer 40003).
    followers: set[str] = field(default_factory=set)
    unfollowed: set[str] = field(default_factory=set)
    # WeCom: external contacts, and those who are no longer contacts (fail_list).
    contacts: set[str] = field(default_factory=set)
    lost_contacts: set[str] = field(default_factory=set)
    scripted_errcode: int | None = None
    scripted_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def errcode_next(self, count: int, errcode: int) -> None:
        self.scripted_errcode, self.scripted_count = errcode, count

    def expire_tokens(self) -> None:
        """Every issued token is past its lifetime (as after two hours)."""
        with self.lock:
            self.tokens = {token: (0.0, lifetime) for token, (_, lifetime) in self.tokens.items()}

    def revoke_tokens(self) -> None:
        """Every issued token is invalid (as after a fetch elsewhere invalidated them)."""
        with self.lock:
            self.revoked |= set(self.tokens)

    # Handlers -------------------------------------------------------------------------------

    def issue(self, query: dict[str, str], *, wecom: bool) -> dict[str, Any]:
        if wecom:
            ok = query.get("corpid") == CORP_ID and query.get("corpsecret") == CORP_SECRET
        else:
            ok = (
                query.get("grant_type") == "client_credential"
                and query.get("appid") == APP_ID
                and query.get("secret") == APP_SECRET
            )
        if self.token_fetch_delay:
            time.sleep(self.token_fetch_delay)
        with self.lock:
            self.token_fetches += 1
            if not ok:
                return {"errcode": 40013, "errmsg": "invalid appid"}
            token = f"{'ww' if wecom else 'wx'}-token-{self.token_fetches}"
            self.tokens[token] = (time.time(), self.token_lifetime)
        answer: dict[str, Any] = {"access_token": token, "expires_in": self.token_lifetime}
        if wecom:
            answer.update(errcode=0, errmsg="ok")
        return answer

    def token_error(self, token: str) -> dict[str, Any] | None:
        with self.lock:
            if token not in self.tokens or token in self.revoked:
                return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
            issued, lifetime = self.tokens[token]
        if time.time() > issued + lifetime:
            return {"errcode": 42001, "errmsg": "access_token expired"}
        return None

    def scripted(self) -> dict[str, Any] | None:
        with self.lock:
            if self.scripted_count > 0:
                self.scripted_count -= 1
                return {"errcode": self.scripted_errcode, "errmsg": "scripted"}
        return None

    def template_send(self, sent: Sent) -> dict[str, Any]:
        body = sent.body
        data = body.get("data")
        if (
            body.get("template_id") != TEMPLATE_ID
            or not isinstance(data, dict)
            or not all(isinstance(v, dict) and "value" in v for v in data.values())
        ):
            return {"errcode": 40037, "errmsg": "invalid template_id or data"}
        touser = body.get("touser")
        if touser in self.unfollowed:
            return {"errcode": 43004, "errmsg": "require subscribe"}
        if touser not in self.followers:
            return {"errcode": 40003, "errmsg": "invalid openid"}
        msgid = self._deliver(sent, body.get("client_msg_id"))
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    def external_send(self, sent: Sent) -> dict[str, Any]:
        body = sent.body
        users = body.get("external_userid")
        text = body.get("text")
        if (
            body.get("chat_type") != "single"
            or not isinstance(users, list)
            or not isinstance(text, dict)
            or not text.get("content")
        ):
            return {"errcode": 40008, "errmsg": "invalid message"}
        if any(user not in self.contacts | self.lost_contacts for user in users):
            return {"errcode": 40096, "errmsg": "invalid external userid"}
        fail_list = [user for user in users if user in self.lost_contacts]
        if len(fail_list) == len(users):
            return {"errcode": 0, "errmsg": "ok", "fail_list": fail_list, "msgid": ""}
        return {
            "errcode": 0,
            "errmsg": "ok",
            "fail_list": fail_list,
            "msgid": f"msgGW{self._deliver(sent, None)}",
        }

    def _deliver(self, sent: Sent, client_msg_id: Any) -> int:
        with self.lock:
            if isinstance(client_msg_id, str) and client_msg_id in self.msgids:
                return self.msgids[client_msg_id]
            self.delivered.append(sent)
            msgid = 1000 + len(self.delivered)
            if isinstance(client_msg_id, str):
                self.msgids[client_msg_id] = msgid
            return msgid


def _handler(gateway: WeixinGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            return

        def _answer(self, answer: dict[str, Any]) -> None:
            # Tencent answers 200 with an errcode, whatever went wrong.
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _split(self) -> tuple[str, dict[str, str]]:
            parts = urlsplit(self.path)
            return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}

        def do_GET(self) -> None:  # noqa: N802 - stdlib hook name
            path, query = self._split()
            if path in ("/cgi-bin/token", "/cgi-bin/gettoken"):
                self._answer(gateway.issue(query, wecom=path == "/cgi-bin/gettoken"))
                return
            self._answer({"errcode": 404, "errmsg": "unknown path"})

        def do_POST(self) -> None:  # noqa: N802 - stdlib hook name
            path, query = self._split()
            length = int(self.headers.get("Content-Length", "0"))
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError:
                self._answer({"errcode": 47001, "errmsg": "data format error"})
                return
            sent = Sent(path, query, body)
            with gateway.lock:
                gateway.sends.append(sent)
            error = gateway.token_error(query.get("access_token", "")) or gateway.scripted()
            if error is not None:
                self._answer(error)
            elif path == "/cgi-bin/message/template/send":
                self._answer(gateway.template_send(sent))
            elif path == "/cgi-bin/externalcontact/add_msg_template":
                self._answer(gateway.external_send(sent))
            else:
                self._answer({"errcode": 404, "errmsg": "unknown path"})

    return Handler


class WeixinGatewayServer:
    """Context manager running a WeixinGateway on 127.0.0.1 with a free port."""

    def __enter__(self) -> WeixinGateway:
        self.gateway = WeixinGateway()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.gateway))
        self.server.daemon_threads = True
        host, port = self.server.server_address[:2]
        self.gateway.url = f"http://{host}:{port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self.gateway

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
