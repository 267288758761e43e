"""What the integration test scripts share: check() prints one line, ok or
FAIL, and counts the failures; summary() prints the script's last line and
gives its exit status; nodes() lists a saved model's nodes of one op."""
import onnx

failures = []


def check(cond, what):
    print(("ok  " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)
    return cond


def summary(name):
    print(f"{name}:", "all passed" if not failures else f"{len(failures)} failed")
    return 1 if failures else 0


def nodes(path, op):
    return [n for n in onnx.load(path).graph.node if n.op_type == op]
