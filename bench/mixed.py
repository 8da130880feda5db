"""The mixed load round: readers, searchers, sign-ins and editors' saves at once, every answer
checked.

wrk repeats one request; this round needs clients that read a form, keep cookies, send the CSRF
token back and compute a second-factor code. Each connection is a thread with its own keep-alive
HTTP connection and its own cookies, doing a weighted mix of operations for a fixed time. An
operation is one or more requests (a sign-in is five, a save two), each of which must answer
with the status that step expects: anything else, a socket error or a timeout is an error.
"""

import http.client
import os
import random
import statistics
import threading
import time
import urllib.parse

from django_otp.oath import totp

from bench.editor import form_with

# What a connection does, in operations per 1,000: mostly reading; a sign-in is rare, and it
# costs a deliberately slow password hash.
MIX = {
    "overview": 300,
    "chapter": 180,
    "former reference (301)": 40,
    "feed": 15,
    "sitemap": 5,
    "search": 250,
    "admin change list": 60,
    "admin save: draft edition": 70,
    "admin save: chapter page": 75,
    "sign-in": 5,
}
SIGN_IN_BEFORE = "sign-in before the round (all connections at once)"
TIMEOUT = 60
REASON = "Benchmark: mixed load round"
SIGNED_OUT_PAGES = ("/admin/login/", "/accounts/second-factor/")


class Unexpected(Exception):
    """An answer other than the one the step expects, a socket error or a timeout."""


class Client:
    """One keep-alive connection with the cookies a browser would keep."""

    def __init__(self, base):
        address = urllib.parse.urlsplit(base)
        self.connection = http.client.HTTPConnection(address.hostname, address.port, TIMEOUT)
        self.cookies = {}
        self.requests = 0

    def request(self, method, path, data=None, expect=200):
        """Send one request; return (headers, body) if its status is `expect`, else raise."""
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.requests += 1
        try:
            self.connection.request(method, path, body, headers)
            response = self.connection.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()  # the next request opens a new one
            raise Unexpected(f"{method} {path}: {error!r}") from error
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            if value and value != '""':
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        if response.status != expect:
            raise Unexpected(f"{method} {path}: {response.status}, expected {expect}")
        return response.headers, content.decode()

    def form(self, path, field):
        """GET a page and return the data of its form that has `field`."""
        _, page = self.request("GET", path)
        data = form_with(page, field)
        if data is None:
            raise Unexpected(f"GET {path}: no form with {field}")
        return data

    def post(self, path, data, leads_to):
        """POST a form that must redirect to a page starting with leads_to (a save, the code of
        a sign-in), not back to signing in; return where to."""
        headers, _ = self.request("POST", path, data, expect=302)
        location = headers["Location"]
        if location.startswith(SIGNED_OUT_PAGES) or not location.startswith(leads_to):
            raise Unexpected(f"POST {path}: led to {location}")
        return location


class Connection:
    """What one connection does: its editors, its own draft edition, and the pages it reads."""

    def __init__(self, base, work, pages, seed):
        self.client = Client(base)
        self.accounts = work["accounts"]
        self.last_step = {}  # per account: the time step of the last code it gave
        self.edition = work["edition"]
        self.chapter = work["chapter"]
        self.pages = pages
        self.random = random.Random(seed)

    def sign_in(self):
        """Both steps of signing in through the real forms, then the admin's start page. Each
        account's code serves once per time step (django-otp refuses it again), so this signs in
        as an account whose code this step has not used; False when all have."""
        now = time.time()
        account = next(
            (
                account
                for account in self.accounts
                if self.last_step.get(account["username"], -1) < int(now) // account["step"]
            ),
            None,
        )
        if account is None:
            return False
        kept = self.client.cookies
        self.client.cookies = {}
        try:
            sign_in = "/admin/login/?next=/admin/"
            data = self.client.form(sign_in, "username")
            data.update(username=account["username"], password=account["password"])
            headers, _ = self.client.request("POST", sign_in, data, expect=302)
            second_step = headers["Location"]
            if not second_step.startswith("/accounts/second-factor/"):
                raise Unexpected(f"POST {sign_in}: led to {second_step}")
            data = self.client.form(second_step, "code")
            step = int(time.time()) // account["step"]
            key = bytes.fromhex(account["key"])
            data["code"] = f"{totp(key, step=account['step'], digits=account['digits']):06d}"
            self.last_step[account["username"]] = step
            self.client.post(second_step, data, leads_to="/admin/")
            self.client.request("GET", "/admin/")
        except Unexpected:
            self.client.cookies = kept
            raise
        return True

    def save_edition(self):
        path = f"/admin/guidance/guidance/{self.edition}/change/"
        data = self.client.form(path, "change_reason")
        data["summary"] = revised(data.get("summary", ""))
        data["change_reason"] = REASON
        self.client.post(path, data, leads_to="/admin/guidance/guidance/")

    def save_chapter_page(self):
        path = f"/admin/guidance/guidance/{self.edition}/chapter/{self.chapter}/edit/"
        data = self.client.form(path, "change_reason")
        paragraph = next(
            (
                name
                for name, value in data.items()
                if name.endswith("-kind") and value == "paragraph"
            ),
            None,
        )
        if paragraph is None:
            raise Unexpected(f"GET {path}: no paragraph on the page")
        text = paragraph.removesuffix("-kind") + "-text"
        data[text] = revised(data[text])
        data["change_reason"] = REASON
        self.client.post(path, data, leads_to=path)

    def search(self):
        title = self.random.choice(self.pages["titles"])
        words = [w.strip(",.:;()'") for w in title.split() if len(w) > 4] or title.split()
        # Two to three words of one title: often a query no one asked before, so not cached.
        query = " ".join(self.random.sample(words, min(len(words), self.random.choice((2, 3)))))
        self.client.request("GET", f"{self.pages['search']}?{urllib.parse.urlencode({'q': query})}")

    def operation(self, kind):
        """Do one operation of the kind; return False if it was put off (no code left)."""
        pages = self.pages
        match kind:
            case "overview":
                # A few pages are read far more than the rest.
                hot = self.random.random() < 0.7
                paths = pages["overviews"][:20] if hot else pages["overviews"]
                self.client.request("GET", self.random.choice(paths))
            case "chapter":
                self.client.request("GET", self.random.choice(pages["chapters"]))
            case "former reference (301)":
                self.client.request(
                    "GET", self.random.choice(pages["former_references"]), expect=301
                )
            case "feed":
                self.client.request("GET", pages["feed"])
            case "sitemap":
                self.client.request("GET", pages["sitemap"])
            case "search":
                self.search()
            case "admin change list":
                self.client.request("GET", "/admin/guidance/guidance/")
            case "admin save: draft edition":
                self.save_edition()
            case "admin save: chapter page":
                self.save_chapter_page()
            case "sign-in":
                return self.sign_in()
        return True


def revised(text):
    """The text changed, and changed back at the next save."""
    marker = " (revised)"
    return text.removesuffix(marker) if text.endswith(marker) else text + marker


class Tally:
    """Per kind of operation: times, requests and errors, shared by the connections."""

    def __init__(self):
        self.lock = threading.Lock()
        self.kinds = {}
        self.examples = []
        self.put_off = 0

    def add(self, kind, milliseconds, requests, error=None):
        with self.lock:
            entry = self.kinds.setdefault(kind, {"times": [], "requests": 0, "errors": 0})
            entry["times"].append(milliseconds)
            entry["requests"] += requests
            if error is not None:
                entry["errors"] += 1
                if len(self.examples) < 10:
                    self.examples.append(f"{kind}: {error}")


def timed(connection, tally, kind, action):
    """Run one operation, and count its time, requests and error if any."""
    before = connection.client.requests
    started = time.perf_counter()
    error = None
    try:
        done = action()
    except Unexpected as unexpected:
        done, error = True, unexpected
    except Exception as failure:  # noqa: BLE001 - counted, never lost with its thread
        done, error = True, repr(failure)
    if not done:
        with tally.lock:
            tally.put_off += 1
        return
    elapsed = (time.perf_counter() - started) * 1000
    tally.add(kind, elapsed, connection.client.requests - before, error)


def run(base, prepared, seconds, seed=1, meter=None):
    """Sign every connection in, then run the mix for `seconds`; return the figures, with the
    CPU time per operation by process if given a bench.cpu.Meter of the server."""
    pages = {key: value for key, value in prepared.items() if key != "clients"}
    connections = [
        Connection(base, work, pages, seed + number)
        for number, work in enumerate(prepared["clients"])
    ]
    kinds, weights = list(MIX), list(MIX.values())
    before, during = Tally(), Tally()
    clock = {"signing_in": time.perf_counter()}

    def start_clock():
        # Run once all have signed in, before any is let go.
        clock["started"] = time.perf_counter()
        clock["deadline"] = clock["started"] + seconds
        clock["load_before"] = os.getloadavg()
        clock["client_cpu"] = time.process_time()
        if meter:
            meter.start()

    ready = threading.Barrier(len(connections), action=start_clock)

    def connection_loop(connection):
        timed(connection, before, SIGN_IN_BEFORE, connection.sign_in)
        ready.wait()
        while time.perf_counter() < clock["deadline"]:
            kind = connection.random.choices(kinds, weights)[0]
            timed(connection, during, kind, lambda k=kind: connection.operation(k))
        connection.client.connection.close()

    threads = [threading.Thread(target=connection_loop, args=(c,)) for c in connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - clock["started"]
    client_cpu = time.process_time() - clock["client_cpu"]
    signed_in = clock["started"] - clock["signing_in"]
    load_before = clock["load_before"]
    rows = {kind: figures(during.kinds[kind], elapsed) for kind in MIX if kind in during.kinds}
    operations = sum(row["operations"] for row in rows.values())
    cpu_ms = meter.per_request(operations) if meter else None
    return {
        # The clients are threads of this process, not wrk: their time is client_cpu_seconds.
        "cpu_ms_per_operation": cpu_ms and {k: v for k, v in cpu_ms.items() if k != "wrk"},
        "connections": len(connections),
        "seconds": round(elapsed, 1),
        "mix_per_1000": MIX,
        "sign_in_before": {
            "name": SIGN_IN_BEFORE,
            **figures(before.kinds[SIGN_IN_BEFORE], signed_in),
        },
        "kinds": rows,
        "total": total(rows, elapsed),
        "sign_ins_put_off": during.put_off,
        # The clients share the machine with the server: what they took of it.
        "client_cpu_seconds": round(client_cpu, 1),
        "error_examples": before.examples + during.examples,
        "load_average": {
            "before": " ".join(f"{n:.2f}" for n in load_before),
            "after": " ".join(f"{n:.2f}" for n in os.getloadavg()),
        },
    }


def figures(entry, seconds):
    times = entry["times"]
    p99 = statistics.quantiles(times, n=100, method="inclusive")[98] if len(times) > 1 else times[0]
    return {
        "operations": len(times),
        "requests": entry["requests"],
        "per_second": round(len(times) / seconds, 1),
        "p50_ms": round(statistics.median(times), 1),
        "p99_ms": round(p99, 1),
        "errors": entry["errors"],
    }


def total(rows, seconds):
    operations = sum(row["operations"] for row in rows.values())
    requests = sum(row["requests"] for row in rows.values())
    return {
        "operations": operations,
        "requests": requests,
        "requests_per_second": round(requests / seconds, 1),
        "errors": sum(row["errors"] for row in rows.values()),
    }
