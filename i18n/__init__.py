"""Message catalogues: every text a person reads, in zh_CN first and English.

Catalogues are gettext `.po` files under `i18n/locales/<lang>/LC_MESSAGES/`,
read with Babel. Message ids are symbolic names (`sms.report.received`), so a
template name is the same for every SMS provider and every language; the
parameters are Python `str.format` fields (`{week}`).
"""

from i18n.catalogue import (
    LANGUAGES,
    Catalogue,
    MessageNotFound,
    catalogue,
    normalise_language,
    translate,
)

__all__ = [
    "LANGUAGES",
    "Catalogue",
    "MessageNotFound",
    "catalogue",
    "normalise_language",
    "translate",
]
