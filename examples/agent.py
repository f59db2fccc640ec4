"""A small agent-style program, the README's example for hermetic-python.

It does what an LLM agent's tool loop does in miniature: reads its task from a workspace,
asks a "model API" over HTTP, writes the answer back into the workspace, and then tries
something it was never meant to do. The model API is a fake served on loopback by this
same program, so the example needs no network and no key.

Run it from the repository root under the example policy (network: localhost only;
files: ./agent-workspace only; no subprocess):

    cargo run --release -- --policy policy.example.toml examples/agent.py

The last step is refused, and hermetic-python says so in one line.
"""

import json
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import hermetic

WORKSPACE = Path(sys.argv[1] if len(sys.argv) > 1 else "agent-workspace")


class FakeModel(BaseHTTPRequestHandler):
    """Answers POST /v1/complete with an upper-cased echo of the prompt."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = json.dumps({"completion": body["prompt"].upper()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def ask_model(port, prompt):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/complete",
        data=json.dumps({"prompt": prompt}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["completion"]


def main():
    server = HTTPServer(("127.0.0.1", 0), FakeModel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    WORKSPACE.mkdir(exist_ok=True)
    task_file = WORKSPACE / "task.txt"
    if not task_file.exists():
        task_file.write_text("summarise the quarterly report\n")
    task = task_file.read_text().strip()
    print(f"agent: task: {task}")

    answer = ask_model(port, task)
    (WORKSPACE / "result.txt").write_text(answer + "\n")
    print(f"agent: wrote {WORKSPACE / 'result.txt'}: {answer}")

    # The misstep: an agent that decides to look for credentials. (HOME is not in the
    # environment's safe set, so the home folder comes from the password database; a user
    # with no entry there, as in a bare container, falls back to root's.)
    try:
        home = Path.home()
    except RuntimeError:
        home = Path("/root")
    secret = home / ".ssh" / "id_rsa"
    try:
        secret.read_text()
        print("agent: read the private key (this should never print)")
    except hermetic.PolicyViolation as refusal:
        print(f"agent: refused: {refusal}")
    except FileNotFoundError:
        print("agent: refused: the read was allowed but the file does not exist (policy too wide)")
        return 1
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
