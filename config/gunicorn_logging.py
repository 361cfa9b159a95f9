"""gunicorn's access log without the mainland providers' secret path segment.

The push routes (`/sms/aliyun/<secret>/up`, `/voice/tencent/<secret>/status`, ...) carry
`SMS_CALLBACK_SECRET` in their path, and whoever reads the access log must not learn it:
the request line, path and referrer are logged with `***` in its place.
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

_SECRET_SEGMENT = re.compile(r"(/(?:sms|voice)/(?:aliyun|tencent)/)[^/?#\s]+")
MASKED = r"\1***"


def mask_secret_paths(text: str) -> str:
    return _SECRET_SEGMENT.sub(MASKED, text)


class MaskedAccessLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for name in ("r", "U", "f", "{raw_uri}e", "{path_info}e"):
            value = atoms.get(name)
            if isinstance(value, str):
                atoms[name] = mask_secret_paths(value)
        return atoms
