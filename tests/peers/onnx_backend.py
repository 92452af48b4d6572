#!/usr/bin/env python3
"""ONNX's own backend node test cases (Debian's python3-onnx 1.12:
onnx.backend.test.case.node) for the ops ninc imports, through
import -> reference interpreter -> compiled CPU program.

Each case's model and first data set are adapted as a backend harness that
cannot feed weights at run time must: graph inputs after the first (a Conv's
W and B) become initializers with the case's data. A model that ends in a
feature map is a feature extractor (no num_classes): its outputs are saved
in their shape. Then a case
  - passes: `ninc run --input` and the compiled program's `infer --input`
    both equal the expected output (max|diff| <= 1e-4 max|ref| + 1e-5);
  - or is refused: `ninc validate` exits 1 with one line naming the file
    and what is unsupported;
  - or is wrong: anything else (this fails the test).
Prints one line per case and the table of counts per op (docs/onnx.md).

  tests/peers/onnx_backend.py BIN_DIR WORK_DIR
Exit 0 when no case is wrong, 1 otherwise, 77 without onnx/numpy.
"""
import os
import subprocess
import sys

try:
    import numpy as np
    # Debian's onnx 1.12 test cases use aliases NumPy 1.24 removed.
    for alias, kind in (("float", float), ("int", int), ("bool", bool), ("object", object)):
        if alias not in np.__dict__:
            setattr(np, alias, kind)
    import onnx
    from onnx import helper, numpy_helper
    from onnx.backend.test.case.node import collect_testcases
except ImportError as e:
    print(f"SKIP: {e} (install python3-onnx to run this test)")
    sys.exit(77)

OPS = ["Conv", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten", "Dropout"]


class Case:
    """A node case or a PyPI onnx pytorch-converted case."""
    def __init__(self, name, model, inputs, outputs):
        self.name, self.model, self.data_sets = name, model, [(inputs, outputs)]


def pytorch_converted():
    """PyPI onnx's pytorch-converted cases for the ops above, from the
    benchmark venv (PEERS_PYTHON's site-packages) when it has them."""
    peers = os.environ.get("PEERS_PYTHON", "/work/peers-venv/bin/python")
    lib = os.path.join(os.path.dirname(os.path.dirname(peers)), "lib")
    roots = []
    if os.path.isdir(lib):
        for py in sorted(os.listdir(lib)):
            d = os.path.join(lib, py, "site-packages", "onnx", "backend", "test", "data",
                             "pytorch-converted")
            if os.path.isdir(d):
                roots.append(d)
    cases = []
    for root in roots[:1]:
        for name in sorted(os.listdir(root)):
            if not any(name.startswith(f"test_{p}") for p in
                       ("Conv2d", "AvgPool2d", "MaxPool2d", "ReLU", "Dropout", "Flatten")):
                continue
            data = os.path.join(root, name, "test_data_set_0")

            def load(prefix):
                out, i = [], 0
                while os.path.exists(os.path.join(data, f"{prefix}_{i}.pb")):
                    t = onnx.TensorProto()
                    with open(os.path.join(data, f"{prefix}_{i}.pb"), "rb") as f:
                        t.ParseFromString(f.read())
                    out.append(numpy_helper.to_array(t))
                    i += 1
                return out
            cases.append(Case(name, onnx.load(os.path.join(root, name, "model.onnx")),
                              load("input"), load("output")))
    return roots[:1], cases


def adapt(case):
    """The case's model with extra inputs folded, its input, and the
    expected output."""
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    inputs, outputs = case.data_sets[0]
    g = model.graph
    real = [v for v in g.input if v.name not in {t.name for t in g.initializer}]
    for v, data in list(zip(real, inputs))[1:]:
        g.initializer.append(numpy_helper.from_array(np.asarray(data), v.name))
        g.input.remove(v)
    x = np.asarray(inputs[0])
    expected = np.asarray(outputs[0]) if outputs else None
    return model, x, expected


def close(got, want):
    return got.shape == want.shape and \
        np.abs(got - want).max() <= 1e-4 * np.abs(want).max() + 1e-5


def run_case(bin_dir, work, case):
    model, x, expected = adapt(case)
    path = os.path.join(work, case.name + ".onnx")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    ninc = os.path.join(bin_dir, "ninc")
    v = subprocess.run([ninc, "validate", path], capture_output=True, text=True)
    if v.returncode != 0:
        lines = v.stderr.strip().splitlines()
        clear = v.returncode == 1 and len(lines) == 1 and lines[0].startswith(path + ": error: ")
        why = lines[0][len(path) + 9:] if lines else v.stderr
        return ("refused" if clear else "wrong"), why
    xin = os.path.join(work, case.name + ".x.npy")
    np.save(xin, x.astype(np.float32))
    ref = os.path.join(work, case.name + ".interp.npy")
    r = subprocess.run([ninc, "run", path, "--input", xin, "--save-logits", ref, "--quiet"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return "wrong", "ninc run: " + r.stderr.strip()
    prog, got = os.path.join(work, case.name), os.path.join(work, case.name + ".got.npy")
    c = subprocess.run([ninc, "compile", path, "--batch", str(x.shape[0]), "-o", prog],
                       capture_output=True, text=True)
    if c.returncode != 0:
        return "wrong", "ninc compile: " + c.stderr.strip()
    p = subprocess.run([prog, "infer", "--input", xin, "--save-logits", got, "--quiet"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return "wrong", "infer: " + p.stderr.strip()
    a, b = np.load(ref), np.load(got)
    if not close(a, expected):
        return "wrong", f"interpreter: max|diff| {np.abs(a - expected).max():.3g}"
    if not close(b, expected):
        return "wrong", f"compiled: max|diff| {np.abs(b - expected).max():.3g}"
    return "passed", f"interpreter and compiled within 1e-4 (output {expected.shape})"


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    bin_dir, work = sys.argv[1:]
    os.makedirs(work, exist_ok=True)
    table = {}
    # collect_testcases builds every op's cases once (its op filter applies
    # only to the first call): take them all and pick by the node's op.
    cases = collect_testcases("")
    for op in OPS:
        mine = [c for c in cases if c.model.graph.node and c.model.graph.node[0].op_type == op]
        for case in sorted(mine, key=lambda c: c.name):
            result, why = run_case(bin_dir, work, case)
            table.setdefault(op, {"passed": 0, "refused": 0, "wrong": 0})[result] += 1
            print(f"{result:8} {case.name}: {why}", flush=True)
    roots, converted = pytorch_converted()
    for case in converted:
        result, why = run_case(bin_dir, work, case)
        table.setdefault("pytorch-converted", {"passed": 0, "refused": 0, "wrong": 0})[result] += 1
        print(f"{result:8} {case.name} (pytorch-converted): {why}", flush=True)
    print(f"\nONNX {onnx.__version__} node test cases"
          f"{', and PyPI onnx pytorch-converted cases from ' + roots[0] if roots else ''}, "
          "import -> interpreter -> compiled CPU")
    print("| op | passed | refused | wrong |\n|---|---|---|---|")
    total = {"passed": 0, "refused": 0, "wrong": 0}
    for op in OPS + (["pytorch-converted"] if roots else []):
        t = table.get(op, {"passed": 0, "refused": 0, "wrong": 0})
        print(f"| {op} | {t['passed']} | {t['refused']} | {t['wrong']} |")
        for k in total:
            total[k] += t[k]
    print(f"| all | {total['passed']} | {total['refused']} | {total['wrong']} |")
    return 0 if total["wrong"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
