"""The login page and logout. Thin: the service checks passwords and the rate limit."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from config.clock import now
from grids.accounts.access import any_role, current
from grids.accounts.login_limit import take_check
from grids.accounts.service import authenticate, revoke_sessions
from grids.storage.session import request_session
from grids.web.language import page_language
from i18n import LANGUAGES, catalogue

accounts = Blueprint("accounts", __name__)


class LoginForm(FlaskForm):
    username = StringField(validators=[DataRequired(), Length(max=80)])
    password = PasswordField(validators=[DataRequired(), Length(max=200)])


def _safe_next(target: str | None) -> str:
    """Only a path on this site; never another host (an open redirect)."""
    if not target:
        return url_for("web.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("web.home")
    return target


@accounts.route("/login", methods=["GET", "POST"])
def login() -> Any:
    language = page_language()
    t = catalogue(language).text
    form = LoginForm()
    error = None
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            error = t("web.login.invalid_form")
            status = 400
        else:
            session = request_session()
            username = (form.username.data or "").strip()
            address = request.remote_addr or "unknown"
            moment = now()
            if not take_check(session, username, address, moment):
                session.rollback()
                error = t("web.login.too_many")
                status = 429
            else:
                session.commit()
                user = authenticate(session, username, form.password.data or "", address, moment)
                session.commit()
                if user is not None:
                    login_user(user)
                    return redirect(_safe_next(request.args.get("next")))
                error = t("web.login.failed")
                status = 401
    page = render_template(
        "login.html",
        t=t,
        language=language,
        languages=LANGUAGES,
        form=form,
        error=error,
    )
    return page, status


@accounts.post("/logout")
@any_role
def logout() -> Any:
    """Signs out every session of the user: a copy of the cookie kept elsewhere stops working."""
    session = request_session()
    revoke_sessions(current())
    session.commit()
    logout_user()
    return redirect(url_for("accounts.login"))
