#!/usr/bin/env python3
"""The bad-ONNX corpus: each model is built here with Debian's python3-onnx
(onnx.helper), then `ninc validate` must exit 1 with exactly one line on
stderr that contains the expected message, and `ninc compile` must leave no
output file. A good model is checked to pass first, so the corpus tests the
importer's refusals and not a broken base.

  tests/bad-models/bad_onnx.py NINC WORK_DIR
Exit 0 when every case gives its message, 1 otherwise, 77 without onnx.
"""
import os
import subprocess
import sys

try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:
    print(f"SKIP: {e} (install python3-onnx to run this test)")
    sys.exit(77)


def conv_w(o, c, k, seed=0):
    return np.random.default_rng(seed).standard_normal((o, c, k, k)).astype(np.float32)


def model(nodes, inits, inp=None, out=None, opset=13, name="net", inputs=None, outputs=None):
    inp = inp or helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])
    out = out or helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    g = helper.make_graph(nodes, name, inputs or [inp], outputs or [out],
                          [numpy_helper.from_array(a, n) for n, a in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def good(**conv):
    """conv 3x3 (4 channels) + relu, global average pool, flatten: [N, 4]."""
    return model([helper.make_node("Conv", ["x", "W", "B"], ["c"], name="conv1",
                                   **{"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], **conv}),
                  helper.make_node("Relu", ["c"], ["r"], name="relu1"),
                  helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
                  helper.make_node("Flatten", ["g"], ["y"], name="flat")],
                 {"W": conv_w(4, 1, 3), "B": np.zeros(4, np.float32)})


def with_node(extra, before="Flatten"):
    """good() with `extra` nodes inserted before the node of op `before`."""
    m = good()
    nodes = list(m.graph.node)
    i = [n.op_type for n in nodes].index(before)
    src = nodes[i].input[0]
    extra[0].input[0] = src
    nodes[i].input[0] = extra[-1].output[0]
    del m.graph.node[:]
    m.graph.node.extend(nodes[:i] + extra + nodes[i:])
    return m


def cases():
    c = {}
    m = good()
    c["unsupported-op"] = (with_node([helper.make_node("Sigmoid", ["?"], ["s"], name="act")],
                                     before="GlobalAveragePool"),
                           "node 'act' (Sigmoid): ninc does not support this op; ninc reads Conv")
    c["groups"] = (model([helper.make_node("Conv", ["x", "W"], ["c"], name="g2", group=1,
                                           kernel_shape=[1, 1]),
                          helper.make_node("Conv", ["c", "W2"], ["d"], name="grouped", group=2,
                                           kernel_shape=[1, 1]),
                          helper.make_node("GlobalAveragePool", ["d"], ["g"]),
                          helper.make_node("Flatten", ["g"], ["y"])],
                         {"W": conv_w(4, 1, 1), "W2": conv_w(4, 2, 1)}),
                   "node 'grouped' (Conv): attribute 'group' = 2: ninc supports group 1 only")
    c["dilations"] = (good(dilations=[2, 2]),
                      "node 'conv1' (Conv): attribute 'dilations' = 2: ninc supports dilation 1")
    c["asymmetric-pads"] = (good(pads=[0, 0, 1, 1]),
                            "node 'conv1' (Conv): attribute 'pads' = [0, 0, 1, 1] is asymmetric")
    c["auto-pad-same-uneven"] = (model([helper.make_node("Conv", ["x", "W"], ["c"], name="same",
                                                         kernel_shape=[2, 2], auto_pad="SAME_UPPER"),
                                        helper.make_node("GlobalAveragePool", ["c"], ["g"]),
                                        helper.make_node("Flatten", ["g"], ["y"])],
                                       {"W": conv_w(4, 1, 2)}),
                                 "node 'same' (Conv): attribute 'auto_pad' = SAME_UPPER pads 1 along H, unevenly")
    c["ceil-mode"] = (with_node([helper.make_node("MaxPool", ["?"], ["p"], name="pool",
                                                  kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)],
                                before="GlobalAveragePool"),
                      "node 'pool' (MaxPool): attribute 'ceil_mode' = 1")
    c["count-include-pad-0"] = (with_node([helper.make_node("AveragePool", ["?"], ["p"], name="avg",
                                                            kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
                                          before="GlobalAveragePool"),
                                "node 'avg' (AveragePool): attribute 'count_include_pad' = 0 with padding")
    m = good()
    m.graph.initializer[0].raw_data = m.graph.initializer[0].raw_data[:-4]
    c["truncated-weight"] = (m, "initializer 'W': expected 144 bytes of raw float data for its shape, found 140")
    m = good()
    m.graph.initializer[0].data_type = TensorProto.DOUBLE
    c["weight-wrong-type"] = (m, "node 'conv1' (Conv): weight 'W': expected a float32 [O, C, kH, kW] initializer")
    m = good()
    del m.graph.initializer[0]
    # Debian's ONNX checker (opsets <= 17) finds these first, naming the node.
    c["missing-initializer"] = (m, "the ONNX checker refuses the model: Nodes in a graph must be topologically sorted, however input 'W' of node: name: conv1 OpType: Conv")
    m = good()
    m.graph.initializer[0].CopyFrom(numpy_helper.from_array(conv_w(4, 3, 3), "W"))
    c["weight-wrong-shape"] = (m, "node 'conv1' (Conv): weight 'W' has shape [4, 3, 3, 3]: expected 1 input channels")
    m = good()
    del m.graph.initializer[0].dims[:]
    m.graph.initializer[0].dims.extend([1 << 40, 1, 3, 3])
    c["absurd-dims"] = (m, "initializer 'W': expected dimensions that fit in memory, found 1099511627776")
    m = good()
    t = m.graph.initializer[0]
    t.data_location = TensorProto.EXTERNAL
    t.ClearField("raw_data")
    entry = t.external_data.add()
    entry.key, entry.value = "location", "weights.bin"
    c["external-data"] = (m, "initializer 'W' keeps its data in an external file")
    m = good()
    m.graph.node[2].input[0] = "g"  # gap reads its own output: a cycle off the chain
    c["cycle"] = (m, "the ONNX checker refuses the model: Nodes in a graph must be topologically sorted, however input 'g' of node: name: gap OpType: GlobalAveragePool")
    m = good()
    m.opset_import[0].version = 18  # beyond Debian's checker: ninc's own chain check
    m.graph.node[2].input[0] = "g"
    c["cycle-opset-18"] = (m, "node 'gap' (GlobalAveragePool): does not lie on the chain")
    branch = good()
    branch.graph.node.append(helper.make_node("Relu", ["c"], ["side"], name="side"))
    c["branch"] = (branch, "the graph branches at tensor 'c': nodes 'relu1' (Relu) and 'side' (Relu) both read it")
    c["opset-22"] = (model(list(good().graph.node), {"W": conv_w(4, 1, 3), "B": np.zeros(4, np.float32)},
                           opset=22),
                     "opset 22: ninc reads opsets 1 to 21")
    old = good()
    old.opset_import[0].version = 6
    old.graph.node.insert(2, helper.make_node("Dropout", ["r"], ["dr"], name="drop", ratio=0.5))
    old.graph.node[3].input[0] = "dr"
    c["dropout-opset-6-training"] = (old, "node 'drop' (Dropout): attribute 'is_test' = 0 (opset 6 Dropout drops when inferring)")
    c["rank-3-input"] = (model(list(good().graph.node), {"W": conv_w(4, 1, 3), "B": np.zeros(4, np.float32)},
                               inp=helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8, 8])),
                         "graph input 'x': expected 4 dimensions [N, C, H, W], found 3")
    m = good()
    del m.graph.node[3]
    m.graph.node.append(helper.make_node("Squeeze", ["g", "axes"], ["y"], name="sq"))
    m.graph.initializer.append(numpy_helper.from_array(np.array([3], np.int64), "axes"))
    c["half-squeezed-output"] = (m, "graph output 'y' is [N, C, 1] (one axis squeezed); ninc models end in [N, C] or [N, C, H, W]")
    return c


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    ninc, work = sys.argv[1:]
    os.makedirs(work, exist_ok=True)
    ok = True
    base = os.path.join(work, "good.onnx")
    onnx.save(good(), base)
    r = subprocess.run([ninc, "validate", base], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"FAIL good.onnx: {r.stderr.strip()}")
        return 1
    print(f"ok   good.onnx: {r.stdout.strip()}")
    all_cases = cases()
    raw = os.path.join(work, "truncated-file.onnx")
    with open(raw, "wb") as f:
        f.write(good().SerializeToString()[:57])
    for name, (m, want) in all_cases.items():
        path = os.path.join(work, name + ".onnx")
        with open(path, "wb") as f:
            f.write(m.SerializeToString())
    all_cases["truncated-file"] = (None, "expected an ONNX model (onnx.ModelProto), found bytes protobuf cannot parse")
    for name, (_, want) in all_cases.items():
        path = os.path.join(work, name + ".onnx")
        r = subprocess.run([ninc, "validate", path], capture_output=True, text=True)
        lines = r.stderr.strip().splitlines()
        good_case = r.returncode == 1 and len(lines) == 1 and want in lines[0] and \
            lines[0].startswith(path + ": error: ")
        out = os.path.join(work, name + ".prog")
        c = subprocess.run([ninc, "compile", path, "-o", out], capture_output=True, text=True)
        good_case = good_case and c.returncode == 1 and not os.path.exists(out)
        print(f"{'ok  ' if good_case else 'FAIL'} {name}: {lines[0] if lines else r.stdout.strip()}")
        if not good_case:
            print(f"     expected exit 1 and '{want}'; validate exit {r.returncode}, compile exit "
                  f"{c.returncode}")
        ok &= good_case
    print(f"{len(all_cases)} bad ONNX models, {'all refused with their message' if ok else 'FAILURES above'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
