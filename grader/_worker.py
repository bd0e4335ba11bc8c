"""The sandbox: runs a student's answer cells and calls their functions.

Started by ``grader.sandbox`` as ``python -s -m grader._worker`` in an empty
directory.  It speaks JSON lines over copies of its original stdin/stdout; the
student's own prints and warnings go to a capture file, never into the
protocol.  It holds no references and no checks: whatever the student's code
patches here, the comparison happens in the grading process.
"""
from __future__ import annotations

import json
import linecache
import os
import sys

import numpy as np  # noqa: F401 - loaded before any student code can shadow or patch it

from grader import _wire, probes, shortcuts


class Worker:
    def __init__(self, proto_in, proto_out, capture_path: str):
        self.proto_in, self.proto_out = proto_in, proto_out
        self.capture_path = capture_path
        self.namespace: dict = {"__name__": "__answers__", "__builtins__": __builtins__}
        self.cell_errors: dict[str, dict] = {}
        self.request_id = None

    def send(self, msg: dict) -> None:
        msg["output"] = self._take_output()
        msg["id"] = self.request_id  # lines forged by the student's code lack it
        self.proto_out.write(json.dumps(msg) + "\n")
        self.proto_out.flush()

    def _take_output(self) -> str:
        sys.stdout.flush()
        sys.stderr.flush()
        with open(self.capture_path, "r+", encoding="utf-8", errors="replace") as fh:
            text = fh.read()
            fh.seek(0)
            fh.truncate()
        os.lseek(1, 0, os.SEEK_SET)
        os.lseek(2, 0, os.SEEK_SET)
        return text[-2000:]

    def load(self, cells: list[dict], rules: dict, skip: list[str]) -> None:
        shortcuts.install(shortcuts.Rules.from_json(rules))
        for cell in cells:
            name = cell["name"]
            if name in skip:
                continue
            filename = f"{_wire.CELL_PREFIX}{name}>"
            source = cell["source"]
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            self.send({"event": "cell_start", "cell": name})
            try:
                exec(compile(source, filename, "exec"), self.namespace)
            except BaseException as exc:  # noqa: BLE001 - SystemExit too: a cell may call exit()
                self.cell_errors[name] = _wire.encode_error(exc)
            self.send({"event": "cell_done", "cell": name, "error": self.cell_errors.get(name)})
        self.send({"event": "loaded", "cell_errors": self.cell_errors})

    def lookup(self, name: str) -> dict:
        if name not in self.namespace:
            return {"ok": False, "missing": True}
        value = self.namespace[name]
        return {"ok": True, "callable": callable(value), "value": _wire.encode(value)}

    def call(self, fn: str, args: list, kwargs: dict, count_lines: bool = False) -> dict:
        if fn not in self.namespace:
            return {"ok": False, "missing": True}
        args = [_wire.decode(a) for a in args]
        kwargs = {k: _wire.decode(v) for k, v in kwargs.items()}
        counter = shortcuts.LineCounter(_wire.in_answer_cell)
        try:
            if count_lines:
                with counter:
                    result = self.namespace[fn](*args, **kwargs)
            else:
                result = self.namespace[fn](*args, **kwargs)
            encoded = _wire.encode(result)
        except BaseException as exc:  # noqa: BLE001
            return {"ok": False, "error": _wire.encode_error(exc)}
        return {"ok": True, "result": encoded, "args_after": [_wire.encode(a) for a in args],
                "lines": counter.lines if count_lines else None}

    def probe(self, name: str, spec: dict) -> dict:
        """Run a grader probe (``grader.probes``) on the student's classes."""
        spec = {k: _wire.decode(v) for k, v in spec.items()}
        try:
            encoded = _wire.encode(probes.PROBES[name](self.namespace, **spec))
        except BaseException as exc:  # noqa: BLE001
            return {"ok": False, "error": _wire.encode_error(exc)}
        return {"ok": True, "result": encoded}

    def serve(self) -> None:
        for line in self.proto_in:
            req = json.loads(line)
            self.request_id = req.get("id")
            op = req["op"]
            if op == "load":
                self.load(req["cells"], req["rules"], req.get("skip", []))
            elif op == "call":
                self.send(self.call(req["fn"], req["args"], req["kwargs"],
                                    req.get("count_lines", False)))
            elif op == "probe":
                self.send(self.probe(req["probe"], req["spec"]))
            elif op == "lookup":
                self.send(self.lookup(req["name"]))
            elif op == "exit":
                break


def main() -> None:
    capture_path = sys.argv[1]
    memory_mb = int(sys.argv[2])
    if memory_mb > 0:
        import resource
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    proto_in = os.fdopen(os.dup(0), "r", encoding="utf-8")
    proto_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    capture = os.open(capture_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(capture, 1)
    os.dup2(capture, 2)
    Worker(proto_in, proto_out, capture_path).serve()
    proto_out.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
