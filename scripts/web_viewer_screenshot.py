"""Screenshot of a web page (rerun's web viewer) in headless Chromium, over the DevTools protocol.

Standard library only (a minimal WebSocket client). Chromium's own ``--screenshot`` fires
before the viewer's WebAssembly has started, so this waits ``--wait`` seconds of real time.
On a machine without a GPU the viewer must render with WebGL on SwiftShader (WebGPU on
SwiftShader crashes it): add ``&renderer=webgl`` to the viewer URL.

    zod view data/sample 326 --subset sequences --serve &
    python scripts/web_viewer_screenshot.py \
        "http://localhost:9090/?url=rerun%2Bhttp%3A//127.0.0.1%3A9876/proxy&renderer=webgl" \
        docs/img/view_sequence.png --wait 50
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import struct
import subprocess
import time
import urllib.request
from typing import Any


class DevTools:
    """A DevTools WebSocket connection to one page (text frames only, no extensions)."""

    def __init__(self, ws_url: str) -> None:
        host_port, path = ws_url.removeprefix("ws://").split("/", 1)
        host, port = host_port.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=120)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.sock.recv(4096)
        head, self.buffer = data.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"WebSocket handshake refused: {head[:200]!r}")
        self.next_id = 0

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("DevTools connection closed")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _send(self, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            head = bytes([0x81, 0x80 | n])
        elif n < 1 << 16:
            head = bytes([0x81, 0x80 | 126]) + struct.pack(">H", n)
        else:
            head = bytes([0x81, 0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def _message(self) -> dict[str, Any]:
        payload = b""
        while True:
            first, second = self._read(2)
            n = second & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload += self._read(n)
            if first & 0x80:  # final fragment
                return json.loads(payload)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self._send(json.dumps({"id": self.next_id, "method": method, "params": params}).encode())
        while True:
            message = self._message()
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]


def screenshot(url: str, out: str, wait_s: float, width: int, height: int, port: int) -> None:
    args = [
        "chromium",
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--use-angle=swiftshader",
        "--enable-unsafe-swiftshader",
        "--ignore-gpu-blocklist",
        f"--window-size={width},{height}",
        f"--remote-debugging-port={port}",
        "--remote-allow-origins=*",
        url,
    ]
    chromium = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        page = None
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json") as response:
                    pages = json.load(response)
                page = next((p for p in pages if p.get("type") == "page"), None)
                if page:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        if page is None:
            raise RuntimeError("Chromium's DevTools endpoint did not come up")
        tools = DevTools(page["webSocketDebuggerUrl"])
        tools.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        time.sleep(wait_s)
        png = base64.b64decode(tools.call("Page.captureScreenshot", format="png")["data"])
        with open(out, "wb") as f:
            f.write(png)
    finally:
        chromium.terminate()
        chromium.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("--wait", type=float, default=45.0, help="Seconds before the shot.")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--port", type=int, default=9333, help="DevTools port.")
    args = parser.parse_args()
    screenshot(args.url, args.out, args.wait, args.width, args.height, args.port)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
