"""
The web pages of the admin listener: the operator's dashboard (``/``, a
static page whose script calls the management API with the token the
operator types, kept in the tab's sessionStorage -- no cookie, so no
cross-site request can act with it), the public client-setup page
(``/setup``, this server's addresses and keys filled in) and the public
sign-up page (``/signup``, only when ``--admin-signup open``).

Every value shown is escaped (server side: :func:`html.escape`; in the
script: ``textContent`` only), and a strict Content-Security-Policy allows
scripts from this listener only.
"""

import html
import os

from twisted.web import pages, resource

from blissnode.admin.api import ApiResource

__all__ = ["make_site_root"]

STATIC_DIR = os.path.join(os.path.dirname(__file__), "static")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def _headers(request):
    request.setHeader("content-security-policy", CSP)
    request.setHeader("x-content-type-options", "nosniff")
    request.setHeader("x-frame-options", "DENY")
    request.setHeader("referrer-policy", "no-referrer")
    request.setHeader("cache-control", "no-store")


def _page(title, body):
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>%s</title><link rel=\"stylesheet\" href=\"/static/admin.css\"></head>"
            "<body>%s</body></html>\n" % (html.escape(title), body)).encode("utf-8")


class _Html(resource.Resource):
    isLeaf = True

    def __init__(self, render_body):
        resource.Resource.__init__(self)
        self._render_body = render_body

    def render_GET(self, request):
        _headers(request)
        request.setHeader("content-type", "text/html; charset=utf-8")
        return self._render_body()


def _static_file(name, content_type):
    with open(os.path.join(STATIC_DIR, name), "rb") as f:
        data = f.read()

    class Static(resource.Resource):
        isLeaf = True

        def render_GET(self, request):
            _headers(request)
            request.setHeader("content-type", content_type)
            return data
    return Static()


def setup_page(setup):
    """The client-setup instructions with ``setup()``'s values filled in."""
    data = setup()
    e = html.escape
    rows = []
    for label, value in [("Server address", data["public_ip"])] + [
            ("%s port" % (name,), port) for name, port in sorted(data["ports"].items())]:
        rows.append("<tr><th>%s</th><td class=\"mono\">%s</td></tr>" % (e(label), e(str(value))))
    keys = []
    for role in ("login", "credential"):
        key = data["keys"].get(role)
        if key is None:
            keys.append("<p>The %s key is not created yet.</p>" % (e(role),))
            continue
        keys.append(
            "<h3>%s key (RSA-%d)</h3><p>SHA-256 fingerprint <span class=\"mono\" id=\"fp-%s\">"
            "%s</span></p><p>Modulus, big-endian hex:</p><pre class=\"mono\" id=\"mod-%s\">%s"
            "</pre><p>As stored in the client (bytes reversed):</p><pre class=\"mono\">%s</pre>"
            % (e(role.title()), key["bits"], e(role), e(key["fingerprint_sha256"]), e(role),
               e(key["modulus_hex"]), e(key["modulus_client_order_hex"])))
    ports = data["ports"]
    server = "%s:%s:%s:%s" % (data["public_ip"], ports.get("login", 33033),
                              ports.get("event", 12350), ports.get("supernode", 33000))
    body = (
        "<h1>Using this server</h1>"
        "<p>Old Skype clients (1.4 to 6.16) only trust Skype's own keys and addresses. "
        "Make a copy that trusts this server with the <code>blissnode</code> tool "
        "(<code>pip install blissnode</code>), then sign in as usual.</p>"
        "<h2>1. Patch your client</h2><pre class=\"mono\" id=\"patch-command\">"
        "blissnode patch-client Skype.exe Skype-patched.exe --server %s</pre>"
        "<p>(Run it where this server's data directory is, or copy the two moduli below "
        "into a patching tool of your choice.)</p>"
        "<h2>2. This server</h2><table>%s</table>"
        "<h2>3. Keys to check</h2>%s"
        "<h2>4. An account</h2><p>%s</p>"
        % (e(server), "".join(rows), "".join(keys),
           "Create one on the <a href=\"/signup\">sign-up page</a>." if data["signup_open"]
           else "Ask the operator of this server for an account."))
    return _page("blissnode: client setup", body)


def signup_page(policy_min_length):
    body = (
        "<h1>Create an account</h1>"
        "<form id=\"signup\"><label>Skype name <input id=\"signup-name\" name=\"name\" "
        "autocomplete=\"username\" required minlength=\"6\" maxlength=\"32\"></label>"
        "<label>Password (at least %d characters) <input id=\"signup-password\" "
        "type=\"password\" name=\"password\" autocomplete=\"new-password\" required "
        "minlength=\"%d\"></label><button id=\"signup-submit\" type=\"submit\">Sign up"
        "</button></form><p id=\"signup-result\" role=\"status\"></p>"
        "<p><a href=\"/setup\">How to set up your client</a></p>"
        "<script src=\"/static/signup.js\"></script>"
        % (policy_min_length, policy_min_length))
    return _page("blissnode: sign up", body)


def dashboard_page():
    with open(os.path.join(STATIC_DIR, "dashboard.html"), "rb") as f:
        return f.read()


class _Tree(resource.Resource):
    """A directory of pages; an unknown name is twisted.web's escaped 404."""

    def getChild(self, path, request):
        return pages.notFound()


def make_site_root(context, policy_min_length):
    """The resource tree of the admin listener."""
    root = _Tree()
    dashboard = dashboard_page()
    root.putChild(b"", _Html(lambda: dashboard))
    root.putChild(b"setup", _Html(lambda: setup_page(context.setup)))
    if context.signup_open:
        root.putChild(b"signup", _Html(lambda: signup_page(policy_min_length)))
    root.putChild(b"api", ApiResource(context, prefix="/api"))
    root.putChild(b"metrics", ApiResource(context, prefix="/metrics"))
    assets = _Tree()
    for name, ctype in (("admin.js", "application/javascript"),
                        ("signup.js", "application/javascript"),
                        ("admin.css", "text/css")):
        assets.putChild(name.encode("ascii"), _static_file(name, ctype))
    root.putChild(b"static", assets)
    return root
