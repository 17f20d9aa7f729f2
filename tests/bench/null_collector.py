#!/usr/bin/env python3
"""null_collector.py PORTFILE SAVEDIR SAVE_N - an HTTP collector that only
acknowledges: every POST is read whole and answered 200 at once (keep-alive,
one thread per connection). It measures the agent alone, with no database
behind the socket. The first SAVE_N request bodies are kept in SAVEDIR (as
sent: gzip), with their query string in SAVEDIR/<n>.query, so the benchmark
can replay the agent's own requests against ClickHouse. The chosen port is
written to PORTFILE."""
import http.server
import os
import socketserver
import sys
import threading

portfile, savedir, save_n = sys.argv[1], sys.argv[2], int(sys.argv[3])
lock = threading.Lock()
seen = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def do_POST(self):
        n = int(self.headers.get('Content-Length', '0'))
        body = self.rfile.read(n)
        with lock:
            k = seen[0]
            seen[0] += 1
        if k < save_n:
            with open(os.path.join(savedir, f'{k}.body'), 'wb') as f:
                f.write(body)
            with open(os.path.join(savedir, f'{k}.query'), 'w') as f:
                f.write(self.path)
        self.send_response(200)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = Server(('127.0.0.1', 0), Handler)
with open(portfile + '.tmp', 'w') as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + '.tmp', portfile)
srv.serve_forever()
