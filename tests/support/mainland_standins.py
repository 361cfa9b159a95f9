"""Local stand-ins for Aliyun Dysmsapi / Dyvmsapi and Tencent Cloud SMS / VMS, for tests that
use the official SDKs.

Each serves `POST /` on 127.0.0.1 (free port) and routes on the action header
the SDK sends: `x-acs-action` (Aliyun, query parameters, `ACS3-HMAC-SHA256`
auth) or `X-TC-Action` (Tencent, JSON body, `TC3-HMAC-SHA256` auth). They
check what the real APIs require of each action (version header, credential
in the Authorization header, required fields, template parameters as strings)
and answer like the providers: a field missing gives the provider's error,
scripted business errors come back in an HTTP 200 body (as both providers
do), scripted HTTP errors with the provider's error body.

    standin.script("SendSms", standin.error("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控"))
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Call:
    action: str
    headers: dict[str, str]
    params: dict[str, Any]
    status: int
    answer: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


class _Server:
    """A threaded HTTP server on 127.0.0.1 that hands each POST to `answer`."""

    def __init__(self, answer: Any, content_type: str) -> None:

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {key.lower(): value for key, value in self.headers.items()}
                result = answer(self.path, headers, raw)
                payload = json.dumps(result.body, ensure_ascii=False).encode("utf-8")
                self.send_response(result.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@dataclass
class _StandIn:
    calls: list[Call] = field(default_factory=list)
    content_type: str = "application/json"
    """Tencent's SDK reads errors only from exactly `application/json`."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[Answer]] = defaultdict(deque)
        self._server = _Server(self._answer, self.content_type)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    def script(self, action: str, *answers: Answer) -> None:
        with self._lock:
            self._scripts[action].extend(answers)

    def close(self) -> None:
        self._server.close()

    def calls_of(self, action: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.action == action]

    def _next(self, action: str) -> Answer | None:
        with self._lock:
            queue = self._scripts.get(action)
            return queue.popleft() if queue else None

    def _record(
        self, action: str, headers: dict[str, str], params: dict[str, Any], answer: Answer
    ) -> None:
        with self._lock:
            self.calls.append(Call(action, headers, params, answer.status, answer.body))

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        raise NotImplementedError


# --- Aliyun ---


@dataclass
class AliyunStandIn(_StandIn):
    access_key_id: str = "LTAI-test"
    send_details: list[dict[str, Any]] = field(default_factory=list)
    """What `QuerySendDetails` answers (Aliyun's `SmsSendDetailDTO` fields)."""
    call_details: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What `QueryCallDetailByCallId` answers, by `CallId` (its `Data` fields)."""

    @staticmethod
    def error(code: str, message: str = "") -> Answer:
        """A business error: HTTP 200 with `Code`, as Aliyun answers `isv.*` errors."""
        return Answer(200, {"Code": code, "Message": message, "RequestId": str(uuid.uuid4())})

    @staticmethod
    def http_error(status: int, code: str, message: str = "") -> Answer:
        return Answer(status, {"Code": code, "Message": message, "RequestId": str(uuid.uuid4())})

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        action = headers.get("x-acs-action", "")
        params = {key: values[0] for key, values in parse_qs(urlsplit(path).query).items()}
        if raw and headers.get("content-type", "").startswith("application/x-www-form"):
            params.update({k: v[0] for k, v in parse_qs(raw.decode("utf-8")).items()})
        answer = self._check(action, headers, params) or self._next(action)
        if answer is None:
            answer = self._success(action, params)
        self._record(action, headers, params, answer)
        return answer

    def _check(self, action: str, headers: dict[str, str], params: dict[str, Any]) -> Answer | None:
        if headers.get("x-acs-version") != "2017-05-25":
            return self.http_error(400, "InvalidVersion", "x-acs-version must be 2017-05-25")
        auth = headers.get("authorization", "")
        if (
            not auth.startswith("ACS3-HMAC-SHA256")
            or f"Credential={self.access_key_id}" not in auth
        ):
            return self.http_error(404, "InvalidAccessKeyId.NotFound", "Specified access key")
        required = {
            "SendSms": ("PhoneNumbers", "SignName", "TemplateCode"),
            "QuerySendDetails": ("PhoneNumber", "SendDate", "PageSize", "CurrentPage"),
            "SingleCallByTts": ("CalledNumber", "TtsCode"),
            "QueryCallDetailByCallId": ("CallId", "ProdId", "QueryDate"),
        }.get(action)
        if required is None:
            return self.http_error(404, "InvalidAction.NotFound", f"unknown action {action!r}")
        for name in required:
            if not params.get(name):
                return self.http_error(400, f"Missing{name}", f"{name} is mandatory")
        if action == "SendSms" and "TemplateParam" in params:
            try:
                values = json.loads(params["TemplateParam"])
            except ValueError:
                return self.error("isv.INVALID_JSON_PARAM", "JSON参数不合法")
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                return self.error("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        if action == "SingleCallByTts":
            return self._check_call(params)
        return None

    def _check_call(self, params: dict[str, Any]) -> Answer | None:
        """What `SingleCallByTts` takes: one called number, TtsParam as a JSON object of
        strings under 250 characters, PlayTimes 1-3, OutId of 1-15 bytes."""
        if not str(params["CalledNumber"]).isdigit():
            return self.error("isv.MOBILE_NUMBER_ILLEGAL", "号码格式非法")
        if "TtsParam" in params:
            try:
                values = json.loads(params["TtsParam"])
            except ValueError:
                return self.error("isv.INVALID_JSON_PARAM", "JSON参数不合法")
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                return self.error("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
            if len(params["TtsParam"]) >= 250:
                return self.error("isv.PARAM_LENGTH_LIMIT", "参数超出长度限制")
        if "PlayTimes" in params and params["PlayTimes"] not in ("1", "2", "3"):
            return self.error("isv.INVALID_PARAMETERS", "PlayTimes 1-3")
        if "OutId" in params and not 1 <= len(params["OutId"].encode()) <= 15:
            return self.error("isv.INVALID_PARAMETERS", "OutId 1-15 bytes")
        return None

    def _success(self, action: str, params: dict[str, Any]) -> Answer:
        request_id = str(uuid.uuid4())
        if action == "SingleCallByTts":
            call_id = f"{uuid.uuid4().int % 10**12}^{uuid.uuid4().int % 10**12}"
            return Answer(
                200, {"Code": "OK", "Message": "OK", "CallId": call_id, "RequestId": request_id}
            )
        if action == "QueryCallDetailByCallId":
            detail = self.call_details.get(params["CallId"])
            data = json.dumps(detail, ensure_ascii=False) if detail is not None else None
            return Answer(
                200, {"Code": "OK", "Message": "OK", "Data": data, "RequestId": request_id}
            )
        if action == "SendSms":
            biz_id = f"{uuid.uuid4().int % 10**18:018d}^0"
            return Answer(
                200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": request_id}
            )
        details = [
            item
            for item in self.send_details
            if item.get("PhoneNum") == params.get("PhoneNumber")
            and (
                not params.get("BizId") or item.get("BizId", params.get("BizId")) == params["BizId"]
            )
        ]
        return Answer(
            200,
            {
                "Code": "OK",
                "Message": "OK",
                "RequestId": request_id,
                "TotalCount": len(details),
                "SmsSendDetailDTOs": {"SmsSendDetailDTO": details},
            },
        )

    def sent(self) -> list[dict[str, Any]]:
        """The parameters of every SendSms that was accepted."""
        return [
            call.params
            for call in self.calls_of("SendSms")
            if call.status == 200 and call.answer.get("Code") == "OK"
        ]


# --- Tencent ---


@dataclass
class TencentStandIn(_StandIn):
    secret_id: str = "AKID-test"
    app_id: str = "1400006666"
    replies: list[dict[str, Any]] = field(default_factory=list)
    """What `PullSmsReplyStatusByPhoneNumber` answers (its `PullSmsReplyStatus` fields)."""
    statuses: list[dict[str, Any]] = field(default_factory=list)
    """What `PullSmsSendStatusByPhoneNumber` answers (its `PullSmsSendStatus` fields)."""

    @staticmethod
    def error(code: str, message: str = "") -> Answer:
        """A request-level error: `Response.Error`, which the SDK raises."""
        return Answer(
            200,
            {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "r-1"}},
        )

    @staticmethod
    def number_error(code: str, message: str = "") -> Answer:
        """A per-number failure inside `SendStatusSet` (HTTP 200, no exception)."""
        return Answer(200, {"Response": {"SendStatusSet": [{"Code": code, "Message": message}]}})

    @staticmethod
    def http_error(status: int) -> Answer:
        return Answer(status, {"message": "server error"})

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        action = headers.get("x-tc-action", "")
        try:
            params = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            params = {}
        answer = self._check(action, headers, params) or self._next(action)
        if answer is None:
            answer = self._success(action, params)
        elif action == "SendSms" and "SendStatusSet" in answer.body.get("Response", {}):
            status = answer.body["Response"]["SendStatusSet"][0]
            status.setdefault("PhoneNumber", params["PhoneNumberSet"][0])
            status.setdefault("SerialNo", "")
            status.setdefault("SessionContext", params.get("SessionContext", ""))
            status.setdefault("Fee", 0)
            status.setdefault("IsoCode", "CN")
            answer.body["Response"].setdefault("RequestId", str(uuid.uuid4()))
        self._record(action, headers, params, answer)
        return answer

    def _check(self, action: str, headers: dict[str, str], params: dict[str, Any]) -> Answer | None:
        if headers.get("x-tc-version") != "2021-01-11":
            return self.error("InvalidParameter", "X-TC-Version must be 2021-01-11")
        auth = headers.get("authorization", "")
        if not auth.startswith("TC3-HMAC-SHA256") or f"Credential={self.secret_id}/" not in auth:
            return self.error("AuthFailure.SecretIdNotFound", "secret id not found")
        required = {
            "SendSms": ("PhoneNumberSet", "SmsSdkAppId", "TemplateId", "SignName"),
            "PullSmsReplyStatusByPhoneNumber": ("BeginTime", "PhoneNumber", "SmsSdkAppId"),
            "PullSmsSendStatusByPhoneNumber": ("BeginTime", "PhoneNumber", "SmsSdkAppId"),
        }.get(action)
        if required is None:
            return self.error("InvalidAction", f"unknown action {action!r}")
        for name in required:
            if params.get(name) in (None, "", []):
                return self.error("MissingParameter", f"{name} is required")
        if params["SmsSdkAppId"] != self.app_id:
            return self.error("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId not exist")
        if action == "SendSms":
            values = params.get("TemplateParamSet") or []
            if not all(isinstance(value, str) for value in values):
                return self.error("InvalidParameterValue.TemplateParameterFormatError", "strings")
        return None

    def _success(self, action: str, params: dict[str, Any]) -> Answer:
        request_id = str(uuid.uuid4())
        if action == "SendSms":
            statuses = [
                {
                    "SerialNo": f"2028:{uuid.uuid4().int % 10**20}",
                    "PhoneNumber": phone,
                    "Fee": 1,
                    "SessionContext": params.get("SessionContext", ""),
                    "Code": "Ok",
                    "Message": "send success",
                    "IsoCode": "CN",
                }
                for phone in params["PhoneNumberSet"]
            ]
            return Answer(200, {"Response": {"SendStatusSet": statuses, "RequestId": request_id}})
        phone = params["PhoneNumber"]
        if action == "PullSmsReplyStatusByPhoneNumber":
            items = [item for item in self.replies if item["PhoneNumber"] == phone]
            key = "PullSmsReplyStatusSet"
        else:
            items = [item for item in self.statuses if item["PhoneNumber"] == phone]
            key = "PullSmsSendStatusSet"
        return Answer(200, {"Response": {key: items, "RequestId": request_id}})

    def sent(self) -> list[dict[str, Any]]:
        return [
            call.params
            for call in self.calls_of("SendSms")
            if call.status == 200
            and all(
                status.get("Code") == "Ok"
                for status in call.answer.get("Response", {}).get("SendStatusSet", [{}])
            )
        ]


@dataclass
class TencentVoiceStandIn(_StandIn):
    """Tencent Cloud VMS (2020-09-02): `SendTtsVoice`, routed on `X-TC-Action`."""

    secret_id: str = "AKID-test"
    app_id: str = "1400009999"

    error = staticmethod(TencentStandIn.error)
    http_error = staticmethod(TencentStandIn.http_error)

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        action = headers.get("x-tc-action", "")
        try:
            params = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            params = {}
        answer = self._check(action, headers, params) or self._next(action)
        if answer is None:
            answer = Answer(
                200,
                {
                    "Response": {
                        "SendStatus": {
                            "CallId": str(uuid.uuid4()),
                            "SessionContext": params.get("SessionContext", ""),
                        },
                        "RequestId": str(uuid.uuid4()),
                    }
                },
            )
        self._record(action, headers, params, answer)
        return answer

    def _check(self, action: str, headers: dict[str, str], params: dict[str, Any]) -> Answer | None:
        if headers.get("x-tc-version") != "2020-09-02":
            return self.error("InvalidParameter", "X-TC-Version must be 2020-09-02")
        auth = headers.get("authorization", "")
        if not auth.startswith("TC3-HMAC-SHA256") or f"Credential={self.secret_id}/" not in auth:
            return self.error("AuthFailure.SecretIdNotFound", "secret id not found")
        if action != "SendTtsVoice":
            return self.error("InvalidAction", f"unknown action {action!r}")
        for name in ("TemplateId", "CalledNumber", "VoiceSdkAppid"):
            if params.get(name) in (None, ""):
                return self.error("MissingParameter", f"{name} is required")
        if params["VoiceSdkAppid"] != self.app_id:
            return self.error("InvalidParameterValue.SdkAppidNotExist", "SdkAppid not exist")
        if not str(params["CalledNumber"]).startswith("+"):
            return self.error("InvalidParameterValue.CalledNumberVerifyFail", "e.164 required")
        values = params.get("TemplateParamSet")
        if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
            return self.error("FailedOperation.InvalidParameters", "TemplateParamSet: strings")
        if params.get("PlayTimes") not in (None, 1, 2, 3):
            return self.error("FailedOperation.InvalidParameters", "PlayTimes 1-3")
        return None

    def placed(self) -> list[dict[str, Any]]:
        """The parameters of every SendTtsVoice that was accepted."""
        return [
            call.params
            for call in self.calls_of("SendTtsVoice")
            if "SendStatus" in call.answer.get("Response", {})
        ]
