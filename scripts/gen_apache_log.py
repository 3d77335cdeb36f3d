#!/usr/bin/env python3
"""Generates testdata/bench/apache.log: realistic Apache combined-log lines (fixed seed)."""
import random, sys
r = random.Random(42)
paths = ["/", "/index.html", "/images/logo.png", "/api/v1/users/{}", "/search?q={}&page={}", "/static/js/app.{}.js",
         "/blog/{}/comments", "/wp-login.php", "/favicon.ico", "/cart/add?item={}&qty={}"]
agents = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 13_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Safari/605.1.15",
          "curl/8.4.0", "Googlebot/2.1 (+http://www.google.com/bot.html)", "python-requests/2.31.0", "-"]
refs = ["-", "https://www.example.com/", "https://www.google.com/search?q=shop", "http://blog.example.org/post/42"]
methods = ["GET"] * 8 + ["POST", "HEAD", "PUT", "DELETE"]
months = ["Jan","Feb","Mar","Apr","May","Jun","Jul","Aug","Sep","Oct","Nov","Dec"]
out = open(sys.argv[1] if len(sys.argv) > 1 else "testdata/bench/apache.log", "w")
for i in range(5000):
    if r.random() < 0.1:
        ip = "2001:db8:%x::%x" % (r.randrange(65536), r.randrange(65536))
    elif r.random() < 0.1:
        ip = "host%d.example.net" % r.randrange(1000)
    else:
        ip = "%d.%d.%d.%d" % (r.randrange(1, 255), r.randrange(256), r.randrange(256), r.randrange(1, 255))
    p = r.choice(paths).format(r.randrange(100000), r.randrange(50), r.randrange(9))
    ts = "%02d/%s/2024:%02d:%02d:%02d +0000" % (r.randrange(1, 29), r.choice(months), r.randrange(24), r.randrange(60), r.randrange(60))
    status = r.choice([200] * 10 + [301, 302, 304, 404, 500, 503])
    size = "-" if status in (304,) else str(r.randrange(20, 200000))
    user = r.choice(["-"] * 9 + ["alice"])
    out.write('%s - %s [%s] "%s %s HTTP/1.1" %d %s "%s" "%s"\n' % (ip, user, ts, r.choice(methods), p, status, size, r.choice(refs), r.choice(agents)))
