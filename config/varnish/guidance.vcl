vcl 4.1;
# The front cache: Varnish in front of gunicorn. Public pages and the public API are kept until
# the application purges them by surrogate key (the `xkey` response header) when a change commits;
# everything else (admin, history area, sign-in) passes straight through.
#
#   varnishd -a :80 -f config/varnish/guidance.vcl -s malloc,256m -p vsl_mask=…
#
# with the parameters of varnish.service.conf beside this file (Debian's service, how to install
# it and why those parameters). BACKEND_HOST and BACKEND_PORT are replaced with gunicorn's
# address when the file is installed (bench/frontcache.py does it for `make bench`).

import std;
import xkey;

backend default {
    .host = "BACKEND_HOST";
    .port = "BACKEND_PORT";
}

# Who may purge: the application's own servers.
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        if (!req.http.xkey) {
            return (synth(400, "Name the keys to purge in an xkey header"));
        }
        set req.http.n-gone = xkey.purge(req.http.xkey);
        return (synth(200, "Purged " + req.http.n-gone + " objects"));
    }
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    # A public page is the same for every reader: the cookies a signed-in editor's browser
    # sends do not change it. Everything else keeps its cookies and is never cached here.
    if (req.url ~ "^/(guidance/|api/v1/|sitemap\.xml|static/|$)") {
        unset req.http.Cookie;
        unset req.http.Authorization;
        return (hash);
    }
    return (pass);
}

sub vcl_backend_response {
    # Only what the application marks for shared caches is kept (s-maxage or public);
    # private or no-store responses, and any that set a cookie, are passed on and forgotten.
    if (beresp.http.Set-Cookie || beresp.http.Cache-Control ~ "(private|no-store|no-cache)"
        || beresp.http.Cache-Control !~ "(s-maxage|public)") {
        set beresp.uncacheable = true;
        set beresp.ttl = 120s;
        return (deliver);
    }
    # Errors from the application are not kept.
    if (beresp.status >= 500) {
        set beresp.uncacheable = true;
        set beresp.ttl = 0s;
        return (deliver);
    }
    set beresp.grace = 0s;
    return (deliver);
}

sub vcl_deliver {
    # The keys are for this cache; readers need not see them.
    unset resp.http.xkey;
    if (obj.hits > 0) {
        set resp.http.X-Cache = "hit";
    } else {
        set resp.http.X-Cache = "miss";
    }
}
